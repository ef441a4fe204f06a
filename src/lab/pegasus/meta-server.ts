/**
 * A simulated Pegasus meta server. It keeps the cluster's metadata in a real ZooKeeper in Pegasus's
 * layout and JSON (pegasus.md §1), takes the leader lock, serves the admin RPCs over THFT and the
 * `/meta/*` HTTP endpoints on the same port, rebuilds metadata from replica servers in recovery mode
 * (§2), and cures partitions as the partition guardian does (§3.1), with DDD detection, proposals
 * and meta function levels (§6.2).
 *
 * Where the real meta would CHECK-fail (coredump), this one "crashes": it stops serving, drops its
 * ZooKeeper session and records the message, so the lab shows what an operator would see.
 */

import {
  AppStatus,
  ConfigType,
  META_LEVEL_VALUES,
  MetaFunctionLevel,
  metaLevelName,
  NodeStatus,
  PartitionStatus,
  PatternMatchType,
  enumName,
  parseGpid,
  startRpcServer,
  type AppInfo,
  type ConfigurationProposalAction,
  type ConfigurationRecoveryRequest,
  type ConfigurationRecoveryResponse,
  type ExtraRpc,
  type DddPartitionInfo,
  type PartitionConfiguration,
  type ReplicaInfo,
  type RpcServer,
} from '../../engines/pegasus/wire/index.js'
import {ZkError, connectZk, type ZkClient, type ZkOp} from '../../zk/index.js'
import {
  AppEnvOperation,
  UPDATE_APP_ENV,
  invalidEnvHint,
  type UpdateAppEnvRequest,
  type UpdateAppEnvResponse,
} from './app-envs.js'
import {decodeAppInfo, decodePartitionConfig, encodeAppInfo, encodePartitionConfig} from './json.js'
import {
  clonePc,
  collectReplica,
  createAppState,
  emptyContext,
  isMember,
  isSecondary,
  maintainDrops,
  members,
  recordDropHistory,
  type AppState,
  type StateRules,
} from './meta-state.js'
import {mapLimit} from '../../util/map-limit.js'
import {createTolerant, joinZk} from './zk-batch.js'
import type {ConfigSyncReply, MetaChannel, ReplicaServer} from './replica-server.js'
import {serveMetaHttp, type MetaHttpView} from './meta-http.js'
import {PartitionGuardian, type NodeState} from './meta-guardian.js'
import {AwakeClock} from './fd-clock.js'
import {syncAppsFromReplicaNodes, type RecoveryHost} from './recovery.js'

/** How often the failure detector checks the beacons: four times per grace period. */
export function fdCheckIntervalMs(fdGraceMs: number): number {
  return Math.max(50, Math.floor(fdGraceMs / 4))
}

/** Partition writes in flight on the meta's session at most (ZooKeeper's globalOutstandingLimit is 1,000). */
const WRITES_IN_FLIGHT = 500

/** Meta function levels by name (without `fl_`). */
const LEVELS = META_LEVEL_VALUES

/** The meta's configuration (Pegasus's `[meta_server]`, `[replication]` and `[zookeeper]` flags). */
export interface MetaServerConfig {
  /** Display name, e.g. `meta1`. */
  name: string
  host?: string
  port: number
  clusterName: string
  /** Every meta server of the cluster (`[meta_server] server_list`). */
  metaServers: string[]
  /** `[zookeeper] hosts_list`. */
  zkHosts: string
  /** `[meta_server] cluster_root`. */
  clusterRoot: string
  /** The lock root (first of `distributed_lock_service_parameters`); onebox uses cluster_root. */
  lockRoot?: string
  /** `[meta_server] recover_from_replica_server`. */
  recover: boolean
  /** `[meta_server] meta_function_level_on_start`. */
  levelOnStart: number
  /** `[replication] lb_interval_ms`: how often the partition check runs. */
  lbIntervalMs: number
  /** Failure detection: a node is dead after this long without a beacon. */
  fdGraceMs: number
  minLiveNodeCountForUnfreeze: number
  nodeLivePercentageThresholdForUpdate: number
  maxReservedDroppedReplicas: number
  mutation2pcMinReplicaCount: number
  replicaAssignDelayMsForDropouts: number
  /** Per-node RPC timeout of the recovery collection (rDSN's default RPC timeout: 5000 ms). */
  recoveryRpcTimeoutMs: number
  /** The replica servers as the meta reaches them for proposals (rDSN's native channel). */
  replicas: (address: string) => ReplicaServer | undefined
  log?: (line: string) => void
}

/** Where a meta server is in its life. */
export type MetaPhase = 'starting' | 'follower' | 'recovering' | 'serving' | 'crashed' | 'stopped'

const OK = 'ERR_OK'

/** What `meta_service::get_app_name` answers for an app id it does not hold. */
const APP_NOT_EXIST = 'ERR_APP_NOT_EXIST'

/**
 * `greedy_load_balancer::get_balance_operation_count({"detail"})` with no balancing under way:
 * nlohmann::json's dump(2) of the counters, keys sorted (the lab's meta never balances).
 */
const BALANCE_OPERATION_COUNT = JSON.stringify({copy_pri: 0, copy_sec: 0, move_pri: 0, total: 0}, null, 2)

