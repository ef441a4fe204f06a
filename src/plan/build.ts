/**
 * Wraps an engine's PlanBody into a Plan: sorted, normalised, digested.
 *
 * Pure: no I/O, no clock (the time is passed in). The same inputs, in any list order, give a
 * byte-identical plan. It never decides anything about the cluster; it only orders and checks
 * the invariants every consumer (apply, renderers, the plan file) relies on.
 */
import {InternalError} from '../errors.js'
import {canonicalSha256, sortKeysDeep} from './canonical.js'
import {compareFindings, compareNatural, sortByNatural} from './order.js'
import {
  PLAN_FORMAT_VERSION,
  type Candidate,
  type Change,
  type ClusterIdentity,
  type Finding,
  type Plan,
  type PlanBody,
  type PlanSpec,
  type PrimaryChange,
  type Step,
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
  assertUnique(changes.map((c) => c.address), 'change address')
  assertUnique(primaries.map((p) => p.partition), 'primary partition')
  assertUnique(steps.map((s) => s.id), 'step id')

  const withoutDigest: Omit<Plan, 'digest' | 'approvals'> = {
    formatVersion: PLAN_FORMAT_VERSION,
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
  return omitUndefined({
    name: cluster.name,
    zookeeper: cluster.zookeeper && {hosts: cluster.zookeeper.hosts, root: cluster.zookeeper.root},
    endpoints: cluster.endpoints && [...cluster.endpoints].sort(compareNatural),
  })
}

function normaliseChange(c: Change): Change {
  if (c.action === 'create' && c.before !== null && c.before !== undefined) {
    throw new InternalError(`change ${c.address}: a create must have before = null`)
  }
  if (c.action === 'delete' && c.after !== null && c.after !== undefined) {
    throw new InternalError(`change ${c.address}: a delete must have after = null`)
  }
  return omitUndefined({
    address: c.address,
    action: c.action,
    reason: c.reason,
    before: sortKeysDeep(c.before ?? null),
    after: sortKeysDeep(c.after ?? null),
  })
}

function normaliseCandidate(c: Candidate): Candidate {
  return omitUndefined({
    node: c.node,
    alive: c.alive,
    collected: c.collected,
    ballot: c.ballot,
    lastCommittedDecree: c.lastCommittedDecree,
    lastPreparedDecree: c.lastPreparedDecree,
    offset: c.offset,
    term: c.term,
    marks: c.marks && [...c.marks],
  })
}

function normalisePrimary(p: PrimaryChange): PrimaryChange {
  if (p.risk === 'lossy' && !p.atStake) {
    throw new InternalError(`primary ${p.partition}: a lossy primary change must say what may be lost (atStake)`)
  }
  return omitUndefined({
    partition: p.partition,
    table: p.table,
    before: p.before ?? null,
    after: p.after ?? null,
    risk: p.risk,
    reason: p.reason,
    atStake: p.atStake,
    // Candidates keep the store's order: it is part of how the store decides.
    candidates: p.candidates.map(normaliseCandidate),
    lastDrops: p.lastDrops && [...p.lastDrops],
  })
}

function normaliseStep(s: Step): Step {
  if ((s.risk === 'disruptive' || s.risk === 'lossy') && !s.riskReason) {
    throw new InternalError(`step ${s.id}: a ${s.risk} step must carry riskReason (why, and what may be lost)`)
  }
  return omitUndefined({
    id: s.id,
    kind: s.kind,
    risk: s.risk,
    description: s.description,
    expect: s.expect,
    riskReason: s.riskReason,
    manual: s.manual && {instructions: [...s.manual.instructions]},
    params: sortKeysDeep(s.params),
  })
}

function normaliseFinding(f: Finding): Finding {
  return omitUndefined({code: f.code, severity: f.severity, subject: f.subject, message: f.message, hint: f.hint})
}

function assertUnique(values: string[], what: string): void {
  const seen = new Set<string>()
  for (const v of values) {
    if (seen.has(v)) throw new InternalError(`duplicate ${what} ${JSON.stringify(v)} in the plan body`)
    seen.add(v)
  }
}

/** Drops undefined properties so that optional fields are absent, not `undefined`, in every copy. */
function omitUndefined<T extends object>(value: T): T {
  for (const k of Object.keys(value) as (keyof T)[]) {
    if (value[k] === undefined) delete value[k]
  }
  return value
}
