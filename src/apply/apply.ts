/**
 * The executor of `lifeboat apply` (DESIGN.md section 5): lock, re-plan and refuse a stale plan,
 * gates, steps in order with an audit record fsynced before each touches the cluster, skip what
 * is already done, verify, and resume after a crash.
 *
 * Invariants:
 * - Nothing is written to the cluster before the lock is held, the plan is found current, and the
 *   gates have passed.
 * - `step.started` is on disk before a step's executor runs; when an audit append fails, no
 *   further step runs (the log fails closed and every later append throws).
 * - A step recorded finished is never run again; any other step is asked `isDone` first, so a run
 *   killed between a write and its record resumes without repeating the write.
 * - The lock is released on every path out of here.
 *
 * Rendering is the caller's: apply reports through ApplyUi and returns an ApplyResult.
 */
import {randomUUID} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {dirname, join, relative, resolve} from 'node:path'

import {DEFAULT_AUDIT_LOG, openAuditLog, readAuditLog, type AuditLog, type AuditRecord} from '../audit/log.js'
import {latestAttempt, runProgress, runStatus, runsOfPlan, type RunProgress} from '../audit/progress.js'
import type {RunStatus} from '../audit/events.js'
import {ExitCode, LifeboatError, describeError, type ExitCodeValue} from '../errors.js'
import type {EngineIo, StepExecutor} from '../engines/types.js'
import type {EngineModule} from '../engines/registry.js'
import {planHasChanges} from '../plan/build.js'
import {comparePlans, renderPlanDifferences} from '../plan/compare.js'
import {assertPlanForCluster, readPlanFile, writePlanFile} from '../plan/file.js'
import type {Finding, Plan, Step} from '../plan/types.js'
import {approvalPrompt, approverPolicyOf, decideGate, manualPrompt} from './gates.js'
import {currentOperator, type Operator} from './identity.js'
import {takeClusterLock, type HeldLock} from './lock.js'
import {isPlanFile, loadSpecForEngine, planLoadedSpec, specOfPlan, type SpecForEngine} from './plan-spec.js'
import type {TaskReporter, TaskStatus} from './progress.js'
import type {Prompter} from './prompt.js'

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
}

/** What the operator asked for. */
export interface ApplyRequest {
  /** A spec (YAML) or a saved plan (JSON). */
  target: string
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
}

/** How one step ended in this invocation. */
export interface StepOutcome {
  id: string
  status: TaskStatus
  summary?: string
  /** Set when the step was found finished in an earlier run of the same plan. */
  earlier?: boolean
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
  /** For a run that stopped at a manual step: the exact command that continues it. */
  resumeCommand?: string
  /** For a run that stopped at a manual step: what the operator must do. */
  waiting?: {step: string; description: string; instructions: string[]}
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

async function readRecords(path: string): Promise<AuditRecord[]> {
  if (!existsSync(path)) return []
  return readAuditLog(path)
}

/** The first run of the current attempt that passed the plan gate: its approval carries over to a resume. */
function attemptPassedGate(records: readonly AuditRecord[], digest: string): {run: string; by: string; how?: string} | undefined {
  for (const [run, recs] of latestAttempt(records, digest)) {
    const passed = recs.find((r) => r.event === 'gate.passed' && (r.data as {gate?: unknown}).gate === 'plan')
    if (passed) return {run, by: passed.actor, how: (passed.data as {how?: string}).how}
  }
  return undefined
}

/** The plan file of the latest unfinished apply of this spec, recorded in its run.started. */
function unfinishedPlanFileOfSpec(records: readonly AuditRecord[], specSha: string): string | undefined {
  const starts = records.filter((r) => r.event === 'run.started' && (r.data as {spec?: {sha256?: unknown}}).spec?.sha256 === specSha)
  for (const start of starts.reverse()) {
    const d = start.data as {planDigest?: unknown; planFile?: unknown}
    if (typeof d.planDigest !== 'string' || typeof d.planFile !== 'string') continue
    if (runProgress(records, d.planDigest).run !== undefined) return d.planFile
  }
  return undefined
}

/** Where a plan applied straight from a spec is kept, so that `--resume` can name it. */
function savedPlanPath(auditLog: string, plan: Plan): string {
  return join(dirname(auditLog), 'plans', `${plan.digest.slice(0, 16)}.json`)
}

/** A path as the operator would type it from here. */
function shown(path: string): string {
  const rel = relative(process.cwd(), resolve(path))
  return rel !== '' && !rel.startsWith('..') ? rel : resolve(path)
}

function quote(arg: string): string {
  return /^[\w./@:=+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
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
      throw new LifeboatError('NOTHING_TO_RESUME', `no unfinished apply of ${req.target} in the audit log ${auditPathOf(req)}`, {
        detail: 'apply --resume continues a run that stopped part-way (killed, crashed, waiting at a manual step); the audit log records none for this spec.',
        hints: [`Apply it afresh: \`lifeboat apply ${quote(req.target)}\`.`, 'If the run was recorded in another log, pass it with --audit-log FILE.'],
      })
    }
    const plan = await readPlanFile(planFile)
    return {plan, ready: await specOfPlan(plan, req.env), planFile, fromSpec: false}
  }
  ui.print('Gathering the live state...\n')
  const plan = await planLoadedSpec(ready, {env: req.env, now, toolVersion: req.toolVersion, progress: (m) => ui.print(`  ${m}\n`)})
  return {plan, ready, fromSpec: true}
}

