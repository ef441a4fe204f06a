/**
 * A simulated Pegasus replica server: it holds replicas (gpid, ballot, decrees, status, disk tag,
 * the app's info as its `.app-info` keeps it) in a file under the lab's state directory, so a
 * restart keeps them; it answers RPC_QUERY_APP_INFO and RPC_QUERY_REPLICA_INFO over THFT, beacons
 * to the meta and sends it config-sync reports, and takes the roles the meta's proposals give it.
 *
 * Envs (./app-envs.ts): query_app_info reports the app_info the node's replicas were opened with,
 * envs included, while its file (the `.app-info` files) keeps only rocksdb.allow_ingest_behind; a
 * restart (load) leaves the node with the file's copy.
 *
 * Data: it serves Pegasus's data RPCs (./data/service.ts). A replica holds decrees 1..rows of its
 * partition's mutation log (./data/store.ts) and reads what it has committed of them; a write on
 * the primary is the next decree, which the primary and the secondaries of the meta's
 * configuration then hold and commit.
 */
import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import http from 'node:http'
import {dirname} from 'node:path'

import {
  PartitionStatus,
  RPCS,
  encodeStruct,
  parseGpid,
  startRpcServer,
  type AppInfo,
  type EncodedStruct,
  type QueryAppInfoResponse,
  type QueryReplicaInfoResponse,
  type ReplicaInfo,
  type RpcServer,
} from '../../engines/pegasus/wire/index.js'
import {ENV_ALLOW_INGEST_BEHIND, boolEnv, persistedEnvs} from './app-envs.js'
import {DataService, dataRpcs} from './data/service.js'
import type {DataStore, Op} from './data/store.js'

/** One replica as the replica server keeps it. */
export interface StoredReplica {
  pid: string
  ballot: number
  status: PartitionStatus
  last_committed_decree: number
  last_prepared_decree: number
  last_durable_decree: number
  disk_tag: string
  /** Decrees of the partition's mutation log held, 1..rows. */
  rows: number
}

/** What the meta answers to a config-sync report. */
export interface ConfigSyncReply {
  err: string
  /** The partitions the meta says this node serves, with its role and the partition's ballot. */
  serving: Map<string, {status: PartitionStatus; ballot: number}>
  /** Replicas the meta tells the node to delete. */
  gc: string[]
  /** The meta's envs of the apps the node's replicas belong to (config sync carries the app_info). */
  envs?: Map<number, Record<string, string>>
}

/** The meta as a replica server reaches it (beacons and config sync: rDSN's native channel, not THFT). */
export interface MetaChannel {
  beacon(node: string): void
  configSync(node: string, replicas: ReplicaInfo[]): ConfigSyncReply | undefined
}

/** How a replica server behaves now. */
export type ReplicaServerMode = 'running' | 'stopped' | 'hung'

export interface ReplicaServerOptions {
  /** Display name, e.g. `replica1`. */
  name: string
  /** Fixed port (kept across restarts). */
  port: number
  host?: string
  /** The JSON file that keeps this node's replicas. */
  file: string
  beaconIntervalMs: number
  configSyncIntervalMs: number
  meta: () => MetaChannel | undefined
  data: ReplicaDataOptions
}

/** What the data path of a replica server needs from the lab. */
export interface ReplicaDataOptions {
  /** The partitions' mutation logs. */
  store: DataStore
  /** The servers the meta's configuration names as secondaries of `pid` (a write reaches them). */
  secondaries: (pid: string) => ReplicaServer[]
  /** Upstream's mutation_2pc_min_replica_count: fewer members and the primary refuses writes. */
  mutation2pcMinReplicaCount: number
}

interface NodeFile {
  name: string
  address: string
  /** The app info as the node's `.app-info` files keep it (envs: rocksdb.allow_ingest_behind only). */
  apps: AppInfo[]
  /** [pid, ballot, status, lcd, lpd, ldd, disk_tag, rows] per replica, compact for big labs. */
  replicas: [string, number, number, number, number, number, string, number][]
}

