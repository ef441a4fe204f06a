/**
 * The executor of `lifeboat apply` (DESIGN.md section 5): lock, re-plan and refuse a stale plan,
 * gates, the steps (runner.ts), verify, and resume after a crash (resume.ts).
 *
 * Invariants:
 * - Nothing is written to the cluster before the lock is held, the plan is found current, and the
 *   gates have passed.
 * - `step.started` is on disk before a step's executor runs; when an audit append fails, no
 *   further step runs (the log fails closed and every later append throws).
 * - A step recorded finished is never run again (always steps are re-checked, and so is every step
 *   once an always step has run in the attempt); any other step is asked `isDone` first, so a run
 *   killed between a write and its record resumes without repeating it.
 * - Ctrl-C or SIGTERM (the request's signal) lets the call in flight end, starts no new step except
 *   the always steps, records `run.interrupted`, and ends the run resumable (exit 3).
 * - The lock is released on every path out of here.
 *
 * Refusals and failures are values until the run is closed: every path writes exactly one
 * `run.finished`. Rendering is the caller's: apply reports through ApplyUi and returns an ApplyResult.
 */
import {randomUUID} from 'node:crypto'
import {mkdir} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'
import {setFlagsFromString} from 'node:v8'
import {runInNewContext} from 'node:vm'

import {anchoredAuditLog} from '../audit/anchor.js'
import {DEFAULT_AUDIT_LOG, openAuditLog, type AuditLog, type AuditRecord} from '../audit/log.js'
import {assertRegularFile} from '../util/files.js'
import {runProgress, runStatus, runsOfPlan, type RunProgress} from '../audit/progress.js'
import type {RunStatus} from '../audit/events.js'
import {ExitCode, LifeboatError, type ExitCodeValue} from '../errors.js'
import type {EngineIo, StepExecutor} from '../engines/types.js'
import type {EngineModule} from '../engines/registry.js'
import {planHasChanges} from '../plan/build.js'
import {assertPlanForCluster, readPlanFile, writePlanFile} from '../plan/file.js'
import type {Finding, Plan, Step} from '../plan/types.js'
import {approvalPrompt, decideGate, manualPrompt} from './gates.js'
import {gatePolicyFor, type GatePolicy} from './approvals.js'
import {currentOperator, type Operator} from './identity.js'
import {takeClusterLock, type HeldLock, type LockProvider} from './lock.js'
import {staleCheck, stepStaleCheck, type StaleInput} from './stale.js'
import {isPlanFile, loadSpecForEngine, planLoadedSpec, specOfPlan, type SpecForEngine} from './plan-spec.js'
import {
  attemptMayHaveWritten,
  quote,
  readRecords,
  resumeCommand,
  savedPlanPath,
  shown,
  unfinishedPlanFileOfSpec,
} from './resume.js'
import {errorData, runSteps, type RunStepsResult, type StepOutcome} from './runner.js'
import type {ProgressCount, Prompter, TaskReporter} from './ui.js'

export type {StepOutcome} from './runner.js'

/** How apply talks to the operator; the command provides it. */
export interface ApplyUi {
  /** Human output; a no-op in --json mode. */
  print(text: string): void
  /** Shows the plan about to be applied: in full before a prompt or for a spec, else as a summary. */
  showPlan(plan: Plan, how: 'full' | 'summary'): void
  /** Someone at a terminal to ask, or undefined (no terminal, --json). */
  prompter?: Prompter
  /** The task list of the steps. */
  tasks(tasks: Array<{id: string; description: string}>): TaskReporter
  /** Progress of a gather or re-check, with its count where known; absent: gather lines are printed, re-checks are silent. */
  progress?(message: string, count?: ProgressCount): void
}

/** What the operator asked for. */
export interface ApplyRequest {
  /** A spec (YAML) or a saved plan (JSON). */
  target: string
  /** For a saved plan: the spec file it was made from (default: the path the plan names); the approval policy is read from it. */
  specFile?: string
  autoApprove: boolean
  allowDataLoss: boolean
  resume: boolean
  /** Manual steps the operator confirms from the command line. */
  confirm: string[]
  auditLog: string
  /** How long to wait for a held lock; 0: fail at once. */
  lockTimeoutMs: number
  /** The command line, for the audit log. */
  argv: string[]
  toolVersion: string
  env: Record<string, string | undefined>
  /** Aborted on Ctrl-C or SIGTERM: apply stops before its next write and ends resumable. */
  signal?: AbortSignal
}