/** A simulated meta server. */
export class MetaServer implements MetaChannel {
  readonly name: string
  readonly address: string
  readonly config: MetaServerConfig
  private readonly rules: StateRules
  private _phase: MetaPhase = 'stopped'
  private _crash: string | undefined
  private zk: ZkClient | undefined
  private server: RpcServer | undefined
  private lockNode: string | undefined
  private leader: string | undefined
  private timers: NodeJS.Timeout[] = []
  private level: number
  private readonly apps = new Map<number, AppState>()
  private readonly existApps = new Map<string, AppState>()
  private readonly nodes = new Map<string, NodeState>()
  private readonly guardian: PartitionGuardian
  /** The failure detector's clock (./fd-clock.ts): beacon silence counts only while the lab process runs. */
  private readonly fdClock: AwakeClock
  private recoveryRunning: Promise<void> | undefined
  private writes: Promise<unknown> = Promise.resolve()
  private pendingWrites = 0
  private writesInFlight = 0
  /** Partition writes waiting for one in flight to finish (see enqueueWrite). */
  private readonly waitingWrites: (() => void)[] = []
  /** Counts of executed config changes, for status and tests. */
  readonly counters = {checks: 0, proposals: 0, configChanges: 0, fdChecks: 0}

  constructor(config: MetaServerConfig) {
    this.config = config
    this.name = config.name
    this.address = `${config.host ?? '127.0.0.1'}:${config.port}`
    this.rules = {maxReservedDroppedReplicas: config.maxReservedDroppedReplicas}
    this.level = config.levelOnStart
    if (config.recover && this.level > LEVELS.steady) this.level = LEVELS.steady
    // A check may bank at most two of its intervals: a longer gap is the lab process stalling.
    this.fdClock = new AwakeClock(2 * fdCheckIntervalMs(config.fdGraceMs))
    this.guardian = new PartitionGuardian({
      config,
      rules: this.rules,
      existApps: this.existApps,
      nodes: this.nodes,
      counters: this.counters,
      log: (line) => this.log(line),
      writePartition: (app, i) => this.writePartition(app, i),
    })
  }

  /** What the recovery (./recovery.ts) reads and changes of this meta. */
  private recoveryHost(): RecoveryHost {
    return {
      address: this.address,
      config: this.config,
      rules: this.rules,
      apps: this.apps,
      existApps: this.existApps,
      crash: (message) => this.crash(message),
    }
  }

  get phase(): MetaPhase {
    return this._phase
  }

  /** Why the meta crashed, in Pegasus's words, when it did. */
  get crashReason(): string | undefined {
    return this._crash
  }

  get appsRoot(): string {
    return joinZk(this.config.clusterRoot, 'apps')
  }

  get lockDir(): string {
    return joinZk(this.config.lockRoot ?? this.config.clusterRoot, 'dsn.meta.server.leader')
  }

  private log(line: string): void {
    this.config.log?.(`[${this.name}] ${line}`)
  }

  // ---------------------------------------------------------------- life cycle

  /** Starts: ZooKeeper session, RPC+HTTP server, leader lock, then loads (or waits for recovery). */
  async start(): Promise<void> {
    this._phase = 'starting'
    this._crash = undefined
    this.zk = await connectZk({hosts: this.config.zkHosts, root: this.config.clusterRoot, sessionTimeoutMs: 8000})
    // remote_storage_initialize: every component of cluster_root exists as an empty node.
    await this.zk.mkdirp(this.config.clusterRoot)
    await this.zk.mkdirp(this.lockDir)
    this.server = await startRpcServer({
      host: this.config.host ?? '127.0.0.1',
      port: this.config.port,
      handlers: this.handlers(),
      extra: {
        [UPDATE_APP_ENV.name]: {
          request: UPDATE_APP_ENV.request as ExtraRpc['request'],
          response: UPDATE_APP_ENV.response as ExtraRpc['response'],
          handler: async (req) => ({err: OK, response: await this.updateAppEnv(req as UpdateAppEnvRequest)}),
        },
      },
      http: (req, res) => serveMetaHttp(this.httpView(), req, res),
    })
    const created = await this.zk.create(joinZk(this.lockDir, 'LOCKNODE'), Buffer.from(this.address), {
      mode: 'ephemeral_sequential',
    })
    this.lockNode = created
    await this.tryBecomeLeader()
  }

  /** Leader election by the lowest LOCKNODE sequence; followers look again every second. */
  private async tryBecomeLeader(): Promise<void> {
    if (!this.zk || this._phase === 'crashed' || this._phase === 'stopped') return
    const children = (await this.zk.getChildren(this.lockDir)).filter((c) => c.startsWith('LOCKNODE')).sort()
    const first = children[0]
    if (first && joinZk(this.lockDir, first) === this.lockNode) {
      this.leader = this.address
      await this.becomeLeader()
      return
    }
    if (first) {
      try {
        this.leader = (await this.zk.get(joinZk(this.lockDir, first))).data.toString('utf8')
      } catch {
        this.leader = undefined
      }
    }
    this._phase = 'follower'
    const t = setTimeout(
      () => void this.tryBecomeLeader().catch((err) => this.log(`leader check failed: ${String(err)}`)),
      1000,
    )
    t.unref()
    this.timers.push(t)
  }

