/**
 * PD's Online Unsafe Recovery controller (`pkg/unsaferecovery`), rewritten from its documented
 * behaviour: driven only by store heartbeats, stage by stage, with the same plans, stage outputs,
 * errors, deadlines and plan re-dispatch. In memory only: a PD restart loses it.
 */
import {compareKeys, metaOrTable} from './keys.js'
import {
  epochStale,
  type Peer,
  peerText,
  type PeerReport,
  type RecoveryPlan,
  type Region,
  regionHexMeta,
  Role,
  type StoreHeartbeat,
  type StoreHeartbeatResponse,
  type StoreReport,
} from './model.js'
import {showTime} from './json.js'

export const Stage = {
  Idle: 0,
  CollectReport: 1,
  TombstoneTiFlashLearner: 2,
  ForceLeaderForCommitMerge: 3,
  ForceLeader: 4,
  DemoteFailedVoter: 5,
  CreateEmptyRegion: 6,
  ExitForceLeader: 7,
  Finished: 8,
  Failed: 9,
} as const
export type StageValue = (typeof Stage)[keyof typeof Stage]
export const STAGE_NAMES = Object.keys(Stage) as (keyof typeof Stage)[]

export const DEFAULT_PLAN_EXECUTION_TIMEOUT_MS = 60_000

/** What the controller needs from PD's cluster. */
export interface RecoveryCluster {
  /** The store, or undefined when PD has no record of it. */
  getStore(id: number):
    | {
        id: number
        removed: boolean
        physicallyDestroyed: boolean
        serving: boolean
        disconnected: boolean
        tiflash: boolean
      }
    | undefined
  storeIds(): number[]
  allocId(): number
  buryStore(id: number): void
  /** Called when the running state flips (scheduling halt). */
  setHalted(halted: boolean): void
  now(): number
  /** Drops PD's region cache (on Finished, when any step did work). */
  resetRegionCache(): void
}

/** `StageOutput`. */
export interface StageOutput {
  info?: string
  time?: string
  actions?: Record<string, string[]>
  details?: string[]
}

/** An `ErrUnsafeRecovery*` error as PD's API returns it (500, JSON string). */
export class RecoveryInputError extends Error {}

export const ERR_RUNNING = '[PD:unsaferecovery:ErrUnsafeRecoveryIsRunning]unsafe recovery is running'
export function errInvalidInput(what: string): string {
  return `[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input ${what}`
}

interface Item {
  report: PeerReport
  storeId: number
}

function region(i: Item): Region {
  return i.report.region_state.region
}

function isRunning(s: StageValue): boolean {
  return s !== Stage.Idle && s !== Stage.Finished && s !== Stage.Failed
}

const sortNum = (a: number, b: number): number => a - b
const idList = (ids: Iterable<number>): string => [...ids].sort(sortNum).join(', ')

export interface RemoveOptions {
  planExecutionTimeoutMs?: number
  disableParanoidCheck?: boolean
}

export class RecoveryController {
  private stage: StageValue = Stage.Idle
  private step = 0
  private failedStores = new Set<number>()
  private deadline = 0
  private autoDetect = false
  private planExecutionTimeoutMs = DEFAULT_PLAN_EXECUTION_TIMEOUT_MS
  private disableParanoidCheck = false
  private storeReports = new Map<number, StoreReport | null>()
  private numReported = 0
  private planExpires = new Map<number, number>()
  private plans = new Map<number, RecoveryPlan>()
  private orphaned = new Map<number, Peer[]>()
  private output: StageOutput[] = []
  private affectedTables = new Set<number>()
  private affectedMeta = new Set<number>()
  private created = new Set<number>()
  private err: string | undefined
  /** Stage names in the order entered, for tests and `lab status`. */
  readonly history: string[] = []

  constructor(private readonly cluster: RecoveryCluster) {}

