/**
 * The OpenMLDBRecovery planner. Pure: no I/O, no clock; the same inputs give a byte-identical
 * body, every list sorted.
 *
 * What it decides, from the nameserver's metadata and the tablets' own table status:
 * - which partitions are unhealthy, as OpenMLDB's own check defines it (openmldb_ops.py CheckTable:
 *   every replica alive in the nameserver, present on its tablet, and the roles match);
 * - the leader of each unhealthy partition: the replica with the largest offset among those whose
 *   tablet can load it (ties: the nameserver's alive leader, then endpoint order), with a finding
 *   wherever `openmldb_ops.py --cmd=recoverdata` would pick another (it takes the last replica
 *   flagged is_leader) and how many offsets that choice loses;
 * - the leaders to load, the alive flags to set, the RecoverTable ops (with the op the nameserver
 *   spawns for each), OfflineEndpoint / RecoverEndpoint with the ops they create (reference §5),
 *   ChangeLeader for overrides and for partitions led from an endpoint taken out, and auto_failover
 *   turned off for the work and restored at the end whatever happens.
 *
 * Partitions with a replica on an endpoint of `offline_endpoints` or `recover_endpoints` are left
 * to those endpoint operations; data recovery plans the rest.
 */
import {canonicalJson, compareCodeUnits, sha256Hex} from '../../plan/canonical.js'
import {compareFindings, compareNatural} from '../../plan/order.js'
import type {
  Candidate,
  Change,
  Finding,
  PlanBody,
  PrimaryChange,
  RiskClass,
  Step,
  Vocabulary,
} from '../../plan/types.js'
import type {PlanOptions} from '../types.js'
import {normalizeRecovery, LEADER_KEY} from './spec.js'
import {
  STEP_ACCEPT_LOST,
  STEP_CHANGE_LEADERS,
  STEP_CONFSET,
  STEP_LOAD_LEADERS,
  STEP_OFFLINE_ENDPOINT,
  STEP_RECOVER_ENDPOINT,
  STEP_RECOVER_TABLES,
  STEP_SET_ALIVE,
  STEP_VERIFY,
  type AcceptLostParams,
  type AliveUpdate,
  type ChangeLeaderOp,
  type ChangeLeadersParams,
  type ConfsetParams,
  type EndpointParams,
  type ExpectedPartition,
  type LoadLeadersParams,
  type LoadOp,
  type OpenMLDBLiveState,
  type OpenMLDBRecoverySettings,
  type OpenMLDBRecoverySpec,
  type PartitionMetaFacts,
  type PredictedOp,
  type RecoverTableOp,
  type RecoverTablesParams,
  type ReplicaMeta,
  type SetAliveParams,
  type TableFacts,
  type TabletFacts,
  type TabletTableStatus,
  type VerifyParams,
} from './types.js'

/** `check_binlog_sync_progress_delta`: how far a follower may trail its leader and count as in sync. */
export const BINLOG_DELTA = 100000

/** The child ops of kRecoverTableOP by the target's state (reference §5). */
export const CHILD_WITH_TABLE = 'kReAddReplicaSimplifyOP|kReAddReplicaWithDropOP'
export const CHILD_WITHOUT_TABLE = 'kReAddReplicaNoSendOP|kReAddReplicaOP'
export const CHILD_SINGLE_WITH_TABLE = 'kUpdatePartitionStatusOP'
export const CHILD_SINGLE_WITHOUT_TABLE = 'kReLoadTableOP'

export const VOCABULARY: Vocabulary = {
  nouns: {partition: {one: 'partition', many: 'partitions'}, setting: {one: 'setting', many: 'settings'}},
  leadership: {
    heading: 'Leaders to assign',
    item: {one: 'partition', many: 'partitions'},
    role: {one: 'leader', many: 'leaders'},
    candidateFacts: [
      {name: 'offset', label: 'offset'},
      {name: 'ns_offset', label: 'ns offset'},
      {name: 'is_leader', label: 'is_leader'},
    ],
  },
}

/** `db.table/pid`, the address of a partition. */
export function partitionKey(db: string, name: string, pid: number): string {
  return `${db}.${name}/${pid}`
}

const big = (s: string): bigint => BigInt(s)
const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b)

/** Lookups built once per plan. */
class Facts {
  readonly tablets = new Map<string, TabletFacts>()
  readonly status = new Map<string, TabletTableStatus>()

  constructor(live: OpenMLDBLiveState) {
    for (const t of live.tablets) {
      this.tablets.set(t.endpoint, t)
      for (const s of t.tables) this.status.set(`${t.endpoint} ${s.tid}_${s.pid}`, s)
    }
  }

  /** The tablet answers and ShowTablet calls it healthy: it can load and serve. */
  available(ep: string): boolean {
    const t = this.tablets.get(ep)
    return t !== undefined && t.state === 'kHealthy' && t.reachable
  }

  statusOf(ep: string, tid: number, pid: number): TabletTableStatus | undefined {
    return this.status.get(`${ep} ${tid}_${pid}`)
  }

  /** The offset the replica really has: the tablet's own when loaded, else the nameserver's cached one. */
  offset(table: TableFacts, pid: number, r: ReplicaMeta): bigint {
    const s = this.statusOf(r.endpoint, table.tid, pid)
    return s ? big(s.offset) : big(r.offset)
  }

  /** How the replica stands on its tablet, in words for the candidate table. */
  tabletWord(table: TableFacts, pid: number, r: ReplicaMeta): string {
    const t = this.tablets.get(r.endpoint)
    if (t === undefined || t.state !== 'kHealthy') return t?.state === 'kOffline' ? 'tablet kOffline' : 'tablet unknown'
    if (!t.reachable) return 'no answer'
    const s = this.statusOf(r.endpoint, table.tid, pid)
    return s ? `${s.mode} ${s.state}` : 'not loaded'
  }
}

/** OpenMLDB's own check (openmldb_ops.py CheckTable): every replica alive, present on its tablet, roles matching. */
export function partitionHealthy(facts: Facts, table: TableFacts, p: PartitionMetaFacts): boolean {
  for (const r of p.replicas) {
    if (!r.is_alive) return false
    const s = facts.statusOf(r.endpoint, table.tid, p.pid)
    if (s === undefined) return false
    if (r.is_leader !== (s.mode === 'kTableLeader')) return false
  }
  return aheadOfLeader(facts, table, p).length === 0
}

/**
 * Loaded replicas holding more than the partition's loaded alive leader. Replication never puts a
 * follower ahead of its leader; a leader reloaded from a disk that lost entries (a deleted binlog)
 * does, and serving from it loses what the others hold. OpenMLDB's check calls such a partition
 * healthy; data recovery must not.
 */