  /** `initialize_data_structure`, then start serving or wait for start_recovery. */
  private async becomeLeader(): Promise<void> {
    const zk = this.zk as ZkClient
    let state: string | undefined
    try {
      state = (await zk.get(this.appsRoot)).data.toString('utf8')
    } catch (err) {
      if (!(err instanceof ZkError && err.code === 'ZK_NO_NODE')) throw err
    }
    let found = false
    if (state !== undefined) {
      if (state !== 'unlock' && state !== '') return this.crash(`invalid transaction state(${state})`)
      const ids = await zk.getChildren(this.appsRoot)
      if (ids.length > 0) {
        if (this.config.recover)
          return this.crash('find apps from remote storage, but [meta_server].recover_from_replica_server = true')
        await this.loadApps(ids)
        found = this.apps.size > 0
      }
    }
    if (!found) {
      if (this.config.recover) {
        this.log(
          "can't find apps from remote storage, and [meta_server].recover_from_replica_server = true, administrator should recover this cluster manually later",
        )
        this._phase = 'recovering'
        this.startFailureDetector()
        return
      }
      // initialize_default_apps with no default apps configured: the marker only.
      await this.syncAppsToRemote()
    }
    this.initializeNodeState()
    this.startService()
  }

  private startService(): void {
    this._phase = 'serving'
    this.startFailureDetector()
    const t = setInterval(() => this.checkAllPartitions(), this.config.lbIntervalMs)
    t.unref()
    this.timers.push(t)
  }

  private fdStarted = false
  private startFailureDetector(): void {
    if (this.fdStarted) return
    this.fdStarted = true
    const t = setInterval(() => this.checkBeacons(), fdCheckIntervalMs(this.config.fdGraceMs))
    t.unref()
    this.timers.push(t)
  }

  /** Stops serving and ends the ZooKeeper session (the lock node goes with it). */
  async stop(): Promise<void> {
    if (this._phase !== 'crashed') this._phase = 'stopped'
    for (const t of this.timers) clearInterval(t)
    this.timers = []
    this.fdStarted = false
    await this.flush().catch(() => {})
    const s = this.server
    this.server = undefined
    await s?.close()
    const zk = this.zk
    this.zk = undefined
    await zk?.close()
  }

  /** What a CHECK failure does to the real meta: it is gone, with a message in its log. */
  private async crash(message: string): Promise<void> {
    this.log(`CHECK failed, meta server exits: ${message}`)
    this._crash = message
    this._phase = 'crashed'
    await this.stop()
  }

  /** Waits until every ZooKeeper write issued so far is done. */
  async flush(): Promise<void> {
    for (;;) {
      const w = this.writes
      await w
      if (w === this.writes) return
    }
  }

  /**
   * Issues a partition write, in order, with at most {@link WRITES_IN_FLIGHT} on the session: the
   * rest wait here. A guardian round after a 64,000-partition recovery changes every partition;
   * issued at once, the last writes waited in the client's queue past their call deadline, which
   * closes the session (every write after it lost, the leader lock gone) and left ZooKeeper busy
   * with the backlog long enough for a restarted meta's connect to time out.
   */
  private enqueueWrite(fn: (zk: ZkClient) => Promise<unknown>): void {
    const zk = this.zk
    if (!zk) return
    this.pendingWrites++
    const p = new Promise<void>((resolve) => {
      const run = (): void => {
        this.writesInFlight++
        // One session runs requests in order, and they are issued in order.
        void fn(zk)
          .catch((err) => this.log(`ZooKeeper write failed: ${String(err)}`))
          .finally(() => {
            this.writesInFlight--
            this.pendingWrites--
            resolve()
            this.waitingWrites.shift()?.()
          })
      }
      if (this.writesInFlight < WRITES_IN_FLIGHT && this.waitingWrites.length === 0) run()
      else this.waitingWrites.push(run)
    })
    this.writes = Promise.all([this.writes, p])
  }

  // ---------------------------------------------------------------- ZooKeeper load and sync