function notApplyable(plan: Plan): LifeboatError {
  const errors = errorsOf(plan.findings)
  return new LifeboatError('PLAN_NOT_APPLYABLE', `the plan has ${errors.length} ${errors.length === 1 ? 'error' : 'errors'} and cannot be applied`, {
    detail: errors.map((f) => `${f.code}${f.subject ? ` (${f.subject})` : ''}: ${f.message}${f.hint ? `\n  ${f.hint}` : ''}`).join('\n'),
    hints: ['Resolve the errors (the plan says what each means), then plan again: `lifeboat plan SPEC --out plan.json`.'],
  })
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
    throw new LifeboatError('STEP_KIND_UNKNOWN', `the ${engine.kind} engine cannot run ${missing.length === 1 ? 'step' : 'steps'} ${missing.join(', ')}`, {
      detail: 'The plan was made by a lifeboat whose engine knows step kinds this one does not. Nothing was written.',
      hints: [`Apply it with lifeboat ${plan.tool.version}, the release that made it, or plan again with this one.`],
    })
  }
  return map
}

function errorsOf(findings: Finding[]): Finding[] {
  return findings.filter((f) => f.severity === 'error')
}

function describeFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.severity} ${f.code}${f.subject ? ` (${f.subject})` : ''}: ${f.message}`).join('\n')
}

/**
 * Applies a spec or a saved plan. Refusals (lock held, stale plan, missing approval, invalid input)
 * throw a LifeboatError with their exit code; a run that completes, stops at a manual step, or
 * fails verification returns an ApplyResult.
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
    throw new LifeboatError('CONFIRM_UNKNOWN_STEP', `--confirm names ${unknownConfirm.join(', ')}, which ${unknownConfirm.length === 1 ? 'is not a manual step' : 'are not manual steps'} of this plan`, {
      detail: manualIds.length > 0 ? `Manual steps of this plan: ${manualIds.join(', ')}.` : 'This plan has no manual step.',
      hints: ['--confirm STEP_ID confirms a manual step you have done by hand; copy the ID from the command apply printed when it stopped.'],
    })
  }

  if (plan.steps.length === 0 && !planHasChanges(plan)) {
    if (target.fromSpec) ui.showPlan(plan, 'full')
    return {
      status: 'no-changes', exit: ExitCode.OK, message: 'No changes. The cluster already matches the spec.',
      planDigest: plan.digest, planFile: target.planFile, auditLog: auditPath, steps: [], findings: [],
    }
  }
  const executors = executorsFor(engine, plan)

  const operator = currentOperator(req.env)
  const lock = await takeClusterLock(engine.lock(ready.spec, {env: req.env}), {
    operation: 'apply', plan: plan.digest, env: req.env, timeoutMs: req.lockTimeoutMs,
  })
  // Everything below runs under the lock, and the lock is released on every way out.
  try {
    return await underLock({req, ui, target, executors, lock, operator, auditPath, confirm})
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
  operator: Operator
  auditPath: string
  confirm: string[]
}

async function underLock(c: RunContext): Promise<ApplyResult> {
  const {req, ui, target, lock, operator, auditPath} = c
  const {plan, ready} = target
  const engine = ready.engine
  const records = await readRecords(auditPath)
  const progress: RunProgress = runProgress(records, plan.digest)
  if (req.resume && progress.run === undefined) {
    const applied = runsOfPlan(records, plan.digest).findLast(([, recs]) => runStatus(recs) === 'succeeded')
    throw new LifeboatError('NOTHING_TO_RESUME', applied ? `this plan was already applied completely (run ${applied[0]})` : `no earlier run of this plan in the audit log ${auditPath}`, {
      detail: applied ? 'There is nothing left to resume.' : 'apply --resume continues a run of the same plan that stopped part-way; the audit log records none.',
      hints: applied
        ? ['Make a new plan to see the cluster as it is now: `lifeboat plan SPEC`.']
        : [`Apply it without --resume: \`lifeboat apply ${quote(target.planFile ?? req.target)}\`.`, 'If the run was recorded in another log, pass it with --audit-log FILE.'],
    })
  }
  const resumes = req.resume ? progress.run : undefined
  const run = randomUUID()
  const log = await openAuditLog(auditPath, {run, actor: operator.user, host: operator.host})
  const planFile = target.fromSpec ? savedPlanPath(auditPath, plan) : target.planFile

  // Closes the run on a refusal or a failure; an audit log that already failed stays silent.
  const finishRun: FinishRun = async (status, extra = {}) => {
    try {
      await log.append('run.finished', {status, head: log.head(), ...extra})
    } catch {
      // fail closed: the original error is what the operator needs to see
    }
  }

  await log.append('run.started', {
    argv: req.argv,
    toolVersion: req.toolVersion,
    spec: {sha256: plan.spec.sha256, kind: plan.spec.kind, name: plan.spec.name, ...(plan.spec.path ? {path: plan.spec.path} : {})},
    planDigest: plan.digest,
    ...(planFile ? {planFile: resolve(planFile)} : {}),
    cluster: plan.cluster.name,
    ...(plan.spec.ticket ? {ticket: plan.spec.ticket} : {}),
    lock: {id: lock.info.id, where: lock.where},
    pid: process.pid,
  })
  if (resumes) await log.append('run.resumed', {resumes, planDigest: plan.digest, finished: progress.finished, confirmed: progress.confirmed})

  try {
    const gateCarried = resumes ? attemptPassedGate(records, plan.digest) : undefined
    // 2. Re-gather and re-plan. A resumed run whose earlier part passed the gate has changed the
    // cluster (or the operator did a manual step), so a fresh plan would differ by design; there
    // each step is re-checked with isDone and writes carry the versions the plan saw.
    if (!gateCarried) await staleCheck(c, log, records, finishRun)

    // 3. Gates.
    await passGates(c, log, gateCarried, finishRun)

    if (target.fromSpec && planFile) {
      await mkdir(dirname(planFile), {recursive: true})
      await writePlanFile(planFile, plan)
      ui.print(`Saved this plan to ${shown(planFile)} (apply --resume continues it if this run stops).\n`)
    }

    // 4. Steps.
    const outcome = await runSteps(c, log, progress, planFile)
    if (outcome.stopped) return {...outcome.stopped, run, resumes, planDigest: plan.digest, planFile, auditLog: auditPath}

    // 5. Verify.
    await lock.assertHeld()
    const ctx = await engine.connect(ready.spec, engineIo(c))
    let findings: Finding[]
    try {
      findings = await engine.verify(ctx, plan)
    } finally {
      await engine.close(ctx).catch(() => undefined)
    }
    const bad = errorsOf(findings)
    await log.append('verify.finished', {ok: bad.length === 0, findings: findings.length, details: findings})
    const status: RunStatus = bad.length === 0 ? 'succeeded' : 'failed'
    await log.append('run.finished', {status, head: log.head()})
    const done = outcome.steps.filter((s) => s.status === 'done' && !s.earlier).length
    const skipped = outcome.steps.filter((s) => s.status === 'skipped').length
    const earlier = outcome.steps.filter((s) => s.earlier).length
    const counts = [`${done} ${done === 1 ? 'step' : 'steps'} done`, skipped > 0 ? `${skipped} skipped (already done)` : '', earlier > 0 ? `${earlier} done in an earlier run` : '']
      .filter(Boolean).join(', ')
    return {
      status,
      exit: bad.length === 0 ? ExitCode.OK : ExitCode.ERROR,
      message: bad.length === 0
        ? `Apply complete! ${counts}. Verified: the cluster matches the plan.`
        : `Apply finished (${counts}), but verification found ${bad.length} ${bad.length === 1 ? 'difference' : 'differences'} from the plan.`,
      run, resumes, planDigest: plan.digest, planFile, auditLog: auditPath, steps: outcome.steps, findings,
    }
  } catch (err) {
    if (err instanceof RunClosed) throw err.error
    await finishRun('failed', {error: errorData(err)})
    throw err
  }
}

