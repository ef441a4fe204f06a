/**
 * Simulated TiKV (and TiFlash) stores: region peers with raft state (term, vote, commit, last and
 * applied index), epochs and rows; a heartbeat loop to PD on a real timer; recovery plans executed as
 * TiKV's raftstore does (enter force leader, create, destroy, demote, exit force leader, report); and
 * a status HTTP server with a lab-only read path that serves a region's rows from its leader.
 *
 * Raft between peers is simulated by the StoreSet: a change a leader commits reaches the peers on
 * live stores at once; a killed store's peers keep what they had.
 */
import {createServer, type Server} from 'node:http'
import {type AddressInfo} from 'node:net'

import {type JsonValue, parseBody, toJson} from './json.js'
import {hexKey, inRange} from './keys.js'
import {
  type Peer,
  type PeerReport,
  type PeerState,
  type RecoveryPlan,
  type Region,
  type RegionHeartbeat,
  Role,
  type StoreReport,
} from './model.js'
import {type PdServer} from './pd.js'

/** TiKV's `RAFT_INIT_LOG_TERM` / `RAFT_INIT_LOG_INDEX`. */
export const RAFT_INIT_TERM = 5
export const RAFT_INIT_INDEX = 5

/** A row: its raw TiKV key, value, and the raft log index that wrote it. */
export interface Row {
  key: Buffer
  value: Buffer
  index: number
}

/** The replicated log of one raft group, shared by its peers; a peer sees the rows up to its applied index. */
export class RaftLog {
  constructor(public rows: Row[] = []) {}

  /** Drops entries after `index` (a new leader's log wins). */
  truncate(index: number): number {
    const before = this.rows.length
    this.rows = this.rows.filter((r) => r.index <= index)
    return before - this.rows.length
  }
}

/** One region peer on a store. */
export class Replica {
  leader = false
  forceLeader = false
  hasCommitMerge = false
  state: PeerState = 'Normal'
  /** The source region of a merge whose CommitMerge is in this peer's log but not committed. */
  pendingMergeSource: number | undefined
  vote = 0

  constructor(
    public region: Region,
    public term: number,
    public lastIndex: number,
    public commit: number,
    public applied: number,
    public log: RaftLog,
  ) {}

  self(storeId: number): Peer | undefined {
    return this.region.peers.find((p) => p.store_id === storeId)
  }

  report(): PeerReport {
    return {
      raft_state: {hard_state: {term: this.term, vote: this.vote, commit: this.commit}, last_index: this.lastIndex},
      region_state: {state: this.state, region: this.region},
      is_force_leader: this.forceLeader,
      has_commit_merge: this.hasCommitMerge,
      applied_index: this.applied,
    }
  }

  visibleRows(): Row[] {
    return this.log.rows.filter((r) => r.index <= this.applied)
  }
}

export interface StoreOptions {
  id: number
  tiflash: boolean
  heartbeatMs: number
  /** TiKV's `max-peer-down-duration`: a peer's store unreachable this long makes it a down peer. */
  peerDownMs: number
  capacity: number
  /** Every this many heartbeats, a region heartbeat for every region it leads. */
  regionSweepTicks: number
  log(line: string): void
}

/** A simulated TiKV or TiFlash store. */
export class TikvStore {
  readonly replicas = new Map<number, Replica>()
  alive = false
  /** When the store stopped (kill-store), for down peers. */
  deadSince = 0
  startMs = 0
  /** The step of the plan last executed: its report goes out with the next heartbeat. */
  private pendingReport: number | undefined
  private timer: NodeJS.Timeout | undefined
  private server: Server | undefined
  statusPort = 0
  private readonly lastSent = new Map<number, string>()
  private lastGeneration = -1
  /** Regions whose leader, meta or log changed since the last region heartbeats. */
  readonly dirty = new Set<number>()
  /** Set when PD said this store is tombstone: it exits and cannot be started again. */
  tombstoned = false
  heartbeats = 0
  private used = 0

  constructor(
    readonly opts: StoreOptions,
    private readonly set: StoreSet,
    private readonly pd: () => PdServer,
  ) {}

  get id(): number {
    return this.opts.id
  }