/** The end of an apply that was not refused. */
export interface ApplyResult {
  status: RunStatus
  exit: ExitCodeValue
  /** One line for the operator. */
  message: string
  run?: string
  /** The run this one continues. */
  resumes?: string
  planDigest: string
  /** Where the applied plan is saved (a spec's plan is saved next to the audit log). */
  planFile?: string
  auditLog: string
  steps: StepOutcome[]
  /** Findings of the final verification. */
  findings: Finding[]
  /** For a run that stopped part-way: the exact command that continues it. */
  resumeCommand?: string
  /** For a run that stopped at a manual step: what the operator must do. */
  /** `state`: what the cluster stays as until the operator's work is done. */
  waiting?: {step: string; description: string; instructions: string[]; state: string}
}

/** The plan to apply and what it takes to run it. */
interface Target {
  plan: Plan
  ready: SpecForEngine
  /** The plan file as the operator names it, when there is one. */
  planFile?: string
  fromSpec: boolean
}

function auditPathOf(req: ApplyRequest): string {
  return req.auditLog || DEFAULT_AUDIT_LOG
}

async function loadTarget(req: ApplyRequest, ui: ApplyUi, now: string): Promise<Target> {
  if (await isPlanFile(req.target)) {
    const plan = await readPlanFile(req.target)
    const ready = await specOfPlan(plan, req.env)
    return {plan, ready, planFile: req.target, fromSpec: false}
  }
  const ready = await loadSpecForEngine(req.target, req.env)
  if (req.resume) {
    // A spec applied without a saved plan: its plan was saved next to the audit log when it ran.
    const planFile = unfinishedPlanFileOfSpec(await readRecords(auditPathOf(req)), ready.planSpec.sha256)
    if (planFile === undefined) {
      throw new LifeboatError(
        'NOTHING_TO_RESUME',
        `no unfinished apply of ${req.target} in the audit log ${auditPathOf(req)}`,
        {
          detail:
            'apply --resume continues a run that stopped part-way (killed, crashed, interrupted, waiting at a manual step); the audit log records none for this spec.',
          hints: [
            `Apply it afresh: \`lifeboat apply ${quote(req.target)}\`.`,
            'If the run was recorded in another log, pass it with --audit-log FILE.',
          ],
        },
      )
    }
    const plan = await readPlanFile(planFile)
    return {plan, ready: await specOfPlan(plan, req.env), planFile, fromSpec: false}
  }
  ui.print('Gathering the live state...\n')
  const plan = await planLoadedSpec(ready, {
    env: req.env,
    now,
    toolVersion: req.toolVersion,
    progress: (m, count) => (ui.progress ? ui.progress(m, count) : ui.print(`  ${m}\n`)),
  })
  return {plan, ready, fromSpec: true}
}

function errorsOf(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error')
}

function notApplyable(plan: Plan): LifeboatError {
  const errors = errorsOf(plan.findings)
  return new LifeboatError(
    'PLAN_NOT_APPLYABLE',
    `the plan has ${errors.length} ${errors.length === 1 ? 'error' : 'errors'} and cannot be applied`,
    {
      detail: errors
        .map((f) => `${f.code}${f.subject ? ` (${f.subject})` : ''}: ${f.message}${f.hint ? `\n  ${f.hint}` : ''}`)
        .join('\n'),
      hints: [
        'Resolve the errors (the plan says what each means), then plan again: `lifeboat plan SPEC --out plan.json`.',
      ],
    },
  )
}

