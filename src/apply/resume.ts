/**
 * Resume bookkeeping (DESIGN.md section 5, step 6): what the audit log says about earlier runs of
 * a plan, where a plan applied straight from a spec is kept, and the command that continues a run.
 * Reads records; decides nothing about the cluster (each step's isDone does).
 */
import {existsSync} from 'node:fs'
import {dirname, join, relative, resolve} from 'node:path'

import {DEFAULT_AUDIT_LOG, readAuditLog, type AuditRecord} from '../audit/log.js'
import {latestAttempt, runProgress} from '../audit/progress.js'
import type {Plan} from '../plan/types.js'

/** The records of an audit log, or none when it does not exist yet. */
export async function readRecords(path: string): Promise<AuditRecord[]> {
  if (!existsSync(path)) return []
  return readAuditLog(path)
}

/**
 * Whether some run of the current attempt may have written to the cluster: it recorded a step as
 * started (or confirmed a manual step). The log only tells resume where it stopped; a resume of an
 * attempt that wrote nothing is checked against the plan exactly like a first apply, and nothing
 * in the log ever stands in for a gate (approvals, --allow-data-loss, confirmation).
 */
export function attemptMayHaveWritten(records: readonly AuditRecord[], digest: string): boolean {
  return latestAttempt(records, digest).some(([, recs]) =>
    recs.some(
      (r) =>
        r.event === 'step.started' || (r.event === 'gate.passed' && (r.data as {gate?: unknown}).gate === 'manual'),
    ),
  )
}

/** The plan file of the latest unfinished apply of this spec, recorded in its run.started. */
export function unfinishedPlanFileOfSpec(records: readonly AuditRecord[], specSha: string): string | undefined {
  const starts = records.filter(
    (r) => r.event === 'run.started' && (r.data as {spec?: {sha256?: unknown}}).spec?.sha256 === specSha,
  )
  for (const start of starts.reverse()) {
    const d = start.data as {planDigest?: unknown; planFile?: unknown}
    if (typeof d.planDigest !== 'string' || typeof d.planFile !== 'string') continue
    if (runProgress(records, d.planDigest).run !== undefined) return d.planFile
  }
  return undefined
}

/** Where a plan applied straight from a spec is kept, so that `--resume` can name it. */
export function savedPlanPath(auditLog: string, plan: Plan): string {
  return join(dirname(auditLog), 'plans', `${plan.digest.slice(0, 16)}.json`)
}

/** A path as the operator would type it from here. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), resolve(path))
  return rel !== '' && !rel.startsWith('..') ? rel : resolve(path)
}

/** A shell word. */
export function quote(arg: string): string {
  return /^[\w./@:=+-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}

/** The exact command that continues a run: `lifeboat apply PLAN --resume [--confirm STEP] [--audit-log FILE]`. */
export function resumeCommand(target: string, auditPath: string, confirmStep?: string): string {
  const parts = ['lifeboat', 'apply', quote(shown(target)), '--resume']
  if (confirmStep !== undefined) parts.push('--confirm', confirmStep)
  if (resolve(auditPath) !== resolve(DEFAULT_AUDIT_LOG)) parts.push('--audit-log', quote(auditPath))
  return parts.join(' ')
}