  /** Starts the status server (on the same port after a restart) and, with `heartbeat`, the heartbeat loop. */
  async start(heartbeat: boolean): Promise<void> {
    if (this.tombstoned) throw new Error(`store ${this.id} is tombstone in PD and cannot start again`)
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const {status, body} = this.serveStatus(
          req.method ?? 'GET',
          req.url ?? '/',
          Buffer.concat(chunks).toString('utf8'),
        )
        res.writeHead(status, {'Content-Type': 'application/json'})
        res.end(body)
      })
    })
    this.server.keepAliveTimeout = 0
    await new Promise<void>((resolve, reject) => {
      const srv = this.server as Server
      srv.once('error', reject)
      srv.listen(this.statusPort, '127.0.0.1', () => resolve())
    })
    this.statusPort = (this.server.address() as AddressInfo).port
    this.alive = true
    this.startMs = Date.now()
    this.lastSent.clear()
    if (heartbeat) {
      // A restarted store's peers rejoin their groups: elections where they restore a quorum.
      for (const r of this.replicas.keys()) this.set.electLeader(r)
      this.beginHeartbeats()
    }
  }

  /** Starts the heartbeat loop (the first heartbeat at once). */
  beginHeartbeats(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = setInterval(() => this.tick(), this.opts.heartbeatMs)
    this.timer.unref()
    this.tick()
  }

  /** Stops the store (a crash): no heartbeats, no reads; its peers keep their state. `final`: the lab is going down, no elections. */
  async stop(final = false): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    const wasAlive = this.alive
    this.alive = false
    if (wasAlive) this.deadSince = Date.now()
    for (const r of this.replicas.values()) {
      r.leader = false
      r.forceLeader = false
    }
    const srv = this.server
    this.server = undefined
    if (srv) {
      srv.closeAllConnections()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    }
    if (wasAlive && !final) for (const id of this.replicas.keys()) this.set.electLeader(id)
  }

  /** One heartbeat round: region heartbeats for the regions it leads, then the store heartbeat. */
  tick(): void {
    if (!this.alive) return
    const pd = this.pd()
    if (!pd.up) return
    this.heartbeats++
    try {
      this.sendRegionHeartbeats(pd)
      let report: StoreReport | undefined
      if (this.pendingReport !== undefined) {
        report = {step: this.pendingReport, peer_reports: [...this.replicas.values()].map((r) => r.report())}
        this.pendingReport = undefined
      }
      // The used size is recounted on region sweeps only (it is a rough figure anyway).
      if (this.heartbeats % this.opts.regionSweepTicks === 1)
        this.used = [...this.replicas.values()].reduce((n, r) => n + r.log.rows.length * 64, 0)
      const used = this.used
      const resp = pd.storeHeartbeat({
        store_id: this.id,
        capacity: this.opts.capacity,
        available: this.opts.capacity - used - 4 * 1024 ** 3,
        used_size: used,
        start_time_ms: this.startMs,
        store_report: report,
      })
      if (resp.error?.type === 'STORE_TOMBSTONE') {
        this.opts.log(`store ${this.id}: PD says ${resp.error.message}; shutting down`)
        this.tombstoned = true
        void this.stop()
        return
      }
      if (resp.recovery_plan) this.execute(resp.recovery_plan)
    } catch {
      // PD unreachable (restarting): try again on the next tick, as TiKV does.
    }
  }

  /**
   * Region heartbeats now for the regions that changed, between ticks: a TiKV leader reports a split
   * or a merge to PD as soon as it applies it (`heartbeat_pd` on ready), not at its next tick.
   */
  reportChanges(): void {
    if (!this.alive || this.dirty.size === 0) return
    const pd = this.pd()
    if (!pd.up) return
    try {
      this.sendRegionHeartbeats(pd)
    } catch {
      // PD unreachable (restarting): the next tick's sweep sends them.
    }
  }

  /**
   * Region heartbeats: at once for the regions that changed, and for every region it leads on each
   * sweep (TiKV's periodic region heartbeat; also after PD dropped its region cache).
   */
  private sendRegionHeartbeats(pd: PdServer): void {
    const resend = pd.cacheGeneration !== this.lastGeneration
    this.lastGeneration = pd.cacheGeneration
    const sweep = resend || this.heartbeats % this.opts.regionSweepTicks === 1
    const now = Date.now()
    const ids = sweep ? [...this.replicas.keys()] : [...this.dirty]
    this.dirty.clear()
    for (const id of ids) {
      const r = this.replicas.get(id)
      if (!r || !r.leader) continue
      const hb = this.regionHeartbeat(r, now)
      const sig = `${r.region.epoch.version}/${r.region.epoch.conf_ver}/${hb.leader.id}/${r.region.peers.map((p) => `${p.id}.${p.role}`).join(',')}/${hb.down_peers.map((d) => `${d.peer.id}:${d.down_seconds}`).join(',')}/${hb.pending_peers.map((p) => p.id).join(',')}/${hb.approximate_keys}`
      if (!resend && this.lastSent.get(id) === sig) continue
      this.lastSent.set(id, sig)
      pd.regionHeartbeat(hb)
    }
  }

  /** The region heartbeat this store's leader peer sends. */
  regionHeartbeat(r: Replica, now: number): RegionHeartbeat {
    const self = r.self(this.id) as Peer
    const down: {peer: Peer; down_seconds: number}[] = []
    const pending: Peer[] = []
    for (const p of r.region.peers) {
      if (p.store_id === this.id) continue
      const s = this.set.get(p.store_id)
      if (!s || !s.alive) {
        const since = s ? s.deadSince : 0
        const secs = Math.floor((now - since) / 1000)
        if (now - since >= this.opts.peerDownMs) down.push({peer: p, down_seconds: secs})
        else pending.push(p)
        continue
      }
      const other = s.replicas.get(r.region.id)
      if (!other || other.applied < r.commit) pending.push(p)
    }
    const keys = r.visibleRows().length
    return {
      region: r.region,
      leader: self,
      down_peers: down,
      pending_peers: pending,
      approximate_size: Math.max(1, Math.ceil((keys * 64) / (1024 * 1024))),
      approximate_keys: keys,
      written_bytes: 0,
      written_keys: 0,
    }
  }

  /** Executes a recovery plan as raftstore does, then owes PD a report for its step. */
  private execute(plan: RecoveryPlan): void {
    if (plan.force_leader) {
      const failed = new Set(plan.force_leader.failed_stores)
      for (const id of plan.force_leader.enter_force_leaders) {
        const r = this.replicas.get(id)
        if (r) this.set.enterForceLeader(this, r, failed)
      }
    } else {
      for (const region of plan.creates) this.set.createPeer(this, region)
      for (const id of plan.tombstones) this.set.destroyPeer(this, id)
      for (const d of plan.demotes) {
        const r = this.replicas.get(d.region_id)
        if (r) this.set.demote(this, r, d.failed_voters)
      }
      // After a plan without force_leader TiKV waits for apply, exits force leader everywhere, and reports.
      for (const r of this.replicas.values()) if (r.forceLeader) this.set.exitForceLeader(this, r)
    }
    this.pendingReport = plan.step
  }

  /** The lab-only read path: the rows of regions this store leads and can serve. */
  private serveStatus(method: string, url: string, text: string): {status: number; body: string} {
    if (url.startsWith('/status')) return {status: 200, body: toJson({store_id: this.id, alive: this.alive})}
    if (method !== 'POST' || !url.startsWith('/lab/scan')) return {status: 404, body: toJson({error: 'not found'})}
    let ids: number[]
    try {
      const body = parseBody(text) as {regions?: unknown}
      ids = Array.isArray(body.regions) ? body.regions.map(Number) : []
    } catch {
      return {status: 400, body: toJson({error: 'body must be {"regions":[ids]}'})}
    }
    const out: JsonValue[] = ids.map((id) => {
      const r = this.replicas.get(id)
      if (!r) return {id, error: `region ${id} not found on store ${this.id}`}
      const why = this.set.cannotServe(this, r)
      if (why) return {id, error: why}
      return {
        id,
        keys: r
          .visibleRows()
          .filter((row) => inRange(row.key, r.region.start_key, r.region.end_key))
          .map((row) => hexKey(row.key)),
      }
    })
    return {status: 200, body: toJson({store_id: this.id, regions: out})}
  }
}

