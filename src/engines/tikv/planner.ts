/**
 * The TiKVUnsafeRecovery planner: PD's unsafe recovery controller (reference tikv.md section 7)
 * applied ahead of time to PD's view of the cluster, so the operator sees what
 * `remove-failed-stores` will do before PD does it. Pure: no I/O, no clock; the same inputs give a
 * byte-identical body, every list sorted.
 *
 * What PD's region view cannot tell: the controller picks force leaders from the stores' peer
 * reports (raft term, last and applied index, commit), which only the stores send. The planner
 * stands in for them with what PD shows, and says so in each choice:
 * - a peer in the region's `pending_peers` is behind the others (its log lags);
 * - otherwise the surviving peers are taken as equal in term and index, so PD's final tie-breaks
 *   decide: a TiKV store over TiFlash, a voter over a learner or demoting voter;
 * - among peers still tied, PD takes whichever report it met first, so the plan names every tied
 *   store and verify accepts any of them.
 * Apply's verify reads PD's own stage actions afterwards and checks each of these assumptions.
 */
import {createHash} from 'node:crypto'

import {compareFindings, sortByNatural} from '../../plan/order.js'
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
import {compareId, compareStart, describeKey, metaOrTable, tablesInRange} from './keys.js'
import {
  STEP_FOLLOW,
  STEP_REMOVE,
  STEP_VERIFY,
  type FollowParams,
  type PeerFacts,
  type PredictedDemote,
  type PredictedEmptyRegion,
  type PredictedForceLeader,
  type RegionFacts,
  type RemoveParams,
  type StoreFacts,
  type TiKVLiveState,
  type TiKVSpec,
  type VerifyParams,
} from './types.js'

/** PD versions where a body field first works (reference section 6). */
export const PD_MIN_STORES_BODY = [6, 1, 0] as const
export const PD_MIN_AUTO_DETECT = [6, 3, 0] as const
export const PD_MIN_PLAN_EXECUTION_TIMEOUT = [8, 5, 7] as const

/** Seconds the follow step waits beyond the recovery's own timeout (PD's exit-force-leader grace is 2 x 60 s). */
const FOLLOW_MARGIN_SECONDS = 150

/** `v8.5.0`, `8.5.7-20260101`, `v9.0.0-beta.1` as [major, minor, patch]; undefined when unreadable. */
export function parseVersion(v: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim())
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined
}

function atLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (v[i] !== min[i]) return v[i] > min[i]
  return true
}

/** The decision-relevant live state: stores, regions (not their sizes), PD's version and recovery state. */
export function observedFingerprint(live: TiKVLiveState): string {
  const h = createHash('sha256')
  // Lines are hashed in chunks: one hash update per region costs more than the planning itself.
  let chunk = `version ${live.pd.version}\nrecovery ${live.recovery.state}\n`
  for (const s of live.stores)
    chunk += `store ${s.id} ${s.state_name} ${s.engine} ${s.tiflash_compute} ${s.physically_destroyed}\n`
  for (const r of live.regions) {
    chunk += `region ${r.id} ${r.start_key} ${r.end_key} ${r.epoch.conf_ver} ${r.epoch.version}`
    for (const p of r.peers) chunk += ` ${p.id}:${p.store_id}:${p.role}:${p.pending ? 'p' : ''}`
    chunk += '\n'
    if (chunk.length > 65536) {
      h.update(chunk)
      chunk = ''
    }
  }
  h.update(chunk)
  return h.digest('hex')
}

/** How PD will treat one store during the recovery. */
interface StoreView {
  facts?: StoreFacts
  /** Its peers count as failed (canElectLeader, demotions). */
  failed: boolean
  /** PD waits for its report (`storeReports` has a slot for it). */
  reporter: boolean
  tiflash: boolean
}

/** One region's fate. */
interface RegionFate {
  region: RegionFacts
  survivors: PeerFacts[]
  forceLeader?: {peer: PeerFacts; tied: string[]; why: string}
  tiflashTombstones: PeerFacts[]
  demoted: PeerFacts[]
  lost: boolean
}