/** Checks up front that the engine can run every step of the plan, before anything is written. */
function executorsFor(engine: EngineModule, plan: Plan): Map<string, StepExecutor<unknown> | undefined> {
  const map = new Map<string, StepExecutor<unknown> | undefined>()
  const missing: string[] = []
  for (const step of plan.steps) {
    const executor = engine.steps[step.kind]
    if (!executor && !step.manual) missing.push(`${step.id} (${step.kind})`)
    map.set(step.id, executor)
  }
  if (missing.length > 0) {
    throw new LifeboatError(
      'STEP_KIND_UNKNOWN',
      `the ${engine.kind} engine cannot run ${missing.length === 1 ? 'step' : 'steps'} ${missing.join(', ')}`,
      {
        detail: 'The plan was made by a lifeboat whose engine knows step kinds this one does not. Nothing was written.',
        hints: [`Apply it with lifeboat ${plan.tool.version}, the release that made it, or plan again with this one.`],
      },
    )
  }
  return map
}

function interruptedBeforeStart(): LifeboatError {
  return new LifeboatError('INTERRUPTED', 'Apply interrupted before it started; nothing was written to the cluster.', {
    exit: ExitCode.STOPPED,
    hints: ['Run the apply again when you are ready.'],
  })
}

/**
 * Applies a spec or a saved plan. Refusals (lock held, stale plan, missing approval, invalid input)
 * throw a LifeboatError with their exit code; a run that completes, stops at a manual step, is
 * interrupted, or fails verification returns an ApplyResult.
 */
export async function apply(req: ApplyRequest, ui: ApplyUi): Promise<ApplyResult> {
  const auditPath = auditPathOf(req)
  const now = new Date().toISOString()
  const confirm = [...new Set(req.confirm)]
  const target = await loadTarget(req, ui, now)
  const {plan, ready} = target
  const engine = ready.engine
  assertPlanForCluster(plan, engine.cluster(ready.spec))
  if (!plan.applyable) throw notApplyable(plan)

  const manualIds = plan.steps.filter((s) => s.manual).map((s) => s.id)
  const unknownConfirm = confirm.filter((id) => !manualIds.includes(id))
  if (unknownConfirm.length > 0) {
    throw new LifeboatError(
      'CONFIRM_UNKNOWN_STEP',
      `--confirm names ${unknownConfirm.join(', ')}, which ${unknownConfirm.length === 1 ? 'is not a manual step' : 'are not manual steps'} of this plan`,
      {
        detail:
          manualIds.length > 0
            ? `Manual steps of this plan: ${manualIds.join(', ')}.`
            : 'This plan has no manual step.',
        hints: [
          '--confirm STEP_ID confirms a manual step you have done by hand; copy the ID from the command apply printed when it stopped.',
        ],
      },
    )
  }

  if (target.fromSpec && plan.steps.length === 0 && !planHasChanges(plan)) {
    ui.showPlan(plan, 'full')
    return {
      status: 'no-changes',
      exit: ExitCode.OK,
      message: 'No changes. The cluster already matches the spec.',
      planDigest: plan.digest,
      planFile: target.planFile,
      auditLog: auditPath,
      steps: [],
      findings: [],
    }
  }
  const executors = executorsFor(engine, plan)
  if (req.signal?.aborted) throw interruptedBeforeStart()

  // The policy and the approvals that count are settled before the lock: a refusal here writes nothing.
  const lockProvider = engine.lock(ready.spec, {env: req.env})
  const policy = await gatePolicyFor(plan, target, req.env, req.specFile, lockProvider)
  const operator = currentOperator(req.env)
  // The audit log must be a regular file (or absent) before the lock is taken: a FIFO would hang under it.
  await assertRegularFile(auditPath, 'the audit log', 'AUDIT_LOG', {mayBeAbsent: true})
  const lock = await takeClusterLock(lockProvider, {
    operation: 'apply',
    plan: plan.digest,
    env: req.env,
    timeoutMs: req.lockTimeoutMs,
    signal: req.signal,
  })
  // Everything below runs under the lock, and the lock is released on every way out.
  try {
    return await underLock({req, ui, target, executors, lock, lockProvider, operator, auditPath, confirm, policy})
  } finally {
    await lock.release()
  }
}