  private async loadApps(ids: string[]): Promise<void> {
    const zk = this.zk as ZkClient
    this.apps.clear()
    this.existApps.clear()
    const now = Date.now()
    const infos = await mapLimit(ids, 64, async (id) =>
      decodeAppInfo((await zk.get(joinZk(this.appsRoot, id))).data.toString('utf8')),
    )
    for (const info of infos) {
      const app = createAppState(info)
      this.apps.set(info.app_id, app)
      if (info.status === AppStatus.AS_AVAILABLE) this.existApps.set(info.app_name, app)
      else if (info.status !== AppStatus.AS_DROPPED)
        return this.crash(
          `invalid status(${enumName(AppStatus, info.status)}) for app(${info.app_name}(${info.app_id})) in remote storage`,
        )
    }
    const jobs: [AppState, number][] = []
    for (const app of this.apps.values()) for (let i = 0; i < app.info.partition_count; i++) jobs.push([app, i])
    await mapLimit(jobs, 500, async ([app, i]) => {
      const path = joinZk(this.appsRoot, `${app.info.app_id}/${i}`)
      try {
        app.pcs[i] = decodePartitionConfig((await zk.get(path)).data.toString('utf8'))
        this.recordLastDrops(app, i, now)
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'ZK_NO_NODE')) throw err
        // "partition node ... not exist on remote storage, may half create before": create it.
        this.writePartition(app, i, true)
      }
    })
    for (const app of this.apps.values()) {
      if (app.info.status !== AppStatus.AS_DROPPED) continue
      for (let i = 0; i < app.pcs.length; i++) if ((app.pcs[i].partition_flags & 1) === 0) this.dropPartition(app, i)
    }
  }

  /** `drop_partition` (CT_DROP_PARTITION): members move to last_drops, the dropped flag is set. */
  private dropPartition(app: AppState, i: number): void {
    const pc = clonePc(app.pcs[i])
    pc.ballot++
    for (const m of members(pc)) {
      maintainDrops(pc.last_drops, m, ConfigType.CT_DROP_PARTITION)
      maintainDrops(pc.hp_last_drops as string[], m, ConfigType.CT_DROP_PARTITION)
    }
    pc.primary = ''
    pc.hp_primary = ''
    pc.secondaries = []
    pc.hp_secondaries = []
    pc.partition_flags |= 1
    app.pcs[i] = pc
    app.ccs[i] = emptyContext()
    this.recordLastDrops(app, i, Date.now())
    this.writePartition(app, i)
  }

  /** The partition's last_drops enter its drop history (as loaded or just written). */
  private recordLastDrops(app: AppState, i: number, now: number): void {
    const pc = app.pcs[i]
    for (const d of pc.hp_last_drops ?? []) recordDropHistory(pc, app.ccs[i], d, now, this.rules)
  }

  private writePartition(app: AppState, i: number, create = false): void {
    const path = joinZk(this.appsRoot, `${app.info.app_id}/${i}`)
    const data = Buffer.from(encodePartitionConfig(app.pcs[i]))
    this.enqueueWrite((zk) => (create ? zk.create(path, data) : zk.set(path, data, -1)))
  }

  /**
   * `sync_apps_to_remote_storage`: apps node with "lock", every app node, every partition node
   * (batched multis; an existing node is tolerated as Pegasus tolerates ERR_NODE_ALREADY_EXIST),
   * then "unlock". Returns false if ZooKeeper refused a write.
   */
  private async syncAppsToRemote(): Promise<boolean> {
    const zk = this.zk as ZkClient
    try {
      await zk.create(this.appsRoot, Buffer.from('lock'))
    } catch (err) {
      if (!(err instanceof ZkError && err.code === 'ZK_NODE_EXISTS')) {
        this.log(`create root node /apps in meta store failed, err = ${String(err)}`)
        return false
      }
    }
    const appOps: ZkOp[] = []
    const partOps: ZkOp[] = []
    for (const app of [...this.apps.values()].sort((a, b) => a.info.app_id - b.info.app_id)) {
      const status = app.info.status === AppStatus.AS_CREATING ? AppStatus.AS_AVAILABLE : AppStatus.AS_DROPPED
      appOps.push({
        op: 'create',
        path: joinZk(this.appsRoot, String(app.info.app_id)),
        data: Buffer.from(encodeAppInfo(app.info, status)),
      })
      for (let i = 0; i < app.pcs.length; i++) {
        partOps.push({
          op: 'create',
          path: joinZk(this.appsRoot, `${app.info.app_id}/${i}`),
          data: Buffer.from(encodePartitionConfig(app.pcs[i])),
        })
      }
    }
    try {
      await createTolerant(zk, appOps)
      await createTolerant(zk, partOps)
    } catch (err) {
      this.log(`sync apps to remote storage failed: ${String(err)}`)
      return false
    }
    await zk.set(this.appsRoot, Buffer.from('unlock'), -1)
    return true
  }

  /** After `syncAppsToRemote`: creating apps are available (and found by name), the others dropped. */
  private markSynced(): void {
    for (const app of this.apps.values()) {
      if (app.info.status === AppStatus.AS_CREATING) {
        app.info.status = AppStatus.AS_AVAILABLE
        this.existApps.set(app.info.app_name, app)
      } else {
        app.info.status = AppStatus.AS_DROPPED
      }
    }
  }

  /** `initialize_node_state`: every node serving a partition starts alive. */
  private initializeNodeState(): void {
    const now = this.fdClock.read()
    for (const app of this.apps.values()) {
      for (const pc of app.pcs) {
        for (const n of members(pc)) {
          const ns = this.nodes.get(n)
          if (ns) {
            ns.alive = true
          } else {
            this.nodes.set(n, {alive: true, collected: false, lastBeacon: now})
          }
        }
      }
    }
  }

  // ---------------------------------------------------------------- failure detection and config sync

  /** A beacon from a replica server (rDSN failure detector ping). */
  beacon(node: string): void {
    if (this._phase === 'crashed' || this._phase === 'stopped' || this._phase === 'starting') return
    const ns = this.nodes.get(node)
    if (!ns) {
      this.nodes.set(node, {alive: true, collected: false, lastBeacon: this.fdClock.read()})
      return
    }
    ns.lastBeacon = this.fdClock.read()
    if (!ns.alive) {
      ns.alive = true
      this.log(`node(${node}) is alive again`)
    }
  }

  /**
   * The failure detector's check: a node is dead after fd_grace_ms without a beacon, counted on
   * the lab process's running time (a stall of the whole lab is no node's silence).
   */
  private checkBeacons(): void {
    const now = this.fdClock.tick()
    this.counters.fdChecks++
    for (const [node, ns] of this.nodes) {
      if (ns.alive && now - ns.lastBeacon > this.config.fdGraceMs) {
        ns.alive = false
        ns.collected = false
        this.log(`node(${node}) is dead: no beacon for ${now - ns.lastBeacon} ms`)
        if (this._phase === 'serving') this.onNodeDead(node)
      }
    }
  }

  /** `on_change_node_state(node, false)`: downgrade the dead node wherever it serves. */
  private onNodeDead(node: string): void {
    // <= blind: update_configuration_on_remote is ignored, so nothing changes.
    if (this.level <= LEVELS.blind) return
    for (const app of this.existApps.values()) {
      for (let i = 0; i < app.pcs.length; i++) {
        const pc = app.pcs[i]
        if (pc.hp_primary === node) {
          this.guardian.applyChange(app, i, ConfigType.CT_DOWNGRADE_TO_INACTIVE, node)
        } else if (isSecondary(pc, node) && pc.hp_primary) {
          // The primary is told to remove it; it does so if it is up.
          if (this.config.replicas(pc.hp_primary)?.serving)
            this.guardian.applyChange(app, i, ConfigType.CT_DOWNGRADE_TO_INACTIVE, node)
        }
      }
    }
  }

  /** `on_config_sync`: which partitions the node serves, and its stored replicas collected. */
  configSync(node: string, replicas: ReplicaInfo[]): ConfigSyncReply | undefined {
    if (this._phase === 'recovering') return {err: 'ERR_UNDER_RECOVERY', serving: new Map(), gc: []}
    if (this._phase !== 'serving') return undefined
    const ns = this.nodes.get(node)
    const serving = new Map<string, {status: PartitionStatus; ballot: number}>()
    // The reply's partitions carry their app_info: the replicas they name apply its envs.
    const envs = new Map<number, Record<string, string>>()
    for (const app of this.existApps.values()) {
      for (const pc of app.pcs) {
        if (pc.hp_primary === node) serving.set(pc.pid, {status: PartitionStatus.PS_PRIMARY, ballot: pc.ballot})
        else if (isSecondary(pc, node)) serving.set(pc.pid, {status: PartitionStatus.PS_SECONDARY, ballot: pc.ballot})
        else continue
        envs.set(app.info.app_id, {...app.info.envs})
      }
    }
    if (ns) ns.collected = true
    const gc: string[] = []
    const level = this.functionLevel()
    const nowSec = Date.now() / 1000
    for (const rep of replicas) {
      const {app_id, partition_index} = parseGpid(rep.pid)
      const app = this.apps.get(app_id)
      if (!app || partition_index >= app.info.partition_count) {
        if (app && partition_index < app.info.partition_count * 2 && rep.status === PartitionStatus.PS_ERROR) {
          gc.push(rep.pid)
          continue
        }
        void this.crash(
          `gpid(${rep.pid}) on node(${node}) is not exist on meta server, administrator should check consistency of meta data`,
        )
        return undefined
      }
      if (app.info.status === AppStatus.AS_DROPPED) {
        if (app.info.expire_second !== 0 && app.info.expire_second < nowSec && level > LEVELS.steady) gc.push(rep.pid)
      } else if (app.info.status === AppStatus.AS_AVAILABLE) {
        const useful = collectReplica(app.pcs[partition_index], app.ccs[partition_index], node, rep, this.rules)
        if (!useful && level > LEVELS.steady) gc.push(rep.pid)
      }
    }
    return {err: ns ? OK : 'ERR_OBJECT_NOT_FOUND', serving, gc, envs}
  }

  // ---------------------------------------------------------------- levels

  /** `get_function_level`: the stored level, or freezed while too few nodes are alive. */
  functionLevel(): number {
    if (this.level > LEVELS.freezed && this.checkFreeze()) return LEVELS.freezed
    return this.level
  }

  private checkFreeze(): boolean {
    let alive = 0
    let total = 0
    for (const ns of this.nodes.values()) {
      total++
      if (ns.alive) alive++
    }
    if (alive < this.config.minLiveNodeCountForUnfreeze) return true
    return alive * 100 < this.config.nodeLivePercentageThresholdForUpdate * total
  }

  /** Sets the stored level (control_meta); levels <= steady clear every proposal. */
  setLevel(level: number): number {
    const old = this.level
    if (level <= LEVELS.steady) for (const app of this.existApps.values()) for (const cc of app.ccs) cc.lb_actions = []
    this.level = level
    return old
  }

  // ---------------------------------------------------------------- recovery (§2)

  /** `on_start_recovery` in the meta service and the server state. */
  async startRecovery(req: ConfigurationRecoveryRequest): Promise<ConfigurationRecoveryResponse> {
    while (this.recoveryRunning) await this.recoveryRunning
    if (this._phase === 'follower') return {err: 'ERR_FORWARD_TO_OTHERS', hint_message: ''}
    if (this._phase === 'serving') {
      this.log(`service(${this.name}(${this.address})) is already started, ignore the recovery request`)
      return {err: 'ERR_SERVICE_ALREADY_RUNNING', hint_message: ''}
    }
    if (this._phase !== 'recovering') return {err: 'ERR_SERVICE_NOT_ACTIVE', hint_message: ''}
    let done!: () => void
    this.recoveryRunning = new Promise<void>((r) => (done = r))
    try {
      return await this.doRecovery(req)
    } finally {
      this.recoveryRunning = undefined
      done()
    }
  }

  private async doRecovery(req: ConfigurationRecoveryRequest): Promise<ConfigurationRecoveryResponse> {
    const nodes = req.hp_recovery_nodes && req.hp_recovery_nodes.length > 0 ? req.hp_recovery_nodes : req.recovery_nodes
    this.log(
      `start recovery, node_count = ${nodes.length}, skip_bad_nodes = ${req.skip_bad_nodes}, skip_lost_partitions = ${req.skip_lost_partitions}`,
    )
    const hint = {text: ''}
    const err = await syncAppsFromReplicaNodes(
      this.recoveryHost(),
      nodes,
      req.skip_bad_nodes,
      req.skip_lost_partitions,
      hint,
    )
    if (this._phase === 'crashed') return new Promise(() => {}) // the process is gone: no reply
    if (err !== OK) {
      this.log(`sync apps from replica nodes failed when do recovery, err = ${err}`)
      this.apps.clear()
      this.existApps.clear()
      return {err, hint_message: hint.text}
    }
    const synced = await this.syncAppsToRemote()
    if (!synced) {
      await this.crash(
        'sync apps to remote storage failed when do recovery, need to manually clear contents from remote storage and restart the service',
      )
      return new Promise(() => {})
    }
    this.markSynced()
    this.initializeNodeState()
    this.startService()
    return {err: OK, hint_message: hint.text}
  }

  // ---------------------------------------------------------------- the partition guardian (§3.1, ./meta-guardian.ts)

  /** `check_all_partitions`: cure every partition of every available app, once (not while frozen). */
  checkAllPartitions(): void {
    if (this._phase !== 'serving') return
    const level = this.functionLevel()
    if (level <= LEVELS.freezed) return
    this.counters.checks++
    this.guardian.checkAll()
  }

  // ---------------------------------------------------------------- lab hooks (faults)

  /** The partition configuration the meta holds now (a copy). */
  partition(pid: string): PartitionConfiguration | undefined {
    const {app_id, partition_index} = parseGpid(pid)
    const pc = this.apps.get(app_id)?.pcs[partition_index]
    return pc ? clonePc(pc) : undefined
  }

  /** Every app the meta holds (copies). */
  allApps(): {info: AppInfo; pcs: PartitionConfiguration[]}[] {
    return [...this.apps.values()].map((a) => ({info: {...a.info}, pcs: a.pcs.map(clonePc)}))
  }

  /**
   * Puts a partition into DDD as a sequence of drops would have left it: no primary, no
   * secondaries, `drops` (oldest first) as last_drops and drop history, the given ballot and
   * last committed decree. Returns false if the meta does not serve the partition.
   */
  forceDdd(pid: string, drops: string[], ballot: number, lastCommittedDecree: number): boolean {
    if (this._phase !== 'serving') return false
    const {app_id, partition_index} = parseGpid(pid)
    const app = this.existApps.get(this.apps.get(app_id)?.info.app_name ?? '')
    if (!app || app.info.app_id !== app_id || partition_index < 0 || partition_index >= app.pcs.length) return false
    const pc = clonePc(app.pcs[partition_index])
    pc.primary = ''
    pc.hp_primary = ''
    pc.secondaries = []
    pc.hp_secondaries = []
    pc.last_drops = drops.slice(-3)
    pc.hp_last_drops = drops.slice(-3)
    pc.ballot = ballot
    pc.last_committed_decree = lastCommittedDecree
    app.pcs[partition_index] = pc
    const cc = emptyContext()
    app.ccs[partition_index] = cc
    const now = Date.now()
    drops.forEach((d, k) => recordDropHistory(pc, cc, d, now - (drops.length - 1 - k), this.rules))
    this.writePartition(app, partition_index)
    return true
  }

  /** Forgets that a node's replicas were collected (it came back but has not reported yet). */
  forgetCollected(node: string): void {
    const ns = this.nodes.get(node)
    if (ns) ns.collected = false
  }

  /** Removes a member that lost its replica, as its primary would report it. */
  dropMember(pid: string, node: string): void {
    if (this._phase !== 'serving') return
    const {app_id, partition_index} = parseGpid(pid)
    const app = this.apps.get(app_id)
    if (!app || app.info.status !== AppStatus.AS_AVAILABLE || !isMember(app.pcs[partition_index], node)) return
    this.guardian.applyChange(app, partition_index, ConfigType.CT_DOWNGRADE_TO_INACTIVE, node)
  }

  /**
   * Writes a freshly created cluster (the lab's bring-up, as create_app would have left it after
   * the replicas reported): apps, partitions and the lock/unlock marker, in batched multis.
   */
  async bootstrap(apps: {info: AppInfo; pcs: PartitionConfiguration[]}[]): Promise<void> {
    this.apps.clear()
    this.existApps.clear()
    for (const a of apps) {
      const app = createAppState(a.info)
      app.pcs = a.pcs.map(clonePc)
      // The JSON records AS_AVAILABLE/AS_DROPPED; the sync writes AS_CREATING as available.
      app.info.status = a.info.status === AppStatus.AS_AVAILABLE ? AppStatus.AS_CREATING : AppStatus.AS_DROPPING
      this.apps.set(a.info.app_id, app)
    }
    if (!(await this.syncAppsToRemote())) throw new Error('bootstrap: writing the metadata to ZooKeeper failed')
    this.markSynced()
    const now = Date.now()
    for (const app of this.apps.values()) for (let i = 0; i < app.pcs.length; i++) this.recordLastDrops(app, i, now)
    this.initializeNodeState()
    if (this._phase !== 'serving') this.startService()
  }

  // ---------------------------------------------------------------- RPC and HTTP

  /** Why a request is refused now (check_status_and_authz), or undefined to serve it. */
  private refusal(): string | undefined {
    if (this._phase === 'follower') return 'ERR_FORWARD_TO_OTHERS'
    if (this._phase === 'recovering') return 'ERR_UNDER_RECOVERY'
    if (this._phase !== 'serving') return 'ERR_SERVICE_NOT_ACTIVE'
    return undefined
  }

  /**
   * `update_app_env` (set_app_envs, del_app_envs, clear_app_envs of server_state.cpp): changes the
   * available table's envs in its app node, then in memory. Replicas see them at their next config
   * sync (./app-envs.ts says what they keep).
   */
  private async updateAppEnv(req: UpdateAppEnvRequest): Promise<UpdateAppEnvResponse> {
    const no = this.refusal()
    if (no) return {err: no, hint_message: ''}
    const keys = req.keys ?? []
    const values = req.values ?? []
    const invalid = {err: 'ERR_INVALID_PARAMETERS', hint_message: ''}
    const app = this.existApps.get(req.app_name)
    const next = {...(app?.info.envs ?? {})}
    if (req.op === AppEnvOperation.APP_ENV_OP_SET) {
      if (req.keys === undefined || req.values === undefined || keys.length !== values.length || keys.length === 0)
        return invalid
      for (let i = 0; i < keys.length; i++) {
        const hint = invalidEnvHint(keys[i], values[i])
        if (hint) return {err: 'ERR_INVALID_PARAMETERS', hint_message: hint}
      }
      if (!app) return {err: APP_NOT_EXIST, hint_message: 'app cannot be found'}
      keys.forEach((k, i) => (next[k] = values[i]))
    } else if (req.op === AppEnvOperation.APP_ENV_OP_DEL) {
      if (keys.length === 0) return invalid
      if (!app) return {err: APP_NOT_EXIST, hint_message: 'app cannot be found'}
      for (const k of keys) delete next[k]
    } else if (req.op === AppEnvOperation.APP_ENV_OP_CLEAR) {
      if (!app) return {err: APP_NOT_EXIST, hint_message: 'app cannot be found'}
      const prefix = req.clear_prefix ? `${req.clear_prefix}.` : ''
      for (const k of Object.keys(next)) if (k.startsWith(prefix)) delete next[k]
    } else {
      return {err: 'ERR_INVALID_PARAMETERS', hint_message: 'invalid operation'}
    }
    const sorted = Object.fromEntries(Object.entries(next).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    const data = Buffer.from(encodeAppInfo({...app.info, envs: sorted}, AppStatus.AS_AVAILABLE))
    try {
      await (this.zk as ZkClient).set(joinZk(this.appsRoot, String(app.info.app_id)), data, -1)
    } catch (err) {
      // CHECK_EQ_MSG(ec, ERR_OK, "update app({}) info to remote storage failed")
      await this.crash(`update app(${req.app_name}) info to remote storage failed: ${String(err)}`)
      return {err: 'ERR_TIMEOUT', hint_message: ''}
    }
    app.info.envs = sorted
    return {err: OK, hint_message: ''}
  }

  private handlers() {
    return {
      RPC_CM_START_RECOVERY: async (req: ConfigurationRecoveryRequest) => ({
        err: OK,
        response: await this.startRecovery(req),
      }),
      RPC_CM_DDD_DIAGNOSE: async (req: {pid: string}) => {
        const {app_id, partition_index} = parseGpid(req.pid)
        // CHECK_APP_ID_STATUS_AND_AUTHZ: a named app must exist (dropped or not) before anything else.
        if (app_id !== -1 && !this.apps.has(app_id)) return {err: OK, response: {err: APP_NOT_EXIST, partitions: []}}
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no, partitions: []}}
        const partitions = [...this.guardian.ddd.values()].filter((d) => {
          const g = parseGpid(d.config.pid)
          return (
            (app_id === -1 || g.app_id === app_id) && (partition_index === -1 || g.partition_index === partition_index)
          )
        })
        return {err: OK, response: {err: OK, partitions}}
      },
      RPC_CM_PROPOSE_BALANCER: async (req: {
        gpid: string
        action_list: ConfigurationProposalAction[]
        force?: boolean
      }) => {
        if (!this.apps.has(parseGpid(req.gpid).app_id)) return {err: OK, response: {err: APP_NOT_EXIST}}
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no}}
        return {err: OK, response: {err: this.proposeBalancer(req)}}
      },
      RPC_CM_CONTROL_META: async (req: {level: number}) => {
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no, old_level: this.level as MetaFunctionLevel}}
        const old = this.level as MetaFunctionLevel
        if (req.level !== MetaFunctionLevel.fl_invalid) this.setLevel(req.level)
        return {err: OK, response: {err: OK, old_level: old}}
      },
      RPC_CM_CLUSTER_INFO: async () => {
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no, keys: [], values: []}}
        const info = this.clusterInfo()
        return {
          err: OK,
          response: {
            err: OK,
            keys: [...Object.keys(info), 'cluster_name'],
            values: [...Object.values(info), this.config.clusterName],
          },
        }
      },
      RPC_CM_LIST_APPS: async (req: {status: number; app_name_pattern?: string; match_type?: number}) => {
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no, infos: []}}
        return {err: OK, response: {err: OK, infos: this.listApps(req.status, req.app_name_pattern, req.match_type)}}
      },
      RPC_CM_LIST_NODES: async (req: {status: number}) => {
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no, infos: []}}
        const infos = this.guardian
          .sortedNodes()
          .map(([node, ns]) => ({status: ns.alive ? NodeStatus.NS_ALIVE : NodeStatus.NS_UNALIVE, node, hp_node: node}))
          .filter((n) => req.status === NodeStatus.NS_INVALID || n.status === req.status)
        // The real meta lists the alive set first, then the dead set.
        infos.sort((a, b) => a.status - b.status)
        return {err: OK, response: {err: OK, infos}}
      },
      RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX: async (req: {app_name: string; partition_indices: number[]}) => {
        const empty = {app_id: 0, partition_count: 0, is_stateful: false, partitions: [] as PartitionConfiguration[]}
        const no = this.refusal()
        if (no === 'ERR_FORWARD_TO_OTHERS' && this.leader) {
          const pc = {
            pid: '0.0',
            ballot: 0,
            max_replica_count: 0,
            primary: this.leader,
            secondaries: [],
            last_drops: [],
            last_committed_decree: 0,
            partition_flags: 0,
            hp_primary: this.leader,
          }
          return {err: OK, response: {...empty, err: no, partitions: [pc]}}
        }
        if (no) return {err: OK, response: {...empty, err: no}}
        const app = this.existApps.get(req.app_name)
        if (!app) return {err: OK, response: {...empty, err: 'ERR_OBJECT_NOT_FOUND'}}
        let partitions = req.partition_indices
          .filter((x) => x >= 0 && x < app.pcs.length)
          .map((x) => clonePc(app.pcs[x]))
        if (partitions.length === 0) partitions = app.pcs.map(clonePc)
        return {
          err: OK,
          response: {
            err: OK,
            app_id: app.info.app_id,
            partition_count: app.info.partition_count,
            is_stateful: app.info.is_stateful,
            partitions,
          },
        }
      },
    }
  }

  /** `on_propose_balancer`: register (or, with force, send) the proposal. */
  proposeBalancer(req: {gpid: string; action_list: ConfigurationProposalAction[]; force?: boolean}): string {
    const {app_id, partition_index} = parseGpid(req.gpid)
    const app = this.apps.get(app_id)
    if (
      !app ||
      app.info.status !== AppStatus.AS_AVAILABLE ||
      partition_index < 0 ||
      partition_index >= app.info.partition_count
    )
      return 'ERR_INVALID_PARAMETERS'
    const pc = app.pcs[partition_index]
    const cc = app.ccs[partition_index]
    if (req.force) {
      for (const act of req.action_list) {
        cc.lb_actions = [act]
        this.guardian.sendProposal(app, partition_index, act)
      }
      cc.lb_actions = []
      return OK
    }
    if (cc.lb_actions.length > 0) return 'ERR_INVALID_PARAMETERS'
    const acts: ConfigurationProposalAction[] = []
    for (const a of req.action_list) {
      const act = {...a}
      if (!(act.hp_target || act.target)) {
        if (!pc.hp_primary) return 'ERR_INVALID_PARAMETERS'
        act.target = pc.hp_primary
        act.hp_target = pc.hp_primary
      }
      acts.push(act)
    }
    cc.lb_actions = acts
    cc.from_balancer = true
    return OK
  }

  private listApps(status: number, pattern?: string, matchType?: number): AppInfo[] {
    const out: AppInfo[] = []
    for (const app of [...this.apps.values()].sort((a, b) => a.info.app_id - b.info.app_id)) {
      if (status !== AppStatus.AS_INVALID && app.info.status !== status) continue
      if (
        pattern !== undefined &&
        pattern !== '' &&
        !matches(app.info.app_name, pattern, matchType ?? PatternMatchType.PMT_MATCH_ALL)
      )
        continue
      out.push({...app.info, envs: {...app.info.envs}})
    }
    return out
  }

  /** The `/meta/cluster` fields, all strings. */
  clusterInfo(): Record<string, string> {
    const prim = new Map<string, number>()
    const total = new Map<string, number>()
    for (const [n, ns] of this.nodes) {
      if (!ns.alive) continue
      prim.set(n, 0)
      total.set(n, 0)
    }
    for (const app of this.existApps.values()) {
      for (const pc of app.pcs) {
        if (pc.hp_primary && prim.has(pc.hp_primary)) prim.set(pc.hp_primary, (prim.get(pc.hp_primary) ?? 0) + 1)
        for (const m of members(pc)) if (total.has(m)) total.set(m, (total.get(m) ?? 0) + 1)
      }
    }
    return {
      meta_servers: this.config.metaServers.join(','),
      primary_meta_server: this.leader ?? this.address,
      zookeeper_hosts: this.config.zkHosts,
      zookeeper_root: this.config.clusterRoot,
      meta_function_level: metaLevelName(this.functionLevel()),
      balance_operation_count: BALANCE_OPERATION_COUNT,
      primary_replica_count_stddev: stddev([...prim.values()]).toFixed(2),
      total_replica_count_stddev: stddev([...total.values()]).toFixed(2),
    }
  }

  /** Node liveness as the meta sees it. */
  nodeStates(): {node: string; alive: boolean; collected: boolean}[] {
    return this.guardian.sortedNodes().map(([node, ns]) => ({node, alive: ns.alive, collected: ns.collected}))
  }

  /** The DDD partitions found by the last check. */
  dddPartitions(): DddPartitionInfo[] {
    return [...this.guardian.ddd.values()]
  }

  /** What the HTTP pages (./meta-http.ts) read of this meta. */
  private httpView(): MetaHttpView {
    return {
      phase: this._phase,
      leader: this.leader,
      config: this.config,
      clusterInfo: () => this.clusterInfo(),
      availableApps: () => this.listApps(AppStatus.AS_AVAILABLE),
      partitionsOf: (appId) => (this.apps.get(appId) as AppState).pcs,
      existingApps: () => this.existApps.values(),
      sortedNodes: () => this.guardian.sortedNodes(),
    }
  }
}

// ---------------------------------------------------------------- helpers

function matches(name: string, pattern: string, type: number): boolean {
  switch (type) {
    case PatternMatchType.PMT_MATCH_EXACT:
      return name === pattern
    case PatternMatchType.PMT_MATCH_ANYWHERE:
      return name.includes(pattern)
    case PatternMatchType.PMT_MATCH_PREFIX:
      return name.startsWith(pattern)
    case PatternMatchType.PMT_MATCH_POSTFIX:
      return name.endsWith(pattern)
    case PatternMatchType.PMT_MATCH_REGEX:
      try {
        return new RegExp(pattern).test(name)
      } catch {
        return false
      }
    default:
      return true
  }
}

function stddev(xs: number[]): number {
  if (xs.length === 0) return 0
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length
  return Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length)
}