/** The stores of a lab and the raft traffic between their peers. */
export class StoreSet {
  readonly stores = new Map<number, TikvStore>()

  constructor(private readonly log: (line: string) => void) {}

  get(id: number): TikvStore | undefined {
    return this.stores.get(id)
  }

  /** Live peers of a region: [store, replica]. */
  livePeers(regionId: number): [TikvStore, Replica][] {
    const out: [TikvStore, Replica][] = []
    for (const s of this.stores.values()) {
      if (!s.alive) continue
      const r = s.replicas.get(regionId)
      if (r) out.push([s, r])
    }
    return out
  }

  /** Marks a region changed on every store that has a peer of it (its leader sends a region heartbeat). */
  touch(regionId: number): void {
    for (const s of this.stores.values()) if (s.replicas.has(regionId)) s.dirty.add(regionId)
  }

  /** Each live store's leaders report the regions that changed, now (see TikvStore.reportChanges). */
  reportChanges(): void {
    for (const s of this.stores.values()) s.reportChanges()
  }

  private alive(storeId: number): boolean {
    return this.stores.get(storeId)?.alive === true
  }

  /** Whether the peers of `region` on live stores form a quorum (joint consensus: both halves). */
  hasQuorum(region: Region): boolean {
    const q = (voters: readonly Peer[]): boolean =>
      voters.length === 0 || voters.filter((p) => this.alive(p.store_id)).length * 2 > voters.length
    const incoming = region.peers.filter((p) => p.role === Role.Voter || p.role === Role.IncomingVoter)
    const outgoing = region.peers.filter((p) => p.role === Role.Voter || p.role === Role.DemotingVoter)
    return incoming.length > 0 && q(incoming) && q(outgoing)
  }

