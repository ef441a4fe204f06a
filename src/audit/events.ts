/**
 * The audit events and the data each carries (DESIGN.md section 6).
 *
 * The audit log only writes and reads these; it makes no decision about a run. The data shapes
 * below are the contract between apply (which writes them) and `audit show` / `runProgress`
 * (which read them). Secrets never belong in any of them; the log redacts what looks like one.
 */

/** Every event a record may carry, in the order a run usually writes them. */
export const AUDIT_EVENTS = [
  'run.started',
  'run.resumed',
  'plan.computed',
  'plan.stale',
  'approval.recorded',
  'gate.passed',
  'gate.refused',
  'step.started',
  'step.waiting',
  'step.skipped',
  'step.finished',
  'step.failed',
  'step.interrupted',
  'run.interrupted',
  'verify.finished',
  'run.finished',
  'lock.force-unlocked',
  'audit.repaired',
] as const

export type AuditEvent = (typeof AUDIT_EVENTS)[number]

/** How a run ended, as `run.finished` records it. */
export type RunStatus = 'succeeded' | 'failed' | 'stopped' | 'interrupted' | 'refused' | 'stale' | 'no-changes'

/**
 * The data of each event. Extra fields are allowed (the log stores any JSON object); these are
 * the ones `audit show` and `runProgress` read.
 */
export interface AuditEventData {
  /** argv, tool version, spec and plan digests, cluster, ticket. */
  'run.started': {
    argv?: string[]
    toolVersion?: string
    spec?: {sha256: string; kind?: string; name?: string; path?: string}
    planDigest?: string
    cluster?: string
    ticket?: string
  }
  /** Written right after `run.started` by `apply --resume`: the run it continues, and the plan. */
  'run.resumed': {resumes: string; planDigest: string}
  'plan.computed': {planDigest: string; changes?: boolean; applyable?: boolean}
  'plan.stale': {savedDigest?: string; freshDigest?: string; differences?: number}
  'approval.recorded': {name: string; planDigest?: string}
  /** `gate` is `plan` (the run as a whole), `lossy`, `approvers`, or `manual` (with `step`: a manual step confirmed). */
  'gate.passed': {gate: string; step?: string; how?: string; by?: string}
  'gate.refused': {gate: string; step?: string; reason: string}
  'step.started': {step: string; kind?: string; risk?: string}
  /** A manual step shown to the operator, waiting for confirmation. */
  'step.waiting': {step: string}
  'step.skipped': {step: string; reason?: string}
  'step.finished': {step: string; summary?: string}
  'step.failed': {step: string; error: {code?: string; message: string}; always?: boolean}
  /** The step in flight when Ctrl-C or SIGTERM came; its executor gave up within its deadline. */
  'step.interrupted': {step: string; error?: {code?: string; message: string}}
  /** Ctrl-C or SIGTERM: the step it came during (or null), the steps done in this run, the always steps run after it, and the state left. */
  'run.interrupted': {step: string | null; done: string[]; always: string[]; state: string}
  'verify.finished': {ok: boolean; findings?: number}
  /** `head` is the hash of the record before this one: post it in the ticket to anchor the chain. */
  'run.finished': {status: RunStatus; head?: string}
  /** `lifeboat lock force-unlock`: the lock removed (its holder's info), where it was, and the cluster. */
  'lock.force-unlocked': {
    cluster: string
    kind: string
    where: string
    removed: {id: string; who: string; operation: string; created: string}
  }
  /** `lifeboat audit repair`: the partial last line cut from the log (its line, size and sha256; never its text). */
  'audit.repaired': {cutLine: number; cutBytes: number; cutSha256: string; reason: string}
}

/** True for a string that names a known event. */
export function isAuditEvent(value: unknown): value is AuditEvent {
  return typeof value === 'string' && (AUDIT_EVENTS as readonly string[]).includes(value)
}