interface RunContext {
  req: ApplyRequest
  ui: ApplyUi
  target: Target
  executors: Map<string, StepExecutor<unknown> | undefined>
  lock: HeldLock
  /** Where the lock lives; the audit chain is anchored beside it (audit/anchor.ts). */
  lockProvider: LockProvider
  operator: Operator
  auditPath: string
  confirm: string[]
  /** The approval policy and the approvals that count, from outside the plan (approvals.ts). */
  policy: GatePolicy
}

/** How the run under the lock ended: a result to return, or a refusal to raise (after run.finished). */
type RunEnding =
  | {result: Omit<ApplyResult, 'run' | 'resumes' | 'planDigest' | 'planFile' | 'auditLog'>}
  | {refused: RunStatus; error: LifeboatError; extra?: Record<string, unknown>}

function nothingToResume(c: RunContext, records: readonly AuditRecord[]): LifeboatError {
  const {plan} = c.target
  const applied = runsOfPlan(records, plan.digest).findLast(([, recs]) => runStatus(recs) === 'succeeded')
  return new LifeboatError(
    'NOTHING_TO_RESUME',
    applied
      ? `this plan was already applied completely (run ${applied[0]})`
      : `no earlier run of this plan in the audit log ${c.auditPath}`,
    {
      detail: applied
        ? 'There is nothing left to resume.'
        : 'apply --resume continues a run of the same plan that stopped part-way; the audit log records none.',
      hints: applied
        ? ['Make a new plan to see the cluster as it is now: `lifeboat plan SPEC`.']
        : [
            `Apply it without --resume: \`lifeboat apply ${quote(c.target.planFile ?? c.req.target)}\`.`,
            'If the run was recorded in another log, pass it with --audit-log FILE.',
          ],
    },
  )
}

async function underLock(c: RunContext): Promise<ApplyResult> {
  const {req, target, lock, operator, auditPath} = c
  const {plan} = target
  const records = await readRecords(auditPath)
  const progress: RunProgress = runProgress(records, plan.digest)
  if (req.resume && progress.run === undefined) throw nothingToResume(c, records)
  const resumes = req.resume ? progress.run : undefined
  const run = randomUUID()
  const log = anchoredAuditLog(await openAuditLog(auditPath, {run, actor: operator.user, host: operator.host}), {
    provider: c.lockProvider,
    cluster: plan.cluster.name,
    lock,
    run,
    host: operator.host,
    warn: (text) => c.ui.print(`${text}\n`),
  })
  const planFile = target.fromSpec ? savedPlanPath(auditPath, plan) : target.planFile

  await log.append('run.started', {
    argv: req.argv,
    toolVersion: req.toolVersion,
    spec: {
      sha256: plan.spec.sha256,
      kind: plan.spec.kind,
      name: plan.spec.name,
      ...(plan.spec.path ? {path: plan.spec.path} : {}),
    },
    planDigest: plan.digest,
    ...(planFile ? {planFile: resolve(planFile)} : {}),
    cluster: plan.cluster.name,
    ...(plan.spec.ticket ? {ticket: plan.spec.ticket} : {}),
    lock: {id: lock.info.id, kind: lock.kind, where: lock.where},
    pid: process.pid,
  })
  if (resumes)
    await log.append('run.resumed', {
      resumes,
      planDigest: plan.digest,
      finished: progress.finished,
      confirmed: progress.confirmed,
    })

  let ending: RunEnding
  try {
    ending = await runUnderLock(c, log, records, progress, planFile)
  } catch (err) {
    // A failure nobody turned into an outcome (an audit failure, a lost lock, a bug): close the run.
    await closeRun(log, 'failed', {error: errorData(err)})
    throw err
  }
  if ('refused' in ending) {
    await closeRun(log, ending.refused, ending.extra)
    throw ending.error
  }
  return {...ending.result, run, resumes, planDigest: plan.digest, planFile, auditLog: auditPath}
}

/** Writes the run's run.finished; an audit log that already failed stays silent (fail closed). */
async function closeRun(log: AuditLog, status: RunStatus, extra: Record<string, unknown> = {}): Promise<void> {
  try {
    await log.append('run.finished', {status, head: log.head(), ...extra})
  } catch {
    // fail closed: the original error is what the operator needs to see
  }
}

