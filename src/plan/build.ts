/**
 * Wraps an engine's PlanBody into a Plan: sorted, normalised, digested.
 *
 * Pure: no I/O, no clock (the time is passed in). The same inputs, in any list order, give a
 * byte-identical plan. It never decides anything about the cluster; it only orders and checks
 * the invariants every consumer (apply, renderers, the plan file) relies on.
 */
import {InternalError} from '../errors.js'
import {canonicalSha256, isSortedRecord, sortKeysDeep} from './canonical.js'
import {compareFindings, sortByNatural} from './order.js'
import {
  PLAN_FORMAT_VERSION,
  type Candidate,
  type Change,
  type ClusterIdentity,
  type FactValue,
  type Finding,
  type Plan,
  type PlanBody,
  type PlanSpec,
  type PrimaryChange,
  type Step,
  type Vocabulary,
} from './types.js'

/** What buildPlan needs; `createdAt` and `toolVersion` are passed in because planning never reads a clock. */
export interface BuildPlanInput {
  spec: PlanSpec
  cluster: ClusterIdentity
  body: PlanBody
  /** ISO 8601 time the plan is made at. */
  createdAt: string
  toolVersion: string
}

/**
 * Builds the Plan document. Throws InternalError when the body breaks an invariant that apply
 * depends on (duplicate step ids, change addresses or partitions; a disruptive or lossy step
 * without its reason; a create with a `before`): those are engine bugs, not operator errors.
 */
export function buildPlan(input: BuildPlanInput): Plan {
  const {body} = input
  const changes = sortByNatural(body.changes.map(normaliseChange), (c) => c.address)
  const primaries = sortByNatural(body.primaries.map(normalisePrimary), (p) => p.partition)
  const steps = body.steps.map(normaliseStep)
  const findings = body.findings.map(normaliseFinding).sort(compareFindings)
  assertSortedUnique(changes, (c) => c.address, 'change address')
  assertSortedUnique(primaries, (p) => p.partition, 'primary partition')
  assertUnique(
    steps.map((s) => s.id),
    'step id',
  )
  const vocabulary = normaliseVocabulary(body.vocabulary)
  if (primaries.length > 0 && !vocabulary.leadership) {
    throw new InternalError('the plan body has primaries but its vocabulary declares no leadership section')
  }
  for (const c of changes) {
    if (c.noun !== undefined && !(c.noun in vocabulary.nouns))
      throw new InternalError(`change ${c.address}: noun ${c.noun} is not declared in the vocabulary`)
  }

  const withoutDigest: Omit<Plan, 'digest' | 'approvals'> = {
    formatVersion: PLAN_FORMAT_VERSION,
    vocabulary,
    tool: {name: 'lifeboat', version: input.toolVersion},
    createdAt: input.createdAt,
    spec: normaliseSpec(input.spec),
    cluster: normaliseCluster(input.cluster),
    observed: {fingerprint: body.observed.fingerprint, summary: sortKeysDeep(body.observed.summary)},
    applyable: !findings.some((f) => f.severity === 'error'),
    changes,
    primaries,
    steps,
    findings,
  }
  const plan: Plan = {...withoutDigest, approvals: [], digest: ''}
  plan.digest = planDigest(plan)
  return plan
}

/** The digest a plan must carry: sha256 of the canonical plan without `digest` and `approvals`. */
export function planDigest(plan: Plan): string {
  const {digest: _digest, approvals: _approvals, ...rest} = plan
  return canonicalSha256(rest)
}

/** True when applying would do anything beyond reading: a real change, a primary change, or a non-read step. */
export function planHasChanges(plan: Pick<Plan, 'changes' | 'primaries' | 'steps'>): boolean {
  return (
    plan.changes.some((c) => c.action !== 'no-op') ||
    plan.primaries.length > 0 ||
    plan.steps.some((s) => s.risk !== 'read')
  )
}

function normaliseSpec(spec: PlanSpec): PlanSpec {
  return omitUndefined({
    kind: spec.kind,
    name: spec.name,
    ticket: spec.ticket,
    path: spec.path,
    sha256: spec.sha256,
    source: spec.source,
    document: sortKeysDeep(spec.document),
  })
}

function normaliseCluster(cluster: ClusterIdentity): ClusterIdentity {
  assertUnique(
    cluster.facts.map((f) => f.name),
    'cluster fact',
  )
  // The engine's order is the display order; comparison is by name (plan/file.ts).
  return {name: cluster.name, facts: cluster.facts.map((f) => ({name: f.name, label: f.label, value: String(f.value)}))}
}

