/**
 * `lifeboat audit show`: the log as a readable timeline, one block per run.
 *
 * Pure text from records; it neither verifies the chain (audit verify does) nor hides records
 * it does not understand (they are shown with their event name).
 */
import {escapeControlsDeep} from '../render/escape.js'
import type {AuditRecord} from './log.js'
import {groupByRun, openSteps, runPlanDigest, runStatus} from './progress.js'

/** The timeline of every run (or only `run`), in log order. */
export function renderAuditTimeline(input: readonly AuditRecord[], opts: {run?: string} = {}): string {
  // Recorded free text (a comment, a message from the cluster) cannot drive the terminal.
  const records = escapeControlsDeep(input)
  const runs = groupByRun(records)
  const resumedBy = new Map<string, string[]>()
  for (const r of records) {
    const resumes = (r.data as {resumes?: unknown}).resumes
    if (r.event === 'run.resumed' && typeof resumes === 'string')
      resumedBy.set(resumes, [...(resumedBy.get(resumes) ?? []), r.run])
  }
  const blocks: string[] = []
  for (const [run, recs] of runs) {
    if (opts.run !== undefined && run !== opts.run) continue
    blocks.push(renderRun(run, recs, resumedBy.get(run) ?? []))
  }
  if (blocks.length === 0)
    return opts.run === undefined ? 'The audit log has no records.\n' : `No records for run ${opts.run}.\n`
  return `${blocks.join('\n')}\n`
}

function renderRun(run: string, recs: AuditRecord[], resumedBy: string[]): string {
  const first = recs[0]!
  const status = runStatus(recs)
  const open = openSteps(recs)
  let state: string
  if (status !== undefined) state = status
  else if (open.length > 0) state = `INTERRUPTED during step ${open.join(', ')}`
  else state = 'INTERRUPTED (no run.finished record)'
  const lines = [`Run ${run}  ${first.actor}@${first.host}  ${state}`]
  const started = recs.find((r) => r.event === 'run.started')?.data as
    {spec?: {name?: string}; cluster?: string; ticket?: string} | undefined
  const facts: string[] = []
  if (started?.spec?.name) facts.push(`spec ${started.spec.name}`)
  const digest = runPlanDigest(recs)
  if (digest) facts.push(`plan ${digest.slice(0, 12)}`)
  if (started?.cluster) facts.push(`cluster ${started.cluster}`)
  if (started?.ticket) facts.push(`ticket ${started.ticket}`)
  if (facts.length > 0) lines.push(`  ${facts.join(', ')}`)
  for (const r of recs) {
    const [subject, detail] = describe(r)
    lines.push(
      `  ${r.time}  #${String(r.seq).padEnd(5)} ${r.event.padEnd(17)} ${subject.padEnd(24)} ${detail}`.trimEnd(),
    )
  }
  if (status === undefined) {
    lines.push(
      resumedBy.length > 0
        ? `  resumed by run ${resumedBy.join(', ')}`
        : '  not resumed yet: continue it with `lifeboat apply PLAN --resume`',
    )
  } else if (resumedBy.length > 0) {
    lines.push(`  continued by run ${resumedBy.join(', ')}`)
  }
  return lines.join('\n')
}

/** The subject column (a step id or gate) and the status column of one record. */
function describe(r: AuditRecord): [string, string] {
  const d = r.data as Record<string, unknown>
  const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v))
  const step = str(d.step)
  switch (r.event) {
    case 'step.started':
      return [step, `started${d.risk ? ` (${str(d.risk)})` : ''}${d.always ? ', always step' : ''}`]
    case 'step.finished':
      return [step, `finished${d.summary ? `: ${str(d.summary)}` : ''}`]
    case 'step.skipped':
      return [step, `skipped${d.reason ? `: ${str(d.reason)}` : ''}`]
    case 'step.waiting':
      return [step, 'waiting for the operator']
    case 'step.failed': {
      const e = (d.error ?? {}) as {code?: unknown; message?: unknown}
      return [step, `FAILED${e.code ? ` ${str(e.code)}` : ''}${e.message ? `: ${str(e.message)}` : ''}`]
    }
    case 'step.interrupted':
      return [step, 'INTERRUPTED (Ctrl-C or SIGTERM)']
    case 'lock.force-unlocked': {
      const r = (d.removed ?? {}) as {id?: unknown; who?: unknown}
      return [str(d.cluster), `lock ${str(r.id)} of ${str(r.who)} force-unlocked`]
    }
    case 'run.interrupted':
      return [step, `interrupted${d.state ? `: ${str(d.state)}` : ''}`]
    case 'gate.passed':
      return [step || str(d.gate), `passed${d.how ? ` (${str(d.how)})` : ''}${d.by ? ` by ${str(d.by)}` : ''}`]
    case 'gate.refused':
      return [step || str(d.gate), `REFUSED${d.reason ? `: ${str(d.reason)}` : ''}`]
    case 'approval.recorded':
      return [str(d.name), 'approved']
    case 'run.resumed':
      return ['', `continues run ${str(d.resumes)}`]
    case 'run.finished':
      return ['', str(d.status)]
    case 'verify.finished':
      return [
        '',
        d.ok
          ? 'cluster matches the plan'
          : `MISMATCH${d.findings !== undefined ? ` (${str(d.findings)} findings)` : ''}`,
      ]
    case 'plan.stale':
      return ['', `saved plan is stale${d.differences !== undefined ? ` (${str(d.differences)} differences)` : ''}`]
    case 'plan.computed':
      return ['', d.planDigest ? `plan ${str(d.planDigest).slice(0, 12)}` : '']
    default:
      return [step, '']
  }
}
