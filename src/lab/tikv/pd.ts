/**
 * A simulated PD: store and region metadata fed by heartbeats, the unsafe recovery controller,
 * the schedule config, an id allocator, and the HTTP API under `/pd/api/v1` plus etcd's v3 JSON
 * gateway on the same client port (http://127.0.0.1:PORT), as pd-ctl and operators use them.
 *
 * Stores reach PD by method calls (the gRPC `StoreHeartbeat`/`RegionHeartbeat`/`AskBatchSplit` of
 * the real system); everything an operator or lifeboat sees goes over HTTP.
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import {type AddressInfo} from 'node:net'

import {EmbeddedEtcd, EtcdError} from './etcd.js'
import {byteSize, goDuration, type JsonValue, parseBody, rfc3339, toJson} from './json.js'
import {compareKeys, hexKey} from './keys.js'
import {
  epochStale,
  type Peer,
  type Region,
  type RegionHeartbeat,
  ROLE_NAMES,
  Role,
  STORE_STATE_NAMES,
  StoreState,
  type StoreHeartbeat,
  type StoreHeartbeatResponse,
  type StoreStateValue,
  NodeState,
  type NodeStateValue,
} from './model.js'
import {RecoveryController, RecoveryInputError} from './recovery.js'
import {ConfigError, ScheduleConfig} from './schedule-config.js'

/** A store as PD records it. */
export interface PdStore {
  id: number
  address: string
  status_address: string
  labels: {key: string; value: string}[]
  version: string
  git_hash: string
  deploy_path: string
  state: StoreStateValue
  node_state: NodeStateValue
  physically_destroyed: boolean
  start_ms: number
  last_heartbeat_ms: number
  capacity: number
  available: number
  used_size: number
}

interface RegionInfo {
  region: Region
  leader?: Peer
  down_peers: {peer: Peer; down_seconds: number}[]
  pending_peers: Peer[]
  approximate_size: number
  approximate_keys: number
  written_bytes: number
  written_keys: number
}

export interface PdOptions {
  clusterId: bigint
  /** `storeDisconnectDuration` (20 s in PD). */
  storeDisconnectMs: number
  /** The highest id already used by the cluster; the allocator continues after it. */
  maxId: number
  /** Schedule config overrides, e.g. `max-store-down-time`. */
  schedule?: Record<string, JsonValue>
  maxReplicas: number
  version: string
  log(line: string): void
}