const rank = (
  p: PeerFacts,
  view: (s: string) => StoreView,
  leader: string | null,
): [number, number, number, number] => [
  p.pending ? 1 : 0,
  view(p.store_id).tiflash ? 1 : 0,
  p.role === 'Learner' || p.role === 'DemotingVoter' ? 1 : 0,
  // A surviving leader has the highest term and every entry it committed: its log is the longest.
  p.store_id === leader ? 0 : 1,
]

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/** PD's selectLeader on what PD's view shows: see the module comment for the assumptions. */
function selectLeader(
  peers: PeerFacts[],
  view: (s: string) => StoreView,
  leader: string | null,
): {peer: PeerFacts; tied: string[]; why: string} {
  const sorted = [...peers].sort(
    (a, b) => compareRank(rank(a, view, leader), rank(b, view, leader)) || compareId(a.store_id, b.store_id),
  )
  const best = sorted[0]
  const r = rank(best, view, leader)
  const tied = sorted
    .slice(1)
    .filter((p) => compareRank(rank(p, view, leader), r) === 0)
    .map((p) => p.store_id)
  const reasons: string[] = []
  if (peers.length === 1) reasons.push('the only peer left on a live store')
  else {
    const behind = peers.filter((p) => p.pending).map((p) => p.store_id)
    if (behind.length > 0 && !best.pending)
      reasons.push(`store ${behind.join(', ')} is a pending peer (its log is behind), so not chosen`)
    if (!view(best.store_id).tiflash && peers.some((p) => view(p.store_id).tiflash))
      reasons.push(
        'a TiKV peer is preferred over TiFlash (were the TiFlash log ahead, PD would tombstone that learner first)',
      )
    if (r[2] === 0 && peers.some((p) => p.role === 'Learner' || p.role === 'DemotingVoter'))
      reasons.push('a voter is preferred over a learner')
    if (
      r[3] === 0 &&
      peers.some((p) => p !== best && compareRank(rank(p, view, leader).slice(0, 3), r.slice(0, 3)) === 0)
    ) {
      reasons.push('PD last saw it lead the region, so its log holds the highest term and every committed entry')
    }
    if (tied.length > 0)
      reasons.push(`ties with store ${tied.join(', ')} on everything PD shows; PD takes the report it meets first`)
  }
  if (best.pending) reasons.push('every surviving peer lags; this one is assumed the furthest ahead')
  return {peer: best, tied, why: reasons.join('; ')}
}

/** PD's canElectLeader: joint-consensus aware (incoming and outgoing voter sets), counted without allocating. */
function canElectLeader(region: RegionFacts, failed: (p: PeerFacts) => boolean, onlyIncoming: boolean): boolean {
  let inDead = 0
  let inLive = 0
  let outDead = 0
  let outLive = 0
  for (const p of region.peers) {
    const dead = failed(p)
    if (p.role === 'Voter' || p.role === 'IncomingVoter') {
      if (dead) inDead++
      else inLive++
    }
    if (p.role === 'Voter' || p.role === 'DemotingVoter') {
      if (dead) outDead++
      else outLive++
    }
  }
  return inDead < inLive && (onlyIncoming || outDead < outLive)
}

const rangeOf = (start: string, end: string): string => `[${describeKey(start)}, ${describeKey(end, true)})`

/** The plan's words: force leaders per region, stores, peers and regions. */
export const TIKV_VOCABULARY: Vocabulary = {
  nouns: {
    store: {one: 'store', many: 'stores'},
    peer: {one: 'peer', many: 'peers'},
    region: {one: 'region', many: 'regions'},
  },
  leadership: {
    heading: 'Regions to recover',
    item: {one: 'region', many: 'regions'},
    role: {one: 'force leader', many: 'force leaders'},
    candidateFacts: [
      {name: 'role', label: 'role'},
      {name: 'engine', label: 'engine'},
      {name: 'store_state', label: 'store'},
      {name: 'pending', label: 'pending'},
    ],
    changeFacts: [
      {name: 'range', label: 'range'},
      {name: 'demoted', label: 'demoted'},
    ],
  },
}