/** Writes the run's run.finished with this status, on a refusal or a failure. */
type FinishRun = (status: RunStatus, extra?: Record<string, unknown>) => Promise<void>

/** Thrown inside a run that already wrote its run.finished: carries the error to raise. */
class RunClosed extends Error {
  constructor(readonly error: unknown) {
    super('run closed')
  }
}

function errorData(err: unknown): {code?: string; message: string} {
  return err instanceof LifeboatError ? {code: err.code, message: err.message} : {message: describeError(err)}
}

function engineIo(c: RunContext): EngineIo {
  return {env: c.req.env, specDir: c.target.ready.dir, progress: () => undefined}
}

async function staleCheck(c: RunContext, log: AuditLog, records: readonly AuditRecord[], finishRun: FinishRun): Promise<void> {
  const {plan, ready} = c.target
  const fresh = await planLoadedSpec({...ready, planSpec: plan.spec}, {env: c.req.env, now: plan.createdAt, toolVersion: plan.tool.version})
  await log.append('plan.computed', {planDigest: fresh.digest, changes: planHasChanges(fresh), applyable: fresh.applyable, fingerprint: fresh.observed.fingerprint})
  const diffs = comparePlans(plan, fresh)
  if (diffs.length === 0) return
  await log.append('plan.stale', {savedDigest: plan.digest, freshDigest: fresh.digest, differences: diffs.length, first: diffs.slice(0, 20)})
  await finishRun('stale')
  const unfinished = runProgress(records, plan.digest)
  const hints = [
    c.target.fromSpec
      ? 'The cluster changed while this apply was starting; run the apply again to plan from the new state.'
      : 'Make a new plan from the cluster as it is now, review it, and apply that: `lifeboat plan SPEC --out plan.json`.',
  ]
  if (unfinished.run !== undefined && unfinished.finished.length + (unfinished.interrupted ? 1 : 0) > 0) {
    hints.unshift(`An earlier run of this plan (${unfinished.run}) stopped part-way and may have made these changes: continue it with \`lifeboat apply ${quote(c.target.planFile ?? c.req.target)} --resume\`.`)
  }
  throw new RunClosed(new LifeboatError('PLAN_STALE', 'Saved plan is stale', {
    detail: `The plan can no longer be applied because the cluster changed after the plan was made. Nothing was written.\n\n${renderPlanDifferences(diffs)}`,
    hints,
    exit: ExitCode.STALE,
  }))
}