export function aheadOfLeader(facts: Facts, table: TableFacts, p: PartitionMetaFacts): ReplicaMeta[] {
  const leader = p.replicas.find((r) => r.is_leader && r.is_alive)
  const ls = leader && facts.statusOf(leader.endpoint, table.tid, p.pid)
  if (!leader || ls?.state !== 'kTableNormal') return []
  return p.replicas.filter((r) => {
    const s = r === leader ? undefined : facts.statusOf(r.endpoint, table.tid, p.pid)
    return s?.state === 'kTableNormal' && big(s.offset) > big(ls.offset)
  })
}

/** The upstream tool's pick: the last replica flagged is_leader, in partition_meta order (its max_offset is never updated). */
export function upstreamLeader(p: PartitionMetaFacts): ReplicaMeta | undefined {
  let pick: ReplicaMeta | undefined
  for (const r of p.replicas) if (r.is_leader) pick = r
  return pick
}

/**
 * The leader by largest offset among `usable`; ties fall to the nameserver's alive leader, then
 * to endpoint order.
 */
export function largestOffset(
  facts: Facts,
  table: TableFacts,
  pid: number,
  usable: readonly ReplicaMeta[],
): ReplicaMeta | undefined {
  let best: ReplicaMeta | undefined
  let bestOff = -1n
  for (const r of usable) {
    const off = facts.offset(table, pid, r)
    const aliveLeader = r.is_leader && r.is_alive
    const bestAliveLeader = best !== undefined && best.is_leader && best.is_alive
    const better =
      best === undefined ||
      off > bestOff ||
      (off === bestOff &&
        ((aliveLeader && !bestAliveLeader) ||
          (aliveLeader === bestAliveLeader && compareNatural(r.endpoint, best.endpoint) < 0)))
    if (better) {
      best = r
      bestOff = off
    }
  }
  return best
}

interface Work {
  findings: Finding[]
  changes: Change[]
  primaries: PrimaryChange[]
  loads: LoadOp[]
  alive: AliveUpdate[]
  changeLeaders: ChangeLeaderOp[]
  recoverTables: RecoverTableOp[]
  lost: AcceptLostParams['partitions']
  expected: ExpectedPartition[]
  /** Endpoint → what OfflineEndpoint / RecoverEndpoint will create there. */
  offline: Map<string, PredictedOp[]>
  recover: Map<string, PredictedOp[]>
}

function candidatesOf(
  facts: Facts,
  table: TableFacts,
  p: PartitionMetaFacts,
  chosen: string | null,
  upstream: string | undefined,
  marksFor: (r: ReplicaMeta) => string[],
): Candidate[] {
  return p.replicas.map((r) => {
    const marks = marksFor(r)
    if (r.endpoint === chosen) marks.unshift('chosen')
    if (r.endpoint === upstream) marks.push('openmldb_ops.py pick (last is_leader)')
    // Only facts that stay put until this partition's leader is in place (alive flags and load states
    // move while apply works; a resumed run compares what is left with the saved plan).
    const c: Candidate = {
      node: r.endpoint,
      facts: {
        offset: facts.offset(table, p.pid, r),
        ns_offset: big(r.offset),
        is_leader: r.is_leader,
      },
    }
    if (marks.length > 0) c.marks = marks
    return c
  })
}

/**
 * The partition's serving leader now (the nameserver's alive leader) and after, as a change; none
 * when they are the same. Only leadership: it stays put until the leader is in place, while alive
 * flags move step by step (a resumed run compares what is left with the saved plan).
 */
function leaderChange(w: Work, key: string, before: string | null, after: string | null, reason: string): void {
  if (before === after) return
  w.changes.push({
    address: `partition:${key}`,
    noun: 'partition',
    action: 'update',
    before: {leader: before},
    after: {leader: after},
    reason,
  })
}

/** What the child op of a RecoverTable will be, from whether the target tablet still has the table. */
function childOp(facts: Facts, table: TableFacts, p: PartitionMetaFacts, ep: string): string {
  const has = facts.statusOf(ep, table.tid, p.pid) !== undefined
  if (p.replicas.length === 1) return has ? CHILD_SINGLE_WITH_TABLE : CHILD_SINGLE_WITHOUT_TABLE
  return has ? CHILD_WITH_TABLE : CHILD_WITHOUT_TABLE
}

/**
 * Plans an OpenMLDB recovery. Pure.
 */
