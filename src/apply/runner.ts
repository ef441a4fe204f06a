/**
 * The step runner of apply (DESIGN.md section 5, steps 4 and 7): runs a plan's steps in order,
 * each recorded before it touches the cluster, skips what is already done, waits at manual steps,
 * stops at a failure or an interruption, and then still runs the `always` steps after that point.
 *
 * Invariants:
 * - `step.started` is recorded (the audit log fsyncs it) before an executor's `run`; when the
 *   recorder fails (AUDIT_WRITE_FAILED), nothing more runs, not even always steps.
 * - A step recorded finished in an earlier run is not trusted from that record: its effect is
 *   re-checked with `isDone` and, when it is gone, the step runs again (its audit records carry `again: true`). An executor declares otherwise with `onResume`: `plan-again` stops the run
 *   before the step (repeating it from this plan is not safe; exit 5, plan again), `trust` keeps the
 *   record (a check with no effect of its own). A manual step the operator confirmed is trusted:
 *   its work is done by hand and its isDone cannot always prove it. An always step is always re-checked.
 * - A lossy step runs again only with `allowDataLoss` (the gates of a resume passed for the steps
 *   left, which did not include it).
 * - Once the signal is aborted (Ctrl-C, SIGTERM), no further step starts; only always steps run.
 *
 * Outcomes are values, not exceptions: the caller decides how the run ends.
 */
import {ExitCode, LifeboatError, describeError} from '../errors.js'
import type {StepExecutor} from '../engines/types.js'
import type {Finding, Step} from '../plan/types.js'
import type {TaskReporter, TaskStatus} from './ui.js'

/** Where the runner writes its records: the audit log in apply; any recorder in tests and tools. */
export interface StepRecorder {
  append(event: string, data: Record<string, unknown>): Promise<unknown>
}

/** A recorder that keeps the records in memory (tests, dry tools). */
export function memoryRecorder(): StepRecorder & {records: Array<{event: string; data: Record<string, unknown>}>} {
  const records: Array<{event: string; data: Record<string, unknown>}> = []
  return {
    records,
    async append(event, data) {
      records.push({event, data})
    },
  }
}

/** How one step ended in this invocation. */
export interface StepOutcome {
  id: string
  status: TaskStatus
  summary?: string
  /** Set when the step was found finished in an earlier run of the same plan. */
  earlier?: boolean
  /** Set for an always step run after the run stopped. */
  always?: boolean
  /** Set when an earlier run finished the step, its effect was gone, and this run ran it again. */
  again?: boolean
}

/** What the runner needs. */
export interface RunStepsInput<C> {
  steps: readonly Step[]
  /** The executor of each step, by step id; a manual step may have none. */
  executors: ReadonlyMap<string, StepExecutor<C> | undefined>
  ctx: C
  recorder: StepRecorder
  tasks: TaskReporter
  /** Aborted on Ctrl-C or SIGTERM: no new step starts, the executor in flight is told. */
  signal?: AbortSignal
  /** Steps recorded finished or skipped in an earlier run of this attempt: re-checked, see onResume. */
  finishedEarlier?: ReadonlySet<string>
  /** `--allow-data-loss` was given: a lossy step whose effect is gone may run again. */
  allowDataLoss?: boolean
  /** Manual steps the operator confirmed beforehand (`--confirm`, or in an earlier run). */
  confirmed?: ReadonlySet<string>
  /** Who confirms manual steps, for the record. */
  actor: string
  /** Asks the operator whether a manual step is done; absent without a terminal (the run then waits). */
  askManual?: (step: Step) => Promise<boolean>
  /** Called before each step that may touch the cluster; throws to stop the run (apply: the lock is still ours). */
  beforeStep?: () => Promise<void>
  /**
   * Called before a step that is not done yet is started (never for always or manual steps): a
   * refusal (apply: the facts the step depends on changed) fails the step without running it; the
   * always steps still run.
   */
  checkStep?: (step: Step) => Promise<LifeboatError | undefined>
}

/** How the run of the steps ended. */
export type RunEnd =
  | {kind: 'completed'}
  | {kind: 'waiting'; step: Step}
  | {kind: 'failed'; error: LifeboatError}
  | {kind: 'interrupted'; step?: string}

export interface RunStepsResult {
  steps: StepOutcome[]
  end: RunEnd
  /** Always steps that failed after the run had stopped (their errors; the run still ends as `end` says). */
  alwaysFailures: LifeboatError[]
}

function errorsOf(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error')
}

function describeFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.severity} ${f.code}${f.subject ? ` (${f.subject})` : ''}: ${f.message}`).join('\n')
}

/** The error data an audit record keeps: the code and the message, never a stack. */
export function errorData(err: unknown): {code?: string; message: string} {
  return err instanceof LifeboatError ? {code: err.code, message: err.message} : {message: describeError(err)}
}

function isAuditFailure(err: unknown): boolean {
  return err instanceof LifeboatError && err.code === 'AUDIT_WRITE_FAILED'
}

function stepFailed(step: Step, err: unknown): LifeboatError {
  const inner = err instanceof LifeboatError ? err : undefined
  return new LifeboatError('STEP_FAILED', `step ${step.id} failed: ${inner ? inner.message : describeError(err)}`, {
    detail: [
      inner?.detail,
      'Steps before it are done; it and the steps after it are not. The audit log records where the run stopped.',
    ]
      .filter(Boolean)
      .join('\n\n'),
    hints: [
      ...(inner?.hints ?? []),
      'When the cause is fixed, continue with `lifeboat apply PLAN --resume`: steps whose effect is there are not repeated.',
    ],
    cause: err,
  })
}

/** A step's outcome while running: done or skipped, or how it stopped the run. */
export type StepEnd =
  | {kind: 'ok'; outcome: StepOutcome}
  | {kind: 'failed'; outcome: StepOutcome; error: LifeboatError}
  | {kind: 'interrupted'; outcome: StepOutcome}

/**
 * One automatic step: skip when its effect is there (`isDone`), else record `step.started`, run,
 * verify, record `step.finished`. A failure is recorded (`step.failed`) and returned; a failure
 * after the signal was aborted is an interruption (`step.interrupted`). An audit failure throws.
 */
export async function runAutomaticStep<C>(
  input: Pick<RunStepsInput<C>, 'ctx' | 'recorder' | 'tasks' | 'signal' | 'checkStep'>,
  step: Step,
  executor: StepExecutor<C>,
  always = false,
  again = false,
): Promise<StepEnd> {
  const {ctx, recorder, tasks, signal} = input
  const mark = {...(always ? {always: true} : {}), ...(again ? {again: true} : {})}
  let done: boolean
  try {
    // A step run again was found not done just before: asking once more would only cost a round trip.
    done = again ? false : await executor.isDone(ctx, step)
  } catch (err) {
    if (isAuditFailure(err)) throw err
    await recorder.append('step.failed', {step: step.id, error: errorData(err), phase: 'isDone', ...mark})
    tasks.update(step.id, 'failed', describeError(err))
    return {kind: 'failed', outcome: {id: step.id, status: 'failed', ...mark}, error: stepFailed(step, err)}
  }
  if (done) {
    await recorder.append('step.skipped', {step: step.id, reason: 'already done', ...mark})
    tasks.update(step.id, 'skipped', 'already done')
    return {kind: 'ok', outcome: {id: step.id, status: 'skipped', summary: 'already done', ...mark}}
  }
  const refusal = always ? undefined : await input.checkStep?.(step)
  if (refusal) {
    await recorder.append('step.failed', {step: step.id, error: errorData(refusal)})
    tasks.update(step.id, 'failed', refusal.message)
    return {kind: 'failed', outcome: {id: step.id, status: 'failed'}, error: refusal}
  }
  // Recorded (and fsynced by the audit log) before the step touches the cluster: a crash from here on is resumable.
  await recorder.append('step.started', {step: step.id, kind: step.kind, risk: step.risk, ...mark})
  tasks.update(step.id, 'running', step.description)
  let summary: string | undefined
  try {
    const result = await executor.run(
      ctx,
      step,
      (message, count) => tasks.update(step.id, 'running', message, count),
      signal,
    )
    summary = result.summary
    const problems = errorsOf(await executor.verify(ctx, step))
    if (problems.length > 0) {
      throw new LifeboatError('STEP_NOT_VERIFIED', `the effect of step ${step.id} is not there after it ran`, {
        detail: describeFindings(problems),
      })
    }
    await recorder.append('step.finished', {
      step: step.id,
      ...(summary ? {summary} : {}),
      ...(result.data ? {result: result.data} : {}),
      ...mark,
    })
  } catch (err) {
    if (isAuditFailure(err)) throw err
    if (signal?.aborted && !always) {
      await recorder.append('step.interrupted', {step: step.id, error: errorData(err)})
      tasks.update(step.id, 'interrupted', 'interrupted')
      return {kind: 'interrupted', outcome: {id: step.id, status: 'interrupted'}}
    }
    tasks.update(step.id, 'failed', err instanceof LifeboatError ? err.message : describeError(err))
    await recorder.append('step.failed', {step: step.id, error: errorData(err), ...mark})
    return {kind: 'failed', outcome: {id: step.id, status: 'failed', ...mark}, error: stepFailed(step, err)}
  }
  const shown = again ? `${AGAIN_NOTE}${summary ? `: ${summary}` : ''}` : summary
  tasks.update(step.id, 'done', shown)
  return {kind: 'ok', outcome: {id: step.id, status: 'done', ...(shown ? {summary: shown} : {}), ...mark}}
}

/** The note of a step an earlier run finished whose effect was gone, run again in this one. */
export const AGAIN_NOTE = 'ran again'

/** Why a step an earlier run finished runs again: one line, for the task list and the audit log. */
export const AGAIN_REASON = 'done in an earlier run, but its effect is no longer there: running it again'

/** The refusal when a step's effect is gone and the step cannot be repeated from this plan. */
function effectGone(step: Step, reason: 'plan-again' | 'lossy'): LifeboatError {
  if (reason === 'lossy') {
    return new LifeboatError(
      'STEP_EFFECT_GONE',
      `step ${step.id} was done in an earlier run, but its effect is no longer there, and running it again may lose data`,
      {
        detail: `Expected: ${step.expect} The gates of this resume passed for the steps left, which did not include ${step.id}. Nothing was written in this run before it.`,
        hints: [
          'Find out what undid it. To run it again, resume with --allow-data-loss; or plan again (`lifeboat plan SPEC`) to see the cluster as it is now.',
        ],
        exit: ExitCode.APPROVAL,
      },
    )
  }
  return new LifeboatError(
    'STEP_EFFECT_GONE',
    `step ${step.id} was done in an earlier run, but its effect is no longer there, and it cannot be repeated safely from this plan`,
    {
      detail: `Expected: ${step.expect} The step acts on what the plan saw; the cluster has changed since. It was not run again.`,
      hints: [
        'Plan again from the cluster as it is now: `lifeboat plan SPEC --out plan.json`, then apply the new plan.',
      ],
      exit: ExitCode.STALE,
    },
  )
}

/**
 * A step an earlier run finished (DESIGN.md section 5, step 6: its effect is checked, not trusted
 * from the record). Returns `earlier` when it stands (or is trusted), `again` when it must run again,
 * or how it stops the run.
 */
async function recheckEarlier<C>(
  input: RunStepsInput<C>,
  step: Step,
  executor: StepExecutor<C>,
): Promise<'earlier' | 'again' | Extract<StepEnd, {kind: 'failed'}>> {
  const mode = executor.onResume ?? 'recheck'
  const {ctx, recorder, tasks} = input
  let done: boolean
  try {
    done = await executor.isDone(ctx, step)
  } catch (err) {
    if (isAuditFailure(err)) throw err
    await recorder.append('step.failed', {step: step.id, error: errorData(err), phase: 'isDone'})
    tasks.update(step.id, 'failed', describeError(err))
    return {kind: 'failed', outcome: {id: step.id, status: 'failed'}, error: stepFailed(step, err)}
  }
  if (done) return 'earlier'
  const refusal =
    mode === 'plan-again'
      ? effectGone(step, 'plan-again')
      : step.risk === 'lossy' && !input.allowDataLoss
        ? effectGone(step, 'lossy')
        : undefined
  if (refusal) {
    await recorder.append('step.failed', {step: step.id, error: errorData(refusal), phase: 'resume'})
    tasks.update(step.id, 'failed', 'its effect is gone and it cannot be repeated from this plan')
    return {kind: 'failed', outcome: {id: step.id, status: 'failed'}, error: refusal}
  }
  tasks.update(step.id, 'running', AGAIN_REASON)
  return 'again'
}

/** A manual step: skip when its effect is there, else wait for the operator's confirmation and check the work. */
async function runManualStep<C>(
  input: RunStepsInput<C>,
  step: Step,
  executor: StepExecutor<C> | undefined,
): Promise<StepEnd | 'waiting'> {
  const {ctx, recorder, tasks} = input
  if (executor && (await executor.isDone(ctx, step))) {
    await recorder.append('step.skipped', {step: step.id, reason: 'already done'})
    tasks.update(step.id, 'skipped', 'already done')
    return {kind: 'ok', outcome: {id: step.id, status: 'skipped', summary: 'already done'}}
  }
  let how = '--confirm'
  if (!input.confirmed?.has(step.id)) {
    await recorder.append('step.waiting', {step: step.id})
    tasks.update(step.id, 'waiting', 'done by hand')
    if (!input.askManual) return 'waiting'
    tasks.pause()
    if (!(await input.askManual(step))) return 'waiting'
    how = 'typed yes'
  }
  await recorder.append('gate.passed', {gate: 'manual', step: step.id, how, by: input.actor})
  await recorder.append('step.started', {step: step.id, kind: step.kind, risk: step.risk, manual: true})
  tasks.update(step.id, 'running', 'checking the work done by hand')
  const problems = executor ? errorsOf(await executor.verify(ctx, step)) : []
  if (problems.length > 0) {
    await recorder.append('step.failed', {
      step: step.id,
      error: {code: 'MANUAL_STEP_NOT_DONE', message: describeFindings(problems)},
    })
    tasks.update(step.id, 'failed', 'the work is not there')
    return {
      kind: 'failed',
      outcome: {id: step.id, status: 'failed'},
      error: new LifeboatError('STEP_FAILED', `manual step ${step.id} was confirmed, but its effect is not there`, {
        detail: describeFindings(problems),
        hints: [
          `Do the step as its instructions say, then continue with \`lifeboat apply PLAN --resume --confirm ${step.id}\`.`,
        ],
      }),
    }
  }
  await recorder.append('step.finished', {step: step.id, summary: `confirmed by ${input.actor} (${how})`})
  tasks.update(step.id, 'done', `confirmed (${how})`)
  return {kind: 'ok', outcome: {id: step.id, status: 'done', summary: `confirmed (${how})`}}
}