  private reset(): void {
    this.stage = Stage.Idle
    this.step = 0
    this.failedStores = new Set()
    this.storeReports = new Map()
    this.numReported = 0
    this.planExpires = new Map()
    this.plans = new Map()
    this.output = []
    this.affectedTables = new Set()
    this.affectedMeta = new Set()
    this.created = new Set()
    this.orphaned = new Map()
    this.err = undefined
    this.planExecutionTimeoutMs = DEFAULT_PLAN_EXECUTION_TIMEOUT_MS
    this.disableParanoidCheck = false
    this.history.length = 0
  }

  isRunning(): boolean {
    return isRunning(this.stage)
  }

  stageName(): string {
    return STAGE_NAMES[this.stage]
  }

  /** `RemoveFailedStoresWithOptions`; throws RecoveryInputError with PD's message. */
  removeFailedStores(failed: number[], timeoutSeconds: number, autoDetect: boolean, opts: RemoveOptions = {}): void {
    if (isRunning(this.stage)) throw new RecoveryInputError(ERR_RUNNING)
    const failedSet = new Set(failed)
    if (!autoDetect) {
      if (failedSet.size === 0) throw new RecoveryInputError(errInvalidInput('no store specified'))
      for (const id of failedSet) {
        const s = this.cluster.getStore(id)
        if (!s) throw new RecoveryInputError(errInvalidInput(`store ${id} doesn't exist`))
        if (s.serving && !s.disconnected)
          throw new RecoveryInputError(errInvalidInput(`store ${id} is up and connected`))
      }
      for (const id of failedSet) this.cluster.buryStore(id)
    }
    this.reset()
    for (const id of this.cluster.storeIds()) {
      const s = this.cluster.getStore(id)
      if (!s || s.removed || s.physicallyDestroyed || failedSet.has(id)) continue
      this.storeReports.set(id, null)
    }
    this.deadline = this.cluster.now() + timeoutSeconds * 1000
    this.failedStores = failedSet
    this.autoDetect = autoDetect
    if (opts.planExecutionTimeoutMs && opts.planExecutionTimeoutMs > 0)
      this.planExecutionTimeoutMs = opts.planExecutionTimeoutMs
    this.disableParanoidCheck = opts.disableParanoidCheck ?? false
    this.changeStage(Stage.CollectReport)
  }

  /** master's abort: the operator's error, handled like any other. */
  abort(): void {
    if (!isRunning(this.stage)) throw new RecoveryInputError(errInvalidInput('no ongoing unsafe recovery'))
    if (this.stage === Stage.ExitForceLeader) return
    this.handleErr('aborted by operator')
  }

  /** `Show()`. */
  show(): StageOutput[] {
    if (this.stage === Stage.Idle) return [{info: 'No on-going recovery.'}]
    const err = this.checkTimeout()
    if (err) this.handleErr(err)
    const status = [...this.output]
    if (this.stage !== Stage.Finished && this.stage !== Stage.Failed) status.push(this.reportStatus())
    return status
  }

  private reportStatus(): StageOutput {
    const out: StageOutput = {time: showTime(this.cluster.now())}
    if (this.numReported !== this.storeReports.size) {
      out.info = `Collecting reports from alive stores(${this.numReported}/${this.storeReports.size})`
      const reported: number[] = []
      const unreported: number[] = []
      const undispatched: number[] = []
      for (const [id, r] of this.storeReports) {
        if (r) reported.push(id)
        else if (this.planExpires.has(id)) unreported.push(id)
        else undispatched.push(id)
      }
      out.details = [
        `Stores that have not dispatched plan: ${idList(undispatched)}`,
        `Stores that have reported to PD: ${idList(reported)}`,
        `Stores that have not reported to PD: ${idList(unreported)}`,
      ]
    } else {
      out.info = `Collected reports from all ${this.storeReports.size} alive stores`
    }
    return out
  }

  private checkTimeout(): string | undefined {
    if (this.stage === Stage.Finished || this.stage === Stage.Failed) return undefined
    // Go's %v of a time.Time (PD's local time; the lab runs in UTC).
    if (this.cluster.now() > this.deadline) return `Exceeds timeout ${showTime(this.deadline)} +0000 UTC`
    return undefined
  }