  /** Why a leader read on this store's peer would fail, or undefined. */
  cannotServe(store: TikvStore, r: Replica): string | undefined {
    if (!store.alive) return `store ${store.id} is not running`
    if (r.forceLeader) return `region ${r.region.id} is in force leader state`
    if (!r.leader) return `not leader: region ${r.region.id} on store ${store.id}`
    if (!this.hasQuorum(r.region)) return `region ${r.region.id} has lost quorum`
    if (r.state === 'Merging') return `region ${r.region.id} is merging`
    return undefined
  }

  /** Keeps a leader that still has quorum, else elects the best live voter, else leaves none. */
  electLeader(regionId: number): void {
    this.touch(regionId)
    const live = this.livePeers(regionId)
    if (live.some(([, r]) => r.forceLeader)) return
    const current = live.find(([, r]) => r.leader)
    if (current && this.hasQuorum(current[1].region) && current[1].self(current[0].id)?.role !== Role.Learner) return
    for (const [, r] of live) r.leader = false
    const voters = live.filter(([s, r]) => {
      const p = r.self(s.id)
      return (
        p !== undefined &&
        (p.role === Role.Voter || p.role === Role.IncomingVoter) &&
        !s.opts.tiflash &&
        this.hasQuorum(r.region)
      )
    })
    if (voters.length === 0) return
    voters.sort(([, a], [, b]) => b.term - a.term || b.lastIndex - a.lastIndex || b.commit - a.commit)
    const [ls, lr] = voters[0]
    const term = Math.max(...live.map(([, r]) => r.term)) + 1
    lr.leader = true
    for (const [s, r] of live) {
      r.term = term
      r.vote = lr.self(ls.id)?.id ?? 0
      // Followers catch up with the leader's log (the lagging ones included, now that it can reach them).
      if (r !== lr && r.lastIndex > lr.lastIndex) r.log.truncate(lr.lastIndex)
      if (s.alive) {
        r.lastIndex = lr.lastIndex
        r.commit = lr.commit
        r.applied = Math.max(r.applied, Math.min(r.commit, lr.commit))
      }
    }
  }

  /** Raftstore's force leader: campaign with the failed stores' votes granted, commit its own entry. */
  enterForceLeader(store: TikvStore, r: Replica, failed: Set<number>): void {
    const self = r.self(store.id)
    if (!self || self.role === Role.Learner || store.opts.tiflash) {
      this.log(`store ${store.id}: region ${r.region.id} cannot enter force leader: the peer is not a voter`)
      return
    }
    void failed
    const live = this.livePeers(r.region.id)
    const term = Math.max(...live.map(([, x]) => x.term)) + 1
    const dropped = r.log.truncate(r.lastIndex)
    if (dropped > 0)
      this.log(
        `region ${r.region.id}: force leader on store ${store.id} at index ${r.lastIndex}; ${dropped} rows beyond it are lost`,
      )
    r.term = term
    r.vote = self.id
    r.lastIndex += 1
    r.commit = r.lastIndex
    r.applied = r.commit
    r.leader = true
    r.forceLeader = true
    this.touch(r.region.id)
    for (const [, x] of live) {
      if (x === r) continue
      x.leader = false
      x.term = term
      x.lastIndex = r.lastIndex
      x.commit = r.commit
      x.applied = r.applied
    }
    if (r.hasCommitMerge) this.commitMerge(store, r)
  }

