/**
 * The Engine interface: all the core (plan, apply, commands) sees of a store.
 *
 * An engine gathers live state (read-only, bounded concurrency, deadlines), plans purely from it,
 * and knows how to run, detect and verify each kind of step it puts in a plan.
 */
import type {ClusterIdentity, Finding, PlanBody, Step} from '../plan/types.js'
import type {SpecCheck} from '../spec/semantic.js'
import type {LockAuditAnchor, LockInfo} from '../zk/lock.js'

export type {LockInfo} from '../zk/lock.js'

/** Side effects the core lends an engine; everything an engine needs from the outside world. */
export interface EngineIo {
  /** Environment variables, e.g. for ZooKeeper digest credentials named in the spec. */
  env: Record<string, string | undefined>
  /** The directory of the spec file, for relative paths such as target_nodes_file. */
  specDir: string
  /** Progress for humans; not part of any result. `count`: how far a phase with countable work is. */
  progress(message: string, count?: ProgressCount): void
  /**
   * Aborted when the operator presses Ctrl-C or the process gets SIGTERM during apply. A step's
   * executor finishes or abandons its current call within that call's deadline and starts no
   * new write; apply records `run.interrupted` and stops. Absent outside apply.
   */
  signal?: AbortSignal
}

export interface PlanOptions {
  /** ISO time the plan is made at; planners never read a clock. */
  now: string
}

/** How far a phase is: `done` of `total` (when known) `unit`s, e.g. `{done: 1200, total: 5000, unit: 'nodes'}`. */
export interface ProgressCount {
  done: number
  total?: number
  unit?: string
}

/** Progress of a running step: a line for the live task list, with a count where the step knows one. */
export type StepProgress = (message: string, count?: ProgressCount) => void

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
  /**
   * What `apply --resume` does with this step when an earlier run finished it (DESIGN.md section 5,
   * step 6). `recheck` (the default): ask isDone, and run the step again when its effect is gone.
   * `plan-again`: ask isDone, and when the effect is gone stop before the step: repeating it from
   * this plan is not safe (it acts on what the plan saw), so the operator plans again (exit 5).
   * `trust`: the earlier run's record stands: the step has no effect of its own to look for (a
   * check, a read-only verification), or a later step of the plan changes its effect on purpose (a
   * level set for a copy and set back after it), so that finding it changed proves nothing.
   */
  onResume?: 'recheck' | 'plan-again' | 'trust'
  /**
   * Does the step; safe to call again after a crash part-way. `signal` is aborted on Ctrl-C or
   * SIGTERM: stop polling, let (or make) the call in flight end within its deadline, and write
   * nothing more; throwing after the abort is fine (apply records the interruption, not a failure).
   */
  run(ctx: C, step: Step, progress: StepProgress, signal?: AbortSignal): Promise<StepResult>
  /** Checks that the effect really happened; findings with severity error fail the step. */
  verify(ctx: C, step: Step): Promise<Finding[]>
}

export interface Engine<S = unknown, L = unknown, C = unknown> {
  /** The spec kind this engine handles, e.g. `PegasusMetaRecovery`. */
  kind: string
  /** Which cluster a spec is about; plans carry it and are refused against any other. */
  cluster(spec: S): ClusterIdentity
  /**
   * The cluster's apply lock (DESIGN.md section 5, step 1). The core ships two providers in
   * src/apply/lock.ts: `zookeeperLock` (an ephemeral node under `/lifeboat/locks/<cluster>`, for
   * Pegasus and OpenMLDB) and `hostLocalLock` (a lock file, only where the store has nothing
   * shared; its plans carry a LOCK_HOST_LOCAL warning). An engine with another shared store
   * implements LockProvider itself (TiKV: a lease-bound key in PD's etcd). Creating the provider
   * must not do I/O; `lock status`, `lock force-unlock` and apply all go through it.
   */
  lock(spec: S, io: LockIo): LockProvider
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
  /**
   * Optional: what changed in the facts that `steps` (steps of `plan` not run yet) depend on, in
   * a freshly gathered `live`: one line each in the store's terms (`key b changed: version 3 → 4`,
   * `node X no longer answers`); empty when they can still run as planned. A step whose effect is
   * already there is not drift. Pure. apply uses it where a re-plan cannot be compared with the
   * plan (a resume after a partial write) and before each later disruptive step.
   */
  driftOf?(spec: S, live: L, plan: PlanBody, steps: Step[]): string[]
  /**
   * Optional, with driftOf: a cheap gather of just the facts `steps` depend on (a live state
   * driftOf can judge them from). apply re-checks each later disruptive step right before it only
   * for engines that have it: a full gather per step would cost too much on a large cluster.
   */
  gatherFor?(spec: S, io: EngineIo, steps: Step[]): Promise<L>
  /**
   * What the kind's schema (`schemas/kinds/<Kind>.schema.json`) cannot express, checked by the
   * spec loader on the document as written with the toolkit of src/spec/semantic.ts.
   */
  checkSpec?: SpecCheck
  /**
   * `lifeboat status SPEC`: the live state an operator reads before writing a spec. Read-only,
   * like gather; an engine without it is refused by `status` with a hint to use `plan`.
   */
  status?(spec: S, io: EngineIo): Promise<ClusterStatus>
}