/** A simulated replica server. */
export class ReplicaServer {
  readonly name: string
  readonly address: string
  readonly port: number
  private readonly host: string
  private readonly file: string
  private readonly opts: ReplicaServerOptions
  /** The app info the node's replicas hold in memory (`_app_info`), which query_app_info reports. */
  private readonly apps = new Map<number, AppInfo>()
  /** The app info as the `.app-info` files keep it, which a restart loads. */
  private readonly stored = new Map<number, AppInfo>()
  private readonly replicas = new Map<string, StoredReplica>()
  private server: RpcServer | undefined
  private timers: NodeJS.Timeout[] = []
  private saveTimer: NodeJS.Timeout | undefined
  /** The two collect replies, encoded once per state change (a node of a big lab holds thousands). */
  private encodedApps: EncodedStruct<QueryAppInfoResponse> | undefined
  private encodedReplicas: EncodedStruct<QueryReplicaInfoResponse> | undefined
  private _mode: ReplicaServerMode = 'stopped'
  private readonly dataService: DataService
  /** When true the node beacons but sends no config sync (the meta has not collected it). */
  configSyncMuted = false

  constructor(opts: ReplicaServerOptions) {
    this.opts = opts
    this.name = opts.name
    this.host = opts.host ?? '127.0.0.1'
    this.port = opts.port
    this.address = `${this.host}:${opts.port}`
    this.file = opts.file
    this.dataService = new DataService({
      address: this.address,
      store: opts.data.store,
      replica: (pid) => this.replicas.get(pid),
      write: (pid, ops) => this.write(pid, ops),
      partitionCount: (appId) => this.apps.get(appId)?.partition_count,
    })
  }

  get mode(): ReplicaServerMode {
    return this._mode
  }

  /** Whether the node answers RPCs and heartbeats. */
  get serving(): boolean {
    return this._mode === 'running'
  }

  // ---- storage ----

  /** Loads the replicas from the state file (absent file: no replicas). */
  load(): void {
    let parsed: NodeFile
    try {
      parsed = JSON.parse(readFileSync(this.file, 'utf8')) as NodeFile
    } catch {
      return
    }
    this.apps.clear()
    this.stored.clear()
    this.replicas.clear()
    this.dropEncodedReplies()
    for (const a of parsed.apps) {
      const info = {...a, envs: persistedEnvs(a.envs ?? {})}
      this.stored.set(a.app_id, info)
      this.apps.set(a.app_id, {...info, envs: {...info.envs}})
    }
    for (const [pid, ballot, status, lcd, lpd, ldd, disk_tag, rows] of parsed.replicas) {
      this.replicas.set(pid, {
        pid,
        ballot,
        status: status as PartitionStatus,
        last_committed_decree: lcd,
        last_prepared_decree: lpd,
        last_durable_decree: ldd,
        disk_tag,
        rows,
      })
    }
  }