const API = '/pd/api/v1'
const MAX_REGION_LIMIT = 10240

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export class PdServer {
  readonly stores = new Map<number, PdStore>()
  private readonly regions = new Map<number, RegionInfo>()
  private sorted: RegionInfo[] | undefined
  readonly config: ScheduleConfig
  readonly etcd: EmbeddedEtcd
  controller: RecoveryController
  private recoveryHalt = false
  private nextId: number
  private server: Server | undefined
  port = 0
  /** False while a `restart-pd` fault has it down: heartbeats fail. */
  up = false
  readonly memberId: bigint

  constructor(private readonly opts: PdOptions) {
    this.config = new ScheduleConfig(opts.schedule)
    this.memberId = 0x3a4e9d1c27b5f681n
    this.etcd = new EmbeddedEtcd(opts.clusterId, this.memberId)
    this.nextId = opts.maxId + 1
    this.controller = this.newController()
  }

  private newController(): RecoveryController {
    return new RecoveryController({
      getStore: (id) => {
        const s = this.stores.get(id)
        if (!s) return undefined
        return {
          id,
          removed: s.state === StoreState.Tombstone,
          physicallyDestroyed: s.physically_destroyed,
          serving: s.state === StoreState.Up,
          disconnected: this.downMs(s) > this.opts.storeDisconnectMs,
          tiflash: isTiFlash(s),
        }
      },
      storeIds: () => [...this.stores.keys()].sort((a, b) => a - b),
      allocId: () => this.allocId(),
      buryStore: (id) => this.buryStore(id),
      setHalted: (h) => {
        this.recoveryHalt = h
        this.opts.log(`scheduling ${h ? 'halted' : 'resumed'} by online unsafe recovery`)
      },
      now: () => Date.now(),
      resetRegionCache: () => this.resetRegionCache(),
    })
  }

  /** Bumped when the region cache is dropped: stores then report every region they lead again. */
  cacheGeneration = 0

  /** `ResetRegionCache`: forget every region; leaders' heartbeats fill it again. */
  resetRegionCache(): void {
    this.regions.clear()
    this.sorted = undefined
    this.cacheGeneration++
    this.opts.log('region cache reset after unsafe recovery')
  }

  allocId(): number {
    return this.nextId++
  }

  /** `IsSchedulingHalted`: the config switch or a running recovery. */
  schedulingHalted(): boolean {
    return this.config.bool('halt-scheduling') || this.recoveryHalt
  }

  private downMs(s: PdStore): number {
    return Date.now() - s.last_heartbeat_ms
  }

  /** `state_name` as `BuildStoreInfo` derives it. */
  stateName(s: PdStore): string {
    if (s.state === StoreState.Up) {
      if (this.downMs(s) > this.config.durationMs('max-store-down-time')) return 'Down'
      if (this.downMs(s) > this.opts.storeDisconnectMs) return 'Disconnected'
    }
    return STORE_STATE_NAMES[s.state]
  }

  /** `PutStore` at bootstrap. */
  putStore(s: PdStore): void {
    this.stores.set(s.id, s)
  }

  /** `BuryStore(id, forceBury=true)`. */
  private buryStore(id: number): void {
    const s = this.stores.get(id)
    if (!s || s.state === StoreState.Tombstone) return
    s.state = StoreState.Tombstone
    s.node_state = NodeState.Removed
    this.opts.log(`store ${id} buried (Tombstone) by unsafe recovery`)
  }

  /** The gRPC `StoreHeartbeat`. Throws when PD is down. */
  storeHeartbeat(hb: StoreHeartbeat): StoreHeartbeatResponse {
    if (!this.up) throw new Error('PD is not serving')
    const s = this.stores.get(hb.store_id)
    if (!s) return {error: {type: 'UNKNOWN', message: `invalid store ID ${hb.store_id}, not found`}}
    if (s.state === StoreState.Tombstone)
      return {error: {type: 'STORE_TOMBSTONE', message: `store ${hb.store_id} is tombstone`}}
    s.last_heartbeat_ms = Date.now()
    s.capacity = hb.capacity
    s.available = hb.available
    s.used_size = hb.used_size
    s.start_ms = hb.start_time_ms
    const resp: StoreHeartbeatResponse = {}
    this.controller.handleStoreHeartbeat(hb, resp)
    return resp
  }

  /**
   * The gRPC `RegionHeartbeat`: a stale epoch of a known region is dropped. Overlaps between ranges
   * are settled when the sorted view is next built (see sortedRegions), as PD's cache settles them:
   * the higher version stays, a region overlapping one of a higher version is refused.
   */
  regionHeartbeat(rh: RegionHeartbeat): void {
    if (!this.up) throw new Error('PD is not serving')
    const old = this.regions.get(rh.region.id)
    if (old && epochStale(rh.region.epoch, old.region.epoch)) return
    const rangeChanged =
      !old || !old.region.start_key.equals(rh.region.start_key) || !old.region.end_key.equals(rh.region.end_key)
    const info = {...rh}
    this.regions.set(rh.region.id, info)
    if (rangeChanged || old.region.epoch.version !== rh.region.epoch.version) this.sorted = undefined
    else if (this.sorted) {
      // Same range and version: the sorted view keeps its order, and must show the new heartbeat
      // (its leader, down and pending peers), not the one it was built from.
      const i = this.firstEndingAfter(rh.region.start_key)
      if (this.sorted[i]?.region.id === rh.region.id) this.sorted[i] = info
      else this.sorted = undefined
    }
  }

  /** Loads regions at bootstrap without per-region overlap checks. */
  loadRegions(list: RegionHeartbeat[]): void {
    for (const rh of list) this.regions.set(rh.region.id, {...rh})
    this.sorted = undefined
  }

  /** `AskBatchSplit`: refused while scheduling is halted. */
  askSplit(count: number): {regionIds: number[]; peerIds: number[][]} | string {
    if (!this.up) return 'PD is not serving'
    if (this.schedulingHalted()) return 'scheduling is halted'
    const regionIds: number[] = []
    const peerIds: number[][] = []
    for (let i = 0; i < count; i++) regionIds.push(this.allocId())
    return {regionIds, peerIds}
  }

  /** The regions in key order; overlapping ranges resolved in favour of the higher version (the other one leaves the cache). */
  private sortedRegions(): RegionInfo[] {
    if (this.sorted) return this.sorted
    const all = [...this.regions.values()].sort(
      (a, b) => compareKeys(a.region.start_key, b.region.start_key) || b.region.epoch.version - a.region.epoch.version,
    )
    const kept: RegionInfo[] = []
    for (const r of all) {
      let drop = false
      for (;;) {
        const last = kept.at(-1)
        if (!last || (last.region.end_key.length !== 0 && Buffer.compare(last.region.end_key, r.region.start_key) <= 0))
          break
        if (r.region.epoch.version > last.region.epoch.version) {
          kept.pop()
          this.regions.delete(last.region.id)
          continue
        }
        drop = true
        break
      }
      if (drop) this.regions.delete(r.region.id)
      else kept.push(r)
    }
    this.sorted = kept
    return kept
  }

  /** Index of the first region whose end is after `key`. */
  private firstEndingAfter(key: Buffer): number {
    const list = this.sortedRegions()
    let lo = 0
    let hi = list.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      const end = list[mid].region.end_key
      if (end.length === 0 || Buffer.compare(end, key) > 0) hi = mid
      else lo = mid + 1
    }
    return lo
  }

  regionCount(): number {
    return this.sortedRegions().length
  }

  /** PD's region record (for the lab's own checks and status). */
  getRegion(id: number): RegionInfo | undefined {
    this.sortedRegions()
    return this.regions.get(id)
  }

  // --- JSON ---------------------------------------------------------------------------------

  private storeJson(
    s: PdStore,
    counts: Map<
      number,
      {leaders: number; regions: number; learners: number; pending: number; leaderSize: number; regionSize: number}
    >,
  ): JsonValue {
    const c = counts.get(s.id) ?? {leaders: 0, regions: 0, learners: 0, pending: 0, leaderSize: 0, regionSize: 0}
    const uptimeMs = s.start_ms > 0 && s.last_heartbeat_ms > s.start_ms ? s.last_heartbeat_ms - s.start_ms : 0
    return {
      store: {
        id: s.id,
        address: s.address,
        state: s.state === 0 ? undefined : s.state,
        labels: s.labels.length > 0 ? s.labels : undefined,
        version: s.version,
        peer_address: s.address,
        status_address: s.status_address,
        git_hash: s.git_hash,
        start_timestamp: Math.floor(s.start_ms / 1000) || undefined,
        deploy_path: s.deploy_path,
        last_heartbeat: s.last_heartbeat_ms > 0 ? BigInt(s.last_heartbeat_ms) * 1_000_000n : undefined,
        physically_destroyed: s.physically_destroyed || undefined,
        node_state: s.node_state === 0 ? undefined : s.node_state,
        state_name: this.stateName(s),
      },
      status: {
        capacity: byteSize(s.capacity),
        available: byteSize(s.available),
        used_size: byteSize(s.used_size),
        leader_count: c.leaders,
        leader_weight: 1,
        leader_score: c.leaders,
        leader_size: c.leaderSize,
        region_count: c.regions,
        region_weight: 1,
        region_score: c.regionSize,
        region_size: c.regionSize,
        learner_count: c.learners || undefined,
        pending_peer_count: c.pending || undefined,
        slow_score: s.last_heartbeat_ms > 0 ? 1 : undefined,
        start_ts: s.start_ms > 0 ? rfc3339(s.start_ms) : undefined,
        last_heartbeat_ts: s.last_heartbeat_ms > 0 ? rfc3339(s.last_heartbeat_ms) : undefined,
        uptime: uptimeMs > 0 ? goDuration(Math.round(uptimeMs)) : undefined,
      },
    }
  }

  private storeCounts(): Map<
    number,
    {leaders: number; regions: number; learners: number; pending: number; leaderSize: number; regionSize: number}
  > {
    const m = new Map<
      number,
      {leaders: number; regions: number; learners: number; pending: number; leaderSize: number; regionSize: number}
    >()
    for (const r of this.sortedRegions()) {
      for (const p of r.region.peers) {
        let c = m.get(p.store_id)
        if (!c) m.set(p.store_id, (c = {leaders: 0, regions: 0, learners: 0, pending: 0, leaderSize: 0, regionSize: 0}))
        c.regions++
        c.regionSize += r.approximate_size
        if (p.role === Role.Learner) c.learners++
        if (r.leader?.id === p.id) {
          c.leaders++
          c.leaderSize += r.approximate_size
        }
        if (r.pending_peers.some((x) => x.id === p.id)) c.pending++
      }
    }
    return m
  }

  private peerJson(p: Peer | undefined): JsonValue {
    if (!p) return {role_name: 'Voter'}
    return {
      id: p.id,
      store_id: p.store_id,
      role: p.role === 0 ? undefined : p.role,
      role_name: ROLE_NAMES[p.role],
      is_learner: p.role === Role.Learner ? true : undefined,
    }
  }

  /** RegionInfo JSON, written by hand: `/regions` writes 100,000 of them. */
  private regionJson(r: RegionInfo): string {
    const m = r.region
    const peer = (p: Peer): string =>
      `{"id":${p.id},"store_id":${p.store_id}${p.role === 0 ? '' : `,"role":${p.role}`},"role_name":"${ROLE_NAMES[p.role]}"${p.role === Role.Learner ? ',"is_learner":true' : ''}}`
    const epoch = [
      m.epoch.conf_ver ? `"conf_ver":${m.epoch.conf_ver}` : '',
      m.epoch.version ? `"version":${m.epoch.version}` : '',
    ]
      .filter((x) => x)
      .join(',')
    return (
      `{"id":${m.id},"start_key":"${hexKey(m.start_key)}","end_key":"${hexKey(m.end_key)}","epoch":{${epoch}}` +
      (m.peers.length > 0 ? `,"peers":[${m.peers.map(peer).join(',')}]` : '') +
      `,"leader":${r.leader ? peer(r.leader) : '{"role_name":"Voter"}'}` +
      (r.down_peers.length > 0
        ? `,"down_peers":[${r.down_peers.map((d) => `{"peer":${peer(d.peer)},"down_seconds":${d.down_seconds}}`).join(',')}]`
        : '') +
      (r.pending_peers.length > 0 ? `,"pending_peers":[${r.pending_peers.map(peer).join(',')}]` : '') +
      `,"cpu_usage":0,"written_bytes":${r.written_bytes},"read_bytes":0,"written_keys":${r.written_keys},"read_keys":0` +
      `,"approximate_size":${r.approximate_size},"approximate_keys":${r.approximate_keys},"approximate_kv_size":${r.approximate_size},"approximate_columnar_kv_size":0}`
    )
  }

  /** The same as regionJson through the generic writer (tests compare the two). */
  regionJsonGeneric(r: RegionInfo): string {
    const m = r.region
    return toJson({
      id: m.id,
      start_key: hexKey(m.start_key),
      end_key: hexKey(m.end_key),
      epoch: {conf_ver: m.epoch.conf_ver || undefined, version: m.epoch.version || undefined},
      peers: m.peers.length > 0 ? m.peers.map((p) => this.peerJson(p)) : undefined,
      leader: this.peerJson(r.leader),
      down_peers:
        r.down_peers.length > 0
          ? r.down_peers.map((d) => ({peer: this.peerJson(d.peer), down_seconds: d.down_seconds}))
          : undefined,
      pending_peers: r.pending_peers.length > 0 ? r.pending_peers.map((p) => this.peerJson(p)) : undefined,
      cpu_usage: 0,
      written_bytes: r.written_bytes,
      read_bytes: 0,
      written_keys: r.written_keys,
      read_keys: 0,
      approximate_size: r.approximate_size,
      approximate_keys: r.approximate_keys,
      approximate_kv_size: r.approximate_size,
      approximate_columnar_kv_size: 0,
    })
  }

  private regionsBody(list: RegionInfo[]): string[] {
    const parts = [`{"count":${list.length},"regions":[`]
    list.forEach((r, i) => parts.push((i > 0 ? ',' : '') + this.regionJson(r)))
    parts.push(']}')
    return parts
  }

  // --- HTTP ---------------------------------------------------------------------------------

  /** Starts (or restarts) serving on `port` (0 = any free port). */
  async listen(port = 0): Promise<number> {
    this.server = createServer((req, res) => {
      void this.serve(req, res)
    })
    // Like Go's net/http: no idle timeout on keep-alive connections (a busy loop must not reset them).
    this.server.keepAliveTimeout = 0
    await new Promise<void>((resolve, reject) => {
      const srv = this.server as Server
      srv.once('error', reject)
      srv.listen(port, '127.0.0.1', () => resolve())
    })
    this.port = (this.server.address() as AddressInfo).port
    this.up = true
    return this.port
  }

  async close(): Promise<void> {
    this.up = false
    const srv = this.server
    this.server = undefined
    if (srv) {
      srv.closeAllConnections()
      await new Promise<void>((resolve) => srv.close(() => resolve()))
    }
  }

  /** A PD restart: the HTTP server stops and starts on the same port; in-memory state (the recovery) is lost. */
  async restart(): Promise<void> {
    const port = this.port
    await this.close()
    this.controller = this.newController()
    this.recoveryHalt = false
    this.etcd.promote()
    await this.listen(port)
  }

  shutdown(): Promise<void> {
    this.etcd.close()
    return this.close()
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', 'http://pd')
    const method = req.method ?? 'GET'
    try {
      if (url.pathname.startsWith('/v3/')) return this.serveEtcd(url.pathname, method, text, res)
      this.route(method, url, text, res)
    } catch (e) {
      if (e instanceof HttpError) return send(res, e.status, `${JSON.stringify(e.message)}\n`)
      send(res, 500, `${JSON.stringify(e instanceof Error ? e.message : String(e))}\n`)
    }
  }

  private serveEtcd(path: string, method: string, text: string, res: ServerResponse): void {
    if (method !== 'POST')
      return send(res, 405, toJson({error: 'Method Not Allowed', code: 12, message: 'Method Not Allowed'}))
    let body: unknown
    try {
      body = text.trim() === '' ? {} : parseBody(text)
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e)
      return send(res, 400, toJson({error: msg, code: 3, message: msg}))
    }
    try {
      send(res, 200, toJson(this.etcd.handle(path, body)))
    } catch (e) {
      if (e instanceof EtcdError) return send(res, e.httpStatus, toJson(e.body()))
      throw e
    }
  }

  private route(method: string, url: URL, text: string, res: ServerResponse): void {
    const path = url.pathname.replace(/\/+$/, '')
    const q = url.searchParams
    const json = (status: number, v: JsonValue): void => send(res, status, `${toJson(v)}\n`)
    const msg = (status: number, m: string): void => send(res, status, `${JSON.stringify(m)}\n`)
    if (!path.startsWith(API)) return msg(404, '404 page not found')
    const sub = path.slice(API.length)
    let m: RegExpMatchArray | null
    const get = method === 'GET'
    const post = method === 'POST'

    if (get && sub === '/stores') {
      const states = q.getAll('state').map((s) => {
        if (!/^-?\d+$/.test(s)) throw new HttpError(400, `strconv.Atoi: parsing ${JSON.stringify(s)}: invalid syntax`)
        return Number(s)
      })
      const want = states.length > 0 ? states : [StoreState.Up, StoreState.Offline]
      return json(
        200,
        this.storesJson((s) => want.includes(s.state)),
      )
    }
    if (get && sub === '/stores/check') {
      const names = q.getAll('state').map((s) => s.toLowerCase())
      const known = ['up', 'disconnected', 'down', 'offline', 'tombstone']
      for (const n of names) if (!known.includes(n)) throw new HttpError(400, `unknown StoreState: ${n}`)
      return json(
        200,
        this.storesJson((s) => names.includes(this.stateName(s).toLowerCase())),
      )
    }
    if (method === 'DELETE' && sub === '/stores/remove-tombstone') {
      for (const [id, s] of this.stores) if (s.state === StoreState.Tombstone) this.stores.delete(id)
      return msg(200, 'Remove tombstone successfully.')
    }
    if (method === 'DELETE' && (m = sub.match(/^\/store\/([^/]+)$/))) {
      // pd-ctl `store delete ID`: the store goes Offline (Removing) and its regions are to move away.
      const id = parseUint(m[1])
      const s = this.stores.get(id)
      if (!s) return msg(404, `[PD:core:ErrStoreNotFound]store ${id} not found`)
      if (s.state === StoreState.Tombstone) return msg(410, `[PD:core:ErrStoreRemoved]store ${id} has been removed`)
      s.state = StoreState.Offline
      s.node_state = NodeState.Removing
      return msg(200, 'The store is set as Offline.')
    }
    if (get && (m = sub.match(/^\/store\/([^/]+)$/))) {
      const id = parseUint(m[1])
      const s = this.stores.get(id)
      if (!s) return msg(404, `[PD:core:ErrStoreNotFound]store ${id} not found`)
      return json(200, this.storeJson(s, this.storeCounts()))
    }
    if (get && sub === '/regions') return sendParts(res, 200, this.regionsBody(this.sortedRegions()))
    if (get && sub === '/regions/count') return json(200, {count: this.sortedRegions().length})
    if (get && sub === '/regions/key') {
      const hex = q.get('format') === 'hex'
      const key = decodeKeyParam(q.get('key') ?? '', hex)
      const end = decodeKeyParam(q.get('end_key') ?? '', hex)
      let limit = 16
      if (q.has('limit')) {
        const l = q.get('limit') as string
        if (!/^\d+$/.test(l)) throw new HttpError(400, `strconv.Atoi: parsing ${JSON.stringify(l)}: invalid syntax`)
        limit = Number(l)
      }
      if (limit > MAX_REGION_LIMIT) limit = MAX_REGION_LIMIT
      const list = this.sortedRegions()
      const out: RegionInfo[] = []
      for (let i = this.firstEndingAfter(key); i < list.length && (limit <= 0 || out.length < limit); i++) {
        if (end.length !== 0 && Buffer.compare(list[i].region.start_key, end) >= 0) break
        out.push(list[i])
      }
      return sendParts(res, 200, this.regionsBody(out))
    }
    if (get && (m = sub.match(/^\/regions\/store\/([^/]+)$/))) {
      const id = parseUint(m[1])
      return sendParts(
        res,
        200,
        this.regionsBody(this.sortedRegions().filter((r) => r.region.peers.some((p) => p.store_id === id))),
      )
    }
    if (get && (m = sub.match(/^\/region\/id\/([^/]+)$/))) {
      const id = parseUint(m[1])
      if (id === 0) return msg(400, 'invalid region id')
      const r = this.getRegion(id)
      return send(res, 200, r ? this.regionJson(r) : 'null')
    }
    if (get && (m = sub.match(/^\/regions\/check\/([^/]+)$/)))
      return sendParts(res, 200, this.regionsBody(this.checkRegions(m[1])))
    if (sub === '/config/schedule') {
      if (get) return json(200, this.config.toJson())
      if (post) {
        let body: unknown
        try {
          body = parseBody(text)
        } catch (e) {
          return msg(400, goJsonError(text, e))
        }
        try {
          this.config.patch(body)
        } catch (e) {
          if (e instanceof ConfigError) return msg(400, e.message)
          throw e
        }
        return msg(200, 'The config is updated.')
      }
    }
    if (get && sub === '/config/replicate') {
      return json(200, {
        'max-replicas': this.opts.maxReplicas,
        'location-labels': '',
        'strictly-match-label': 'false',
        'enable-placement-rules': 'true',
        'enable-placement-rules-cache': 'false',
        'isolation-level': '',
      })
    }
    if (get && sub === '/cluster') return json(200, {id: this.opts.clusterId, max_peer_count: this.opts.maxReplicas})
    if (get && sub === '/members') {
      const me = this.memberJson()
      return json(200, {header: {cluster_id: this.opts.clusterId}, members: [me], leader: me, etcd_leader: me})
    }
    if (get && sub === '/leader') return json(200, this.memberJson())
    if (get && sub === '/health') {
      return json(200, [
        {name: 'pd-lab-0', member_id: this.memberId, client_urls: [`http://127.0.0.1:${this.port}`], health: true},
      ])
    }
    if (get && sub === '/version') return json(200, {version: this.opts.version})
    if (post && sub === '/admin/unsafe/remove-failed-stores') return this.removeFailedStores(text, json, msg)
    if (get && sub === '/admin/unsafe/remove-failed-stores/show') return json(200, this.controller.show() as JsonValue)
    if (post && sub === '/admin/unsafe/remove-failed-stores/abort') {
      try {
        this.controller.abort()
      } catch (e) {
        if (e instanceof RecoveryInputError) return msg(400, e.message)
        throw e
      }
      return msg(200, 'Request has been accepted.')
    }
    return msg(404, '404 page not found')
  }

  private memberJson(): JsonValue {
    const url = `http://127.0.0.1:${this.port}`
    return {
      name: 'pd-lab-0',
      member_id: this.memberId,
      peer_urls: [url],
      client_urls: [url],
      binary_version: this.opts.version,
      git_hash: 'lab',
      deploy_path: '/lab/pd',
    }
  }

  private storesJson(filter: (s: PdStore) => boolean): JsonValue {
    const counts = this.storeCounts()
    const list = [...this.stores.values()].filter(filter).sort((a, b) => a.id - b.id)
    return {count: list.length, stores: list.map((s) => this.storeJson(s, counts))}
  }

  private checkRegions(kind: string): RegionInfo[] {
    const offline = new Set([...this.stores.values()].filter((s) => s.state === StoreState.Offline).map((s) => s.id))
    const tests: Record<string, (r: RegionInfo) => boolean> = {
      'miss-peer': (r) => r.region.peers.filter((p) => p.role !== Role.Learner).length < this.opts.maxReplicas,
      'extra-peer': (r) => r.region.peers.filter((p) => p.role !== Role.Learner).length > this.opts.maxReplicas,
      'pending-peer': (r) => r.pending_peers.length > 0,
      'down-peer': (r) => r.down_peers.length > 0,
      'learner-peer': (r) => r.region.peers.some((p) => p.role === Role.Learner),
      'offline-peer': (r) => r.region.peers.some((p) => offline.has(p.store_id)),
      'empty-region': (r) => r.approximate_size <= 1,
      'oversized-region': (r) => r.approximate_size > 144,
      'undersized-region': (r) => r.approximate_size < 20,
    }
    const t = tests[kind]
    if (!t) throw new HttpError(400, `unknown region check type ${kind}`)
    return this.sortedRegions().filter(t)
  }

  private removeFailedStores(
    text: string,
    json: (s: number, v: JsonValue) => void,
    msg: (s: number, m: string) => void,
  ): void {
    let input: Record<string, unknown>
    try {
      const v = parseBody(text)
      if (v === null || typeof v !== 'object' || Array.isArray(v))
        return msg(
          400,
          `json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go value of type map[string]interface {}`,
        )
      input = v as Record<string, unknown>
    } catch (e) {
      return msg(400, goJsonError(text, e))
    }
    const auto = input['auto-detect'] === true
    let stores: number[] = []
    if (!auto) {
      const raw = input.stores
      if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'number' || typeof x === 'bigint'))
        return msg(400, 'Store ids are invalid')
      // A uint64 past 2^53 is no store of the lab's: say so with its exact digits.
      const big = raw.find((x) => typeof x === 'bigint')
      if (big !== undefined && !this.controller.isRunning())
        return msg(
          500,
          `[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store ${String(big)} doesn't exist`,
        )
      stores = raw.map((x) => Math.trunc(Number(x)))
    }
    let timeout = 600
    if ('timeout' in input) {
      const t = input.timeout
      if (typeof t !== 'number' || t <= 0 || !Number.isInteger(t)) return msg(400, 'timeout is invalid')
      timeout = t
    }
    const pet = ['plan-execution-timeout', 'plan_execution_timeout'].filter((k) => k in input)
    if (pet.length > 1) return msg(400, 'plan-execution-timeout is specified multiple times')
    let planMs: number | undefined
    if (pet.length === 1) {
      const t = input[pet[0]]
      if (typeof t !== 'number' || t <= 0 || !Number.isInteger(t)) return msg(400, 'plan-execution-timeout is invalid')
      planMs = t * 1000
    }
    const dpc = ['disable-paranoid-check', 'disable_paranoid_check'].filter((k) => k in input)
    if (dpc.length > 1) return msg(400, 'disable-paranoid-check is specified multiple times')
    let disable = false
    if (dpc.length === 1) {
      const d = input[dpc[0]]
      if (typeof d !== 'boolean') return msg(400, 'disable-paranoid-check is invalid')
      disable = d
    }
    try {
      this.controller.removeFailedStores(stores, timeout, auto, {
        planExecutionTimeoutMs: planMs,
        disableParanoidCheck: disable,
      })
    } catch (e) {
      if (e instanceof RecoveryInputError) return msg(500, e.message)
      throw e
    }
    this.opts.log(
      `unsafe recovery started: ${auto ? 'auto-detect' : `failed stores ${stores.join(', ')}`}, timeout ${timeout}s`,
    )
    void json
    return msg(200, 'Request has been accepted.')
  }
}