function engineIo(c: RunContext): EngineIo {
  return {env: c.req.env, specDir: c.target.ready.dir, progress: () => undefined, signal: c.req.signal}
}

async function runUnderLock(
  c: RunContext,
  log: AuditLog,
  records: readonly AuditRecord[],
  progress: RunProgress,
  planFile: string | undefined,
): Promise<RunEnding> {
  const {req, ui, target, lock, auditPath} = c
  const {plan, ready} = target
  const engine = ready.engine
  const resumes = req.resume ? progress.run : undefined
  // 2. Re-gather and re-plan. Resume is a fresh apply of the steps left: the audit log says where
  // the attempt stopped and never grants anything. When an earlier run may have written, the
  // cluster has moved by design, so the fresh plan must want nothing the saved plan did not.
  const partial = resumes !== undefined && attemptMayHaveWritten(records, plan.digest)
  // Steps finished in an earlier run are not run again, unless an always step ran since: it may have
  // undone what they set up (auto_failover back on), so then every step is re-checked with isDone.
  const finishedEarlier = new Set(req.resume && !progress.alwaysRan ? progress.finished : [])
  const remaining = plan.steps.filter((s) => s.always || !finishedEarlier.has(s.id))
  const staleInput: StaleInput = {
    plan,
    ready,
    env: req.env,
    fromSpec: target.fromSpec,
    planRef: target.planFile ?? req.target,
    progress: ui.progress?.bind(ui),
  }
  const stale = await staleCheck(staleInput, log, records, {partial, remaining})
  if (stale) return {refused: 'stale', error: stale}
  // The re-check made and dropped a whole second plan, its live state and the plan file's text.
  collectGarbageNow()
  if (req.signal?.aborted) return interruptedBeforeSteps(log)
  if (plan.steps.length === 0 && !planHasChanges(plan)) {
    // A saved plan with nothing to do, re-checked like any other: the cluster still needs nothing.
    await log.append('run.finished', {status: 'no-changes', head: log.head()})
    return {
      result: {
        status: 'no-changes',
        exit: ExitCode.OK,
        message: 'No changes. Re-checked just now: the cluster still matches the plan.',
        steps: [],
        findings: [],
      },
    }
  }

  // 3. Gates, for the steps still to run, whatever earlier runs passed.
  const gate = await passGates(
    c,
    log,
    remaining,
    resumes === undefined ? undefined : plan.steps.length - remaining.length,
  )
  if ('refused' in gate) return gate
  if (req.signal?.aborted) return interruptedBeforeSteps(log)
  if (gate.prompted) {
    // The operator took their time answering: check once more right before the first write.
    const late = await staleCheck(staleInput, log, records, {partial, remaining, when: 'after the approval prompt'})
    if (late) return {refused: 'stale', error: late}
    if (req.signal?.aborted) return interruptedBeforeSteps(log)
  }

  if (target.fromSpec && planFile) {
    await mkdir(dirname(planFile), {recursive: true})
    await writePlanFile(planFile, plan)
    ui.print(`Saved this plan to ${shown(planFile)} (apply --resume continues it if this run stops).\n`)
  }

  // 4. Steps.
  const confirmed = new Set([...c.confirm, ...(req.resume ? progress.confirmed : [])])
  const tasks = ui.tasks(plan.steps.map((s) => ({id: s.id, description: s.description})))
  // A lost lock stops the step in flight at once, like Ctrl-C, and then ends the run as LOCK_LOST.
  const stepSignal = lock.lost ? (req.signal ? AbortSignal.any([req.signal, lock.lost]) : lock.lost) : req.signal
  const ctx = await engine.connect(ready.spec, {...engineIo(c), signal: stepSignal})
  let firstWriteChecked = false
  let ran: RunStepsResult
  try {
    ran = await runSteps({
      steps: plan.steps,
      executors: c.executors,
      ctx,
      recorder: log,
      tasks,
      signal: stepSignal,
      finishedEarlier,
      allowDataLoss: req.allowDataLoss,
      confirmed,
      actor: c.operator.user,
      askManual:
        ui.prompter &&
        (async (step) => {
          const answer = await ui.prompter!.ask(`\n${manualPrompt(step)}`)
          ui.print('\n')
          return answer === 'yes'
        }),
      // The lock must still be ours before anything more touches the cluster.
      beforeStep: () => lock.assertHeld(),
      // The first step to write was checked just above; each later disruptive or lossy one is
      // checked right before it, where the engine can judge the facts it depends on.
      checkStep: async (step) => {
        if (!firstWriteChecked) {
          firstWriteChecked = true
          return undefined
        }
        return step.risk === 'disruptive' || step.risk === 'lossy' ? stepStaleCheck(staleInput, log, step) : undefined
      },
    })
  } catch (err) {
    tasks.finish()
    throw err
  } finally {
    await engine.close(ctx).catch(() => undefined)
  }
  const target1 = planFile ?? req.target
  switch (ran.end.kind) {
    case 'waiting': {
      const step = ran.end.step
      const command = resumeCommand(target1, auditPath, step.id)
      await log.append('run.finished', {status: 'stopped', head: log.head(), waitingFor: step.id})
      return {
        result: {
          status: 'stopped',
          exit: ExitCode.STOPPED,
          message: `Stopped at manual step ${step.id}: it is done by hand. ${leftIn(plan.steps, ran.steps)} When it is done, continue with:\n  ${command}`,
          steps: ran.steps,
          findings: [],
          resumeCommand: command,
          waiting: {
            step: step.id,
            description: step.description,
            instructions: step.manual?.instructions ?? [],
            state: leftIn(plan.steps, ran.steps),
          },
        },
      }
    }
    case 'interrupted': {
      const command = resumeCommand(target1, auditPath)
      if (lock.lost?.aborted && !req.signal?.aborted) return lockLostDuring(ran, log, command, lock.lost)
      const done = ran.steps.filter((s) => s.status === 'done' && !s.earlier && !s.always).map((s) => s.id)
      const always = ran.steps.filter((s) => s.always).map((s) => `${s.id} (${s.status})`)
      const cutId = ran.end.step
      const cut = plan.steps.find((s) => s.id === cutId)
      const state = [
        cut
          ? `Interrupted during ${cut.id} (${cut.description}): its effect may be partly there; --resume checks it.`
          : '',
        done.length > 0
          ? `Steps done in this run: ${done.join(', ')}; the steps after them were not started.`
          : 'No step was finished in this run.',
        leftIn(plan.steps, ran.steps),
      ]
        .filter((x) => x !== '')
        .join(' ')
      await log.append('run.interrupted', {step: ran.end.step ?? null, done, always, state})
      await log.append('run.finished', {status: 'interrupted', head: log.head()})
      return {
        result: {
          status: 'interrupted',
          exit: ExitCode.STOPPED,
          message: `Apply interrupted: nothing further was written to the cluster${always.length > 0 ? ` after the always steps (${always.join(', ')})` : ''}. ${state} Continue with:\n  ${command}`,
          steps: ran.steps,
          findings: [],
          resumeCommand: command,
        },
      }
    }
    case 'failed':
      return {
        refused: 'failed',
        error: withAlwaysFailures(ran.end.error, ran),
        extra: {error: errorData(ran.end.error)},
      }
    case 'completed':
      break
  }

  // 5. Verify.
  await lock.assertHeld()
  const vctx = await engine.connect(ready.spec, engineIo(c))
  let findings: Finding[]
  try {
    findings = await engine.verify(vctx, plan)
  } finally {
    await engine.close(vctx).catch(() => undefined)
  }
  const bad = errorsOf(findings)
  await log.append('verify.finished', {ok: bad.length === 0, findings: findings.length, details: findings})
  const status: RunStatus = bad.length === 0 ? 'succeeded' : 'failed'
  await log.append('run.finished', {status, head: log.head()})
  const done = ran.steps.filter((s) => s.status === 'done' && !s.earlier).length
  const skipped = ran.steps.filter((s) => s.status === 'skipped').length
  const earlier = ran.steps.filter((s) => s.earlier).length
  const counts = [
    `${done} ${done === 1 ? 'step' : 'steps'} done`,
    skipped > 0 ? `${skipped} skipped (already done)` : '',
    earlier > 0 ? `${earlier} done in an earlier run` : '',
  ]
    .filter(Boolean)
    .join(', ')
  return {
    result: {
      status,
      exit: bad.length === 0 ? ExitCode.OK : ExitCode.ERROR,
      message:
        bad.length === 0
          ? `Apply complete! ${counts}. Verified: the cluster matches the plan.`
          : `Apply finished (${counts}), but verification found ${bad.length} ${bad.length === 1 ? 'difference' : 'differences'} from the plan.`,
      steps: ran.steps,
      findings,
    },
  }
}

