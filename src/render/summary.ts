/**
 * The one-line summary that ends every rendering: `Plan: 1 table, 8 partitions to create,
 * 0 to change; 2 warnings.` Pure.
 */
import {planHasChanges} from '../plan/build.js'
import {countOf} from '../plan/numbers.js'
import type {Plan} from '../plan/types.js'
import {countByNoun, leadershipOf} from './common.js'

/** The line a reviewer reads first; it names only what the plan holds. */
const NO_CHANGES_LINE = 'No changes. The cluster matches the spec.'

/**
 * Terraform's summary, generalised: what is created (by noun), changed and destroyed; primaries
 * (or leaders, regions: the engine's words) to assign; steps when nothing else describes the work; how much of it is lossy; errors and
 * warnings. A plan that does nothing says so.
 */
export function planSummaryLine(plan: Plan): string {
  const errors = plan.findings.filter((f) => f.severity === 'error').length
  const warnings = plan.findings.filter((f) => f.severity === 'warning').length
  const findings = [errors > 0 ? countOf(errors, 'error') : '', warnings > 0 ? countOf(warnings, 'warning') : '']
    .filter(Boolean)
    .join(', ')

  if (!planHasChanges(plan)) {
    if (errors > 0) return `Plan: nothing to do; ${findings}.`
    return findings ? `${NO_CHANGES_LINE} ${capitalise(findings)}.` : NO_CHANGES_LINE
  }

  const creates = plan.changes.filter((c) => c.action === 'create')
  const updates = plan.changes.filter((c) => c.action === 'update').length
  const deletes = plan.changes.filter((c) => c.action === 'delete').length
  const changed = creates.length + updates + deletes
  const work: string[] = []
  if (changed > 0) {
    work.push(`${creates.length > 0 ? countByNoun(creates, plan.vocabulary) : '0'} to create`, `${updates} to change`)
    if (deletes > 0) work.push(`${deletes} to destroy`)
  }
  const leadership = plan.primaries.length > 0 ? leadershipOf(plan) : undefined
  if (leadership)
    work.push(
      `${countOf(plan.primaries.length, leadership.role.one, leadership.role.many)} to ${leadership.verb ?? 'assign'}`,
    )
  // Only steps (a TiKV unsafe recovery, say): they are the work.
  if (work.length === 0) work.push(`${countOf(plan.steps.filter((s) => s.risk !== 'read').length, 'step')} to run`)

  const lossySteps = plan.steps.filter((s) => s.risk === 'lossy').length
  const lossyPrimaries = plan.primaries.filter((p) => p.risk === 'lossy').length
  const tail: string[] = []
  // Lossy primaries are usually carried out by lossy steps: count one or the other, never both.
  if (lossySteps > 0) tail.push(`${countOf(lossySteps, 'step')} may lose data`)
  else if (lossyPrimaries > 0 && leadership)
    tail.push(`${countOf(lossyPrimaries, leadership.role.one, leadership.role.many)} may lose data`)
  if (findings) tail.push(findings)
  return `Plan: ${work.join(', ')}${tail.length > 0 ? `; ${tail.join('; ')}` : ''}.`
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