async function passGates(c: RunContext, log: AuditLog, carried: {run: string; by: string; how?: string} | undefined, finishRun: FinishRun): Promise<void> {
  const {req, ui, target} = c
  const {plan} = target
  if (carried) {
    await log.append('gate.passed', {gate: 'plan', how: 'resumed', by: c.operator.user, approvedIn: carried.run, approvedBy: carried.by, approvedHow: carried.how})
    ui.showPlan(plan, 'summary')
    ui.print(`Resuming: approved by ${carried.by} in run ${carried.run}${carried.how ? ` (${carried.how})` : ''}.\n`)
    return
  }
  const decision = decideGate({
    plan, policy: approverPolicyOf(plan.spec.document), autoApprove: req.autoApprove, allowDataLoss: req.allowDataLoss,
    interactive: ui.prompter !== undefined, savedPlan: !target.fromSpec, planRef: target.planFile ?? 'plan.json',
  })
  const approvals = plan.approvals.map((a) => a.name)
  if (decision.kind === 'refuse') {
    await log.append('gate.refused', {gate: decision.gate, reason: decision.message, approvals})
    await finishRun('refused')
    ui.showPlan(plan, target.fromSpec ? 'full' : 'summary')
    throw new RunClosed(new LifeboatError(decision.code, decision.message, {detail: decision.detail, hints: decision.hints, exit: decision.exit as ExitCodeValue}))
  }
  if (decision.kind === 'none' || decision.kind === 'auto') {
    ui.showPlan(plan, target.fromSpec ? 'full' : 'summary')
    await log.append('gate.passed', {gate: 'plan', how: decision.kind === 'auto' ? decision.how : decision.reason, by: c.operator.user, approvals})
    return
  }
  ui.showPlan(plan, 'full')
  const answer = await ui.prompter!.ask(`\n${approvalPrompt(decision)}`)
  if (answer !== decision.expect) {
    await log.append('gate.refused', {gate: decision.lossy.length > 0 ? 'lossy' : 'plan', reason: 'the operator did not confirm', approvals})
    await finishRun('refused')
    throw new RunClosed(new LifeboatError('APPROVAL_REFUSED', 'Apply cancelled.', {
      detail: `Only '${decision.expect}' approves; nothing was written to the cluster.`,
      exit: ExitCode.APPROVAL,
    }))
  }
  await log.append('gate.passed', {gate: 'plan', how: decision.lossy.length > 0 ? 'typed the cluster name' : 'typed yes', by: c.operator.user, approvals})
  ui.print('\n')
}