  /** Returns true when the recovery moved to Failed. */
  private handleErr(err: string): boolean {
    if (this.err === undefined) this.err = err
    if (this.stage === Stage.ExitForceLeader) {
      this.changeStage(Stage.Failed)
      return true
    }
    this.planExpires = new Map()
    this.plans = new Map()
    this.deadline = this.cluster.now() + this.planExecutionTimeoutMs * 2
    this.changeStage(Stage.ExitForceLeader)
    return false
  }

  /** `HandleStoreHeartbeat`: may put a recovery plan into `resp`. */
  handleStoreHeartbeat(hb: StoreHeartbeat, resp: StoreHeartbeatResponse): void {
    if (!isRunning(this.stage)) return
    let done = false
    let err: string | undefined
    try {
      err = this.checkTimeout()
      if (!err) {
        const all = this.collectReport(hb)
        if (all) {
          const {tree, peers} = this.buildUpFromReports()
          ;[done, err] = this.generatePlan(tree, peers)
        }
      }
    } catch (e) {
      err = e instanceof Error ? e.message : String(e)
    }
    if (done || (err !== undefined && this.handleErr(err))) return
    this.dispatchPlan(hb.store_id, resp)
  }

  private dispatchPlan(storeId: number, resp: StoreHeartbeatResponse): void {
    const now = this.cluster.now()
    const reported = this.storeReports.get(storeId)
    if (reported || reported === undefined) return
    const expire = this.planExpires.get(storeId)
    if (expire === undefined || expire < now) {
      const plan = this.getPlan(storeId)
      plan.step = this.step
      resp.recovery_plan = structuredClonePlan(plan)
      this.planExpires.set(storeId, now + this.planExecutionTimeoutMs)
    }
  }

  private collectReport(hb: StoreHeartbeat): boolean {
    if (this.failedStores.has(hb.store_id)) throw new Error(`Receive heartbeat from Failed store ${hb.store_id}`)
    const report = hb.store_report
    if (!report || report.step !== this.step) return false
    if (this.storeReports.has(hb.store_id)) {
      const prev = this.storeReports.get(hb.store_id)
      this.storeReports.set(hb.store_id, report)
      if (!prev) {
        this.numReported++
        if (this.numReported === this.storeReports.size) return true
      }
    }
    return false
  }