let fullCollection: (() => void) | null | undefined

/**
 * One full garbage collection, now. After the re-check, the heap holds a few hundred MB of what it
 * no longer needs at scale (the fresh plan, the live state, the plan file's text: 64,000 partitions),
 * and V8 sizes its next collection by the heap it last kept, so without this the first step that
 * reads the whole tree grows the process past 1 GB before anything is collected (issue 17). Node
 * exposes the collector only behind --expose-gc; the flag is set for a fresh context, which hands it
 * over. Where that is refused, nothing happens: the collector runs when V8 decides.
 */
function collectGarbageNow(): void {
  if (fullCollection === undefined) {
    try {
      setFlagsFromString('--expose-gc')
      fullCollection = runInNewContext('gc') as () => void
    } catch {
      fullCollection = null
    }
  }
  fullCollection?.()
}

/** The step failure, with what the always steps run after it did. */
function withAlwaysFailures(error: LifeboatError, ran: RunStepsResult): LifeboatError {
  const always = ran.steps.filter((s) => s.always)
  if (always.length === 0) return error
  const lines = always.map((s) => `${s.id}: ${s.status}`)
  const failures = ran.alwaysFailures.map((f) => f.message)
  return new LifeboatError(error.code, error.message, {
    detail: [error.detail, `Always steps run after the failure:\n${lines.map((l) => `  ${l}`).join('\n')}`, ...failures]
      .filter(Boolean)
      .join('\n\n'),
    hints: error.hints,
    exit: error.exit,
    cause: error,
  })
}

