/**
 * What differs between a saved plan and a fresh one, for the `Saved plan is stale` refusal.
 *
 * Pure. It compares only what apply acts on or what the plan rests on (steps, changes,
 * primaries, the observed fingerprint, findings, the spec and cluster); display-only text such
 * as a change's `reason` or a step's description never makes a plan stale.
 */
import {canonicalJson, canonicalSha256, compareCodeUnits} from './canonical.js'
import {groupDigits} from './numbers.js'
import {compareNatural} from './order.js'
import type {Change, Finding, Plan, PrimaryChange, Step} from './types.js'

/** One difference. `path` reads like `steps[02-assign].params.app_id` or `changes[zk:/a/b].after.status`. */
export interface PlanDifference {
  path: string
  kind: 'added' | 'removed' | 'changed'
  before?: unknown
  after?: unknown
}

const SECTIONS = ['spec', 'cluster', 'vocabulary', 'observed', 'steps', 'changes', 'primaries', 'findings']

/** What comparePlans compares in a step: its kind, risk and params (not its wording). */
const stepFacts = (s: Step) => ({kind: s.kind, risk: s.risk, params: s.params})
/** What comparePlans compares in a change: its action and documents (not its reason). */
const changeFacts = (c: Change) => ({action: c.action, before: c.before, after: c.after})
/** What comparePlans compares in a primary: everything but its wording (reason, atStake). */
const primaryFacts = (p: PrimaryChange) => ({
  before: p.before,
  after: p.after,
  risk: p.risk,
  table: p.table ?? null,
  candidates: p.candidates,
  facts: p.facts ?? {},
})
const findingKey = (f: Finding) => `${f.severity} ${f.code}${f.subject ? ` ${f.subject}` : ''}`

/**
 * A sha256 per list section of what comparePlans compares there (keys, facts and order), without
 * copying the plan: two plans whose hashes of a section agree have no difference in it. The
 * sections that are small (spec, cluster, vocabulary, observed) are compared directly instead.
 */
export interface PlanSectionHashes {
  steps: string
  changes: string
  primaries: string
  findings: string
}

/** The section hashes of a plan (see PlanSectionHashes). Pure; one pass over each list. */
export function planSectionHashes(plan: Pick<Plan, 'steps' | 'changes' | 'primaries' | 'findings'>): PlanSectionHashes {
  return {
    steps: canonicalSha256(plan.steps.map((s) => [s.id, stepFacts(s)])),
    changes: canonicalSha256(plan.changes.map((c) => [c.address, changeFacts(c)])),
    primaries: canonicalSha256(plan.primaries.map((p) => [p.partition, primaryFacts(p)])),
    findings: canonicalSha256(plan.findings.map((f) => [findingKey(f), f.message])),
  }
}

/** The digest as buildPlan sets it and readPlanFile checks it: 64 hex digits. */
const DIGEST = /^[0-9a-f]{64}$/

/**
 * Every difference between two plans, sorted by section then path (natural order). Empty when they
 * agree. Cheapest first, because at 64,000 partitions a full comparison costs seconds and copies:
 * two plans with the same digest (buildPlan sets it, readPlanFile checks it) are the same plan and
 * have no difference; otherwise each list section is compared item by item only when its section
 * hash (planSectionHashes) differs.
 */
export function comparePlans(saved: Plan, fresh: Plan): PlanDifference[] {
  if (DIGEST.test(saved.digest) && saved.digest === fresh.digest) return []
  const a = planSectionHashes(saved)
  const b = planSectionHashes(fresh)
  return compareSections(saved, fresh, (section) => a[section] !== b[section])
}

/** comparePlans without its shortcuts: every section item by item. The reference the shortcuts must agree with. */
export function comparePlansItemByItem(saved: Plan, fresh: Plan): PlanDifference[] {
  return compareSections(saved, fresh, () => true)
}

function compareSections(
  saved: Plan,
  fresh: Plan,
  differs: (section: keyof PlanSectionHashes) => boolean,
): PlanDifference[] {
  const out: PlanDifference[] = []
  diffValue('spec.sha256', saved.spec.sha256, fresh.spec.sha256, out)
  diffValue('cluster', saved.cluster, fresh.cluster, out)
  diffValue('vocabulary', saved.vocabulary, fresh.vocabulary, out)
  diffValue('observed.fingerprint', saved.observed.fingerprint, fresh.observed.fingerprint, out)
  if (differs('steps')) {
    diffKeyed('steps', saved.steps, fresh.steps, (s) => s.id, stepFacts, out)
    // The order of the steps both plans have.
    const savedIds = new Set(saved.steps.map((s) => s.id))
    const freshIds = new Set(fresh.steps.map((s) => s.id))
    const savedOrder = saved.steps.map((s) => s.id).filter((id) => freshIds.has(id))
    const freshOrder = fresh.steps.map((s) => s.id).filter((id) => savedIds.has(id))
    if (savedOrder.join('\n') !== freshOrder.join('\n'))
      out.push({path: 'steps.order', kind: 'changed', before: savedOrder, after: freshOrder})
  }
  if (differs('changes')) diffKeyed('changes', saved.changes, fresh.changes, (c) => c.address, changeFacts, out)
  if (differs('primaries'))
    diffKeyed('primaries', saved.primaries, fresh.primaries, (p) => p.partition, primaryFacts, out)
  if (differs('findings'))
    diffKeyed('findings', saved.findings, fresh.findings, findingKey, (f) => ({message: f.message}), out)
  return out.sort(compareDifferences)
}