/** Plans `remove-failed-stores` from PD's view. */
export function planUnsafeRecovery(spec: TiKVSpec, input: TiKVLiveState, _opts: PlanOptions): PlanBody {
  const live = normaliseLive(input)
  const findings: Finding[] = []
  const changes: Change[] = []
  const primaries: PrimaryChange[] = []
  const auto = spec.recovery.auto_detect
  const listed = new Set(spec.recovery.failed_stores)
  const storesById = new Map(live.stores.map((s) => [s.id, s]))

  // ---- PD itself: version, a recovery already running.
  const version = parseVersion(live.pd.version)
  const sendPlanExecutionTimeout =
    spec.recovery.plan_execution_timeout_seconds !== undefined &&
    version !== undefined &&
    atLeast(version, PD_MIN_PLAN_EXECUTION_TIMEOUT)
  if (version === undefined) {
    findings.push({
      code: 'TIKV_PD_VERSION_UNKNOWN',
      severity: 'error',
      subject: 'pd',
      message: `PD reports version "${live.pd.version}", which lifeboat cannot read`,
      hint: 'Check that cluster.pd names PD client endpoints; `pd-ctl --version` shows what runs.',
    })
  } else if (!atLeast(version, PD_MIN_STORES_BODY)) {
    findings.push({
      code: 'TIKV_PD_TOO_OLD',
      severity: 'error',
      subject: 'pd',
      message: `PD ${live.pd.version} is older than 6.1: it does not take {"stores": [...], "timeout": N}`,
      hint: 'Run pd-ctl unsafe remove-failed-stores of that version by hand, or upgrade PD to 6.1 or later.',
    })
  } else if (auto && !atLeast(version, PD_MIN_AUTO_DETECT)) {
    findings.push({
      code: 'TIKV_PD_TOO_OLD',
      severity: 'error',
      subject: 'pd',
      message: `PD ${live.pd.version} is older than 6.3: it has no auto-detect mode`,
      hint: 'List the failed stores in failed_stores instead of auto_detect: true, or upgrade PD.',
    })
  }
  if (
    spec.recovery.plan_execution_timeout_seconds !== undefined &&
    version !== undefined &&
    !sendPlanExecutionTimeout
  ) {
    findings.push({
      code: 'TIKV_PLAN_EXECUTION_TIMEOUT_NOT_SENT',
      severity: 'info',
      subject: 'pd',
      message: `PD ${live.pd.version} does not accept plan-execution-timeout (8.5.7+); it is not sent and PD keeps its fixed 40 s per stage plan`,
    })
  }
  if (live.recovery.state === 'running') {
    findings.push({
      code: 'TIKV_RECOVERY_RUNNING',
      severity: 'error',
      subject: 'pd',
      message: `[PD:unsaferecovery:ErrUnsafeRecoveryIsRunning]unsafe recovery is running (${live.recovery.info})`,
      hint: 'Follow it with `pd-ctl unsafe remove-failed-stores show`; plan again once it has Finished or Failed.',
    })
  } else if (live.recovery.state !== 'idle') {
    findings.push({
      code: 'TIKV_PREVIOUS_RECOVERY',
      severity: 'info',
      subject: 'pd',
      message: `PD still shows the previous recovery: ${live.recovery.info}`,
    })
  }
  if (live.schedule.halt_scheduling) {
    findings.push({
      code: 'TIKV_SCHEDULING_HALTED',
      severity: 'info',
      subject: 'pd',
      message: 'halt-scheduling is set by hand; PD also halts scheduling by itself while the recovery runs',
    })
  }

  // ---- Stores: which PD buries, which count as failed, which it waits for.
  for (const id of spec.recovery.failed_stores) {
    const s = storesById.get(id)
    if (s === undefined) {
      findings.push({
        code: 'TIKV_STORE_UNKNOWN',
        severity: 'error',
        subject: `store ${id}`,
        message: `[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store ${id} doesn't exist`,
        hint: 'Check the id against `pd-ctl store`; a Tombstone store whose record was removed no longer exists for PD.',
      })
    } else if (s.state_name === 'Up') {
      findings.push({
        code: 'TIKV_STORE_UP',
        severity: 'error',
        subject: `store ${id}`,
        message: `[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store ${id} is up and connected`,
        hint: `Store ${id} (${s.address}) still heartbeats: remove it from failed_stores, or stop it first (PD sees it Disconnected 20 s after its last heartbeat).`,
      })
    } else if (s.state_name === 'Tombstone') {
      findings.push({
        code: 'TIKV_STORE_ALREADY_TOMBSTONE',
        severity: 'warning',
        subject: `store ${id}`,
        message: `store ${id} is already Tombstone; PD accepts it and starts a new round`,
      })
    } else {
      changes.push({
        address: `store/${id}`,
        noun: 'store',
        action: 'update',
        before: {address: s.address, state_name: s.state_name},
        after: {address: s.address, state_name: 'Tombstone'},
        reason:
          'buried at once by remove-failed-stores (BuryStore, forced); irreversible: the store can never join again',
      })
    }
  }
  const views = new Map<string, StoreView>()
  for (const s of live.stores) {
    const removed = s.state_name === 'Tombstone' || s.physically_destroyed
    const failed = auto ? removed : listed.has(s.id)
    views.set(s.id, {
      facts: s,
      failed,
      reporter: !removed && !listed.has(s.id),
      tiflash: s.engine === 'tiflash' && !s.tiflash_compute,
    })
  }
  const view = (id: string): StoreView =>
    views.get(id) ?? {failed: auto || listed.has(id), reporter: false, tiflash: false}
  const failed = (p: PeerFacts): boolean => view(p.store_id).failed
  for (const s of live.stores) {
    const v = view(s.id)
    if (!v.reporter) continue
    if (s.state_name === 'Down' || s.state_name === 'Disconnected') {
      const severity = s.state_name === 'Down' ? 'error' : 'warning'
      findings.push({
        code: 'TIKV_STORE_WILL_NOT_REPORT',
        severity,
        subject: `store ${s.id}`,
        message: `store ${s.id} (${s.address}) is ${s.state_name} but not ${auto ? 'Tombstone' : 'in failed_stores'}: PD waits for its report and the recovery fails after timeout_seconds if it never comes`,
        hint: auto
          ? 'Bring the store back, or list the failed stores explicitly in failed_stores.'
          : `Add ${s.id} to failed_stores if it is gone, or bring it back before applying.`,
      })
    }
  }
  const tikvReporters = live.stores.filter((s) => view(s.id).reporter && !view(s.id).tiflash).map((s) => s.id)

  // ---- Regions: which cannot elect a leader, and what PD does to each.
  const fates: RegionFate[] = []
  let leaderOnFailed = 0
  for (const region of live.regions) {
    if (!region.peers.some(failed) || canElectLeader(region, failed, false)) {
      if (region.leader_store !== null && view(region.leader_store).failed) leaderOnFailed++
      continue
    }
    const fate: RegionFate = {
      region,
      survivors: region.peers.filter((p) => view(p.store_id).reporter && !view(p.store_id).failed),
      tiflashTombstones: [],
      demoted: [],
      lost: false,
    }
    let candidates = fate.survivors
    while (candidates.length > 0) {
      const choice = selectLeader(candidates, view, region.leader_store)
      if (!view(choice.peer.store_id).tiflash) {
        fate.forceLeader = choice
        break
      }
      // TombstoneTiFlashLearner: a TiFlash learner can never lead; PD destroys it and looks again.
      fate.tiflashTombstones.push(choice.peer)
      candidates = candidates.filter((p) => p !== choice.peer)
    }
    if (!fate.forceLeader) fate.lost = true
    else if (!canElectLeader(region, failed, true)) {
      // DemoteFailedVoter: the failed peers, plus peers whose live store does not report this region.
      const gone = new Set(fate.tiflashTombstones.map((p) => p.id))
      fate.demoted = region.peers.filter((p) => failed(p) || gone.has(p.id) || !view(p.store_id).reporter)
    }
    fates.push(fate)
  }

  // ---- Holes CreateEmptyRegion fills: gaps in the key space once the lost regions are gone.
  const lostIds = new Set(fates.filter((f) => f.lost).map((f) => f.region.id))
  const kept = live.regions.filter((r) => !lostIds.has(r.id))
  const holes: Array<PredictedEmptyRegion & {lost: RegionFacts[]}> = []
  const lostByStart = [...live.regions.filter((r) => lostIds.has(r.id))]
  const storesOf = (r: RegionFacts | undefined): string[] => {
    if (r === undefined) return tikvReporters
    const alive = r.peers.filter((p) => view(p.store_id).reporter && !view(p.store_id).failed)
    const tikv = alive.filter((p) => !view(p.store_id).tiflash).map((p) => p.store_id)
    return (alive.length > tikv.length || tikv.length === 0 ? [...new Set([...tikv, ...tikvReporters])] : tikv).sort(
      compareId,
    )
  }
  // Holes come in key order, and so do the lost regions: one pass hands each hole the regions it covers.
  let nextLost = 0
  const addHole = (start: string, end: string, storeRegion: RegionFacts | undefined): void => {
    while (nextLost < lostByStart.length && compareStart(lostByStart[nextLost].start_key, start) < 0) nextLost++
    const lost: RegionFacts[] = []
    while (nextLost < lostByStart.length && (end === '' || compareStart(lostByStart[nextLost].start_key, end) < 0))
      lost.push(lostByStart[nextLost++])
    holes.push({start_key: start, end_key: end, stores: storesOf(storeRegion), lost})
  }
  let lastEnd = ''
  for (const r of kept) {
    if (r.start_key !== lastEnd) addHole(lastEnd, r.start_key, r)
    lastEnd = r.end_key
  }
  if (lastEnd !== '' || kept.length === 0) addHole(lastEnd, '', kept[kept.length - 1])
  if (holes.length > 0 && tikvReporters.length === 0) {
    findings.push({
      code: 'TIKV_NO_STORE_FOR_EMPTY_REGION',
      severity: 'error',
      subject: 'pd',
      message: "can't find available store(exclude tiflash) to create new region",
      hint: 'At least one live TiKV store is needed to host the empty regions; bring one back first.',
    })
  }

  // ---- What PD's digest will list: affected table ids and meta regions.
  const tableIds = new Set<string>()
  const metaRegions = new Set<string>()
  let newMetaRegions = 0
  const record = (regionId: string | undefined, startKey: string): void => {
    const m = metaOrTable(startKey)
    if (m === undefined) return
    if ('meta' in m) {
      if (regionId === undefined) newMetaRegions++
      else metaRegions.add(regionId)
    } else tableIds.add(m.table)
  }
  for (const f of fates) if (f.forceLeader || f.tiflashTombstones.length > 0) record(f.region.id, f.region.start_key)
  for (const h of holes) record(undefined, h.start_key)

  // ---- Leadership, peer and region changes, findings per region.
  const forceLeaders: PredictedForceLeader[] = []
  const demotes: PredictedDemote[] = []
  const tiflashTombstones: Array<{region: string; store: string}> = []
  const possibleTombstones: Array<{region: string; store: string}> = []
  for (const f of fates) {
    const r = f.region
    const range = rangeOf(r.start_key, r.end_key)
    for (const p of f.tiflashTombstones) {
      tiflashTombstones.push({region: r.id, store: p.store_id})
      changes.push({
        address: `region/${r.id}/peer/${p.id}`,
        noun: 'peer',
        action: 'delete',
        before: {store_id: p.store_id, role: p.role, engine: 'tiflash'},
        after: null,
        reason: 'TombstoneTiFlashLearner: a TiFlash learner cannot become leader, so PD destroys it',
      })
    }
    if (f.forceLeader) {
      const leader = f.forceLeader.peer
      forceLeaders.push({
        region: r.id,
        store: leader.store_id,
        tied_with: f.forceLeader.tied,
        keys_before: r.approximate_keys,
      })
      // A TiFlash learner whose log is ahead of the TiKV peers is chosen first and tombstoned (PD's view cannot tell).
      for (const p of f.survivors)
        if (view(p.store_id).tiflash && !f.tiflashTombstones.includes(p))
          possibleTombstones.push({region: r.id, store: p.store_id})
      // PD sends a demote for every force-led region, with no peer when the incoming voters alone have a quorum.
      const maybe = canElectLeader(r, failed, true)
        ? []
        : f.survivors.filter((p) => view(p.store_id).tiflash && !f.demoted.includes(p)).map((p) => p.store_id)
      demotes.push({
        region: r.id,
        store: leader.store_id,
        peer_stores: f.demoted.map((p) => p.store_id).sort(compareId),
        maybe_peer_stores: maybe.sort(compareId),
      })
      for (const p of f.demoted) {
        if (p.role === 'Learner') continue
        changes.push({
          address: `region/${r.id}/peer/${p.id}`,
          noun: 'peer',
          action: 'update',
          before: {store_id: p.store_id, role: p.role},
          after: {store_id: p.store_id, role: 'Learner'},
          reason: `DemoteFailedVoter: the force leader on store ${leader.store_id} demotes it so that the region has a quorum again`,
        })
      }
      const lagging = f.survivors.length < r.peers.filter((p) => p.role !== 'Learner').length
      const table = metaOrTable(r.start_key)
      primaries.push({
        partition: `region/${r.id}`,
        ...(table && 'table' in table ? {table: `table ${table.table}`} : table ? {table: 'meta'} : {}),
        before: r.leader_store === null ? null : `store ${r.leader_store}`,
        after: `store ${leader.store_id}`,
        candidates: r.peers.map((p) => candidateOf(p, view, leader, f.forceLeader?.tied ?? [])),
        facts: {
          range,
          demoted: f.demoted.length === 0 ? 'none' : f.demoted.map((p) => `store ${p.store_id}`).join(', '),
        },
        risk: 'disruptive',
        reason: `lost quorum (${r.peers.filter(failed).length} of ${r.peers.length} peers on failed stores); force leader: ${f.forceLeader.why}`,
        ...(lagging
          ? {
              atStake:
                'raft entries that only the failed stores had appended: a force leader commits what it has and drops the rest',
            }
          : {}),
      })
    } else {
      const how =
        f.tiflashTombstones.length > 0
          ? 'only a TiFlash learner survives, and PD destroys it'
          : 'no peer survives on a live store'
      const severity = spec.recovery.skip_lost_partitions ? 'warning' : 'error'
      findings.push({
        code: 'TIKV_REGION_LOST',
        severity,
        subject: `region ${r.id}`,
        message: `region ${r.id} ${range} loses every replica (${how}): about ${r.approximate_keys} keys, ${r.approximate_size} MiB${tablesText(r)}; PD recreates the range empty`,
        ...(severity === 'error'
          ? {
              hint: 'Bring back a store that holds it; or, accepting the loss, set recovery.skip_lost_partitions: true and apply with --allow-data-loss.',
            }
          : {}),
      })
      changes.push({
        address: `region/${r.id}`,
        noun: 'region',
        action: 'delete',
        before: {
          start_key: r.start_key,
          end_key: r.end_key,
          range,
          approximate_keys: r.approximate_keys,
          approximate_size_mib: r.approximate_size,
          peers: r.peers.map((p) => `store ${p.store_id}`),
        },
        after: null,
        reason: `every replica is gone (${how}); its data is lost`,
      })
    }
    if (r.peers.some((p) => !failed(p) && !view(p.store_id).reporter && !f.tiflashTombstones.includes(p))) {
      findings.push({
        code: 'TIKV_PEER_ON_SILENT_STORE',
        severity: 'warning',
        subject: `region ${r.id}`,
        message: `region ${r.id} has a peer on a store that is neither failed nor reporting; PD counts it alive for the quorum but demotes it as an orphan`,
      })
    }
  }
  for (const h of holes) {
    const keys = h.lost.reduce((n, r) => n + r.approximate_keys, 0)
    const size = h.lost.reduce((n, r) => n + r.approximate_size, 0)
    changes.push({
      address: `new-region/${h.start_key === '' ? '-inf' : h.start_key}`,
      noun: 'region',
      action: 'create',
      before: null,
      after: {
        start_key: h.start_key,
        end_key: h.end_key,
        range: rangeOf(h.start_key, h.end_key),
        epoch: {conf_ver: 1, version: 1},
        peer_on: h.stores.map((s) => `store ${s}`),
        rows: 'none (empty)',
      },
      reason:
        h.lost.length > 0
          ? `CreateEmptyRegion: fills the range of lost region ${h.lost.map((r) => r.id).join(', ')} (about ${keys} keys, ${size} MiB lost)`
          : 'CreateEmptyRegion: PD knows no region for this range',
    })
  }

  // ---- Steps.
  const lossy = holes.length > 0
  const lostTables = [
    ...new Set(holes.flatMap((h) => h.lost.flatMap((r) => tablesInRange(r.start_key, r.end_key)))),
  ].sort(compareId)
  const lostKeys = holes.reduce((n, h) => n + h.lost.reduce((m, r) => m + r.approximate_keys, 0), 0)
  const removeParams: RemoveParams = {
    stores: auto ? [] : spec.recovery.failed_stores,
    auto_detect: auto,
    timeout_seconds: spec.recovery.timeout_seconds,
  }
  if (sendPlanExecutionTimeout)
    removeParams.plan_execution_timeout_seconds = spec.recovery.plan_execution_timeout_seconds
  const risk: RiskClass = lossy ? 'lossy' : 'disruptive'
  const buried = auto
    ? 'no store is buried (auto-detect)'
    : `stores ${spec.recovery.failed_stores.join(', ')} become Tombstone at once and can never rejoin`
  const riskReason = lossy
    ? `${buried}; ${holes.length} key range(s) are recreated empty, losing about ${lostKeys} keys${lostTables.length > 0 ? ` of table ${lostTables.join(', ')}` : ''}; ${forceLeaders.length} region(s) get a force leader`
    : `${buried}; ${forceLeaders.length} region(s) get a force leader, which commits only what the surviving peers hold`
  const verify: VerifyParams = {
    failed_stores: auto ? [] : spec.recovery.failed_stores,
    auto_detect: auto,
    force_leaders: forceLeaders,
    demotes,
    tiflash_tombstones: tiflashTombstones,
    possible_tiflash_tombstones: possibleTombstones,
    empty_regions: holes.map(({lost: _l, ...h}) => h),
    affected_table_ids: [...tableIds].sort(compareId),
    affected_meta_regions: [...metaRegions].sort(compareId),
    new_meta_regions: newMetaRegions,
  }
  const follow: FollowParams = {deadline_seconds: spec.recovery.timeout_seconds + FOLLOW_MARGIN_SECONDS}
  const body = auto
    ? `{"auto-detect": true, "timeout": ${spec.recovery.timeout_seconds}}`
    : `{"stores": [${spec.recovery.failed_stores.join(', ')}], "timeout": ${spec.recovery.timeout_seconds}${removeParams.plan_execution_timeout_seconds !== undefined ? `, "plan-execution-timeout": ${removeParams.plan_execution_timeout_seconds}` : ''}}`
  const steps: Step[] = [
    {
      id: '01-remove-failed-stores',
      kind: STEP_REMOVE,
      params: {...removeParams},
      risk,
      riskReason,
      description: `POST /pd/api/v1/admin/unsafe/remove-failed-stores ${body}`,
      expect: `PD answers "Request has been accepted."${auto ? '' : ` and lists stores ${spec.recovery.failed_stores.join(', ')} as Tombstone`}`,
    },
    {
      id: '02-follow-recovery',
      kind: STEP_FOLLOW,
      params: {...follow},
      risk: 'read',
      description: 'follow remove-failed-stores/show, printing each stage as PD enters it',
      expect: 'PD reaches "Unsafe recovery Finished" within the timeout',
    },
    {
      id: '03-verify',
      kind: STEP_VERIFY,
      params: {...verify},
      risk: 'read',
      description: "compare PD's stage actions and affected-table digest with this plan; every region has a leader",
      expect: `force leaders on ${forceLeaders.length} region(s), ${holes.length} new empty region(s), affected table ids {${verify.affected_table_ids.join(', ')}}`,
    },
  ]

  findings.push({
    code: 'TIKV_ASSUMED_FROM_PD_VIEW',
    severity: 'info',
    subject: 'pd',
    message:
      "force leaders are predicted from PD's region view (pending peers, TiKV over TiFlash, voters over learners); PD decides from the stores' raft reports, and verify checks every prediction against PD's stage actions",
  })
  if (leaderOnFailed > 0) {
    findings.push({
      code: 'TIKV_LEADERS_MOVE',
      severity: 'info',
      subject: 'pd',
      message: `${leaderOnFailed} region(s) keep a quorum but had their leader on a failed store; raft elects a new one by itself`,
    })
  }

  return {
    vocabulary: TIKV_VOCABULARY,
    observed: {
      fingerprint: observedFingerprint(live),
      summary: {
        'pd version': live.pd.version,
        stores: live.stores.length,
        'failed stores': auto
          ? live.stores.filter((s) => view(s.id).failed).length
          : spec.recovery.failed_stores.length,
        regions: live.regions.length,
        'regions without quorum': fates.length,
        'regions lost': lostIds.size,
        'empty regions to create': holes.length,
      },
    },
    changes: sortByNatural(changes, (c) => c.address),
    primaries: sortByNatural(primaries, (p) => p.partition),
    steps,
    findings: findings.sort(compareFindings),
  }
}