interface StepsOutcome {
  steps: StepOutcome[]
  stopped?: Omit<ApplyResult, 'run' | 'resumes' | 'planDigest' | 'planFile' | 'auditLog'>
}

function resumeCommand(c: RunContext, planFile: string | undefined, stepId: string): string {
  const parts = ['lifeboat', 'apply', quote(shown(planFile ?? c.req.target)), '--resume', '--confirm', stepId]
  if (resolve(c.auditPath) !== resolve(DEFAULT_AUDIT_LOG)) parts.push('--audit-log', quote(c.auditPath))
  return parts.join(' ')
}

async function runSteps(c: RunContext, log: AuditLog, progress: RunProgress, planFile: string | undefined): Promise<StepsOutcome> {
  const {ui, target, lock, executors} = c
  const {plan, ready} = target
  const engine = ready.engine
  const finishedBefore = new Set(c.req.resume ? progress.finished : [])
  const confirmed = new Set([...c.confirm, ...(c.req.resume ? progress.confirmed : [])])
  const outcomes: StepOutcome[] = []
  const tasks = ui.tasks(plan.steps.map((s) => ({id: s.id, description: s.description})))
  const ctx = await engine.connect(ready.spec, engineIo(c))
  try {
    for (const step of plan.steps) {
      if (finishedBefore.has(step.id)) {
        outcomes.push({id: step.id, status: 'done', earlier: true, summary: 'done in an earlier run'})
        tasks.update(step.id, 'done', 'done in an earlier run')
        continue
      }
      // The lock must still be ours before anything more touches the cluster.
      await lock.assertHeld()
      const executor = executors.get(step.id)
      if (step.manual) {
        const result = await manualStep(c, log, ctx, step, executor, confirmed, tasks, planFile)
        if (result === 'waiting') {
          outcomes.push({id: step.id, status: 'waiting'})
          tasks.finish()
          await log.append('run.finished', {status: 'stopped', head: log.head(), waitingFor: step.id})
          const command = resumeCommand(c, planFile, step.id)
          return {
            steps: outcomes,
            stopped: {
              status: 'stopped',
              exit: ExitCode.STOPPED,
              message: `Stopped at manual step ${step.id}: it is done by hand. When it is done, continue with:\n  ${command}`,
              steps: outcomes,
              findings: [],
              resumeCommand: command,
              waiting: {step: step.id, description: step.description, instructions: step.manual.instructions},
            },
          }
        }
        outcomes.push(result)
        continue
      }
      outcomes.push(await automaticStep(log, ctx, step, executor!, tasks))
    }
    tasks.finish()
    return {steps: outcomes}
  } catch (err) {
    tasks.finish()
    throw err
  } finally {
    await engine.close(ctx).catch(() => undefined)
  }
}

function stepFailed(step: Step, err: unknown): LifeboatError {
  const inner = err instanceof LifeboatError ? err : undefined
  return new LifeboatError('STEP_FAILED', `step ${step.id} failed: ${inner ? inner.message : describeError(err)}`, {
    detail: [inner?.detail, 'Steps before it are done; it and the steps after it are not. The audit log records where the run stopped.'].filter(Boolean).join('\n\n'),
    hints: [...(inner?.hints ?? []), 'When the cause is fixed, continue with `lifeboat apply PLAN --resume`: steps already done are not repeated.'],
    cause: err,
  })
}

