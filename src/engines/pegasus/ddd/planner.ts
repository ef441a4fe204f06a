/**
 * The PegasusDddRecovery planner: from the gathered DDD diagnosis, decide a primary per partition
 * and say how dangerous each choice is. Pure: no I/O, no clock; the same inputs give a
 * byte-identical body, with every list sorted.
 *
 * Order of decision for each DDD partition in scope:
 * 1. an override in `recovery.primaries` (validated: the node must be alive and hold a replica);
 * 2. with `auto_diagnose` (the default), the primary Pegasus's `diagnose_recommend` rule picks;
 * 3. when the rule picks none and `undecided: max_last_prepared`, the alive node with the largest
 *    last_prepared decree (the replica-recovery guide's advice);
 * 4. otherwise the partition is left undecided and untouched.
 */
import {canonicalJson, compareCodeUnits, sha256Hex} from '../../../plan/canonical.js'
import {compareFindings, compareNatural} from '../../../plan/order.js'
import type {Candidate, Finding, PlanBody, PrimaryChange, RiskClass, Step} from '../../../plan/types.js'
import type {PlanOptions} from '../../types.js'
import {diagnoseRecommend, dropMark, type Recommendation} from './planner-recommend.js'
import {FACT, PEGASUS_VOCABULARY} from '../vocabulary.js'
import {
  META_LEVELS,
  STEP_PROPOSE,
  STEP_VERIFY,
  STEP_WAIT,
  type Assignment,
  type DddLiveState,
  type DddPartitionFacts,
  type DddRecoverySpec,
  type ProposeParams,
  type VerifyParams,
  type WaitParams,
} from './types.js'
import {gpidParts} from '../wire/protocol.js'

/** Default deadline of the wait step, as the shell's `recover -w` default. */
export const DEFAULT_WAIT_SECONDS = 100

/** Orders `app.pidx` ids as an operator reads them (`1.2` before `1.10`). */
export const compareGpid = compareNatural

/** `"1.3"` as `[1, 3]`, or undefined when it is not a partition id. */
export const parseGpid = gpidParts

/**
 * The decision-relevant live state: ballots, decrees, liveness, collection, drops and configs.
 * Drop times and durable decrees are left out: they move without changing any decision.
 */
export function observedFingerprint(live: DddLiveState): string {
  const relevant = {
    meta_level: live.meta_level,
    diagnosed: live.diagnosed,
    queries: live.queries,
    ddd: live.ddd.map((p) => ({
      config: p.config,
      dropped: p.dropped.map(({drop_time_ms: _t, ...facts}) => facts),
      reason: p.reason,
    })),
    configs: live.configs,
    nodes: live.nodes,
    replicas: live.replicas.map((n) => ({
      node: n.node,
      reachable: n.reachable,
      replicas: n.replicas.map(({last_durable_decree: _d, ...facts}) => facts),
    })),
  }
  return sha256Hex(canonicalJson(relevant))
}

/** What is known of one node's replica of one partition, from the meta or from the node itself. */
interface KnownReplica {
  node: string
  alive: boolean
  /** The meta's `is_collected`; undefined for a node outside the dropped list. */
  collected?: boolean
  /** true: holds a replica; false: known not to; undefined: nobody could tell. */
  hasReplica?: boolean
  ballot: number
  lcd: number
  lpd: number
  /** Where the facts come from. */
  source: 'meta' | 'replica' | 'none'
  unreachable: boolean
}

/** Lookups built once per plan. */
class Facts {
  readonly alive = new Map<string, boolean>()
  readonly replicaInfo = new Map<
    string,
    {reachable: boolean; error?: string; byGpid: Map<string, DddLiveState['replicas'][number]['replicas'][number]>}
  >()
  readonly configs = new Map<string, DddLiveState['configs'][number]>()
  readonly appNames = new Map<number, string>()