export function planOpenMLDBRecovery(
  spec: OpenMLDBRecoverySpec,
  given: OpenMLDBLiveState,
  _opts: PlanOptions,
): PlanBody {
  const live = sortedLive(given)
  const rec: OpenMLDBRecoverySettings = normalizeRecovery(spec.recovery)
  const facts = new Facts(live)
  const w: Work = {
    findings: [],
    changes: [],
    primaries: [],
    loads: [],
    alive: [],
    changeLeaders: [],
    recoverTables: [],
    lost: [],
    expected: [],
    offline: new Map(),
    recover: new Map(),
  }
  const f = w.findings

  // Ops the nameserver is still running act on the same partitions: they block the plan.
  for (const op of live.running_ops) {
    f.push({
      code: 'OPENMLDB_OP_RUNNING',
      severity: 'error',
      subject: partitionKey(op.db, op.name, op.pid),
      message: `op ${op.op_id} ${op.op_type} of table ${op.db}.${op.name} pid ${op.pid} is ${op.status} (task ${op.task_type})`,
      hint: 'Wait for it to finish (`showopstatus` in ns_client), or cancel it (`cancelop <op_id>`), then plan again.',
    })
  }

  // Tablets that do not answer although the nameserver calls them healthy.
  for (const t of live.tablets) {
    if (t.state !== 'kHealthy' || t.reachable) continue
    f.push(unreachableFinding(t, rec, holdsReplicas(live, t.endpoint)))
  }

  // Endpoint operations: checks the nameserver makes.
  const known = new Set(live.tablets.filter((t) => t.state !== 'unknown').map((t) => t.endpoint))
  for (const ep of [...rec.offline_endpoints].sort(compareNatural)) {
    if (!known.has(ep)) {
      f.push({
        code: 'OPENMLDB_ENDPOINT_NOT_EXIST',
        severity: 'error',
        subject: ep,
        message: `offlineendpoint ${ep}: endpoint does not exist`,
        hint: 'The nameserver knows only the tablets of ShowTablet; check the endpoint in recovery.offline_endpoints.',
      })
    } else if (facts.available(ep)) {
      f.push({
        code: 'OPENMLDB_OFFLINE_HEALTHY_TABLET',
        severity: 'warning',
        subject: ep,
        message: `tablet ${ep} is kHealthy and answers; taking it out moves its leaders away and drops its replicas from their partitions`,
      })
    }
  }
  for (const ep of [...rec.recover_endpoints].sort(compareNatural)) {
    const t = facts.tablets.get(ep)
    if (!known.has(ep)) {
      f.push({
        code: 'OPENMLDB_ENDPOINT_NOT_EXIST',
        severity: 'error',
        subject: ep,
        message: `recoverendpoint ${ep}: endpoint does not exist`,
        hint: 'The nameserver knows only the tablets of ShowTablet; check the endpoint in recovery.recover_endpoints.',
      })
    } else if (t === undefined || t.state !== 'kHealthy') {
      f.push({
        code: 'OPENMLDB_TABLET_NOT_HEALTHY',
        severity: 'error',
        subject: ep,
        message: `recoverendpoint ${ep}: tablet is not healthy`,
        hint: 'Start the tablet and wait until ShowTablet lists it kHealthy, then plan again.',
      })
    }
  }

  // Scope of data recovery and the leader overrides.
  const tableIds = new Map(live.tables.map((t) => [`${t.db}.${t.name}`, t]))
  const inScope = new Set<string>()
  if (rec.tables === 'all') for (const k of tableIds.keys()) inScope.add(k)
  else if (Array.isArray(rec.tables)) {
    for (const name of [...rec.tables].sort(compareNatural)) {
      if (tableIds.has(name)) inScope.add(name)
      else
        f.push({
          code: 'OPENMLDB_TABLE_NOT_EXIST',
          severity: 'error',
          subject: name,
          message: `table ${name}: table does not exist`,
          hint: 'Check recovery.tables against `showtable` (names are db.table).',
        })
    }
  }
  const overrides = new Map<string, string>()
  for (const [key, ep] of Object.entries(rec.leaders).sort((a, b) => compareNatural(a[0], b[0]))) {
    const m = LEADER_KEY.exec(key)
    const table = m ? tableIds.get(`${m[1]}.${m[2]}`) : undefined
    const p = m && table ? table.partitions.find((x) => x.pid === Number(m[3])) : undefined
    if (!p) {
      f.push({
        code: 'OPENMLDB_LEADER_OVERRIDE_UNKNOWN',
        severity: 'error',
        subject: key,
        message: `recovery.leaders["${key}"]: ${table ? 'pid does not exist' : 'table does not exist'}`,
        hint: 'Name an existing partition as db.table/pid.',
      })
      continue
    }
    if (ep !== 'auto' && !p.replicas.some((r) => r.endpoint === ep)) {
      f.push({
        code: 'OPENMLDB_LEADER_OVERRIDE_NOT_REPLICA',
        severity: 'error',
        subject: key,
        message: `recovery.leaders["${key}"] names ${ep}, which holds no replica of the partition`,
        hint: `Pick one of ${p.replicas.map((r) => r.endpoint).join(', ')}, or auto.`,
      })
      continue
    }
    overrides.set(key, ep)
  }

  for (const ep of rec.offline_endpoints) w.offline.set(ep, [])
  for (const ep of rec.recover_endpoints) w.recover.set(ep, [])
  const offlineSet = new Set(rec.offline_endpoints)
  const recoverSet = new Set(rec.recover_endpoints)
  let healthyCount = 0
  let unhealthyCount = 0
  let partitionCount = 0

  for (const table of live.tables) {
    const tname = `${table.db}.${table.name}`
    for (const p of table.partitions) {
      partitionCount++
      const key = partitionKey(table.db, table.name, p.pid)
      const healthy = partitionHealthy(facts, table, p)
      if (healthy) healthyCount++
      else unhealthyCount++
      const offlineHere = p.replicas.filter((r) => offlineSet.has(r.endpoint))
      // RecoverEndpoint skips a replica that is alive in a partition with more than one (RecoverEndpointDBInternal).
      const recoverHere = p.replicas.filter(
        (r) => recoverSet.has(r.endpoint) && (!r.is_alive || p.replicas.length === 1),
      )
      const override = overrides.get(key)
      if (offlineHere.length > 0 || recoverHere.length > 0) {
        if (override !== undefined && offlineHere.length === 0) {
          f.push({
            code: 'OPENMLDB_LEADER_OVERRIDE_DEFERRED',
            severity: 'warning',
            subject: key,
            message: `recovery.leaders["${key}"] is not applied: recoverendpoint re-adds a replica of this partition in the same run`,
            hint: 'Plan the leader change in a second run, once the replica is recovered.',
          })
        }
        planEndpointPartition(facts, w, table, p, key, offlineHere, recoverHere, override, rec)
        continue
      }
      if (!healthy && inScope.has(tname)) {
        planDataRecovery(facts, w, table, p, key, override, rec)
      } else if (override !== undefined && override !== 'auto') {
        planOverride(facts, w, table, p, key, override)
      } else if (!healthy) {
        f.push({
          code: 'OPENMLDB_PARTITION_UNHEALTHY_OUT_OF_SCOPE',
          severity: 'info',
          subject: key,
          message: `table ${tname} pid ${p.pid} is unhealthy but outside recovery.tables; left alone`,
        })
      }
    }
  }

  // The order apply follows (each phase waits for its ops before the next starts).
  const steps: Step[] = []
  let n = 0
  const id = (slug: string): string => `${String(++n).padStart(2, '0')}-${slug}`
  const conc = rec.concurrency
  const wait = rec.wait_seconds
  const work =
    w.loads.length +
    w.alive.length +
    w.changeLeaders.length +
    w.offline.size +
    w.recover.size +
    w.recoverTables.length +
    w.lost.length
  if (work > 0 && live.auto_failover) {
    const params: ConfsetParams = {key: 'auto_failover', value: 'false'}
    steps.push({
      id: id('auto-failover-off'),
      kind: STEP_CONFSET,
      params: {...params},
      risk: 'safe',
      description:
        'confset auto_failover false: the nameserver refuses manual operations while it is on (code 301 "auto_failover is enabled")',
      expect: 'ConfGet says auto_failover false',
    })
  }
  if (w.lost.length > 0) {
    const params: AcceptLostParams = {partitions: sortRefs(w.lost)}
    steps.push({
      id: id('accept-lost-partitions'),
      kind: STEP_ACCEPT_LOST,
      params: {...params},
      risk: 'lossy',
      description: `give up ${w.lost.length} partition(s) with no replica on a tablet that can load it (skip_lost_partitions)`,
      expect: 'nothing is written: these partitions stay without a leader until a tablet holding their data comes back',
      riskReason: `every row of ${w.lost.map((l) => `${partitionKey(l.db, l.name, l.pid)} (offset ${l.offset})`).join(', ')} stays unreadable`,
    })
  }
  if (w.loads.length > 0) {
    const params: LoadLeadersParams = {loads: sortRefs(w.loads), concurrency: conc, wait_seconds: wait}
    steps.push({
      id: id('load-leaders'),
      kind: STEP_LOAD_LEADERS,
      params: {...params},
      risk: 'disruptive',
      description: `LoadTable ${loadCounts(w)} on their tablets and wait for kTableNormal`,
      expect: 'GetTableStatus shows each partition kTableNormal on its tablet',
      riskReason: 'a loaded leader serves the partition from its own binlog and snapshot',
    })
  }
  if (w.alive.length > 0) {
    const params: SetAliveParams = {updates: sortRefs(w.alive), concurrency: conc}
    const yes = w.alive.filter((a) => a.is_alive).length
    steps.push({
      id: id('set-alive'),
      kind: STEP_SET_ALIVE,
      params: {...params},
      risk: 'safe',
      description: `updatetablealive: ${yes} replica(s) alive, ${w.alive.length - yes} not alive`,
      expect: 'ShowTable shows each replica with the is_alive planned',
    })
  }
  if (w.changeLeaders.length > 0) {
    const params: ChangeLeadersParams = {ops: sortRefs(w.changeLeaders), concurrency: conc, wait_seconds: wait}
    const lossy = w.primaries.some(
      (pc) => pc.risk === 'lossy' && w.changeLeaders.some((c) => partitionKey(c.db, c.name, c.pid) === pc.partition),
    )
    steps.push({
      id: id('change-leaders'),
      kind: STEP_CHANGE_LEADERS,
      params: {...params},
      risk: lossy ? 'lossy' : 'disruptive',
      description: `changeleader ${w.changeLeaders.length} partition(s) to the planned candidate (kChangeLeaderOP each)`,
      expect: 'each partition has the candidate as its one alive leader',
      riskReason: 'change leader ok. If there are writing operations while changing a leader, it may cause data loss.',
    })
  }
  for (const [ep, predicted] of [...w.offline.entries()].sort((a, b) => compareNatural(a[0], b[0]))) {
    const params: EndpointParams = {endpoint: ep, concurrency: conc, wait_seconds: wait, predicted: sortRefs(predicted)}
    steps.push({
      id: id(`offline-${ep}`),
      kind: STEP_OFFLINE_ENDPOINT,
      params: {...params},
      risk: 'disruptive',
      description: `offlineendpoint ${ep}: ${opSummary(predicted)}`,
      expect: `no replica on ${ep} is alive; its partitions are served elsewhere`,
      riskReason: `the replicas on ${ep} leave their partitions`,
    })
  }
  for (const [ep, predicted] of [...w.recover.entries()].sort((a, b) => compareNatural(a[0], b[0]))) {
    const params: EndpointParams = {endpoint: ep, concurrency: conc, wait_seconds: wait, predicted: sortRefs(predicted)}
    steps.push({
      id: id(`recover-${ep}`),
      kind: STEP_RECOVER_ENDPOINT,
      params: {...params},
      risk: 'safe',
      description: `recoverendpoint ${ep}: ${opSummary(predicted)}`,
      expect: `every replica on ${ep} alive and in sync with its leader`,
    })
  }
  if (w.recoverTables.length > 0) {
    const params: RecoverTablesParams = {
      ops: sortRefs(w.recoverTables),
      since_op_id: live.last_op_id,
      by_endpoint: recoverableByEndpoint(facts, live, w, rec),
      concurrency: conc,
      wait_seconds: wait,
    }
    steps.push({
      id: id('recover-tables'),
      kind: STEP_RECOVER_TABLES,
      params: {...params},
      risk: 'safe',
      description: `recovertable ${w.recoverTables.length} follower replica(s) (kRecoverTableOP each)`,
      expect: 'each replica alive, loaded as follower and within the binlog delta of its leader',
    })
  }
  if (work > 0 || live.auto_failover !== rec.auto_failover) {
    const params: ConfsetParams = {key: 'auto_failover', value: rec.auto_failover ? 'true' : 'false'}
    steps.push({
      id: id('auto-failover-restore'),
      kind: STEP_CONFSET,
      params: {...params},
      risk: 'safe',
      always: true,
      description: `confset auto_failover ${params.value} (runs even after a failure or Ctrl-C)`,
      expect: `ConfGet says auto_failover ${params.value}`,
    })
  }
  if (work > 0) {
    const params: VerifyParams = {
      partitions: sortRefs(w.expected),
      offline_endpoints: [...rec.offline_endpoints].sort(compareNatural),
      auto_failover: rec.auto_failover,
      binlog_delta: BINLOG_DELTA,
    }
    steps.push({
      id: id('verify'),
      kind: STEP_VERIFY,
      params: {...params},
      risk: 'read',
      description: `check ${w.expected.length} partition(s): one alive leader as planned, followers alive, kTableNormal, roles and offsets in line`,
      expect: 'no differences',
    })
  }

  w.changes.push({
    address: 'conf:auto_failover',
    noun: 'setting',
    action: live.auto_failover === rec.auto_failover ? 'no-op' : 'update',
    before: live.auto_failover,
    after: rec.auto_failover,
    reason:
      work > 0
        ? 'turned off while the operations run (the nameserver requires it), then set to recovery.auto_failover'
        : 'recovery.auto_failover',
  })

  if (work === 0 && f.every((x) => x.severity !== 'error')) {
    f.push({
      code: 'OPENMLDB_NOTHING_TO_RECOVER',
      severity: 'info',
      message: `all ${healthyCount} partition(s) are healthy (every replica alive, loaded on its tablet, roles matching)`,
    })
  }

  const tabletsUp = live.tablets.filter((t) => facts.available(t.endpoint)).length
  return {
    vocabulary: VOCABULARY,
    observed: {
      fingerprint: observedFingerprint(live),
      summary: {
        nameserver: live.nameserver,
        tablets: live.tablets.length,
        'tablets answering': tabletsUp,
        tables: live.tables.length,
        partitions: partitionCount,
        healthy: healthyCount,
        unhealthy: unhealthyCount,
        auto_failover: String(live.auto_failover),
      },
    },
    changes: w.changes.sort((a, b) => compareNatural(a.address, b.address)),
    primaries: w.primaries.sort((a, b) => compareNatural(a.partition, b.partition)),
    steps,
    findings: f.sort(compareFindings),
  }
}