  private changeStage(stage: StageValue): void {
    if (isRunning(stage) !== isRunning(this.stage)) this.cluster.setHalted(isRunning(stage))
    this.stage = stage
    this.history.push(STAGE_NAMES[stage])
    const out: StageOutput = {time: showTime(this.cluster.now())}
    switch (stage) {
      case Stage.CollectReport:
        out.info = 'Unsafe recovery enters collect report stage'
        out.details = [
          this.autoDetect
            ? 'auto detect mode with no specified Failed stores'
            : `Failed stores ${idList(this.failedStores)}`,
        ]
        if (this.disableParanoidCheck) out.details.push('paranoid check disabled')
        if (this.planExecutionTimeoutMs !== DEFAULT_PLAN_EXECUTION_TIMEOUT_MS)
          out.details.push(`plan execution timeout ${goDur(this.planExecutionTimeoutMs)}`)
        break
      case Stage.TombstoneTiFlashLearner:
        out.info = 'Unsafe recovery enters tombstone TiFlash learner stage'
        out.actions = this.digest((p) =>
          p.tombstones.length === 0 ? undefined : p.tombstones.map((r) => `tombstone the peer of region ${r}`),
        )
        break
      case Stage.ForceLeaderForCommitMerge:
      case Stage.ForceLeader:
        out.info =
          stage === Stage.ForceLeader
            ? 'Unsafe recovery enters force leader stage'
            : 'Unsafe recovery enters force leader for commit merge stage'
        out.actions = this.digest((p) =>
          p.force_leader ? [`force leader on regions: ${p.force_leader.enter_force_leaders.join(', ')}`] : undefined,
        )
        break
      case Stage.DemoteFailedVoter:
        out.info = 'Unsafe recovery enters demote Failed voter stage'
        out.actions = this.digest((p) =>
          p.demotes.length === 0 && p.tombstones.length === 0
            ? undefined
            : [
                ...p.demotes.map(
                  (d) =>
                    `region ${d.region_id} demotes peers ${d.failed_voters.map((v) => `{ ${peerText(v)}}`).join(', ')}`,
                ),
                ...p.tombstones.map((r) => `tombstone the peer of region ${r}`),
              ],
        )
        break
      case Stage.CreateEmptyRegion:
        out.info = 'Unsafe recovery enters create empty region stage'
        out.actions = this.digest((p) =>
          p.creates.length === 0
            ? undefined
            : p.creates.map(
                (r) => `create region ${r.id}: ${regionHexMeta(r).replaceAll('<', '{ ').replaceAll('>', '}')}`,
              ),
        )
        break
      case Stage.ExitForceLeader:
        out.info = 'Unsafe recovery enters exit force leader stage'
        if (this.err !== undefined) out.details = [`triggered by error: ${this.err}`]
        break
      case Stage.Finished:
        if (this.step > 1) this.cluster.resetRegionCache()
        out.info = 'Unsafe recovery Finished'
        out.details = this.affectedDigest()
        this.planExpires = new Map()
        this.plans = new Map()
        break
      case Stage.Failed:
        out.info = `Unsafe recovery Failed: ${this.err ?? ''}`
        out.details = this.affectedDigest()
        if (this.numReported !== this.storeReports.size) out.details.push(...(this.reportStatus().details ?? []))
        this.planExpires = new Map()
        this.plans = new Map()
        break
    }
    this.output.push(out)
    for (const k of this.storeReports.keys()) this.storeReports.set(k, null)
    this.orphaned = new Map()
    this.numReported = 0
    this.step += 1
  }

  private digest(lines: (p: RecoveryPlan) => string[] | undefined): Record<string, string[]> | undefined {
    const out: Record<string, string[]> = {}
    for (const id of [...this.plans.keys()].sort(sortNum)) {
      const l = lines(this.plans.get(id) as RecoveryPlan)
      if (l) out[`store ${id}`] = l
    }
    return Object.keys(out).length > 0 ? out : undefined
  }

  private affectedDigest(): string[] {
    const details: string[] = []
    if (this.affectedMeta.size > 0) details.push(`affected meta regions: ${idList(this.affectedMeta)}`)
    if (this.affectedTables.size > 0) details.push(`affected table ids: ${idList(this.affectedTables)}`)
    details.push(
      this.created.size > 0 ? `newly created empty regions: ${idList(this.created)}` : 'no newly created empty regions',
    )
    return details
  }

  private recordAffected(r: Region): void {
    const {meta, tableId} = metaOrTable(r.start_key)
    if (meta) this.affectedMeta.add(r.id)
    else if (tableId !== 0) this.affectedTables.add(tableId)
  }

  private isFailed(p: Peer): boolean {
    return this.failedStores.has(p.store_id) || (this.autoDetect && !this.storeReports.has(p.store_id))
  }

  /** Both halves of a joint configuration need more live than failed voters (counted without allocating: it runs per region per stage). */
  private canElectLeader(r: Region, onlyIncoming: boolean): boolean {
    let inFailed = 0
    let inLive = 0
    let outFailed = 0
    let outLive = 0
    for (const p of r.peers) {
      const incoming = p.role === Role.Voter || p.role === Role.IncomingVoter
      const outgoing = p.role === Role.Voter || p.role === Role.DemotingVoter
      if (!incoming && !outgoing) continue
      const failed = this.isFailed(p)
      if (incoming) {
        if (failed) inFailed++
        else inLive++
      }
      if (outgoing) {
        if (failed) outFailed++
        else outLive++
      }
    }
    return inFailed < inLive && (onlyIncoming || outFailed < outLive)
  }

