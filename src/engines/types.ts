/**
 * The Engine interface: all the core (plan, apply, commands) sees of a store.
 *
 * An engine gathers live state (read-only, bounded concurrency, deadlines), plans purely from it,
 * and knows how to run, detect and verify each kind of step it puts in a plan.
 */
import type {ClusterIdentity, Finding, PlanBody, Step} from '../plan/types.js'

/** Side effects the core lends an engine; everything an engine needs from the outside world. */
export interface EngineIo {
  /** Environment variables, e.g. for ZooKeeper digest credentials named in the spec. */
  env: Record<string, string | undefined>
  /** The directory of the spec file, for relative paths such as target_nodes_file. */
  specDir: string
  /** Progress for humans; not part of any result. */
  progress(message: string): void
}

export interface PlanOptions {
  /** ISO time the plan is made at; planners never read a clock. */
  now: string
}

/** Progress of a running step: a line for the live task list. */
export type StepProgress = (message: string) => void

export interface StepResult {
  /** Facts worth keeping in the audit log (never secrets). */
  data?: Record<string, unknown>
  /** One line for the operator. */
  summary?: string
}

/** How one kind of step runs. Every method may be called again after a crash. */
export interface StepExecutor<C = unknown> {
  /** Idempotency: is the step's effect already there? */
  isDone(ctx: C, step: Step): Promise<boolean>
  /** Does the step; safe to call again after a crash part-way. */
  run(ctx: C, step: Step, progress: StepProgress): Promise<StepResult>
  /** Checks that the effect really happened; findings with severity error fail the step. */
  verify(ctx: C, step: Step): Promise<Finding[]>
}

export interface Engine<S = unknown, L = unknown, C = unknown> {
  /** The spec kind this engine handles, e.g. `PegasusMetaRecovery`. */
  kind: string
  /** Which cluster a spec is about; plans carry it and are refused against any other. */
  cluster(spec: S): ClusterIdentity
  /** Where the apply lock lives: a ZooKeeper ensemble (ephemeral node) or, without one, a lock file. */
  lockTarget(spec: S): {zookeeper?: {hosts: string; root: string; auth?: {scheme: string; credentials_env: string}}; file?: string}
  /** Reads the live state. Read-only. */
  gather(spec: S, io: EngineIo): Promise<L>
  /** Pure: the same inputs give a byte-identical body. */
  plan(spec: S, live: L, opts: PlanOptions): PlanBody
  /** Opens what the step executors need (clients, sessions). */
  connect(spec: S, io: EngineIo): Promise<C>
  close(ctx: C): Promise<void>
  /** How each step kind of this engine runs. `manual` steps may also have one, to confirm the operator's work. */
  steps: Record<string, StepExecutor<C>>
  /** After the last step: does the cluster now match the plan? */
  verify(ctx: C, plan: PlanBody): Promise<Finding[]>
}