/** The live state in canonical order: tablets by endpoint, tables by db and name, partitions by pid, ops by id (replicas keep the nameserver's order, which the upstream rule reads). */
function sortedLive(live: OpenMLDBLiveState): OpenMLDBLiveState {
  return {
    ...live,
    tablets: [...live.tablets]
      .sort((a, b) => compareNatural(a.endpoint, b.endpoint))
      .map((t) => ({...t, tables: [...t.tables].sort((a, b) => a.tid - b.tid || a.pid - b.pid)})),
    tables: [...live.tables]
      .sort((a, b) => compareCodeUnits(a.db, b.db) || compareCodeUnits(a.name, b.name))
      .map((t) => ({...t, partitions: [...t.partitions].sort((a, b) => a.pid - b.pid)})),
    running_ops: [...live.running_ops].sort(
      (a, b) => a.op_id.length - b.op_id.length || compareCodeUnits(a.op_id, b.op_id),
    ),
  }
}

/**
 * Endpoints where one RecoverEndpoint creates exactly this plan's RecoverTable ops: after the plan's
 * alive flags, every replica on the endpoint is either one of the step's targets, or alive in a
 * partition of more than one replica (which RecoverEndpointDBInternal skips).
 */
function recoverableByEndpoint(
  facts: Facts,
  live: OpenMLDBLiveState,
  w: Work,
  rec: OpenMLDBRecoverySettings,
): string[] {
  const key = (db: string, name: string, pid: number, ep: string): string => `${db}\u0000${name}\u0000${pid}\u0000${ep}`
  const targets = new Set(w.recoverTables.map((o) => key(o.db, o.name, o.pid, o.endpoint)))
  const flags = new Map(w.alive.map((u) => [key(u.db, u.name, u.pid, u.endpoint), u.is_alive]))
  const candidates = new Set(w.recoverTables.map((o) => o.endpoint))
  for (const ep of candidates)
    if (!facts.available(ep) || rec.offline_endpoints.includes(ep) || rec.recover_endpoints.includes(ep))
      candidates.delete(ep)
  for (const t of live.tables) {
    for (const p of t.partitions) {
      for (const r of p.replicas) {
        if (!candidates.has(r.endpoint)) continue
        const k = key(t.db, t.name, p.pid, r.endpoint)
        if (targets.has(k)) continue
        const alive = flags.get(k) ?? r.is_alive
        if (!alive || p.replicas.length === 1) candidates.delete(r.endpoint)
      }
    }
  }
  // A ChangeLeader marks the old alive leader not alive: its endpoint would get an op the plan does not list.
  for (const c of w.changeLeaders) {
    const t = live.tables.find((x) => x.db === c.db && x.name === c.name)
    const old = t?.partitions
      .find((x) => x.pid === c.pid)
      ?.replicas.find((r) => r.is_leader && r.is_alive && (flags.get(key(c.db, c.name, c.pid, r.endpoint)) ?? true))
    if (old && !targets.has(key(c.db, c.name, c.pid, old.endpoint))) candidates.delete(old.endpoint)
  }
  return [...candidates].sort(compareNatural)
}