  private failedPeers(r: Region): Peer[] {
    if (this.canElectLeader(r, true)) return []
    const orphans = this.orphaned.get(r.id) ?? []
    return r.peers.filter((p) => this.isFailed(p) || orphans.some((o) => o.id === p.id || o.store_id === p.store_id))
  }

  private getPlan(storeId: number): RecoveryPlan {
    let p = this.plans.get(storeId)
    if (!p) {
      p = {creates: [], tombstones: [], demotes: [], step: 0}
      this.plans.set(storeId, p)
    }
    return p
  }

  /** The newest region tree (sorted by start key) and every report per region id. */
  private buildUpFromReports(): {tree: Item[]; peers: Map<number, Item[]>} {
    const peers = new Map<number, Item[]>()
    for (const storeId of [...this.storeReports.keys()].sort(sortNum)) {
      const report = this.storeReports.get(storeId) as StoreReport
      for (const pr of report.peer_reports) {
        const id = pr.region_state.region.id
        const list = peers.get(id)
        if (list) list.push({report: pr, storeId})
        else peers.set(id, [{report: pr, storeId}])
      }
    }
    const newest: Item[] = []
    for (const [id, list] of peers) {
      let latest: Item | undefined
      for (const p of list) if (!latest || epochStale(region(latest).epoch, region(p).epoch)) latest = p
      if (!latest || region(latest).peers.length === 0) continue
      newest.push(latest)
      for (const peer of region(latest).peers) {
        if (this.isFailed(peer)) continue
        if (list.some((p) => p.storeId === peer.store_id)) continue
        const o = this.orphaned.get(id)
        if (o) o.push(peer)
        else this.orphaned.set(id, [peer])
      }
    }
    // Insert in descending epoch order; an overlap with an already inserted (newer) region drops the
    // older one, and an overlap with a staler one is an error. Overlaps only occur between items whose
    // ranges intersect, so resolve each connected group of intersecting ranges on its own.
    const byKey = [...newest].sort(
      (a, b) => compareKeys(region(a).start_key, region(b).start_key) || region(a).id - region(b).id,
    )
    const tree: Item[] = []
    let group: Item[] = []
    let groupEnd: Buffer | undefined
    const flush = (): void => {
      if (group.length === 1) tree.push(group[0])
      else if (group.length > 1)
        tree.push(...resolveGroup(group).sort((a, b) => compareKeys(region(a).start_key, region(b).start_key)))
      group = []
    }
    for (const it of byKey) {
      const r = region(it)
      if (
        group.length > 0 &&
        groupEnd !== undefined &&
        (groupEnd.length === 0 || Buffer.compare(r.start_key, groupEnd) < 0)
      ) {
        group.push(it)
        if (groupEnd.length !== 0 && (r.end_key.length === 0 || Buffer.compare(r.end_key, groupEnd) > 0))
          groupEnd = r.end_key
      } else {
        flush()
        group = [it]
        groupEnd = r.end_key
      }
    }
    flush()
    return {tree, peers}
  }

  private selectLeader(peers: Map<number, Item[]>, r: Region): Item | undefined {
    let leader: Item | undefined
    for (const p of peers.get(r.id) ?? []) if (!leader || this.isRaftStale(leader, p)) leader = p
    return leader
  }