/** The state a stopped run leaves the cluster in: what the last finished step made hold, in its own words. */
function leftIn(steps: readonly Step[], ran: RunStepsResult['steps']): string {
  const last = [...ran].reverse().find((s) => s.status === 'done' && !s.always)
  const step = last && steps.find((s) => s.id === last.id)
  return step
    ? `The cluster stays as ${step.id} left it: ${step.expect.replace(/\.$/, '')}.`
    : 'No step has changed the cluster yet.'
}

async function interruptedBeforeSteps(log: AuditLog): Promise<RunEnding> {
  await log.append('run.interrupted', {
    step: null,
    done: [],
    always: [],
    state: 'No step was started; nothing was written to the cluster.',
  })
  return {refused: 'interrupted', error: interruptedBeforeStart()}
}

/**
 * Passes the plan gate for the steps still to run, or returns the refusal (after recording
 * gate.refused). A resume (`doneEarlier` set) passes the same gates as a first apply: nothing an
 * earlier run recorded counts. `prompted`: the operator answered a prompt, so time has passed.
 */
async function passGates(
  c: RunContext,
  log: AuditLog,
  steps: Plan['steps'],
  doneEarlier: number | undefined,
): Promise<Extract<RunEnding, {refused: RunStatus}> | {prompted: boolean}> {
  const {req, ui, target} = c
  const {plan} = target
  const gated = {...plan, steps}
  const policy = c.policy
  const decision = decideGate({
    plan: gated,
    policy: policy.approvers,
    autoApprove: req.autoApprove,
    allowDataLoss: req.allowDataLoss,
    interactive: ui.prompter !== undefined,
    savedPlan: !target.fromSpec,
    planRef: target.planFile ?? 'plan.json',
    approvals: policy.approvals,
  })
  const approvals = policy.approvals
  const resumeNote = doneEarlier === undefined ? {} : {resumed: true, doneEarlier}
  if (doneEarlier !== undefined)
    ui.print(
      `Resuming: ${doneEarlier} of ${plan.steps.length} steps finished earlier; the gates apply to the ${steps.length} left.\n`,
    )
  if (decision.kind === 'refuse') {
    await log.append('gate.refused', {
      gate: decision.gate,
      reason: decision.message,
      approvals,
      ...(policy.rejected.length > 0 ? {rejected: policy.rejected} : {}),
      ...resumeNote,
    })
    if (decision.gate === 'approvers' && policy.rejected.length > 0) {
      return {
        refused: 'refused',
        error: new LifeboatError(decision.code, decision.message, {
          detail: [decision.detail, `Approvals that do not count:\n${policy.rejected.map((r) => `  ${r}`).join('\n')}`]
            .filter(Boolean)
            .join('\n\n'),
          hints: decision.hints,
          exit: decision.exit as ExitCodeValue,
        }),
      }
    }
    ui.showPlan(plan, target.fromSpec ? 'full' : 'summary')
    return {
      refused: 'refused',
      error: new LifeboatError(decision.code, decision.message, {
        detail: decision.detail,
        hints: decision.hints,
        exit: decision.exit as ExitCodeValue,
      }),
    }
  }
  if (decision.kind === 'none' || decision.kind === 'auto') {
    ui.showPlan(plan, target.fromSpec ? 'full' : 'summary')
    await log.append('gate.passed', {
      gate: 'plan',
      how: decision.kind === 'auto' ? decision.how : decision.reason,
      by: c.operator.user,
      approvals,
      ...resumeNote,
    })
    return {prompted: false}
  }
  ui.showPlan(plan, 'full')
  const answer = await ui.prompter!.ask(`\n${approvalPrompt(decision)}`)
  if (answer !== decision.expect) {
    await log.append('gate.refused', {
      gate: decision.lossy.length > 0 ? 'lossy' : 'plan',
      reason: 'the operator did not confirm',
      approvals,
      ...resumeNote,
    })
    return {
      refused: 'refused',
      error: new LifeboatError('APPROVAL_REFUSED', 'Apply cancelled.', {
        detail: `Only '${decision.expect}' approves; nothing was written to the cluster.`,
        exit: ExitCode.APPROVAL,
      }),
    }
  }
  await log.append('gate.passed', {
    gate: 'plan',
    how: decision.lossy.length > 0 ? 'typed the cluster name' : 'typed yes',
    by: c.operator.user,
    approvals,
    ...resumeNote,
  })
  ui.print('\n')
  return {prompted: true}
}