function normaliseVocabulary(v: Vocabulary | undefined): Vocabulary {
  const nouns: Vocabulary['nouns'] = {}
  for (const k of Object.keys(v?.nouns ?? {}).sort()) nouns[k] = {one: v!.nouns[k]!.one, many: v!.nouns[k]!.many}
  const l = v?.leadership
  if (!l) return {nouns}
  const columns = (cs: {name: string; label: string}[]) => cs.map((c) => ({name: c.name, label: c.label}))
  return {
    nouns,
    leadership: omitUndefined({
      heading: l.heading,
      item: {one: l.item.one, many: l.item.many},
      role: {one: l.role.one, many: l.role.many},
      verb: l.verb,
      candidateFacts: columns(l.candidateFacts),
      changeFacts: l.changeFacts && columns(l.changeFacts),
    }),
  }
}

/**
 * Facts as plan data: sorted keys, every bigint as its decimal string, undefined dropped. Facts
 * that already are (what a planner usually emits) are kept as they are, not copied.
 */
function normaliseFacts(facts: Record<string, FactValue | undefined>): Record<string, FactValue> {
  if (isNormalDocument(facts)) return facts as Record<string, FactValue>
  const out: Record<string, FactValue> = {}
  for (const k of Object.keys(facts).sort()) {
    const v = facts[k]
    if (v !== undefined) out[k] = typeof v === 'bigint' ? v.toString() : v
  }
  return out
}

function normaliseChange(c: Change): Change {
  if (c.action === 'create' && c.before !== null && c.before !== undefined) {
    throw new InternalError(`change ${c.address}: a create must have before = null`)
  }
  if (c.action === 'delete' && c.after !== null && c.after !== undefined) {
    throw new InternalError(`change ${c.address}: a delete must have after = null`)
  }
  // A change the planner built in its normal form is kept (see isInKeyOrder).
  if (isInKeyOrder(c, CHANGE_KEYS) && isNormalDocument(c.before) && isNormalDocument(c.after)) return c
  return omitUndefined({
    address: c.address,
    noun: c.noun,
    action: c.action,
    reason: c.reason,
    before: normalDocument(c.before ?? null),
    after: normalDocument(c.after ?? null),
  })
}

/** A normal change's keys in the order normaliseChange writes them, `?` after the ones it may leave out. */
const CHANGE_KEYS = keyOrder('address noun? action reason? before after')

function normaliseCandidate(c: Candidate): Candidate {
  const facts = normaliseFacts(c.facts)
  // A candidate that already is its normal form is kept (see isInKeyOrder): at 64,000 partitions
  // a copy of each of 192,000 candidates is a second copy for the GC to move.
  if (
    facts === c.facts &&
    isInKeyOrder(c, CANDIDATE_KEYS) &&
    (c.marks === undefined || Object.getPrototypeOf(c.marks) === Array.prototype)
  )
    return c
  return omitUndefined({node: c.node, facts, marks: c.marks && [...c.marks]})
}

/** A normal candidate's keys in the order normaliseCandidate writes them. */
const CANDIDATE_KEYS = keyOrder('node facts marks?')

function normalisePrimary(p: PrimaryChange): PrimaryChange {
  if (p.risk === 'lossy' && !p.atStake) {
    throw new InternalError(`primary ${p.partition}: a lossy primary change must say what may be lost (atStake)`)
  }
  // Candidates keep the store's order: it is part of how the store decides.
  const candidates = normaliseCandidates(p.candidates)
  const facts = p.facts && normaliseFacts(p.facts)
  // A primary the planner built in its normal form is kept (see isInKeyOrder).
  if (candidates === p.candidates && facts === p.facts && isInKeyOrder(p, PRIMARY_KEYS)) return p
  return omitUndefined({
    partition: p.partition,
    table: p.table,
    before: p.before ?? null,
    after: p.after ?? null,
    risk: p.risk,
    reason: p.reason,
    atStake: p.atStake,
    candidates,
    facts,
  })
}

/** A normal primary change's keys in the order normalisePrimary writes them, `?` after the ones it may leave out. */
const PRIMARY_KEYS = keyOrder('partition table? before after risk reason atStake? candidates facts?')

/** The candidates in normal form: the same array when every candidate already is. */
function normaliseCandidates(candidates: Candidate[]): Candidate[] {
  let out: Candidate[] | undefined
  for (let i = 0; i < candidates.length; i++) {
    const c = candidates[i]!
    const n = normaliseCandidate(c)
    if (n !== c && out === undefined) out = candidates.slice(0, i)
    out?.push(n)
  }
  return out ?? (Object.getPrototypeOf(candidates) === Array.prototype ? candidates : [...candidates])
}