const sorted = <T>(items: readonly T[], cmp: (a: T, b: T) => number): boolean =>
  items.every((x, i) => i === 0 || cmp(items[i - 1], x) <= 0)
const byStore = (a: PeerFacts, b: PeerFacts): number => compareId(a.store_id, b.store_id) || compareId(a.id, b.id)
const byStart = (a: RegionFacts, b: RegionFacts): number =>
  compareStart(a.start_key, b.start_key) || compareId(a.id, b.id)

/** The live state in the planner's order (stores by id, regions by start key, peers by store); copies only what is out of order. */
function normaliseLive(live: TiKVLiveState): TiKVLiveState {
  const stores = sorted(live.stores, (a, b) => compareId(a.id, b.id))
    ? live.stores
    : [...live.stores].sort((a, b) => compareId(a.id, b.id))
  let regions = live.regions.map((r) => (sorted(r.peers, byStore) ? r : {...r, peers: [...r.peers].sort(byStore)}))
  if (!sorted(regions, byStart)) regions = regions.sort(byStart)
  return {...live, stores, regions}
}

function tablesText(r: RegionFacts): string {
  const t = tablesInRange(r.start_key, r.end_key)
  return t.length === 0 ? '' : ` of table ${t.join(', ')}`
}

function candidateOf(p: PeerFacts, view: (s: string) => StoreView, leader: PeerFacts, tied: string[]): Candidate {
  const v = view(p.store_id)
  const marks: string[] = []
  if (p === leader) marks.push('force leader')
  else if (tied.includes(p.store_id)) marks.push('tied')
  if (v.failed) marks.push('failed')
  return {
    node: `store ${p.store_id}`,
    facts: {
      role: p.role,
      engine: v.tiflash ? 'tiflash' : 'tikv',
      store_state: v.facts?.state_name ?? 'unknown',
      pending: p.pending,
    },
    ...(marks.length > 0 ? {marks} : {}),
  }
}