  constructor(live: DddLiveState) {
    for (const n of live.nodes) this.alive.set(n.node, n.alive)
    for (const n of live.replicas) {
      this.replicaInfo.set(n.node, {
        reachable: n.reachable,
        error: n.error,
        byGpid: new Map(n.replicas.map((r) => [r.pid, r])),
      })
    }
    for (const c of live.configs) this.configs.set(c.pid, c)
    for (const a of live.apps) this.appNames.set(a.app_id, a.app_name)
  }

  /** The best knowledge of `node`'s replica of partition `p`: the meta's collected facts first, then the node's own report. */
  known(p: DddPartitionFacts, node: string): KnownReplica {
    const gpid = p.config.pid
    const d = p.dropped.find((x) => x.node === node)
    const alive = d ? d.is_alive : (this.alive.get(node) ?? false)
    const info = this.replicaInfo.get(node)
    const live = info?.reachable ? info.byGpid.get(gpid) : undefined
    const unreachable = info !== undefined && !info.reachable
    const base = {node, alive, collected: d?.is_collected, unreachable}
    if (d && d.is_collected && d.ballot >= 0) {
      return {
        ...base,
        hasReplica: true,
        ballot: d.ballot,
        lcd: d.last_committed_decree,
        lpd: d.last_prepared_decree,
        source: 'meta',
      }
    }
    if (live) {
      return {
        ...base,
        hasReplica: true,
        ballot: live.ballot,
        lcd: live.last_committed_decree,
        lpd: live.last_prepared_decree,
        source: 'replica',
      }
    }
    // Collected with ballot -1 is the IDL's "replica not exist on this node"; a reachable node that
    // reports no such replica says the same.
    const absent = (d !== undefined && d.is_collected) || info?.reachable === true
    return {
      ...base,
      hasReplica: absent ? false : undefined,
      ballot: d?.ballot ?? -1,
      lcd: d?.last_committed_decree ?? -1,
      lpd: d?.last_prepared_decree ?? -1,
      source: 'none',
    }
  }
}

function tableOf(facts: Facts, gpid: string): string | undefined {
  const id = parseGpid(gpid)
  return id ? facts.appNames.get(id[0]) : undefined
}

/** The dropped lines, last_drops and reason of a partition, as `ddd_diagnose` prints them (no drop times). */
function diagnosisText(p: DddPartitionFacts, rec: Recommendation): string {
  const drops = p.config.last_drops
  const parts = [`config: ballot(${p.config.ballot}), last_committed(${p.config.last_committed_decree})`]
  p.dropped.forEach((d, j) => {
    const mark = dropMark(d.node, drops)
    parts.push(
      `dropped[${j}]: node(${d.node}), alive(${d.is_alive}), collected(${d.is_collected}), ballot(${d.ballot}), ` +
        `last_committed(${d.last_committed_decree}), last_prepared(${d.last_prepared_decree})${mark ? `  <== ${mark}` : ''}`,
    )
  })
  drops.forEach((node, j) => {
    const mark = j === drops.length - 1 ? 'the latest' : j === drops.length - 2 ? 'the secondary latest' : undefined
    parts.push(`last_drops[${j}]: node(${node})${mark ? `  <== ${mark}` : ''}`)
  })
  parts.push(`ddd_reason: ${p.reason}`)
  const recMark = rec.node === null ? undefined : dropMark(rec.node, drops)
  parts.push(`recommend_primary: ${rec.node ?? 'none'}${recMark ? `  <== ${recMark}` : ''}`)
  return parts.join('; ')
}