/** `N partition leader(s)`, and the followers loaded before their RecoverTable when there are any. */
function loadCounts(w: Work): string {
  const k = (x: {db: string; name: string; pid: number; endpoint: string}): string =>
    `${x.db}\u0000${x.name}\u0000${x.pid}\u0000${x.endpoint}`
  const targets = new Set(w.recoverTables.map(k))
  const followers = w.loads.filter((l) => targets.has(k(l))).length
  const leaders = w.loads.length - followers
  const f = `${followers} follower(s) to recover`
  return followers === 0
    ? `${leaders} partition leader(s)`
    : leaders === 0
      ? f
      : `${leaders} partition leader(s) and ${f}`
}

function holdsReplicas(live: OpenMLDBLiveState, ep: string): boolean {
  return live.tables.some((tb) => tb.partitions.some((p) => p.replicas.some((r) => r.endpoint === ep)))
}

/**
 * A kHealthy tablet whose GetTableStatus failed. One that timed out may be merely slow: the first
 * hint raises the deadline; skip_bad_nodes comes after it, as the way to go on without the tablet.
 */
function unreachableFinding(t: TabletFacts, rec: OpenMLDBRecoverySettings, holds: boolean): Finding {
  const why = t.timed_out
    ? `did not answer GetTableStatus within ${rec.rpc_timeout_seconds} s (recovery.rpc_timeout_seconds): it is slow or hung`
    : `GetTableStatus failed: ${t.error ?? 'no answer'}`
  const hints: string[] = []
  if (t.timed_out)
    hints.push(
      `If ${t.endpoint} is only slow (a large tablet listing many partitions), raise recovery.rpc_timeout_seconds and plan again.`,
    )
  if (!rec.skip_bad_nodes) {
    if (holds)
      hints.push(
        'Bring the tablet back (or stop it, so the nameserver sees it kOffline), or set recovery.skip_bad_nodes: true to recover without its replicas.',
      )
    else hints.push('Set recovery.skip_bad_nodes: true to go on without it.')
  }
  return {
    code: t.timed_out ? 'OPENMLDB_TABLET_TIMEOUT' : 'OPENMLDB_TABLET_UNREACHABLE',
    severity: rec.skip_bad_nodes ? 'warning' : 'error',
    subject: t.endpoint,
    message: `tablet ${t.endpoint} is kHealthy in ShowTablet but ${why}${rec.skip_bad_nodes ? '; skip_bad_nodes: its replicas are treated as down and left alone' : ''}`,
    ...(hints.length > 0 ? {hint: hints.join(' ')} : {}),
  }
}

function opSummary(predicted: PredictedOp[]): string {
  const counts = new Map<string, number>()
  for (const p of predicted) counts.set(p.op_type, (counts.get(p.op_type) ?? 0) + 1)
  if (counts.size === 0) return 'no op expected'
  return [...counts.entries()]
    .sort((a, b) => compareCodeUnits(a[0], b[0]))
    .map(([t, c]) => `${c} ${t}`)
    .join(', ')
}

function sortRefs<T extends {db: string; name: string; pid: number; endpoint?: string}>(xs: T[]): T[] {
  return [...xs].sort(
    (a, b) =>
      compareCodeUnits(a.db, b.db) ||
      compareCodeUnits(a.name, b.name) ||
      a.pid - b.pid ||
      compareNatural(a.endpoint ?? '', b.endpoint ?? ''),
  )
}

/**
 * The decision-relevant live state: leaders, alive flags, tablets' health and what they have
 * loaded in which role and state. Offsets are left out here (they move on a cluster taking
 * writes); those of the partitions a plan touches stand in its leader candidates, so a moved
 * offset still makes a saved plan stale.
 */
export function observedFingerprint(live: OpenMLDBLiveState): string {
  return sha256Hex(
    canonicalJson({
      auto_failover: live.auto_failover,
      tablets: live.tablets.map((t) => ({
        endpoint: t.endpoint,
        state: t.state,
        reachable: t.reachable,
        tables: t.tables.map((s) => `${s.tid}_${s.pid} ${s.mode} ${s.state}`),
      })),
      tables: live.tables.map((t) => ({
        db: t.db,
        name: t.name,
        tid: t.tid,
        partitions: t.partitions.map((p) => ({
          pid: p.pid,
          replicas: p.replicas.map((r) => `${r.endpoint} ${r.is_leader} ${r.is_alive}`),
        })),
      })),
      running_ops: live.running_ops.map((o) => o.op_id),
    }),
  )
}

function lossText(
  facts: Facts,
  table: TableFacts,
  p: PartitionMetaFacts,
  chosen: ReplicaMeta,
): {lossy: boolean; text?: string} {
  const off = facts.offset(table, p.pid, chosen)
  let best: ReplicaMeta | undefined
  let bestOff = off
  for (const r of p.replicas) {
    if (r.endpoint === chosen.endpoint) continue
    const o = facts.offset(table, p.pid, r)
    if (o > bestOff) {
      best = r
      bestOff = o
    }
  }
  if (best === undefined) return {lossy: false}
  return {
    lossy: true,
    text: `offsets ${off + 1n}..${bestOff} (${bestOff - off}) known on ${best.endpoint}${facts.available(best.endpoint) ? '' : ' (its tablet cannot load it)'} are not on ${chosen.endpoint}`,
  }
}

