/**
 * What the audit log says about earlier runs of a plan, for `apply --resume` and `audit show`.
 *
 * Pure: reads records, decides nothing about the cluster. Apply still asks each step's
 * `isDone` before skipping it; this only says what the log recorded.
 */
import type {AuditRecord} from './log.js'

/** The runs of a log in order of first appearance, each with its records. */
export function groupByRun(records: readonly AuditRecord[]): Map<string, AuditRecord[]> {
  const runs = new Map<string, AuditRecord[]>()
  for (const r of records) {
    const list = runs.get(r.run)
    if (list) list.push(r)
    else runs.set(r.run, [r])
  }
  return runs
}

/** The plan digest a run worked on, from `run.started`, `run.resumed` or `plan.computed`. */
export function runPlanDigest(records: readonly AuditRecord[]): string | undefined {
  for (const r of records) {
    const d = r.data as {planDigest?: unknown}
    if (
      (r.event === 'run.started' || r.event === 'run.resumed' || r.event === 'plan.computed') &&
      typeof d.planDigest === 'string'
    )
      return d.planDigest
  }
  return undefined
}

/** The runs that worked on the plan with this digest, in log order, each with its records. */
export function runsOfPlan(records: readonly AuditRecord[], planDigest: string): Array<[string, AuditRecord[]]> {
  return [...groupByRun(records)].filter(([, recs]) => runPlanDigest(recs) === planDigest)
}

/**
 * The latest attempt at a plan: every run for it since its last run that finished `succeeded`
 * (a resumed run continues its predecessors). Empty when there is none.
 */
export function latestAttempt(records: readonly AuditRecord[], planDigest: string): Array<[string, AuditRecord[]]> {
  const runs = runsOfPlan(records, planDigest)
  return runs.slice(runs.findLastIndex(([, recs]) => runStatus(recs) === 'succeeded') + 1)
}

/** Steps of a run that started and have no finished, failed or skipped record after it. */
export function openSteps(records: readonly AuditRecord[]): string[] {
  const open = new Set<string>()
  for (const r of records) {
    const step = (r.data as {step?: unknown}).step
    if (typeof step !== 'string') continue
    if (r.event === 'step.started') open.add(step)
    else if (r.event === 'step.finished' || r.event === 'step.failed' || r.event === 'step.skipped') open.delete(step)
  }
  return [...open]
}

/** The end of a run as `run.finished` recorded it, or undefined when it has none (interrupted or still running). */
export function runStatus(records: readonly AuditRecord[]): string | undefined {
  const fin = records.findLast((r) => r.event === 'run.finished')
  const status = fin && (fin.data as {status?: unknown}).status
  return fin ? (typeof status === 'string' ? status : 'finished') : undefined
}

/** The progress of the latest attempt at a plan. */
export interface RunProgress {
  /** The latest run of the attempt, if any. */
  run?: string
  /** Steps recorded finished or skipped, in the order they first were. */
  finished: string[]
  /** Manual steps the operator confirmed (`gate.passed` with `gate: manual`). */
  confirmed: string[]
  /** The latest run has no `run.finished`, or left a step started and never ended. */
  interrupted: boolean
  /**
   * An always step finished in some run of the attempt after that run stopped (or at its place):
   * it may have undone what earlier steps set up (auto_failover back on, a pause released).
   */
  alwaysRan: boolean
}

/**
 * What the log says about the latest attempt to apply the plan with this digest (see
 * latestAttempt): the finished steps of all its runs count.
 */
export function runProgress(records: readonly AuditRecord[], planDigest: string): RunProgress {
  const attempt = latestAttempt(records, planDigest)
  if (attempt.length === 0) return {finished: [], confirmed: [], interrupted: false, alwaysRan: false}
  const finished: string[] = []
  const confirmed: string[] = []
  let alwaysRan = false
  for (const [, recs] of attempt) {
    for (const r of recs) {
      const d = r.data as {step?: unknown; gate?: unknown; always?: unknown}
      if (typeof d.step !== 'string') continue
      if (r.event === 'step.finished' && d.always === true) alwaysRan = true
      if ((r.event === 'step.finished' || r.event === 'step.skipped') && !finished.includes(d.step))
        finished.push(d.step)
      if (r.event === 'gate.passed' && d.gate === 'manual' && !confirmed.includes(d.step)) confirmed.push(d.step)
    }
  }
  const [run, last] = attempt.at(-1)!
  return {run, finished, confirmed, interrupted: runStatus(last) === undefined || openSteps(last).length > 0, alwaysRan}
}