function candidatesOf(facts: Facts, p: DddPartitionFacts, extra: string | undefined, rec: Recommendation): Candidate[] {
  const nodes = p.dropped.map((d) => d.node)
  if (extra !== undefined && !nodes.includes(extra)) nodes.push(extra)
  const seen = new Set<string>()
  const out: Candidate[] = []
  for (const node of nodes) {
    if (seen.has(node)) continue
    seen.add(node)
    const k = facts.known(p, node)
    const marks: string[] = []
    const mark = dropMark(node, p.config.last_drops)
    if (mark) marks.push(mark)
    if (rec.node === node) marks.push('recommend_primary')
    if (k.source === 'replica') marks.push('not collected by the meta; facts from query_replica_info')
    if (k.hasReplica === false) marks.push('no replica')
    if (k.unreachable) marks.push('query_replica_info failed')
    if (!p.dropped.some((d) => d.node === node)) marks.push('not in the dropped list')
    const c: Candidate = {node, facts: {[FACT.alive]: k.alive}}
    if (k.collected !== undefined) c.facts[FACT.collected] = k.collected
    Object.assign(c.facts, {[FACT.ballot]: k.ballot, [FACT.lastCommitted]: k.lcd, [FACT.lastPrepared]: k.lpd})
    if (marks.length > 0) c.marks = marks
    out.push(c)
  }
  return out
}

/** What choosing `chosen` may lose: committed decrees known elsewhere, and replicas nobody could read. */
function stakes(
  facts: Facts,
  p: DddPartitionFacts,
  chosen: KnownReplica,
): {knownLoss: boolean; unknown: boolean; text: string} {
  const lines: string[] = []
  let knownLoss = false
  let unknown = false
  const others = [...new Set([...p.dropped.map((d) => d.node), ...p.config.last_drops])]
    .filter((n) => n !== chosen.node)
    .sort()
  let best: KnownReplica | undefined
  for (const node of others) {
    const k = facts.known(p, node)
    if (k.hasReplica === true) {
      if (k.lcd > chosen.lcd && (best === undefined || k.lcd > best.lcd)) best = k
    } else if (k.hasReplica === undefined) {
      unknown = true
      lines.push(
        `node(${node}) is ${k.alive ? 'alive but its replica was not collected' : 'not alive'}: its decrees are unknown`,
      )
    }
  }
  if (best !== undefined) {
    knownLoss = true
    lines.unshift(
      `committed decrees ${chosen.lcd + 1}..${best.lcd} (${best.lcd - chosen.lcd}) known on node(${best.node})`,
    )
  }
  // Decrees the meta recorded as committed beyond every known replica: acknowledged, and held by no one we can read.
  const configLcd = p.config.last_committed_decree
  const reach = Math.max(chosen.lcd, best?.lcd ?? chosen.lcd)
  if (configLcd > reach) {
    knownLoss = true
    lines.splice(
      best === undefined ? 0 : 1,
      0,
      `committed decrees ${reach + 1}..${configLcd} (${configLcd - reach}) recorded by the meta (config last_committed(${configLcd})) and held by no known replica`,
    )
  }
  if (knownLoss && chosen.lpd > chosen.lcd) {
    lines.push(
      `node(${chosen.node}) itself prepared up to ${chosen.lpd} in ballot ${chosen.ballot}, which it may still commit as primary`,
    )
  }
  return {knownLoss, unknown, text: lines.join('; ')}
}

/** The guide's choice: among alive nodes with a replica, the largest last_prepared decree. */
function maxLastPrepared(facts: Facts, p: DddPartitionFacts): KnownReplica | undefined {
  const nodes = [...new Set(p.dropped.map((d) => d.node))]
  let best: KnownReplica | undefined
  let bestRank = -1
  for (const node of nodes) {
    const k = facts.known(p, node)
    if (!k.alive || k.hasReplica !== true) continue
    const rank = p.config.last_drops.lastIndexOf(node)
    // Ties fall to the larger committed decree, then ballot, then the more recent drop, then the name:
    // deterministic, and each tie-break prefers the replica that saw more.
    const better =
      best === undefined ||
      k.lpd > best.lpd ||
      (k.lpd === best.lpd &&
        (k.lcd > best.lcd ||
          (k.lcd === best.lcd &&
            (k.ballot > best.ballot ||
              (k.ballot === best.ballot && (rank > bestRank || (rank === bestRank && node < best.node)))))))
    if (better) {
      best = k
      bestRank = rank
    }
  }
  return best
}