  /** Whether `a` is a worse force-leader candidate than `b`. */
  private isRaftStale(a: Item, b: Item): boolean {
    const ra = a.report
    const rb = b.report
    const cmps: (() => number)[] = [
      () => ra.raft_state.hard_state.term - rb.raft_state.hard_state.term,
      () => Math.max(ra.raft_state.last_index, ra.applied_index) - Math.max(rb.raft_state.last_index, rb.applied_index),
      () => ra.raft_state.last_index - rb.raft_state.last_index,
      () => ra.raft_state.hard_state.commit - rb.raft_state.hard_state.commit,
      () => {
        if (this.cluster.getStore(a.storeId)?.tiflash) return -1
        if (this.cluster.getStore(b.storeId)?.tiflash) return 1
        const self = region(a).peers.find((p) => p.store_id === a.storeId)
        if (self && (self.role === Role.DemotingVoter || self.role === Role.Learner)) return -1
        return 0
      },
    ]
    for (const c of cmps) {
      const v = c()
      if (v !== 0) return v < 0
    }
    return false
  }

  private generatePlan(tree: Item[], peers: Map<number, Item[]>): [boolean, string | undefined] {
    this.planExpires = new Map()
    this.plans = new Map()
    let stage: StageValue = this.stage
    let reCheck = false
    let hasPlan = false
    let err: string | undefined
    // The stages are tried in order from the current one until one of them yields a plan.
    for (;;) {
      if (stage <= Stage.TombstoneTiFlashLearner) {
        ;[hasPlan, err] = this.tombstoneTiFlashPlan(tree, peers)
        if (hasPlan && !err) {
          this.changeStage(Stage.TombstoneTiFlashLearner)
          break
        }
        if (err) break
        stage = Stage.ForceLeaderForCommitMerge
      }
      if (stage === Stage.ForceLeaderForCommitMerge) {
        ;[hasPlan, err] = this.forceLeaderPlan(tree, peers, true)
        if (hasPlan && !err) {
          this.changeStage(Stage.ForceLeaderForCommitMerge)
          break
        }
        if (err) break
        stage = Stage.ForceLeader
      }
      if (stage === Stage.ForceLeader) {
        ;[hasPlan, err] = this.forceLeaderPlan(tree, peers, false)
        if (hasPlan && !err) {
          this.changeStage(Stage.ForceLeader)
          break
        }
        if (err) break
        stage = Stage.DemoteFailedVoter
      }
      if (stage === Stage.DemoteFailedVoter) {
        hasPlan = this.demotePlan(tree, peers)
        if (hasPlan) {
          this.changeStage(Stage.DemoteFailedVoter)
          break
        }
        if (!reCheck) {
          reCheck = true
          stage = Stage.TombstoneTiFlashLearner
          continue
        }
        stage = Stage.CreateEmptyRegion
      }
      if (stage === Stage.CreateEmptyRegion) {
        ;[hasPlan, err] = this.createEmptyRegionPlan(tree, peers)
        if (hasPlan && !err) {
          this.changeStage(Stage.CreateEmptyRegion)
          break
        }
        if (err) break
        stage = Stage.ExitForceLeader
      }
      if (stage === Stage.ExitForceLeader) {
        hasPlan = this.exitForceLeaderPlan()
        if (hasPlan) this.changeStage(Stage.ExitForceLeader)
      }
      break
    }
    if (err === undefined && !hasPlan) {
      this.changeStage(this.err === undefined ? Stage.Finished : Stage.Failed)
      return [true, undefined]
    }
    return [false, err]
  }

  private tombstoneTiFlashPlan(tree: Item[], peers: Map<number, Item[]>): [boolean, string | undefined] {
    if (this.err !== undefined) return [false, undefined]
    let hasPlan = false
    for (const it of tree) {
      const r = region(it)
      if (this.canElectLeader(r, false)) continue
      const leader = this.selectLeader(peers, r)
      if (!leader) return [hasPlan, `can't select leader for region ${r.id}: ${regionHexMeta(r)}`]
      if (this.cluster.getStore(leader.storeId)?.tiflash) {
        this.getPlan(leader.storeId).tombstones.push(r.id)
        this.recordAffected(r)
        hasPlan = true
      }
    }
    return [hasPlan, undefined]
  }