  /** Writes the replicas now (atomically: temp file, then rename). */
  saveNow(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer)
    this.saveTimer = undefined
    const data: NodeFile = {
      name: this.name,
      address: this.address,
      apps: [...this.stored.values()],
      replicas: [...this.replicas.values()].map((r) => [
        r.pid,
        r.ballot,
        r.status,
        r.last_committed_decree,
        r.last_prepared_decree,
        r.last_durable_decree,
        r.disk_tag,
        r.rows,
      ]),
    }
    mkdirSync(dirname(this.file), {recursive: true})
    const tmp = `${this.file}.tmp`
    writeFileSync(tmp, JSON.stringify(data))
    renameSync(tmp, this.file)
  }

  private dropEncodedReplies(): void {
    this.encodedApps = undefined
    this.encodedReplicas = undefined
  }

  /** Every change of the replicas or apps: drops the encoded replies, schedules a write soon (one per burst). */
  private changed(): void {
    this.dropEncodedReplies()
    if (this.saveTimer) return
    this.saveTimer = setTimeout(() => this.saveNow(), 50)
    this.saveTimer.unref()
  }

  // ---- replica state, as the meta's proposals and the lab's faults change it ----

  /** The replica of `pid`, if this node holds one (change it through {@link updateReplica}). */
  replica(pid: string): Readonly<StoredReplica> | undefined {
    return this.replicas.get(pid)
  }

  /** Every replica this node holds. */
  allReplicas(): Readonly<StoredReplica>[] {
    return [...this.replicas.values()]
  }

  /**
   * Puts (or replaces) a replica opened with `info` (the meta's app_info of the proposal, envs
   * included). A node reports one app_info per app: upstream's is the first replica's of its
   * replica map (unordered); the lab's is the one its first replica of the app was opened with.
   */
  putReplica(info: AppInfo, r: StoredReplica): void {
    if (!this.apps.has(info.app_id)) {
      this.apps.set(info.app_id, {...info, envs: {...info.envs}})
      this.stored.set(info.app_id, {...info, envs: persistedEnvs(info.envs)})
    }
    this.replicas.set(r.pid, r)
    this.changed()
  }

  /**
   * `update_allow_ingest_behind` of every replica of `appId` with the meta's envs: a changed
   * boolean is written to `.app-info` (the replica's in-memory info with the meta's envs, of which
   * the file keeps that one). The in-memory info, and so query_app_info, stays as it was.
   */
  private applyMetaEnvs(appId: number, envs: Record<string, string>): boolean {
    const wanted = boolEnv(envs, ENV_ALLOW_INGEST_BEHIND)
    const stored = this.stored.get(appId)
    const mem = this.apps.get(appId)
    if (wanted === undefined || !stored || !mem) return false
    if ((boolEnv(stored.envs, ENV_ALLOW_INGEST_BEHIND) ?? false) === wanted) return false
    this.stored.set(appId, {...mem, envs: persistedEnvs(envs)})
    return true
  }

  /** Changes fields of a replica this node holds. */
  updateReplica(pid: string, patch: Partial<Omit<StoredReplica, 'pid'>>): void {
    const r = this.replicas.get(pid)
    if (!r) return
    Object.assign(r, patch)
    this.changed()
  }

  /** Deletes a replica (garbage collection, or a lost disk); the app info goes with its last replica. */
  removeReplica(pid: string): boolean {
    const had = this.replicas.delete(pid)
    if (had) {
      const appId = parseGpid(pid).app_id
      if (![...this.replicas.keys()].some((k) => parseGpid(k).app_id === appId)) {
        this.apps.delete(appId)
        this.stored.delete(appId)
      }
      this.changed()
    }
    return had
  }

  /**
   * Commits one mutation of `pid` with this node as the primary: the next decree of the log (cut
   * to what this replica holds), held and committed here and on the secondaries of the meta's
   * configuration that run and serve as secondaries. Errors are upstream's (replica_2pc.cpp).
   */
  write(pid: string, ops: Op[]): {decree: number} | {err: string} {
    const r = this.replicas.get(pid)
    if (!r) return {err: 'ERR_OBJECT_NOT_FOUND'}
    if (r.status !== PartitionStatus.PS_PRIMARY) return {err: 'ERR_INVALID_STATE'}
    const secondaries = this.opts.data.secondaries(pid)
    if (secondaries.length + 1 < this.opts.data.mutation2pcMinReplicaCount) return {err: 'ERR_NOT_ENOUGH_MEMBER'}
    const decree = this.opts.data.store.log(pid).append(ops, Math.min(r.rows, r.last_committed_decree))
    const held = {
      rows: decree,
      last_committed_decree: decree,
      last_prepared_decree: decree,
      last_durable_decree: decree,
    }
    this.updateReplica(pid, held)
    for (const s of secondaries) {
      if (s.serving && s.replica(pid)?.status === PartitionStatus.PS_SECONDARY) s.updateReplica(pid, held)
    }
    return {decree}
  }

  /** The replica_info list this node reports (query_replica_info, config sync). */
  replicaInfos(): ReplicaInfo[] {
    const out: ReplicaInfo[] = []
    for (const r of this.replicas.values()) {
      const app = this.apps.get(parseGpid(r.pid).app_id)
      out.push({
        pid: r.pid,
        ballot: r.ballot,
        status: r.status,
        last_committed_decree: r.last_committed_decree,
        last_prepared_decree: r.last_prepared_decree,
        last_durable_decree: r.last_durable_decree,
        app_type: app?.app_type ?? 'pegasus',
        disk_tag: r.disk_tag,
      })
    }
    return out
  }

  // ---- life cycle ----

  /** Starts serving on its fixed port: RPCs, HTTP, beacons and config sync. */
  async start(): Promise<void> {
    if (this._mode === 'running') return
    if (this._mode === 'hung') {
      this._mode = 'running'
      this.startTimers()
      return
    }
    this.server = await startRpcServer({
      host: this.host,
      port: this.port,
      handlers: {
        RPC_QUERY_APP_INFO: async () => {
          if (this._mode === 'hung') return new Promise(() => {})
          return {err: 'ERR_OK', response: this.encodeReplies().apps}
        },
        RPC_QUERY_REPLICA_INFO: async () => {
          if (this._mode === 'hung') return new Promise(() => {})
          return {err: 'ERR_OK', response: this.encodeReplies().replicas}
        },
      },
      extra: dataRpcs(this.dataService, () => this._mode === 'hung'),
      http: (req, res) => this.serveHttp(req, res),
    })
    this._mode = 'running'
    this.startTimers()
  }

  /** The collect replies, encoded now unless no change came since they last were (the lab warms them after bring-up). */
  encodeReplies(): {
    apps: EncodedStruct<QueryAppInfoResponse>
    replicas: EncodedStruct<QueryReplicaInfoResponse>
  } {
    this.encodedApps ??= encodeStruct(RPCS.RPC_QUERY_APP_INFO.response, {
      err: 'ERR_OK',
      apps: [...this.apps.values()].sort((a, b) => a.app_id - b.app_id),
    })
    this.encodedReplicas ??= encodeStruct(RPCS.RPC_QUERY_REPLICA_INFO.response, {
      err: 'ERR_OK',
      replicas: this.replicaInfos(),
    })
    return {apps: this.encodedApps, replicas: this.encodedReplicas}
  }

  /** Stops the process as `kill -9` would: no more answers, beacons or reports; replicas stay on disk. */
  async stop(): Promise<void> {
    this.stopTimers()
    this._mode = 'stopped'
    this.dataService.reset()
    this.saveNow()
    const s = this.server
    this.server = undefined
    await s?.close()
  }

  /** The process hangs: connections are accepted but nothing is answered, and beacons stop. */
  hang(): void {
    if (this._mode !== 'running') return
    this.stopTimers()
    this._mode = 'hung'
  }

  private startTimers(): void {
    this.stopTimers()
    const beat = (): void => {
      if (this._mode === 'running') this.opts.meta()?.beacon(this.address)
    }
    beat()
    this.syncWithMeta()
    this.timers.push(
      setInterval(beat, this.opts.beaconIntervalMs),
      setInterval(() => this.syncWithMeta(), this.opts.configSyncIntervalMs),
    )
    for (const t of this.timers) t.unref()
  }

  private stopTimers(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers = []
  }

  /** One config-sync round: report the stored replicas, take the roles the meta gives, drop garbage. */
  syncWithMeta(): void {
    if (this._mode !== 'running' || this.configSyncMuted) return
    const reply = this.opts.meta()?.configSync(this.address, this.replicaInfos())
    if (!reply || reply.err !== 'ERR_OK') return
    let changed = false
    for (const r of this.replicas.values()) {
      const role = reply.serving.get(r.pid)
      if (role) {
        if (r.status !== role.status || r.ballot !== role.ballot) {
          // A replica taking a role with a newer ballot commits what it had prepared.
          if (role.status === PartitionStatus.PS_PRIMARY && r.status !== PartitionStatus.PS_PRIMARY) {
            r.last_committed_decree = Math.max(r.last_committed_decree, r.last_prepared_decree)
          }
          r.status = role.status
          r.ballot = Math.max(r.ballot, role.ballot)
          changed = true
        }
      } else if (r.status === PartitionStatus.PS_PRIMARY || r.status === PartitionStatus.PS_SECONDARY) {
        r.status = PartitionStatus.PS_INACTIVE
        changed = true
      }
    }
    for (const pid of reply.gc) if (this.removeReplica(pid)) changed = true
    for (const [appId, envs] of reply.envs ?? []) if (this.applyMetaEnvs(appId, envs)) changed = true
    if (changed) this.changed()
  }

  private serveHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (this._mode === 'hung') return // hung: never answer
    if (url.pathname === '/version') {
      res.writeHead(200, {'content-type': 'application/json'})
      res.end(JSON.stringify({Version: 'lifeboat-lab', GitCommit: 'simulated'}))
      return
    }
    res.writeHead(404, {'content-type': 'text/plain'})
    res.end('not found\n')
  }
}