async function automaticStep(log: AuditLog, ctx: unknown, step: Step, executor: StepExecutor<unknown>, tasks: TaskReporter): Promise<StepOutcome> {
  let done: boolean
  try {
    done = await executor.isDone(ctx, step)
  } catch (err) {
    await log.append('step.failed', {step: step.id, error: errorData(err), phase: 'isDone'})
    tasks.update(step.id, 'failed', describeError(err))
    throw stepFailed(step, err)
  }
  if (done) return skipDone(log, step, tasks)
  // Written and fsynced before the step touches the cluster: a crash from here on is resumable.
  await log.append('step.started', {step: step.id, kind: step.kind, risk: step.risk})
  tasks.update(step.id, 'running', step.description)
  let summary: string | undefined
  try {
    const result = await executor.run(ctx, step, (message) => tasks.update(step.id, 'running', message))
    summary = result.summary
    const problems = errorsOf(await executor.verify(ctx, step))
    if (problems.length > 0) {
      throw new LifeboatError('STEP_NOT_VERIFIED', `the effect of step ${step.id} is not there after it ran`, {detail: describeFindings(problems)})
    }
    await log.append('step.finished', {step: step.id, ...(summary ? {summary} : {}), ...(result.data ? {result: result.data} : {})})
  } catch (err) {
    if (err instanceof LifeboatError && err.code === 'AUDIT_WRITE_FAILED') throw err
    tasks.update(step.id, 'failed', err instanceof LifeboatError ? err.message : describeError(err))
    await log.append('step.failed', {step: step.id, error: errorData(err)})
    throw stepFailed(step, err)
  }
  tasks.update(step.id, 'done', summary)
  return {id: step.id, status: 'done', ...(summary ? {summary} : {})}
}

/** Records a step whose effect is already there as skipped. */
async function skipDone(log: AuditLog, step: Step, tasks: TaskReporter): Promise<StepOutcome> {
  await log.append('step.skipped', {step: step.id, reason: 'already done'})
  tasks.update(step.id, 'skipped', 'already done')
  return {id: step.id, status: 'skipped', summary: 'already done'}
}

async function manualStep(
  c: RunContext, log: AuditLog, ctx: unknown, step: Step, executor: StepExecutor<unknown> | undefined, confirmed: Set<string>, tasks: TaskReporter,
  planFile: string | undefined,
): Promise<StepOutcome | 'waiting'> {
  if (executor && (await executor.isDone(ctx, step))) return skipDone(log, step, tasks)
  let how = '--confirm'
  if (!confirmed.has(step.id)) {
    await log.append('step.waiting', {step: step.id})
    tasks.update(step.id, 'waiting', 'done by hand')
    if (!c.ui.prompter) return 'waiting'
    tasks.pause()
    const answer = await c.ui.prompter.ask(`\n${manualPrompt(step)}`)
    c.ui.print('\n')
    if (answer !== 'yes') return 'waiting'
    how = 'typed yes'
  }
  await log.append('gate.passed', {gate: 'manual', step: step.id, how, by: c.operator.user})
  await log.append('step.started', {step: step.id, kind: step.kind, risk: step.risk, manual: true})
  tasks.update(step.id, 'running', 'checking the work done by hand')
  const problems = executor ? errorsOf(await executor.verify(ctx, step)) : []
  if (problems.length > 0) {
    await log.append('step.failed', {step: step.id, error: {code: 'MANUAL_STEP_NOT_DONE', message: describeFindings(problems)}})
    tasks.update(step.id, 'failed', 'the work is not there')
    throw new LifeboatError('STEP_FAILED', `manual step ${step.id} was confirmed, but its effect is not there`, {
      detail: describeFindings(problems),
      hints: [`Do the step as its instructions say, then continue with \`${resumeCommand(c, planFile, step.id)}\`.`],
    })
  }
  await log.append('step.finished', {step: step.id, summary: `confirmed by ${c.operator.user} (${how})`})
  tasks.update(step.id, 'done', `confirmed (${how})`)
  return {id: step.id, status: 'done', summary: `confirmed (${how})`}
}