/** What `lifeboat status` prints and returns as JSON. Sections and rows come in print order, sorted by the engine. */
export interface ClusterStatus {
  /** False when something needs recovery (exit 2). */
  healthy: boolean
  /** What needs recovery, one line each in the store's terms; empty when healthy. */
  problems: string[]
  /** Titled blocks of `[label, value]` rows for the terminal. */
  sections: Array<{title: string; rows: Array<[string, string]>}>
  /** The same facts as plain JSON for `status --json`. */
  facts: Record<string, unknown>
}

/** What a lock provider gets from the core. */
export interface LockIo {
  /** Environment variables (credentials named in the spec). */
  env: Record<string, string | undefined>
}

/** A lock as read by `lock status` or by a failed acquire. */
export interface LockState {
  info: LockInfo
  /** The provider's kind: `zookeeper`, `etcd`, `file`. */
  kind: string
  /** The lock itself, for a human: a znode path, an etcd key, a file path. */
  where: string
  /**
   * A Terraform-style `Lock Info:` block (`formatLockBlock` in src/zk/lock.ts makes one): ID, Path,
   * Operation, Who, Created, Plan, plus the provider's own rows (Session, Lease, Process).
   */
  text: string
  /** The provider's own facts for `lock status --json` (a lock file: pid, host, alive; etcd: lease). */
  details?: Record<string, string | number | boolean | null>
}

/** A lock this process holds. */
export interface HeldLock {
  info: LockInfo
  kind: string
  where: string
  /**
   * Throws a LifeboatError LOCK_LOST when the lock is no longer ours (session expired, lease
   * revoked or expired, node/key/file removed or replaced). Apply calls it before every step.
   */
  assertHeld(): Promise<void>
  /**
   * Optional: aborted the moment the provider sees the lock lost (session expired, node removed),
   * so that apply stops the current step's writes at once instead of at the next step.
   */
  lost?: AbortSignal
  /**
   * Optional: rewrites the lock record with the audit log's latest anchor beside the holder's info
   * (`lock status` shows it), only while this process holds the lock: never another holder's record.
   */
  annotate?(audit: LockAuditAnchor): Promise<void>
  /** Releases the lock; safe to call twice; never removes another holder's lock. Stops any keep-alive. */
  release(): Promise<void>
}

/**
 * Where and how a cluster's apply lock is taken. The holder's LockInfo (id, operation, who,
 * created, plan) is stored with the lock so that a failed acquire and `lock status` can show it.
 *
 * For implementers (e.g. the TiKV engine's PD-etcd lock): take the lock atomically (an etcd txn
 * `create_revision == 0` on the key, put with a lease; keep the lease alive while held); on
 * contention throw `LifeboatError('LOCK_HELD', ...)` whose detail is the holder's LockState.text and
 * whose hints say to wait or, when sure no run is active, `lifeboat lock force-unlock SPEC ID`.
 * The core retries LOCK_HELD for --lock-timeout; any other error ends the apply. A held lock
 * that is lost must make `assertHeld` throw LOCK_LOST.
 */
export interface LockProvider {
  /** `zookeeper`, `etcd`, `file`. */
  kind: string
  /** The lock's place for a human (znode, etcd key, file path); shown by `lock status`. */
  where: string
  /**
   * True when the lock is local to this host (a lock file): two operators on two machines would
   * not see each other's lock. The plan then carries a LOCK_HOST_LOCAL warning.
   */
  hostLocal?: boolean
  /** Takes the lock holding `info`, or throws LOCK_HELD with the holder's details. */
  acquire(info: LockInfo): Promise<HeldLock>
  /** Who holds the lock, or null. */
  read(): Promise<LockState | null>
  /**
   * Removes the lock whose ID is `id`, whoever holds it (for a holder that crashed). Throws
   * LOCK_NOT_HELD when nobody holds it and LOCK_ID_MISMATCH when it is held under another ID.
   * Returns the state that was removed.
   */
  forceUnlock(id: string): Promise<LockState>
  /**
   * Optional: a small value kept in the same shared store as the lock, for the cluster's minimum
   * approval policy (`lifeboat policy set`), JSON text. `readValue` returns null when none is set.
   */
  readValue?(name: string): Promise<string | null>
  writeValue?(name: string, value: string): Promise<void>
}