/**
 * Runs the steps in order. Stops at a manual step nobody confirmed, at a failed step, or when the
 * signal is aborted; then runs every always step after the stopping point (audited like any
 * step, marked `always`). Throws only what must stop everything at once: an audit failure, or
 * `beforeStep` refusing (a lost lock).
 */
export async function runSteps<C>(input: RunStepsInput<C>): Promise<RunStepsResult> {
  const {steps, executors, tasks, signal} = input
  const finishedEarlier = input.finishedEarlier ?? new Set<string>()
  const outcomes: StepOutcome[] = []
  let end: RunEnd = {kind: 'completed'}
  let next = steps.length
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!
    const executor = executors.get(step.id)
    const earlier = finishedEarlier.has(step.id) && !step.always
    if (earlier && (step.manual || !executor || executor.onResume === 'trust')) {
      outcomes.push({id: step.id, status: 'done', earlier: true, summary: 'done in an earlier run'})
      tasks.update(step.id, 'done', 'done in an earlier run')
      continue
    }
    if (signal?.aborted) {
      end = {kind: 'interrupted'}
      next = i
      break
    }
    let again = false
    if (earlier) {
      // isDone only reads: the lock is asserted once the step is to run again.
      const checked = await recheckEarlier(input, step, executor!)
      if (checked === 'earlier') {
        outcomes.push({id: step.id, status: 'done', earlier: true, summary: 'done in an earlier run'})
        tasks.update(step.id, 'done', 'done in an earlier run')
        continue
      }
      if (checked !== 'again') {
        outcomes.push(checked.outcome)
        end = {kind: 'failed', error: checked.error}
        next = i + 1
        break
      }
      again = true
    }
    await input.beforeStep?.()
    const result = step.manual
      ? await runManualStep(input, step, executor)
      : await runAutomaticStep(input, step, executor!, false, again)
    if (result === 'waiting') {
      outcomes.push({id: step.id, status: 'waiting'})
      end = {kind: 'waiting', step}
      next = i + 1
      break
    }
    outcomes.push(result.outcome)
    if (result.kind === 'failed') {
      end = {kind: 'failed', error: result.error}
      next = i + 1
      break
    }
    if (result.kind === 'interrupted') {
      end = {kind: 'interrupted', step: step.id}
      next = i + 1
      break
    }
  }
  const alwaysFailures: LifeboatError[] = []
  if (end.kind !== 'completed') {
    // The run stopped: the always steps after that point still run (restore a setting, release a pause).
    for (const step of steps.slice(next)) {
      if (!step.always) continue
      await input.beforeStep?.()
      const result = await runAutomaticStep(input, step, executors.get(step.id)!, true)
      outcomes.push(result.outcome)
      if (result.kind === 'failed') alwaysFailures.push(result.error)
    }
  }
  tasks.finish()
  return {steps: outcomes, end, alwaysFailures}
}