/** Data recovery of one unhealthy partition: the recoverdata procedure with the largest-offset leader. */
function planDataRecovery(
  facts: Facts,
  w: Work,
  table: TableFacts,
  p: PartitionMetaFacts,
  key: string,
  override: string | undefined,
  rec: OpenMLDBRecoverySettings,
): void {
  const usable = p.replicas.filter((r) => facts.available(r.endpoint))
  const down = p.replicas.filter((r) => !facts.available(r.endpoint))
  const upstream = upstreamLeader(p)
  const aliveLeader = p.replicas.find((r) => r.is_leader && r.is_alive)
  const tname = `${table.db}.${table.name}`

  if (usable.length === 0) {
    const maxNs = p.replicas.reduce((m, r) => maxBig(m, big(r.offset)), 0n)
    const where = p.replicas.map((r) => `${r.endpoint} (${facts.tabletWord(table, p.pid, r)})`).join(', ')
    w.primaries.push({
      partition: key,
      table: tname,
      before: aliveLeader?.endpoint ?? null,
      after: null,
      risk: 'lossy',
      candidates: candidatesOf(facts, table, p, null, upstream?.endpoint, () => []),
      reason: `no replica is on a tablet that can load it: ${where}`,
      atStake: `every row of the partition (offset ${maxNs} in the nameserver)`,
    })
    if (rec.skip_lost_partitions) {
      w.findings.push({
        code: 'OPENMLDB_PARTITION_LOST',
        severity: 'warning',
        subject: key,
        message: `table ${tname} pid ${p.pid}: no replica is on a tablet that can load it (${where}); skip_lost_partitions: left without a leader`,
      })
      w.lost.push({db: table.db, name: table.name, pid: p.pid, offset: maxNs.toString()})
    } else {
      w.findings.push({
        code: 'OPENMLDB_PARTITION_LOST',
        severity: 'error',
        subject: key,
        message: `table ${tname} pid ${p.pid}: no replica is on a tablet that can load it (${where})`,
        hint: "Bring back a tablet that holds the partition's data and plan again, or set recovery.skip_lost_partitions: true to recover the rest and leave this partition without a leader.",
      })
    }
    return
  }

  let chosen: ReplicaMeta | undefined
  let reason: string
  if (override !== undefined && override !== 'auto') {
    chosen = usable.find((r) => r.endpoint === override)
    if (chosen === undefined) {
      w.findings.push({
        code: 'OPENMLDB_LEADER_OVERRIDE_UNAVAILABLE',
        severity: 'error',
        subject: key,
        message: `recovery.leaders["${key}"] names ${override}, whose tablet cannot load the partition (${facts.tabletWord(
          table,
          p.pid,
          p.replicas.find((r) => r.endpoint === override)!,
        )})`,
        hint: 'Pick a replica on a kHealthy tablet that answers, or auto.',
      })
      return
    }
    reason = `recovery.leaders names ${override}`
  } else {
    chosen = largestOffset(facts, table, p.pid, usable)!
    const off = facts.offset(table, p.pid, chosen)
    const ties = usable.filter((r) => facts.offset(table, p.pid, r) === off).length
    reason =
      `the largest offset (${off}) among the replicas on tablets that can load it` +
      (ties > 1
        ? `; ${ties} replicas tie, ${chosen.is_leader && chosen.is_alive ? "the nameserver's alive leader" : 'the first by endpoint'} wins`
        : '')
  }
  const chosenOff = facts.offset(table, p.pid, chosen)
  const loss = lossText(facts, table, p, chosen)

  // Where openmldb_ops.py would go wrong.
  if (upstream === undefined) {
    w.findings.push({
      code: 'OPENMLDB_UPSTREAM_NO_LEADER',
      severity: 'info',
      subject: key,
      message: `openmldb_ops.py recoverdata fails on table ${tname} pid ${p.pid} with "cannot find leader replica" (no replica flagged is_leader); lifeboat picks ${chosen.endpoint}`,
    })
  } else if (upstream.endpoint !== chosen.endpoint) {
    const upOff = facts.offset(table, p.pid, upstream)
    const lost = chosenOff > upOff ? chosenOff - upOff : 0n
    w.findings.push({
      code: 'OPENMLDB_UPSTREAM_LEADER_DIFFERS',
      severity: 'warning',
      subject: key,
      message:
        `openmldb_ops.py recoverdata would pick ${upstream.endpoint} (the last replica flagged is_leader, offset ${upOff})${facts.available(upstream.endpoint) ? '' : ', whose tablet cannot load it'}; lifeboat picks ${chosen.endpoint} (offset ${chosenOff})` +
        (lost > 0n ? `: the upstream choice would lose ${lost} offset(s)` : ''),
    })
  }

  const needsLoad = facts.statusOf(chosen.endpoint, table.tid, p.pid) === undefined
  const isNsLeader = chosen.is_leader
  // The chosen replica serves from now on; every other usable replica is re-added to it when the
  // leader was (re)loaded or changed, or when it is unhealthy itself.
  const leaderReset =
    needsLoad ||
    !chosen.is_alive ||
    !isNsLeader ||
    (aliveLeader !== undefined && aliveLeader.endpoint !== chosen.endpoint)
  if (needsLoad)
    w.loads.push({
      db: table.db,
      name: table.name,
      pid: p.pid,
      endpoint: chosen.endpoint,
      tid: table.tid,
      storage_mode: table.storage_mode,
      mode: isNsLeader ? 'kTableLeader' : 'kTableFollower',
      role: 'leader',
      offset: chosenOff.toString(),
      leader_offset: chosenOff.toString(),
    })
  if (!chosen.is_alive)
    w.alive.push({db: table.db, name: table.name, pid: p.pid, endpoint: chosen.endpoint, is_alive: true})
  const followers: string[] = []
  for (const r of usable) {
    if (r.endpoint === chosen.endpoint) continue
    followers.push(r.endpoint)
    const s = facts.statusOf(r.endpoint, table.tid, p.pid)
    const unhealthy = !r.is_alive || s === undefined || s.mode !== 'kTableFollower' || r.is_leader
    if (!leaderReset && !unhealthy) continue
    // Before a ChangeLeader every other replica must be out of the follower list (SelectLeader asks each one);
    // otherwise each replica is marked dead just before its own RecoverTable.
    if (r.is_alive && !isNsLeader)
      w.alive.push({db: table.db, name: table.name, pid: p.pid, endpoint: r.endpoint, is_alive: false})
    // A follower its tablet does not hold is loaded from its own disk first, beside the leaders: the
    // RecoverTable op then finds the table and re-adds it (kReAddReplicaSimplifyOP, 3 tasks) instead
    // of loading it inside the nameserver's op queue (kReAddReplicaNoSendOP, 6 tasks, one at a time
    // per queue). A replica whose binlog does not match the leader's terms is dropped and re-sent
    // by the op either way (kReAddReplicaWithDropOP).
    if (s === undefined)
      w.loads.push({
        db: table.db,
        name: table.name,
        pid: p.pid,
        endpoint: r.endpoint,
        tid: table.tid,
        storage_mode: table.storage_mode,
        mode: 'kTableFollower',
        role: 'follower',
        offset: facts.offset(table, p.pid, r).toString(),
        leader_offset: chosenOff.toString(),
      })
    w.recoverTables.push({
      db: table.db,
      name: table.name,
      pid: p.pid,
      endpoint: r.endpoint,
      then: s === undefined ? CHILD_WITH_TABLE : childOp(facts, table, p, r.endpoint),
      mark_dead: r.is_alive && isNsLeader,
    })
  }
  for (const r of down) {
    // A replica nobody can load stays out; the nameserver must not count it as serving.
    if (r.is_alive) w.alive.push({db: table.db, name: table.name, pid: p.pid, endpoint: r.endpoint, is_alive: false})
    w.findings.push({
      code: 'OPENMLDB_REPLICA_DOWN',
      severity: 'warning',
      subject: key,
      message: `table ${tname} pid ${p.pid}: the replica on ${r.endpoint} (${facts.tabletWord(table, p.pid, r)}) is left out and marked not alive`,
      hint: `When ${r.endpoint} is back, recover it with recovery.recover_endpoints: [${r.endpoint}].`,
    })
  }
  if (!isNsLeader) {
    // Only ChangeLeader makes the nameserver flag a follower leader; it needs the candidate alive and every other follower out.
    w.changeLeaders.push({db: table.db, name: table.name, pid: p.pid, candidate: chosen.endpoint})
  }
  // Lagging followers that stay followers (not re-added): the nameserver catches them up, but say so.
  const steps = [
    needsLoad ? 'LoadTable' : undefined,
    !chosen.is_alive ? 'alive yes' : undefined,
    !isNsLeader ? 'ChangeLeader' : undefined,
  ].filter((x) => x !== undefined)
  // A leader to put in place; a partition whose leader serves already only has followers to recover.
  if (steps.length > 0) {
    w.primaries.push({
      partition: key,
      table: tname,
      before: aliveLeader?.endpoint ?? null,
      after: chosen.endpoint,
      risk: loss.lossy ? 'lossy' : 'disruptive',
      candidates: candidatesOf(facts, table, p, chosen.endpoint, upstream?.endpoint, (r) =>
        facts.available(r.endpoint) ? [] : ['cannot load'],
      ),
      reason: `${reason} (${steps.join(', ')})`,
      ...(loss.text ? {atStake: loss.text} : {}),
    })
  }
  leaderChange(w, key, aliveLeader?.endpoint ?? null, chosen.endpoint, 'data recovery (recoverdata)')
  w.expected.push({
    db: table.db,
    name: table.name,
    pid: p.pid,
    tid: table.tid,
    leader: chosen.endpoint,
    leader_offset: chosenOff.toString(),
    followers: followers.sort(compareNatural),
  })
  w.findings.push({
    code: 'OPENMLDB_PARTITION_UNHEALTHY',
    severity: 'info',
    subject: key,
    message: unhealthyWhy(facts, table, p),
  })
}