interface Decision {
  gpid: string
  node: string
  risk: RiskClass
  reason: string
  atStake?: string
  candidates: Candidate[]
}

/**
 * Plans the recovery of DDD partitions. Pure.
 */
export function planDddRecovery(spec: DddRecoverySpec, live: DddLiveState, _opts: PlanOptions): PlanBody {
  const findings: Finding[] = []
  const facts = new Facts(live)
  const overrides = spec.recovery.primaries ?? {}
  const autoDiagnose = spec.recovery.auto_diagnose ?? true
  const undecidedPolicy = spec.recovery.undecided ?? 'skip'
  const waitSeconds = spec.recovery.wait_seconds ?? DEFAULT_WAIT_SECONDS
  const levelValue = META_LEVELS[live.meta_level]

  const storedValue = live.stored_meta_level === undefined ? levelValue : META_LEVELS[live.stored_meta_level]
  if (live.meta_level === 'fl_freezed' && storedValue >= META_LEVELS.fl_steady) {
    // Frozen by the freeze check, not by an operator: too few replica servers are alive.
    const alive = live.nodes.filter((n) => n.alive)
    const dead = live.nodes.filter((n) => !n.alive).map((n) => n.node)
    findings.push({
      code: 'PEGASUS_META_FROZEN',
      severity: 'error',
      subject: live.meta_server,
      message:
        `the meta is freezed (its stored level is ${live.stored_meta_level ?? live.meta_level}): only ${alive.length} of ${live.nodes.length} replica servers are alive, ` +
        'fewer than [meta_server] min_live_node_count_for_unfreeze (3 by default) or node_live_percentage_threshold_for_update (65% by default); ' +
        'a freezed meta neither refreshes its DDD list nor executes proposals',
      hint:
        `Start the dead replica servers${dead.length > 0 ? ` (${dead.join(', ')})` : ''} until enough are alive, ` +
        "or lower [meta_server] min_live_node_count_for_unfreeze in the meta's config.ini and restart it; then plan again.",
    })
  } else if (levelValue < META_LEVELS.fl_steady) {
    findings.push({
      code: 'PEGASUS_META_LEVEL_BELOW_STEADY',
      severity: 'error',
      subject: live.meta_server,
      message: `meta level is ${live.meta_level}: DDD information exists only at fl_steady or above, because the meta checks partitions (and refreshes its DDD list) only then`,
      hint: `Raise it in the Pegasus shell: set_meta_level steady (then wait one partition check, [replication] lb_interval_ms, 10 s by default) and plan again.`,
    })
  }

  const ddd = [...live.ddd].sort((a, b) => compareGpid(a.config.pid, b.config.pid))
  const dddIds = new Set(ddd.map((p) => p.config.pid))

  // Listed partitions that are not DDD: say what they are instead.
  if (Array.isArray(spec.recovery.gpids) && live.diagnosed) {
    for (const gpid of [...new Set(spec.recovery.gpids)].sort(compareGpid)) {
      if (dddIds.has(gpid)) continue
      const c = facts.configs.get(gpid)
      const state =
        c === undefined
          ? 'the meta returned no configuration for it'
          : c.primary !== null
            ? `it has primary ${c.primary} (ballot ${c.ballot})`
            : 'it has no primary, but the meta does not report it as DDD (for instance its only last drop is dead and the meta waits for it)'
      findings.push({
        code: 'PEGASUS_PARTITION_NOT_DDD',
        severity: 'info',
        subject: gpid,
        message: `partition(${gpid}) is not in DDD state: ${state}`,
      })
    }
  }
  for (const gpid of Object.keys(overrides).sort(compareGpid)) {
    if (dddIds.has(gpid) || !live.diagnosed) continue
    findings.push({
      code: 'PEGASUS_DDD_OVERRIDE_NOT_DDD',
      severity: 'warning',
      subject: gpid,
      message: `recovery.primaries names partition(${gpid}), which is not among the DDD partitions in scope; the override is ignored`,
      hint: 'Check the gpid and recovery.gpids; a partition that is no longer DDD needs no primary from lifeboat.',
    })
  }

  // Replica servers lifeboat could not ask although the meta says they are alive.
  for (const n of [...live.replicas].sort((a, b) => compareCodeUnits(a.node, b.node))) {
    if (n.reachable || facts.alive.get(n.node) === false) continue
    findings.push({
      code: 'PEGASUS_REPLICA_SERVER_UNREACHABLE',
      severity: 'warning',
      subject: n.node,
      message: `query_replica_info to node(${n.node}) failed with ${n.error ?? 'an unknown error'}; only the meta's facts are used for it`,
      ...(n.error === 'ERR_TIMEOUT'
        ? {
            hint: `The node did not answer in time, asked twice: it may be slow rather than lost. Plan again; if it stays slow, find out why (load, disk, GC) or raise cluster.timeouts.collect_seconds in the spec (or --collect-timeout SECONDS) to read its replicas.`,
          }
        : {}),
    })
  }

  const decisions: Decision[] = []
  const untouched: string[] = []
  for (const p of ddd) {
    const gpid = p.config.pid
    const rec = diagnoseRecommend(p)
    findings.push({code: 'PEGASUS_DDD_DIAGNOSIS', severity: 'info', subject: gpid, message: diagnosisText(p, rec)})

    const current = facts.configs.get(gpid)
    if (current !== undefined && current.primary !== null) {
      findings.push({
        code: 'PEGASUS_DDD_RESOLVED',
        severity: 'info',
        subject: gpid,
        message: `partition(${gpid}) has primary ${current.primary} again (ballot ${current.ballot}); nothing to do`,
      })
      continue
    }

    const override = overrides[gpid]
    if (override !== undefined) {
      const k = facts.known(p, override)
      const errors: Finding[] = []
      if (!k.alive) {
        const known = p.dropped.some((d) => d.node === override) || facts.alive.has(override)
        errors.push({
          code: 'PEGASUS_DDD_OVERRIDE_DEAD_NODE',
          severity: 'error',
          subject: gpid,
          message: `recovery.primaries["${gpid}"] names node(${override}), which is ${known ? 'not alive' : 'not a replica server the meta knows'}; the meta would clear an ASSIGN_PRIMARY to it`,
          hint: 'Pick an alive node that holds a replica (see the PEGASUS_DDD_DIAGNOSIS finding of this partition), or bring the node back and plan again.',
        })
      }
      if (k.hasReplica === false) {
        errors.push({
          code: 'PEGASUS_DDD_OVERRIDE_NO_REPLICA',
          severity: 'error',
          subject: gpid,
          message: `recovery.primaries["${gpid}"] names node(${override}), which holds no replica of ${gpid}; it would serve the partition empty`,
          hint: 'Pick a node whose replica was collected (ballot >= 0), for instance the one with the largest last_prepared.',
        })
      } else if (k.hasReplica === undefined && k.alive) {
        findings.push({
          code: 'PEGASUS_DDD_OVERRIDE_UNVERIFIED',
          severity: 'warning',
          subject: gpid,
          message: `recovery.primaries["${gpid}"] names node(${override}), whose replica of ${gpid} neither the meta nor lifeboat could read; its decrees are unknown`,
        })
      }
      if (errors.length > 0) {
        findings.push(...errors)
        untouched.push(gpid)
        continue
      }
      const s = stakes(facts, p, k)
      const agrees = rec.node === override
      decisions.push({
        gpid,
        node: override,
        risk: agrees && !s.knownLoss ? 'disruptive' : 'lossy',
        reason: agrees
          ? `recovery.primaries override, and Pegasus's diagnose_recommend picks the same node: ${rec.why}`
          : `recovery.primaries override; Pegasus's diagnose_recommend ${rec.node === null ? 'picks none' : `picks node(${rec.node})`}: ${rec.why}`,
        atStake:
          agrees && !s.knownLoss
            ? undefined
            : s.text ||
              `the override bypasses Pegasus's rule: node(${override}) has last_committed(${k.lcd}), last_prepared(${k.lpd}); no other known replica has more committed decrees`,
        candidates: candidatesOf(facts, p, override, rec),
      })
      continue
    }

    if (rec.node !== null && autoDiagnose) {
      const k = facts.known(p, rec.node)
      const s = stakes(facts, p, k)
      decisions.push({
        gpid,
        node: rec.node,
        risk: s.knownLoss ? 'lossy' : 'disruptive',
        reason: `Pegasus's diagnose_recommend: ${rec.why}`,
        atStake: s.knownLoss ? s.text : undefined,
        candidates: candidatesOf(facts, p, undefined, rec),
      })
      continue
    }

    if (rec.node === null && undecidedPolicy === 'max_last_prepared') {
      const best = maxLastPrepared(facts, p)
      if (best !== undefined) {
        const s = stakes(facts, p, best)
        // Always lossy (issue 6): Pegasus's rule declined this partition "for security reason", so
        // nothing proves the guide's pick holds every acknowledged write. Say the most precise
        // reason known: decrees on other replicas, or the later drops whose replicas are gone.
        const drops = p.config.last_drops
        const later = drops
          .slice(drops.lastIndexOf(best.node) + 1)
          .filter((n, i, a) => a.indexOf(n) === i && n !== best.node)
          .filter((n) => facts.known(p, n).hasReplica === false)
        const gone =
          later.length > 0
            ? `${later.map((n) => `node(${n})`).join(' and ')} dropped after node(${best.node}) and hold${later.length === 1 ? 's' : ''} no replica now: decrees acknowledged after node(${best.node}) left are held by no known replica`
            : `Pegasus's diagnose_recommend picks none, so nothing proves node(${best.node}) (last_committed(${best.lcd}), last_prepared(${best.lpd})) holds every acknowledged write`
        decisions.push({
          gpid,
          node: best.node,
          risk: 'lossy',
          reason: `undecided: max_last_prepared: the alive node with the largest last_prepared(${best.lpd}) (the replica-recovery guide's advice); Pegasus's diagnose_recommend picks none: ${rec.why}`,
          atStake: s.knownLoss || s.unknown ? s.text : gone,
          candidates: candidatesOf(facts, p, undefined, rec),
        })
        continue
      }
    }

    untouched.push(gpid)
    // What lifeboat read from the replica servers themselves, beyond the meta's view: the facts an
    // operator needs to write an override.
    const ownReads = p.dropped
      .map((d) => facts.known(p, d.node))
      .filter((k) => k.source === 'replica')
      .map((k) => `node(${k.node}) ballot(${k.ballot}), last_committed(${k.lcd}), last_prepared(${k.lpd})`)
    const why =
      rec.node !== null
        ? `recommend_primary is node(${rec.node}), but recovery.auto_diagnose is false`
        : undecidedPolicy === 'max_last_prepared'
          ? `recommend_primary: none (${rec.why}), and no alive node holds a known replica for max_last_prepared`
          : `recommend_primary: none (${rec.why})`
    findings.push({
      code: 'PEGASUS_DDD_UNDECIDED',
      severity: 'warning',
      subject: gpid,
      message:
        `partition(${gpid}) is left undecided and untouched: ${why}; propose_request: none` +
        (ownReads.length > 0
          ? `; not collected by the meta, but query_replica_info reports: ${ownReads.join('; ')}`
          : ''),
      hint:
        rec.node !== null
          ? `Set recovery.auto_diagnose: true, or add "${gpid}": ${rec.node} under recovery.primaries.`
          : `Add "${gpid}": <host:port> under recovery.primaries, or set recovery.undecided: max_last_prepared (lossy).`,
    })
  }

  decisions.sort((a, b) => compareGpid(a.gpid, b.gpid))
  untouched.sort(compareGpid)

  const byGpid = new Map(ddd.map((p) => [p.config.pid, p]))
  const primaries: PrimaryChange[] = decisions.map((d) => {
    const p = byGpid.get(d.gpid) as DddPartitionFacts
    const change: PrimaryChange = {
      partition: d.gpid,
      before: null,
      after: d.node,
      candidates: d.candidates,
      ...(p.config.last_drops.length > 0 ? {facts: {[FACT.lastDrops]: p.config.last_drops.join(', ')}} : {}),
      risk: d.risk,
      reason: d.reason,
    }
    const table = tableOf(facts, d.gpid)
    if (table !== undefined) change.table = table
    if (d.atStake !== undefined) change.atStake = d.atStake
    return change
  })

  const steps: Step[] = []
  const total = decisions.length
  const width = Math.max(2, String(total + 2).length)
  const id = (n: number, name: string): string => `${String(n).padStart(width, '0')}-${name}`
  decisions.forEach((d, i) => {
    const params: ProposeParams = {
      gpid: d.gpid,
      node: d.node,
      type: 'CT_ASSIGN_PRIMARY',
      force: false,
      index: i + 1,
      total,
    }
    const table = tableOf(facts, d.gpid)
    const step: Step = {
      id: id(i + 1, `propose-${d.gpid}`),
      kind: STEP_PROPOSE,
      params: {...params},
      risk: d.risk,
      description: `propose -g ${d.gpid} -p ASSIGN_PRIMARY -t ${d.node} -n ${d.node}: ${d.node} becomes primary of ${d.gpid}${table ? ` (${table})` : ''}`,
      expect: `the meta accepts the proposal (ERR_OK) and assigns ${d.node} as primary of ${d.gpid} at its next partition check`,
      riskReason:
        d.risk === 'lossy'
          ? `${d.node} may lack acknowledged writes: ${d.atStake}`
          : `${d.node} starts serving ${d.gpid}: the partition changes from unreadable to served by this replica`,
    }
    steps.push(step)
  })
  if (total > 0) {
    const assignments: Assignment[] = decisions.map((d) => ({gpid: d.gpid, node: d.node}))
    const wait: WaitParams = {partitions: assignments, wait_seconds: waitSeconds}
    steps.push({
      id: id(total + 1, 'wait-primaries'),
      kind: STEP_WAIT,
      params: {...wait},
      risk: 'read',
      description: `Wait up to ${waitSeconds} s until each of the ${total} proposed partition${total === 1 ? '' : 's'} has its primary and is readable again`,
      expect: `every proposed partition has the proposed primary`,
    })
    const verify: VerifyParams = {partitions: assignments, untouched}
    steps.push({
      id: id(total + 2, 'verify'),
      kind: STEP_VERIFY,
      params: {...verify},
      risk: 'read',
      description: `Verify: ${total} partition${total === 1 ? '' : 's'} served by the chosen primary${untouched.length > 0 ? `; ${untouched.length} undecided left untouched` : ''}`,
      expect:
        'each decided partition has the chosen primary; undecided partitions have no primary assigned by this plan',
    })
  } else if (live.diagnosed && ddd.length === 0) {
    findings.push({
      code: 'PEGASUS_NO_DDD_PARTITIONS',
      severity: 'info',
      subject: live.meta_server,
      message: `Total 0 ddd partitions (asked: ${live.queries.join(', ')})`,
    })
  }

  findings.sort(compareFindings)

  const reached = live.replicas.filter((n) => n.reachable).length
  const summary: Record<string, number | string> = {
    meta_server: live.meta_server,
    meta_level: live.meta_level,
    ddd_partitions: ddd.length,
    decided: total,
    undecided: untouched.length,
    lossy: decisions.filter((d) => d.risk === 'lossy').length,
    nodes_alive: live.nodes.filter((n) => n.alive).length,
    nodes_total: live.nodes.length,
    replica_servers_reached: `${reached}/${live.replicas.length}`,
  }

  return {
    vocabulary: PEGASUS_VOCABULARY,
    observed: {fingerprint: observedFingerprint(live), summary},
    changes: [],
    primaries,
    steps,
    findings,
  }
}