function compareDifferences(a: PlanDifference, b: PlanDifference): number {
  const sa = SECTIONS.indexOf(a.path.split(/[.[]/)[0]!)
  const sb = SECTIONS.indexOf(b.path.split(/[.[]/)[0]!)
  return sa - sb || compareNatural(a.path, b.path) || compareCodeUnits(a.kind, b.kind)
}

function diffKeyed<T>(
  section: string,
  before: T[],
  after: T[],
  key: (t: T) => string,
  facts: (t: T) => unknown,
  out: PlanDifference[],
): void {
  const a = new Map(before.map((t) => [key(t), t]))
  const b = new Map(after.map((t) => [key(t), t]))
  for (const [k, t] of a) {
    const other = b.get(k)
    if (other === undefined) out.push({path: `${section}[${k}]`, kind: 'removed', before: facts(t)})
    else diffValue(`${section}[${k}]`, facts(t), facts(other), out)
  }
  for (const [k, t] of b) {
    if (!a.has(k)) out.push({path: `${section}[${k}]`, kind: 'added', after: facts(t)})
  }
}

/** A structural diff down to the leaves; unequal arrays are compared item by item. */
function diffValue(path: string, a: unknown, b: unknown, out: PlanDifference[]): void {
  if (a === b) return
  const aObj = isPlainObject(a)
  const bObj = isPlainObject(b)
  if (aObj && bObj) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)])
    for (const k of keys) {
      const p = /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`
      if (a[k] === undefined && b[k] !== undefined) out.push({path: p, kind: 'added', after: b[k]})
      else if (a[k] !== undefined && b[k] === undefined) out.push({path: p, kind: 'removed', before: a[k]})
      else diffValue(p, a[k], b[k], out)
    }
    return
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (canonicalJson(a) === canonicalJson(b)) return
    const n = Math.max(a.length, b.length)
    for (let i = 0; i < n; i++) {
      const p = `${path}[${i}]`
      if (i >= a.length) out.push({path: p, kind: 'added', after: b[i]})
      else if (i >= b.length) out.push({path: p, kind: 'removed', before: a[i]})
      else diffValue(p, a[i], b[i], out)
    }
    return
  }
  if (canonicalJson(a ?? null) !== canonicalJson(b ?? null)) out.push({path, kind: 'changed', before: a, after: b})
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** How many differences renderPlanDifferences lists before it summarises the rest. */
export const MAX_LISTED_DIFFERENCES = 40

/** The differences as lines for a human (`~ path: before → after`), the first 40 and a count of the rest. */
export function renderPlanDifferences(diffs: PlanDifference[]): string {
  if (diffs.length === 0) return 'The saved plan and a fresh plan agree.'
  const lines = diffs.slice(0, MAX_LISTED_DIFFERENCES).map((d) => {
    switch (d.kind) {
      case 'added':
        return `  + ${d.path}: now ${brief(d.after)}`
      case 'removed':
        return `  - ${d.path}: no longer (was ${brief(d.before)})`
      default:
        return `  ~ ${d.path}: ${brief(d.before)} → ${brief(d.after)}`
    }
  })
  if (diffs.length > MAX_LISTED_DIFFERENCES) {
    lines.push(`  ... and ${groupDigits(diffs.length - MAX_LISTED_DIFFERENCES)} more differences`)
  }
  return lines.join('\n')
}

/** How many lines describeDrift writes before it counts the rest. */
const MAX_DRIFT_LINES = 8

/**
 * What changed in the cluster between two plans, in a few lines of the cluster's terms, for the
 * head of a stale refusal: findings that appeared or went away (the store's own words: a node that
 * no longer answers, a meta that moved), the observed counts that moved, what the plan would now do
 * differently (more or fewer changes of a kind, another primary, a step's expectation), and, when
 * nothing else differs, that the facts under the plan changed. Pure; the full list of differences
 * (renderPlanDifferences) follows it in the refusal.
 */
export function describeDrift(saved: Plan, fresh: Plan): string[] {
  const lines: string[] = []
  const key = (f: Finding) => `${f.severity} ${f.code}${f.subject ? ` ${f.subject}` : ''}`
  const savedFindings = new Set(saved.findings.map(key))
  const freshFindings = new Set(fresh.findings.map(key))
  for (const f of fresh.findings) if (f.severity !== 'info' && !savedFindings.has(key(f))) lines.push(f.message)
  for (const f of saved.findings)
    if (f.severity === 'error' && !freshFindings.has(key(f))) lines.push(`no longer: ${f.message}`)

  const before = saved.observed.summary
  const after = fresh.observed.summary
  for (const k of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(compareNatural)) {
    if (canonicalJson(before[k] ?? null) === canonicalJson(after[k] ?? null)) continue
    lines.push(`${k.replaceAll('_', ' ')}: ${String(before[k] ?? 'none')} → ${String(after[k] ?? 'none')}`)
  }

  const nouns = {...saved.vocabulary.nouns, ...fresh.vocabulary.nouns}
  const nounOf = (n: string | undefined, count: number) => {
    const noun = n !== undefined ? nouns[n] : undefined
    return noun ? (count === 1 ? noun.one : noun.many) : count === 1 ? 'setting' : 'settings'
  }
  const savedChanges = new Map(saved.changes.map((c) => [c.address, c]))
  const freshChanges = new Map(fresh.changes.map((c) => [c.address, c]))
  const tally = new Map<string, {noun?: string; how: string; addresses: string[]}>()
  const count = (noun: string | undefined, how: string, address: string) => {
    const k = `${noun ?? ''}\n${how}`
    const t = tally.get(k) ?? {noun, how, addresses: []}
    t.addresses.push(address)
    tally.set(k, t)
  }
  for (const [a, c] of freshChanges) {
    const was = savedChanges.get(a)
    if (!was) count(c.noun, 'more to change than the plan has', a)
    else if (canonicalJson([was.action, was.before, was.after]) !== canonicalJson([c.action, c.before, c.after]))
      count(c.noun, 'would now be changed differently', a)
  }
  for (const [a, c] of savedChanges) if (!freshChanges.has(a)) count(c.noun, 'in the plan no longer to change', a)
  for (const t of tally.values()) {
    const first = t.addresses.slice(0, 3).join(', ')
    lines.push(
      `${t.addresses.length} ${nounOf(t.noun, t.addresses.length)} ${t.how} (${first}${t.addresses.length > 3 ? ', ...' : ''})`,
    )
  }

  const role = fresh.vocabulary.leadership?.role.one ?? 'primary'
  const savedPrimaries = new Map(saved.primaries.map((p) => [p.partition, p]))
  for (const p of fresh.primaries) {
    const was = savedPrimaries.get(p.partition)
    if (was && was.after !== p.after)
      lines.push(`${p.partition}: the ${role} would now be ${p.after ?? 'none'} (the plan has ${was.after ?? 'none'})`)
  }

  const freshSteps = new Map(fresh.steps.map((st) => [st.id, st]))
  for (const st of saved.steps) {
    const now = freshSteps.get(st.id)
    if (!now || now.kind !== st.kind) continue
    const diffs: PlanDifference[] = []
    diffValue('', st.params, now.params, diffs)
    if (diffs.length === 0) continue
    const d = diffs[0]!
    lines.push(
      `step ${st.id} would now expect ${d.path.replace(/^\./, '')} ${brief(d.after)} (the plan has ${brief(d.before)})${diffs.length > 1 ? `, and ${diffs.length - 1} more` : ''}`,
    )
  }

  if (lines.length === 0 && saved.observed.fingerprint !== fresh.observed.fingerprint)
    lines.push(
      `the live facts the plan rests on changed (fingerprint ${saved.observed.fingerprint.slice(0, 12)} → ${fresh.observed.fingerprint.slice(0, 12)}), though a new plan would list the same actions`,
    )
  if (lines.length <= MAX_DRIFT_LINES) return lines
  return [...lines.slice(0, MAX_DRIFT_LINES), `... and ${lines.length - MAX_DRIFT_LINES} more (below)`]
}

function brief(v: unknown): string {
  const text = v === undefined ? 'nothing' : canonicalJson(v)
  return text.length > 100 ? `${text.slice(0, 99)}…` : text
}

/**
 * The stale check of a resumed run whose earlier part already wrote: the cluster has moved by
 * design, and the planners predict from the state before the recovery (a half-copied tree, a meta
 * no longer waiting in recovery mode read as drift), so only what must never change is compared:
 * the spec, the cluster and the vocabulary. What is left to do is re-checked step by step with
 * each executor's isDone. Comparing the remaining changes themselves needs planners that can
 * plan from a half-applied state; that is left for later.
 */
export function compareRemaining(saved: Plan, fresh: Plan): PlanDifference[] {
  const out: PlanDifference[] = []
  diffValue('spec.sha256', saved.spec.sha256, fresh.spec.sha256, out)
  diffValue('cluster', saved.cluster, fresh.cluster, out)
  diffValue('vocabulary', saved.vocabulary, fresh.vocabulary, out)
  return out.sort(compareDifferences)
}
