/**
 * The PegasusDddRecovery engine's driftOf (Engine.driftOf): what changed in the facts the proposals
 * still to send depend on. Pure.
 *
 * A proposal `G -> N` rests on partition G's DDD entry (its dropped replicas and their ballots and
 * decrees) and on N being alive. The planner is re-run on the fresh live state: a partition whose
 * proposal has taken effect (N is its primary) is done; any other remaining partition must come out
 * with the same primary, risk and candidates as in the plan. Partitions outside the remaining steps
 * (already proposed, or never touched) are not looked at.
 */
import {canonicalJson} from '../../../plan/canonical.js'
import type {Candidate, PlanBody, PrimaryChange, Step} from '../../../plan/types.js'
import {planDddRecovery} from './planner.js'
import {STEP_PROPOSE, type DddLiveState, type DddRecoverySpec, type ProposeParams} from './types.js'

/** `node: ballot 3, committed 10` for a line. */
function factsText(c: Candidate | undefined): string {
  if (c === undefined) return 'no replica'
  return Object.entries(c.facts)
    .map(([k, v]) => `${k} ${String(v)}`)
    .join(', ')
}

/** How the candidates of one partition moved, one phrase per node. */
function candidateDrift(gpid: string, was: Candidate[], now: Candidate[]): string[] {
  const lines: string[] = []
  const before = new Map(was.map((c) => [c.node, c]))
  const after = new Map(now.map((c) => [c.node, c]))
  for (const [node, c] of before) {
    const n = after.get(node)
    if (n === undefined) lines.push(`partition ${gpid}: the replica on ${node} is gone (it had ${factsText(c)})`)
    else if (canonicalJson(c.facts) !== canonicalJson(n.facts))
      lines.push(`partition ${gpid}: the replica on ${node} changed: ${factsText(c)} → ${factsText(n)}`)
  }
  for (const [node, n] of after)
    if (!before.has(node)) lines.push(`partition ${gpid}: a replica on ${node} appeared (${factsText(n)})`)
  return lines
}

export function dddDriftOf(spec: DddRecoverySpec, live: DddLiveState, plan: PlanBody, steps: Step[]): string[] {
  const proposals = steps.filter((s) => s.kind === STEP_PROPOSE).map((s) => s.params as unknown as ProposeParams)
  if (proposals.length === 0) return []
  const fresh = planDddRecovery(spec, live, {now: '1970-01-01T00:00:00.000Z'})
  const savedBy = new Map<string, PrimaryChange>(plan.primaries.map((p) => [p.partition, p]))
  const freshBy = new Map<string, PrimaryChange>(fresh.primaries.map((p) => [p.partition, p]))
  const configs = new Map(live.configs.map((c) => [c.pid, c]))
  const alive = new Map(live.nodes.map((n) => [n.node, n.alive]))
  const lines: string[] = []
  for (const p of proposals) {
    const config = configs.get(p.gpid)
    if (config?.primary === p.node) continue // the proposal took effect
    if (config?.primary) {
      lines.push(`partition ${p.gpid} now has primary ${config.primary} (the plan proposes ${p.node})`)
      continue
    }
    if (alive.get(p.node) !== true)
      lines.push(`node ${p.node} no longer answers as alive (the plan makes it primary of ${p.gpid})`)
    const was = savedBy.get(p.gpid)
    const now = freshBy.get(p.gpid)
    if (now === undefined) {
      lines.push(`partition ${p.gpid} would no longer get a primary from a plan made now (the plan proposes ${p.node})`)
      continue
    }
    if (now.after !== p.node)
      lines.push(`partition ${p.gpid}: the primary would now be ${now.after} (the plan proposes ${p.node})`)
    if (was !== undefined) {
      if (now.risk !== was.risk)
        lines.push(`partition ${p.gpid}: the proposal would now be ${now.risk} (the plan has ${was.risk})`)
      lines.push(...candidateDrift(p.gpid, was.candidates, now.candidates))
    }
  }
  return lines
}