export function isTiFlash(s: {labels: {key: string; value: string}[]}): boolean {
  return s.labels.some((l) => l.key === 'engine' && (l.value === 'tiflash' || l.value === 'tiflash_compute'))
}

function parseUint(s: string): number {
  if (!/^\d+$/.test(s)) throw new HttpError(400, `strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`)
  return Number(s)
}

function decodeKeyParam(v: string, hex: boolean): Buffer {
  if (!hex) return Buffer.from(v, 'latin1')
  if (!/^([0-9a-fA-F]{2})*$/.test(v)) throw new HttpError(400, `encoding/hex: invalid byte in ${JSON.stringify(v)}`)
  return Buffer.from(v, 'hex')
}

function goJsonError(text: string, _e: unknown): string {
  const t = text.trim()
  if (t === '') return 'EOF'
  const c = t[0]
  if (!'{["-0123456789tfn'.includes(c)) return `invalid character '${c}' looking for beginning of value`
  return 'unexpected EOF'
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {'Content-Type': 'application/json; charset=UTF-8', 'Content-Length': Buffer.byteLength(body)})
  res.end(body)
}

function sendParts(res: ServerResponse, status: number, parts: string[]): void {
  res.writeHead(status, {'Content-Type': 'application/json; charset=UTF-8'})
  // Write in chunks of about 1 MiB: a 100,000-region answer is tens of MiB.
  let buf: string[] = []
  let size = 0
  for (const p of parts) {
    buf.push(p)
    size += p.length
    if (size > 1 << 20) {
      res.write(buf.join(''))
      buf = []
      size = 0
    }
  }
  res.end(buf.join(''))
}