/** Why OpenMLDB's check calls the partition unhealthy, in its terms. */
function unhealthyWhy(facts: Facts, table: TableFacts, p: PartitionMetaFacts): string {
  const why: string[] = []
  for (const r of p.replicas) {
    const s = facts.statusOf(r.endpoint, table.tid, p.pid)
    if (!r.is_alive) why.push(`${r.endpoint} is_alive=no`)
    if (s === undefined) why.push(`${table.tid}_${p.pid} not in gettablestatus of ${r.endpoint}`)
    else if (r.is_leader !== (s.mode === 'kTableLeader'))
      why.push(`${r.endpoint} is ${r.is_leader ? 'leader' : 'follower'} in the nameserver but ${s.mode} on the tablet`)
  }
  for (const r of aheadOfLeader(facts, table, p))
    why.push(
      `${r.endpoint} holds offset ${facts.statusOf(r.endpoint, table.tid, p.pid)?.offset}, more than the alive leader`,
    )
  return `table ${table.db}.${table.name} pid ${p.pid} is unhealthy: ${why.join('; ')}`
}

/** A leader override on a partition data recovery does not touch: a plain ChangeLeader. */
function planOverride(facts: Facts, w: Work, table: TableFacts, p: PartitionMetaFacts, key: string, ep: string): void {
  const tname = `${table.db}.${table.name}`
  const aliveLeader = p.replicas.find((r) => r.is_leader && r.is_alive)
  if (aliveLeader?.endpoint === ep) {
    w.findings.push({
      code: 'OPENMLDB_LEADER_ALREADY',
      severity: 'info',
      subject: key,
      message: `${ep} already leads table ${tname} pid ${p.pid}; nothing to change`,
    })
    return
  }
  const r = p.replicas.find((x) => x.endpoint === ep)!
  const s = facts.statusOf(ep, table.tid, p.pid)
  if (!r.is_alive || r.is_leader || !facts.available(ep) || s === undefined) {
    w.findings.push({
      code: 'OPENMLDB_LEADER_OVERRIDE_NOT_FOLLOWER',
      severity: 'error',
      subject: key,
      message: `changeleader ${tname} ${p.pid} ${ep}: the candidate must be an alive follower on a healthy tablet (${r.is_alive ? '' : 'is_alive=no, '}${r.is_leader ? 'flagged leader, ' : ''}${facts.tabletWord(table, p.pid, r)})`,
      hint: 'Name an alive follower, or recover the replica first (recovery.recover_endpoints).',
    })
    return
  }
  if (p.replicas.length === 1) {
    w.findings.push({
      code: 'OPENMLDB_NO_FOLLOWER',
      severity: 'error',
      subject: key,
      message: `changeleader ${tname} ${p.pid}: no follower`,
    })
    return
  }
  const loss = aliveLeader ? lossText(facts, table, p, r) : {lossy: false}
  w.changeLeaders.push({db: table.db, name: table.name, pid: p.pid, candidate: ep})
  // ChangeLeader leaves the old leader flagged leader but not alive; RecoverTable turns it into a follower again.
  const old = aliveLeader !== undefined && facts.available(aliveLeader.endpoint) ? aliveLeader : undefined
  if (old)
    w.recoverTables.push({
      db: table.db,
      name: table.name,
      pid: p.pid,
      endpoint: old.endpoint,
      then: childOp(facts, table, p, old.endpoint),
      mark_dead: false,
    })
  w.primaries.push({
    partition: key,
    table: tname,
    before: aliveLeader?.endpoint ?? null,
    after: ep,
    risk: loss.lossy ? 'lossy' : 'disruptive',
    candidates: candidatesOf(facts, table, p, ep, undefined, () => []),
    reason: `recovery.leaders names ${ep} (ChangeLeader${old ? `, then RecoverTable of the old leader ${old.endpoint} as a follower` : ''})`,
    ...(loss.text ? {atStake: loss.text} : {}),
  })
  const stays = (x: ReplicaMeta): boolean =>
    x.endpoint === ep || x.endpoint === old?.endpoint || (x.is_alive && x.endpoint !== aliveLeader?.endpoint)
  leaderChange(w, key, aliveLeader?.endpoint ?? null, ep, 'changeleader')
  w.expected.push({
    db: table.db,
    name: table.name,
    pid: p.pid,
    tid: table.tid,
    leader: ep,
    leader_offset: facts.offset(table, p.pid, r).toString(),
    followers: p.replicas
      .filter((x) => x.endpoint !== ep && stays(x))
      .map((x) => x.endpoint)
      .sort(compareNatural),
  })
}