  private forceLeaderPlan(
    tree: Item[],
    peers: Map<number, Item[]>,
    forCommitMerge: boolean,
  ): [boolean, string | undefined] {
    if (this.err !== undefined) return [false, undefined]
    let hasPlan = false
    let err: string | undefined
    for (const it of tree) {
      const r = region(it)
      if (this.canElectLeader(r, false)) continue
      if ((peers.get(r.id) ?? []).some((p) => p.report.is_force_leader)) continue
      if (forCommitMerge && !it.report.has_commit_merge) continue
      if (!forCommitMerge && it.report.has_commit_merge) {
        err = `unexpected commit merge state for report region_state:<region:<${regionHexMeta(r)}> > has_commit_merge:true`
        break
      }
      const leader = this.selectLeader(peers, r)
      if (!leader) {
        err = `can't select leader for region ${r.id}: ${regionHexMeta(r)}`
        break
      }
      const plan = this.getPlan(leader.storeId)
      if (!plan.force_leader)
        plan.force_leader = {failed_stores: [...this.failedStores].sort(sortNum), enter_force_leaders: []}
      if (this.autoDetect) {
        for (const p of this.failedPeers(region(leader)))
          if (!plan.force_leader.failed_stores.includes(p.store_id)) plan.force_leader.failed_stores.push(p.store_id)
      }
      plan.force_leader.enter_force_leaders.push(r.id)
      this.recordAffected(region(leader))
      hasPlan = true
    }
    if (hasPlan) {
      for (const id of this.storeReports.keys()) {
        const plan = this.getPlan(id)
        if (!plan.force_leader) plan.force_leader = {failed_stores: [], enter_force_leaders: []}
      }
    }
    return [hasPlan, err]
  }

  private demotePlan(tree: Item[], peers: Map<number, Item[]>): boolean {
    if (this.err !== undefined) return false
    let hasPlan = false
    const inTree = new Set<number>()
    for (const it of tree) {
      const r = region(it)
      inTree.add(r.id)
      if (this.canElectLeader(r, false)) continue
      const leader = (peers.get(r.id) ?? []).find((p) => p.report.is_force_leader)
      if (!leader) continue
      this.getPlan(leader.storeId).demotes.push({region_id: r.id, failed_voters: this.failedPeers(region(leader))})
      this.recordAffected(region(leader))
      hasPlan = true
    }
    for (const storeId of [...this.storeReports.keys()].sort(sortNum)) {
      for (const pr of (this.storeReports.get(storeId) as StoreReport).peer_reports) {
        const r = pr.region_state.region
        if (inTree.has(r.id) || this.canElectLeader(r, false)) continue
        this.getPlan(storeId).tombstones.push(r.id)
        this.recordAffected(r)
        hasPlan = true
      }
    }
    return hasPlan
  }

  private createEmptyRegionPlan(tree: Item[], peers: Map<number, Item[]>): [boolean, string | undefined] {
    if (this.err !== undefined) return [false, undefined]
    const anyTiKV = (): number => {
      for (const id of [...this.storeReports.keys()].sort(sortNum)) if (!this.cluster.getStore(id)?.tiflash) return id
      return 0
    }
    const creates: {storeId: number; region: Region}[] = []
    const add = (start: Buffer, end: Buffer, storeId: number): string | undefined => {
      const s = this.cluster.getStore(storeId)
      if (storeId === 0 || !s || s.tiflash) {
        storeId = anyTiKV()
        if (storeId === 0) return "can't find available store(exclude tiflash) to create new region"
      }
      const id = this.cluster.allocId()
      const peerId = this.cluster.allocId()
      creates.push({
        storeId,
        region: {
          id,
          start_key: start,
          end_key: end,
          epoch: {conf_ver: 1, version: 1},
          peers: [{id: peerId, store_id: storeId, role: Role.Voter}],
        },
      })
      return undefined
    }
    let lastEnd: Buffer = Buffer.alloc(0)
    let lastStore = 0
    for (const it of tree) {
      const r = region(it)
      if (!r.start_key.equals(lastEnd)) {
        const e = add(lastEnd, r.start_key, it.storeId)
        if (e) return [false, e]
      }
      lastEnd = r.end_key
      lastStore = it.storeId
    }
    if (lastEnd.length !== 0 || tree.length === 0) {
      const e = add(lastEnd, Buffer.alloc(0), lastStore)
      if (e) return [false, e]
    }
    if (!this.disableParanoidCheck) {
      // The new regions are in key order and disjoint: a binary search finds the one a peer could overlap.
      const empty = creates.map((c) => c.region)
      for (const list of peers.values()) {
        for (const p of list) {
          const r = region(p)
          if (r.peers.length === 0) continue
          let lo = 0
          let hi = empty.length
          while (lo < hi) {
            const mid = (lo + hi) >> 1
            const end = empty[mid].end_key
            if (end.length === 0 || Buffer.compare(end, r.start_key) > 0) hi = mid
            else lo = mid + 1
          }
          const hit = empty[lo]
          if (hit && (r.end_key.length === 0 || Buffer.compare(hit.start_key, r.end_key) < 0)) {
            return [
              false,
              `Find overlap peer ${regionHexMeta(r)} with newly created empty region ${regionHexMeta(hit)}`,
            ]
          }
        }
      }
    }
    for (const c of creates) {
      this.getPlan(c.storeId).creates.push(c.region)
      this.recordAffected(c.region)
      this.created.add(c.region.id)
    }
    return [creates.length > 0, undefined]
  }

