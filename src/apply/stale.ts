/**
 * The stale checks of apply (DESIGN.md section 5, step 2; issue 18): under the lock, re-gather and
 * compare with the plan before the first write (and again after the approval prompt), what is left
 * on a resume after a partial write, and the facts of each later disruptive step right before it.
 *
 * A refusal says first what changed in the cluster, in a few lines of its terms (describeDrift or
 * the engine's driftOf), then every difference; a cluster that can no longer be read is refused
 * the same way (exit 5), saying so. Nothing here writes to the cluster.
 */
import type {AuditLog, AuditRecord} from '../audit/log.js'
import {runProgress} from '../audit/progress.js'
import type {EngineIo} from '../engines/types.js'
import {ExitCode, LifeboatError, describeError} from '../errors.js'
import {planHasChanges} from '../plan/build.js'
import {
  comparePlans,
  compareRemaining,
  describeDrift,
  renderPlanDifferences,
  type PlanDifference,
} from '../plan/compare.js'
import type {Plan, Step} from '../plan/types.js'
import {planLoadedSpec, type SpecForEngine} from './plan-spec.js'
import {quote} from './resume.js'

/** What a stale check needs to know about the run. */
export interface StaleInput {
  plan: Plan
  ready: SpecForEngine
  env: Record<string, string | undefined>
  /** Applied straight from a spec (planned a moment ago), not from a saved plan. */
  fromSpec: boolean
  /** The plan as the operator names it, for hints. */
  planRef: string
  /** Progress of the re-gathers for a human (a terminal); absent: silent. */
  progress?: EngineIo['progress']
}

/** A fresh plan and the live state it was made from, or the refusal when the cluster cannot be read. */
async function replan(
  s: StaleInput,
  log: AuditLog,
  when: string | undefined,
  keepLive: boolean,
): Promise<{fresh: Plan; live: unknown} | {refusal: LifeboatError}> {
  let live: unknown
  try {
    s.progress?.(`re-reading the cluster to check the plan${when ? ` (${when})` : ''}`)
    const fresh = await planLoadedSpec(
      {...s.ready, planSpec: s.plan.spec},
      {
        env: s.env,
        now: s.plan.createdAt,
        toolVersion: s.plan.tool.version,
        // The live state is kept only for the engine's driftOf: at 64,000 partitions it is a few
        // hundred MB that apply otherwise lets go as soon as the fresh plan is made.
        onLive: keepLive ? (l) => (live = l) : undefined,
        progress: s.progress,
      },
    )
    return {fresh, live}
  } catch (err) {
    if (!(err instanceof LifeboatError) || err.code.startsWith('AUDIT_')) throw err
    await log.append('plan.stale', {
      savedDigest: s.plan.digest,
      unreadable: {code: err.code, message: err.message},
      ...(when ? {when} : {}),
    })
    return {
      refusal: new LifeboatError(
        'CLUSTER_NOT_ANSWERING',
        'The cluster no longer answers: the plan cannot be re-checked',
        {
          detail: `Re-reading the cluster to check the plan failed${when ? ` (${when})` : ''}: ${err.message}${err.detail ? `\n${err.detail}` : ''}\n\nNothing was written by this run. A plan is only applied against the cluster as it is now.`,
          hints: [
            'When the cluster answers again, plan again from it, review the new plan and apply that: `lifeboat plan SPEC --out plan.json`.',
            ...err.hints,
          ],
          exit: ExitCode.STALE,
          cause: err,
        },
      ),
    }
  }
}

/** The PLAN_STALE refusal: what changed first, then the detail. */
function staleError(
  s: StaleInput,
  changed: string[],
  diffs: PlanDifference[],
  hints: string[],
  nothing: 'Nothing was written.' | 'Nothing more was written.',
): LifeboatError {
  const head = changed.length > 0 ? changed : ['the cluster changed in ways the list below shows']
  const parts = [
    `What changed in the cluster since the plan was made:\n${head.map((l) => `  - ${l}`).join('\n')}`,
    `The plan can no longer be applied as made. ${nothing}`,
  ]
  if (diffs.length > 0) parts.push(`Every difference from a plan made now:\n${renderPlanDifferences(diffs)}`)
  return new LifeboatError('PLAN_STALE', 'Saved plan is stale', {
    detail: parts.join('\n\n'),
    hints: [
      ...hints,
      s.fromSpec
        ? 'The cluster changed while this apply was starting; run the apply again to plan from the new state.'
        : 'Make a new plan from the cluster as it is now, review it, and apply that: `lifeboat plan SPEC --out plan.json`.',
    ],
    exit: ExitCode.STALE,
  })
}