/**
 * A partition with a replica on an endpoint to take out or to recover: what OfflineEndpoint
 * (OfflineEndpointDBInternal) and RecoverEndpoint (RecoverEndpointDBInternal) will create for it.
 * A partition led from an endpoint taken out first gets an explicit ChangeLeader to the follower
 * with the largest offset: the nameserver's own choice breaks ties at random.
 */
function planEndpointPartition(
  facts: Facts,
  w: Work,
  table: TableFacts,
  p: PartitionMetaFacts,
  key: string,
  offlineHere: ReplicaMeta[],
  recoverHere: ReplicaMeta[],
  override: string | undefined,
  rec: OpenMLDBRecoverySettings,
): void {
  const tname = `${table.db}.${table.name}`
  const ref = {db: table.db, name: table.name, pid: p.pid}
  const aliveLeader = p.replicas.find((r) => r.is_leader && r.is_alive)
  let leader = aliveLeader?.endpoint
  const after = new Map(
    p.replicas.map((r) => [r.endpoint, {endpoint: r.endpoint, is_leader: r.is_leader, is_alive: r.is_alive}]),
  )

  for (const r of offlineHere) {
    const ep = r.endpoint
    const list = w.offline.get(ep)!
    if (p.replicas.length === 1) {
      list.push({...ref, endpoint: ep, op_type: 'kUpdatePartitionStatusOP'})
      after.set(ep, {endpoint: ep, is_leader: true, is_alive: false})
      leader = undefined
      w.findings.push({
        code: 'OPENMLDB_ONLY_REPLICA_OFFLINE',
        severity: 'warning',
        subject: key,
        message: `table ${tname} pid ${p.pid} has no followers: taking ${ep} out leaves it without a serving replica`,
      })
      continue
    }
    if (r.is_leader || leader === undefined) {
      if (leader === undefined || leader === ep) {
        // The nameserver would create kChangeLeaderOP with no candidate; lifeboat names the candidate first.
        const followers = p.replicas.filter(
          (x) =>
            x.is_alive && !x.is_leader && x.endpoint !== ep && !offlineHere.includes(x) && facts.available(x.endpoint),
        )
        const pick =
          override !== undefined && override !== 'auto'
            ? followers.find((x) => x.endpoint === override)
            : largestOffset(facts, table, p.pid, followers)
        if (pick === undefined) {
          w.findings.push({
            code: 'OPENMLDB_NO_ALIVE_FOLLOWER',
            severity: 'error',
            subject: key,
            message: `offlineendpoint ${ep}: table ${tname} pid ${p.pid} loses its leader and has no alive follower on a healthy tablet${override !== undefined && override !== 'auto' ? ` (recovery.leaders names ${override})` : ''}`,
            hint: 'Recover a follower first (recovery.recover_endpoints), or accept the partition going dark by recovering it later.',
          })
          continue
        }
        w.changeLeaders.push({...ref, candidate: pick.endpoint})
        const loss = lossText(facts, table, p, pick)
        const pickOff = facts.offset(table, p.pid, pick)
        w.primaries.push({
          partition: key,
          table: tname,
          before: aliveLeader?.endpoint ?? null,
          after: pick.endpoint,
          risk: loss.lossy ? 'lossy' : 'disruptive',
          candidates: candidatesOf(facts, table, p, pick.endpoint, undefined, (x) =>
            offlineHere.includes(x) ? ['taken out'] : [],
          ),
          reason:
            override !== undefined && override !== 'auto'
              ? `recovery.leaders names ${pick.endpoint}`
              : `the alive follower with the largest offset (${pickOff}); the nameserver's own SelectLeader would break ties at random`,
          ...(loss.text ? {atStake: loss.text} : {}),
        })
        if (leader !== undefined) after.set(leader, {endpoint: leader, is_leader: true, is_alive: false})
        after.set(pick.endpoint, {endpoint: pick.endpoint, is_leader: true, is_alive: true})
        leader = pick.endpoint
        if (!r.is_leader) {
          // With an alive leader again, OfflineEndpoint sees a follower on ep.
          list.push({...ref, endpoint: ep, op_type: 'kOfflineReplicaOP'})
          after.set(ep, {endpoint: ep, is_leader: false, is_alive: false})
        }
      }
      // Else: another alive leader serves; OfflineEndpoint leaves this replica alone.
      continue
    }
    list.push({...ref, endpoint: ep, op_type: 'kOfflineReplicaOP'})
    after.set(ep, {endpoint: ep, is_leader: false, is_alive: false})
  }

  for (const r of recoverHere) {
    const ep = r.endpoint
    const list = w.recover.get(ep)!
    list.push({...ref, endpoint: ep, op_type: 'kRecoverTableOP', then: childOp(facts, table, p, ep)})
    after.set(ep, {endpoint: ep, is_leader: p.replicas.length === 1, is_alive: true})
  }

  if (leader === undefined && !rec.skip_lost_partitions && offlineHere.length === 0) {
    w.findings.push({
      code: 'OPENMLDB_NO_ALIVE_LEADER',
      severity: 'warning',
      subject: key,
      message: `table ${tname} pid ${p.pid} has no alive leader; recoverendpoint does not give it one`,
      hint: 'Leave the partition to data recovery (recovery.tables) instead.',
    })
  }
  const replicas = [...after.values()]
  leaderChange(
    w,
    key,
    aliveLeader?.endpoint ?? null,
    leader ?? null,
    [offlineHere.length > 0 ? 'offlineendpoint' : '', recoverHere.length > 0 ? 'recoverendpoint' : '']
      .filter((x) => x)
      .join(', '),
  )
  if (leader !== undefined) {
    w.expected.push({
      ...ref,
      tid: table.tid,
      leader,
      followers: replicas
        .filter(
          (x) =>
            x.endpoint !== leader &&
            x.is_alive &&
            !offlineHere.some((o) => o.endpoint === x.endpoint) &&
            facts.available(x.endpoint),
        )
        .map((x) => x.endpoint)
        .sort(compareNatural),
    })
  }
}

/** The ids of the risk classes of a plan's steps, for tests and summaries. */
export function stepRisks(body: PlanBody): RiskClass[] {
  return body.steps.map((s) => s.risk)
}