  private exitForceLeaderPlan(): boolean {
    let hasPlan = false
    for (const [id, report] of this.storeReports) {
      if (report?.peer_reports.some((p) => p.is_force_leader)) {
        this.getPlan(id)
        hasPlan = true
      }
    }
    return hasPlan
  }

  /** For `lab status`. */
  summary(): {stage: string; step: number; failed_stores: number[]; reported: string} {
    return {
      stage: this.stageName(),
      step: this.step,
      failed_stores: [...this.failedStores].sort(sortNum),
      reported: `${this.numReported}/${this.storeReports.size}`,
    }
  }
}

function overlaps(a: Region, b: Region): boolean {
  const aStartBeforeBEnd = b.end_key.length === 0 || Buffer.compare(a.start_key, b.end_key) < 0
  const bStartBeforeAEnd = a.end_key.length === 0 || Buffer.compare(b.start_key, a.end_key) < 0
  return aStartBeforeBEnd && bStartBeforeAEnd
}

/** Inserts a group of intersecting reports newest epoch first, as PD's region tree does. */
function resolveGroup(group: Item[]): Item[] {
  const byEpoch = [...group].sort((a, b) =>
    epochStale(region(b).epoch, region(a).epoch) ? -1 : epochStale(region(a).epoch, region(b).epoch) ? 1 : 0,
  )
  const kept: Item[] = []
  for (const it of byEpoch) {
    const over = kept.filter((k) => overlaps(region(k), region(it)))
    for (const newer of over) {
      if (epochStale(region(newer).epoch, region(it).epoch)) {
        throw new Error(
          `region ${regionHexMeta(region(it))}'s epoch shouldn't be staler than old ones ${regionHexMeta(region(newer))}`,
        )
      }
    }
    if (over.length === 0) kept.push(it)
  }
  return kept
}

function goDur(ms: number): string {
  const s = ms / 1000
  const m = Math.floor(s / 60)
  const rest = s - m * 60
  return m > 0 ? `${m}m${rest}s` : `${rest}s`
}

/** A copy of a plan for the wire (the controller keeps its own). */
function structuredClonePlan(p: RecoveryPlan): RecoveryPlan {
  return {
    creates: [...p.creates],
    tombstones: [...p.tombstones],
    demotes: p.demotes.map((d) => ({region_id: d.region_id, failed_voters: [...d.failed_voters]})),
    force_leader: p.force_leader
      ? {failed_stores: [...p.force_leader.failed_stores], enter_force_leaders: [...p.force_leader.enter_force_leaders]}
      : undefined,
    step: p.step,
  }
}