/** A key order for isInKeyOrder, from names separated by spaces, `?` after an optional one. */
interface KeyOrder {
  names: readonly string[]
  optional: readonly boolean[]
}

function keyOrder(text: string): KeyOrder {
  const words = text.split(' ')
  return {names: words.map((w) => w.replace(/\?$/, '')), optional: words.map((w) => w.endsWith('?'))}
}

/**
 * Whether a plain object's own keys are those of `order`, in that order, optional ones perhaps
 * left out, none undefined. A change or primary the planner builds that way (with normal
 * documents) is kept instead of copied: at 64,000 partitions the copies are 129,000 more objects
 * for the GC to move. The plan and the body then share them; neither is changed after buildPlan.
 */
function isInKeyOrder(value: object, order: KeyOrder): boolean {
  if (Object.getPrototypeOf(value) !== Object.prototype) return false
  const {names, optional} = order
  let at = 0
  for (const k in value) {
    while (at < names.length && names[at] !== k) {
      if (!optional[at]) return false
      at++
    }
    if (at === names.length || (value as Record<string, unknown>)[k] === undefined) return false
    at++
  }
  for (; at < names.length; at++) if (!optional[at]) return false
  return true
}

function normaliseStep(s: Step): Step {
  if ((s.risk === 'disruptive' || s.risk === 'lossy') && !s.riskReason) {
    throw new InternalError(`step ${s.id}: a ${s.risk} step must carry riskReason (why, and what may be lost)`)
  }
  if (s.always && s.manual) throw new InternalError(`step ${s.id}: a manual step cannot be an always step`)
  return omitUndefined({
    id: s.id,
    kind: s.kind,
    risk: s.risk,
    description: s.description,
    expect: s.expect,
    riskReason: s.riskReason,
    manual: s.manual && {instructions: [...s.manual.instructions]},
    always: s.always ? true : undefined,
    params: sortKeysDeep(s.params),
  })
}

function normaliseFinding(f: Finding): Finding {
  return omitUndefined({code: f.code, severity: f.severity, subject: f.subject, message: f.message, hint: f.hint})
}

/**
 * assertUnique for a list in natural order: compareNatural ties only equal strings, so a
 * duplicate sits next to its twin, and one pass finds it without a set of 64,000 keys.
 */
function assertSortedUnique<T>(sorted: readonly T[], key: (item: T) => string, what: string): void {
  for (let i = 1; i < sorted.length; i++) {
    const k = key(sorted[i]!)
    if (k === key(sorted[i - 1]!)) throw new InternalError(`duplicate ${what} ${JSON.stringify(k)} in the plan body`)
  }
}

function assertUnique(values: string[], what: string): void {
  const seen = new Set<string>()
  for (const v of values) {
    if (seen.has(v)) throw new InternalError(`duplicate ${what} ${JSON.stringify(v)} in the plan body`)
    seen.add(v)
  }
}

/**
 * `value` in its normal form: the value itself when it already is one (isNormalDocument), else
 * a sortKeysDeep copy. A plan's documents (a change's before and after, a candidate's facts) are
 * often built normal by the planner; at 64,000 partitions copying them all again would double
 * what the GC moves. The plan and the body then share those documents; neither is changed after
 * buildPlan.
 */
function normalDocument<T>(value: T): T {
  return isNormalDocument(value) ? value : sortKeysDeep(value)
}

/**
 * Whether sortKeysDeep(value) would be a copy identical to `value`, key order included: no
 * bigint anywhere, every object a plain one (or an array) whose keys are in code-unit order with
 * no undefined property. Walks without allocating.
 */
export function isNormalDocument(value: unknown): boolean {
  if (typeof value === 'bigint') return false
  if (value === null || typeof value !== 'object') return true
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false
    for (let i = 0; i < value.length; i++) if (!isNormalDocument(value[i])) return false
    return true
  }
  return isSortedRecord(value, isNormalProperty, 0)
}

/** A property value sortKeysDeep keeps as it is: defined, and itself normal. */
function isNormalProperty(v: unknown): boolean {
  return v !== undefined && isNormalDocument(v)
}

/**
 * A copy without the undefined properties, so that optional fields are absent, not `undefined`,
 * in every copy; the other keys keep their order. A copy, not `delete`: deleting a property turns
 * an object into a slow dictionary, and at 64,000 partitions every later walk (digest, schema
 * check, rendering, the plan file) pays for it.
 */
function omitUndefined<T extends object>(value: T): T {
  const out = {} as T
  for (const k of Object.keys(value) as (keyof T)[]) {
    if (value[k] !== undefined) out[k] = value[k]
  }
  return out
}