/**
 * Re-gathers, re-plans and compares with the plan to apply. `partial`: an earlier run of the
 * attempt may have written, so a re-plan no longer compares with the plan; then the spec, cluster
 * and vocabulary must agree and the engine (driftOf) judges the facts `remaining` depends on. An
 * engine without driftOf leaves those steps to their isDone and their own checks. `when` names a
 * check other than the first (right after the approval prompt).
 */
export async function staleCheck(
  s: StaleInput,
  log: AuditLog,
  records: readonly AuditRecord[],
  opts: {partial: boolean; remaining: readonly Step[]; when?: string},
): Promise<LifeboatError | undefined> {
  const {plan, ready} = s
  const {partial, when} = opts
  const read = await replan(s, log, when, partial && ready.engine.driftOf !== undefined)
  if ('refusal' in read) return read.refusal
  const {fresh, live} = read
  await log.append('plan.computed', {
    planDigest: fresh.digest,
    changes: planHasChanges(fresh),
    applyable: fresh.applyable,
    fingerprint: fresh.observed.fingerprint,
    ...(partial ? {compared: 'remaining'} : {}),
    ...(when ? {when} : {}),
  })
  const diffs = partial ? compareRemaining(plan, fresh) : comparePlans(plan, fresh)
  const steps = opts.remaining.filter((st) => !st.always && !st.manual)
  const drift =
    partial && diffs.length === 0 && ready.engine.driftOf
      ? ready.engine.driftOf(ready.spec, live, plan, [...steps])
      : []
  if (diffs.length === 0 && drift.length === 0) return undefined
  await log.append('plan.stale', {
    savedDigest: plan.digest,
    freshDigest: fresh.digest,
    differences: diffs.length,
    first: diffs.slice(0, 20),
    ...(drift.length > 0 ? {drift} : {}),
    ...(when ? {when} : {}),
  })
  const hints: string[] = []
  if (partial)
    hints.push(
      'An earlier run of this plan wrote part of it; the cluster has since changed in ways the plan did not foresee, in what is still to do.',
    )
  if (when) hints.push(`The cluster changed ${when}, before anything was written.`)
  const unfinished = runProgress(records, plan.digest)
  if (!partial && unfinished.run !== undefined && unfinished.finished.length + (unfinished.interrupted ? 1 : 0) > 0)
    hints.push(
      `An earlier run of this plan (${unfinished.run}) stopped part-way and may have made these changes: continue it with \`lifeboat apply ${quote(s.planRef)} --resume\`.`,
    )
  if (!partial && fresh.findings.some((f) => f.severity === 'error') && !fresh.applyable)
    hints.push('The cluster no longer answers as it did when the plan was made: plan again once it does.')
  const changed = partial ? drift : describeDrift(plan, fresh)
  return staleError(s, changed, diffs, hints, partial ? 'Nothing more was written.' : 'Nothing was written.')
}

/**
 * The check right before a later disruptive or lossy step, where the engine can do it cheaply
 * (gatherFor and driftOf): gathers the facts the step depends on, and refuses the step (exit 5,
 * naming it and what changed) when they moved since the plan was made. Other engines are not
 * re-checked here.
 */
export async function stepStaleCheck(s: StaleInput, log: AuditLog, step: Step): Promise<LifeboatError | undefined> {
  const {ready, plan} = s
  const {driftOf, gatherFor} = ready.engine
  if (!driftOf || !gatherFor) return undefined
  let live: unknown
  try {
    live = await gatherFor(ready.spec, {env: s.env, specDir: ready.dir, progress: () => undefined}, [step])
  } catch (err) {
    if (!(err instanceof LifeboatError)) throw err
    return new LifeboatError(
      'CLUSTER_NOT_ANSWERING',
      `Step ${step.id} was not started: the cluster no longer answers`,
      {
        detail: `Re-reading the cluster before step ${step.id} failed: ${describeError(err)}. Step ${step.id} and the steps after it were not started.`,
        hints: [
          'When the cluster answers again, continue with `lifeboat apply PLAN --resume`; it checks the rest again.',
        ],
        exit: ExitCode.STALE,
        cause: err,
      },
    )
  }
  const drift = driftOf(ready.spec, live, plan, [step])
  await log.append('plan.computed', {
    planDigest: plan.digest,
    compared: 'step',
    step: step.id,
    ...(drift.length > 0 ? {drift} : {}),
  })
  if (drift.length === 0) return undefined
  return new LifeboatError('PLAN_STALE', `Saved plan is stale at step ${step.id}: the facts it depends on changed`, {
    detail: `What changed in the cluster since the plan was made:\n${drift.map((l) => `  - ${l}`).join('\n')}\n\nStep ${step.id} (${step.description}) was not started, nor the steps after it; the steps before it are done.`,
    hints: [
      'Make a new plan from the cluster as it is now (it plans only what is left), review it, and apply that: `lifeboat plan SPEC --out plan.json`.',
    ],
    exit: ExitCode.STALE,
  })
}