/** The run stopped because the lock was lost mid-step: say exactly which steps wrote. */
async function lockLostDuring(
  ran: RunStepsResult,
  log: AuditLog,
  command: string,
  lost: AbortSignal,
): Promise<RunEnding> {
  const why = String((lost.reason as Error | undefined)?.message ?? 'it was lost')
  const done = ran.steps.filter((s) => s.status === 'done' && !s.earlier && !s.always).map((s) => s.id)
  const cut = ran.end.kind === 'interrupted' ? ran.end.step : undefined
  const lines = [
    done.length > 0
      ? `Steps done in this run before the lock was lost: ${done.join(', ')}.`
      : 'No step finished in this run.',
    cut
      ? `Step ${cut} was stopped when the lock was lost; it may have written part of its changes (its next write was not sent). The steps after it were not started.`
      : 'No further step was started.',
  ]
  await log.append('run.interrupted', {step: cut ?? null, done, always: [], state: lines.join(' '), lockLost: why})
  return {
    refused: 'failed',
    extra: {error: {code: 'LOCK_LOST', message: why}},
    error: new LifeboatError('LOCK_LOST', `The apply lock was lost (${why}); writes stopped at once.`, {
      detail: lines.join('\n'),
      hints: [
        'Another run may hold the lock now: check with `lifeboat lock status SPEC`.',
        `When no other run is active, continue with:\n  ${command}`,
      ],
      exit: ExitCode.STOPPED,
    }),
  }
}