  exitForceLeader(_store: TikvStore, r: Replica): void {
    r.forceLeader = false
    this.electLeader(r.region.id)
  }

  /** The force leader demotes the failed voters to learners (entering and leaving a joint state). */
  demote(store: TikvStore, r: Replica, failed: Peer[]): void {
    if (!r.forceLeader) {
      this.log(`store ${store.id}: region ${r.region.id} demote ignored: not a force leader`)
      return
    }
    const isFailed = (p: Peer): boolean => failed.some((f) => f.id === p.id || f.store_id === p.store_id)
    let changes = 0
    const peers = r.region.peers.map((p) => {
      if (isFailed(p) && p.role !== Role.Learner) {
        changes++
        return {...p, role: Role.Learner}
      }
      if (p.store_id === store.id && p.role === Role.Learner) {
        changes++
        return {...p, role: Role.Voter}
      }
      if (p.role === Role.IncomingVoter) return {...p, role: Role.Voter}
      if (p.role === Role.DemotingVoter) return {...p, role: Role.Learner}
      return p
    })
    const region: Region = {
      ...r.region,
      peers,
      epoch: {conf_ver: r.region.epoch.conf_ver + 2 * changes, version: r.region.epoch.version},
    }
    r.lastIndex += 2
    r.commit = r.lastIndex
    r.applied = r.commit
    this.touch(r.region.id)
    for (const [, x] of this.livePeers(r.region.id)) {
      x.region = region
      x.lastIndex = r.lastIndex
      x.commit = r.commit
      x.applied = r.applied
    }
  }

  /** Creates an empty region's single peer on `store` (unsafe recovery's CreateEmptyRegion). */
  createPeer(store: TikvStore, region: Region): void {
    if (store.replicas.has(region.id)) return
    const r = new Replica(region, RAFT_INIT_TERM, RAFT_INIT_INDEX, RAFT_INIT_INDEX, RAFT_INIT_INDEX, new RaftLog())
    store.replicas.set(region.id, r)
    this.electLeader(region.id)
  }

  destroyPeer(store: TikvStore, regionId: number): void {
    const r = store.replicas.get(regionId)
    if (!r) return
    store.replicas.delete(regionId)
    if (r.leader) this.electLeader(regionId)
    else this.touch(regionId)
  }

  /** Applies a pending CommitMerge on the target's live peers: the source's range and rows join it. */
  commitMerge(_store: TikvStore, target: Replica): void {
    const sourceId = target.pendingMergeSource
    if (sourceId === undefined) return
    const src =
      this.livePeers(sourceId)[0]?.[1] ??
      [...this.stores.values()].map((s) => s.replicas.get(sourceId)).find((x) => x !== undefined)
    if (!src) return
    const t = target.region
    const s = src.region
    const merged: Region = {
      ...t,
      start_key: Buffer.compare(s.start_key, t.start_key) < 0 ? s.start_key : t.start_key,
      end_key:
        t.end_key.length === 0 || s.end_key.length === 0
          ? Buffer.alloc(0)
          : Buffer.compare(s.end_key, t.end_key) > 0
            ? s.end_key
            : t.end_key,
      epoch: {conf_ver: t.epoch.conf_ver, version: Math.max(t.epoch.version, s.epoch.version) + 1},
    }
    const rows = src.visibleRows().map((row) => ({...row, index: target.applied}))
    target.log.rows.push(...rows)
    for (const [, x] of this.livePeers(t.id)) {
      x.region = merged
      x.hasCommitMerge = false
      x.pendingMergeSource = undefined
    }
    this.touch(t.id)
    for (const st of this.stores.values()) st.replicas.delete(sourceId)
    this.log(`region ${sourceId} merged into region ${t.id}`)
  }
}
