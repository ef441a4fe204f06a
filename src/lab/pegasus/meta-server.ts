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
  type DddPartitionInfo,
  type PartitionConfiguration,
  type QueryAppInfoResponse,
  type QueryReplicaInfoResponse,
  type ReplicaInfo,
  type RpcServer,
} from '../../engines/pegasus/wire/index.js'
import {ZkError, connectZk, type ZkClient, type ZkOp} from '../../zk/index.js'
import {decodeAppInfo, decodePartitionConfig, encodeAppInfo, encodePartitionConfig} from './json.js'
import {
  INVALID_BALLOT,
  appInfoCompatibleEqual,
  appInfoEqual,
  checkSize,
  clonePc,
  collectReplica,
  constructReplica,
  createAppState,
  emptyContext,
  isMember,
  isSecondary,
  maintainDrops,
  members,
  min2pcCount,
  recordDropHistory,
  removeFromDropped,
  replicaCount,
  type AppState,
  type ConfigContext,
  type StateRules,
} from './meta-state.js'
import {callRpc} from './rpc-call.js'
import {mapLimit} from '../../util/map-limit.js'
import {createTolerant, joinZk} from './zk-batch.js'
import type {ConfigSyncReply, MetaChannel, ReplicaServer} from './replica-server.js'
import {serveMetaHttp, type MetaHttpView} from './meta-http.js'

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

interface NodeState {
  alive: boolean
  collected: boolean
  lastBeacon: number
}

const OK = 'ERR_OK'

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
  private ddd = new Map<string, DddPartitionInfo>()
  private recoveryRunning: Promise<void> | undefined
  private writes: Promise<unknown> = Promise.resolve()
  private pendingWrites = 0
  /** Counts of executed config changes, for status and tests. */
  readonly counters = {checks: 0, proposals: 0, configChanges: 0}

  constructor(config: MetaServerConfig) {
    this.config = config
    this.name = config.name
    this.address = `${config.host ?? '127.0.0.1'}:${config.port}`
    this.rules = {maxReservedDroppedReplicas: config.maxReservedDroppedReplicas}
    this.level = config.levelOnStart
    if (config.recover && this.level > LEVELS.steady) this.level = LEVELS.steady
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
    const t = setInterval(() => this.checkBeacons(), Math.max(50, Math.floor(this.config.fdGraceMs / 4)))
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

  private enqueueWrite(fn: (zk: ZkClient) => Promise<unknown>): void {
    const zk = this.zk
    if (!zk) return
    this.pendingWrites++
    // One session runs requests in order; chaining keeps our own order explicit too.
    const p = fn(zk)
      .catch((err) => this.log(`ZooKeeper write failed: ${String(err)}`))
      .finally(() => this.pendingWrites--)
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
    const now = Date.now()
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
      this.nodes.set(node, {alive: true, collected: false, lastBeacon: Date.now()})
      return
    }
    ns.lastBeacon = Date.now()
    if (!ns.alive) {
      ns.alive = true
      this.log(`node(${node}) is alive again`)
    }
  }

  private checkBeacons(): void {
    const now = Date.now()
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
          this.applyChange(app, i, ConfigType.CT_DOWNGRADE_TO_INACTIVE, node)
        } else if (isSecondary(pc, node) && pc.hp_primary) {
          // The primary is told to remove it; it does so if it is up.
          if (this.config.replicas(pc.hp_primary)?.serving)
            this.applyChange(app, i, ConfigType.CT_DOWNGRADE_TO_INACTIVE, node)
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
    for (const app of this.existApps.values()) {
      for (const pc of app.pcs) {
        if (pc.hp_primary === node) serving.set(pc.pid, {status: PartitionStatus.PS_PRIMARY, ballot: pc.ballot})
        else if (isSecondary(pc, node)) serving.set(pc.pid, {status: PartitionStatus.PS_SECONDARY, ballot: pc.ballot})
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
    return {err: ns ? OK : 'ERR_OBJECT_NOT_FOUND', serving, gc}
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
    const err = await this.syncAppsFromReplicaNodes(nodes, req.skip_bad_nodes, req.skip_lost_partitions, hint)
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

  private async syncAppsFromReplicaNodes(
    nodes: string[],
    skipBadNodes: boolean,
    skipLostPartitions: boolean,
    hint: {text: string},
  ): Promise<string> {
    const timeout = this.config.recoveryRpcTimeoutMs
    const results = await Promise.all(
      nodes.map(async (node) => {
        const [apps, reps] = await Promise.all([
          callRpc(node, 'RPC_QUERY_APP_INFO', {meta_server: this.address, hp_meta_server: this.address}, timeout),
          callRpc(node, 'RPC_QUERY_REPLICA_INFO', {node1: node, hp_node1: node}, timeout),
        ])
        return {apps, reps}
      }),
    )
    let failed = 0
    const appResponses: (QueryAppInfoResponse | undefined)[] = []
    const replicaResponses: (QueryReplicaInfoResponse | undefined)[] = []
    results.forEach(({apps, reps}, i) => {
      let err = OK
      if (apps.err !== OK) err = apps.err
      if (reps.err !== OK) err = reps.err
      if (err !== OK) {
        failed++
        appResponses.push(undefined)
        replicaResponses.push(undefined)
        hint.text += skipBadNodes
          ? `WARNING: collect app and replica info from node(${nodes[i]}) failed with err(${err}), skip the bad node`
          : `ERROR: collect app and replica info from node(${nodes[i]}) failed with err(${err}), you can skip it by set skip_bad_nodes option`
      } else {
        appResponses.push(apps.response)
        replicaResponses.push(reps.response)
      }
    })
    if (failed > 0 && !skipBadNodes) return 'ERR_TRY_AGAIN'
    const constructed = await this.constructApps(appResponses, nodes, hint)
    if (!constructed) return 'ERR_CRASHED'
    return this.constructPartitions(replicaResponses, nodes, skipLostPartitions, hint)
  }

  private async constructApps(
    responses: (QueryAppInfoResponse | undefined)[],
    nodes: string[],
    hint: {text: string},
  ): Promise<boolean> {
    this.apps.clear()
    this.existApps.clear()
    let maxAppId = 0
    for (let i = 0; i < responses.length; i++) {
      const resp = responses[i]
      if (!resp || resp.err !== OK) continue
      for (const info of resp.apps) {
        const old = this.apps.get(info.app_id)
        if (!old) {
          this.apps.set(info.app_id, createAppState(info))
          maxAppId = Math.max(maxAppId, info.app_id)
          continue
        }
        if (appInfoEqual(info, old.info)) continue
        if (!appInfoCompatibleEqual(info, old.info)) {
          await this.crash(
            `conflict app info from (${nodes[i]}) for id(${info.app_id}): new_info(${JSON.stringify(info)}), old_info(${JSON.stringify(old.info)})`,
          )
          return false
        }
      }
    }
    const now = Math.floor(Date.now() / 1000)
    for (let id = 1; id <= maxAppId; id++) {
      const app = this.apps.get(id)
      if (!app) {
        this.apps.set(
          id,
          createAppState({
            status: AppStatus.AS_DROPPING,
            app_type: 'pegasus',
            app_name: `__drop_holder__${id}`,
            app_id: id,
            partition_count: 1,
            envs: {},
            is_stateful: true,
            max_replica_count: 3,
            expire_second: now,
            create_second: 0,
            drop_second: 0,
            duplicating: false,
            init_partition_count: -1,
            is_bulk_loading: false,
            atomic_idempotent: false,
          }),
        )
      } else {
        app.info.status = app.info.status === AppStatus.AS_AVAILABLE ? AppStatus.AS_CREATING : AppStatus.AS_DROPPING
      }
    }
    const checked = new Set<string>()
    for (let id = maxAppId; id >= 1; id--) {
      const app = this.apps.get(id) as AppState
      const old = app.info.app_name
      while (checked.has(app.info.app_name)) app.info.app_name = `${app.info.app_name}__${id}`
      if (app.info.app_name !== old) {
        hint.text += `WARNING: app(${id})'s old name(${old}) is conflict with others, rename it to (${app.info.app_name})\n`
      }
      checked.add(app.info.app_name)
    }
    return true
  }

  private constructPartitions(
    responses: (QueryReplicaInfoResponse | undefined)[],
    nodes: string[],
    skipLost: boolean,
    hint: {text: string},
  ): string {
    for (let i = 0; i < responses.length; i++) {
      const resp = responses[i]
      if (!resp || resp.err !== OK) continue
      for (const r of resp.replicas) {
        const {app_id, partition_index} = parseGpid(r.pid)
        const app = this.apps.get(app_id)
        // A replica whose app no node reported, or beyond its partition count (split garbage): ignored.
        if (!app || partition_index < 0 || partition_index >= app.pcs.length) continue
        collectReplica(app.pcs[partition_index], app.ccs[partition_index], nodes[i], r, this.rules)
      }
    }
    let failed = 0
    for (const app of [...this.apps.values()].sort((a, b) => a.info.app_id - b.info.app_id)) {
      if (app.info.status === AppStatus.AS_DROPPING) continue
      for (let p = 0; p < app.pcs.length; p++) {
        const pc = app.pcs[p]
        if (constructReplica(pc, app.ccs[p], app.info.max_replica_count)) {
          const n = (pc.hp_last_drops ?? []).length + 1
          if (n < pc.max_replica_count) {
            hint.text += `WARNING: partition(${app.info.app_id}.${p}) only collects ${n}/${pc.max_replica_count} of replicas, may lost data\n`
          }
        } else {
          failed++
          hint.text += skipLost
            ? `WARNING: partition(${app.info.app_id}.${p}) has no replica collected, force recover the lost partition to empty\n`
            : `ERROR: partition(${app.info.app_id}.${p}) has no replica collected, you can force recover it by set skip_lost_partitions option\n`
        }
      }
    }
    return failed > 0 && !skipLost ? 'ERR_TRY_AGAIN' : OK
  }

  // ---------------------------------------------------------------- the partition guardian (§3.1)

  /** `check_all_partitions`: cure every partition of every available app, once. */
  checkAllPartitions(): void {
    if (this._phase !== 'serving') return
    const level = this.functionLevel()
    if (level <= LEVELS.freezed) return
    this.counters.checks++
    this.ddd = new Map()
    const addSecondary: [AppState, number, ConfigurationProposalAction][] = []
    for (const app of this.existApps.values()) {
      for (let i = 0; i < app.pcs.length; i++) {
        if (app.pcs[i].ballot === INVALID_BALLOT) continue
        const action = this.cure(app, i)
        if (!action) continue
        if (action.type === ConfigType.CT_ADD_SECONDARY || action.type === ConfigType.CT_ADD_SECONDARY_FOR_LB)
          addSecondary.push([app, i, action])
        else this.sendProposal(app, i, action)
      }
    }
    for (const [app, i, action] of addSecondary) this.sendProposal(app, i, action)
  }

  private alive(node: string): boolean {
    return node !== '' && this.nodes.get(node)?.alive === true
  }

  /** `partition_guardian::cure`: the action to take for one partition, if any. */
  private cure(app: AppState, i: number): ConfigurationProposalAction | undefined {
    const fromProposal = this.fromProposals(app, i)
    if (fromProposal) return fromProposal
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    if (!pc.hp_primary) this.onMissingPrimary(app, i)
    else if ((pc.hp_secondaries ?? []).length + 1 < pc.max_replica_count) this.onMissingSecondary(app, i)
    else if ((pc.hp_secondaries ?? []).length >= pc.max_replica_count) this.onRedundantSecondary(app, i)
    return cc.lb_actions[0]
  }

  private fromProposals(app: AppState, i: number): ConfigurationProposalAction | undefined {
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    const action = cc.lb_actions[0]
    if (!action) return undefined
    const target = action.hp_target || action.target
    const node = action.hp_node || action.node
    let reason = ''
    if (!target) reason = 'action target is invalid'
    else if (!this.alive(target)) reason = `action target(${target}) is not alive`
    else if (!node) reason = 'action node is invalid'
    else if (!this.alive(node)) reason = `action node(${node}) is not alive`
    else {
      let valid = false
      switch (action.type) {
        case ConfigType.CT_ASSIGN_PRIMARY:
          valid = node === target && !pc.hp_primary && !isSecondary(pc, node)
          break
        case ConfigType.CT_UPGRADE_TO_PRIMARY:
          valid = node === target && !pc.hp_primary && isSecondary(pc, node)
          break
        case ConfigType.CT_ADD_SECONDARY:
        case ConfigType.CT_ADD_SECONDARY_FOR_LB:
          valid = pc.hp_primary === target && !isSecondary(pc, node) && this.alive(node)
          break
        case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
        case ConfigType.CT_REMOVE:
          valid = pc.hp_primary === target && isMember(pc, node)
          break
        case ConfigType.CT_DOWNGRADE_TO_SECONDARY:
          valid = target === node && pc.hp_primary === target
          break
        default:
          valid = false
      }
      if (valid) return action
      reason = 'action is invalid'
    }
    this.log(
      `proposal action(${enumName(ConfigType, action.type)} ${target}/${node}) for gpid(${pc.pid}) is invalid, clear all proposal actions: ${reason}`,
    )
    cc.lb_actions = []
    return undefined
  }

  private propose(cc: ConfigContext, type: ConfigType, target: string, node: string, fromBalancer = false): void {
    cc.lb_actions = [{target, node, type, hp_target: target, hp_node: node}]
    cc.from_balancer = fromBalancer
  }

  /**
   * The "fewest primaries" order of newly_partitions::less_primaries: a node's primaries of this
   * table, then its partitions of this table (both counted per app_id, as Pegasus does).
   */
  private fewerPrimaries(app: AppState): (a: string, b: string) => boolean {
    const prim = new Map<string, number>()
    const all = new Map<string, number>()
    for (const pc of app.pcs) {
      if (pc.hp_primary) prim.set(pc.hp_primary, (prim.get(pc.hp_primary) ?? 0) + 1)
      for (const m of members(pc)) all.set(m, (all.get(m) ?? 0) + 1)
    }
    return (a, b) => {
      const pa = prim.get(a) ?? 0
      const pb = prim.get(b) ?? 0
      if (pa !== pb) return pa < pb
      return (all.get(a) ?? 0) < (all.get(b) ?? 0)
    }
  }

  /** Replicas (primaries and secondaries) per node, for the "fewest partitions" choices. */
  private replicaCounts(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const app of this.existApps.values())
      for (const pc of app.pcs) for (const m of members(pc)) counts.set(m, (counts.get(m) ?? 0) + 1)
    return counts
  }

  /** The nodes the meta knows, by address. */
  private sortedNodes(): [string, NodeState][] {
    return [...this.nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  private onMissingPrimary(app: AppState, i: number): void {
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    const secondaries = pc.hp_secondaries ?? []
    if (secondaries.length > 0) {
      const less = this.fewerPrimaries(app)
      let best = ''
      for (const s of secondaries) {
        if (!this.alive(s)) continue
        if (best === '' || less(s, best)) best = s
      }
      if (best) this.propose(cc, ConfigType.CT_UPGRADE_TO_PRIMARY, best, best)
      return
    }
    const lastDrops = pc.hp_last_drops ?? []
    if (lastDrops.length === 0) {
      // A new (or force-emptied) partition: the alive node with the fewest primaries.
      const less = this.fewerPrimaries(app)
      let best = ''
      for (const [node, ns] of this.sortedNodes()) {
        if (!ns.alive) continue
        if (best === '' || less(node, best)) best = node
      }
      if (best) this.propose(cc, ConfigType.CT_ASSIGN_PRIMARY, best, best)
      return
    }
    // DDD: every replica of the partition is gone.
    let reason = ''
    let chosen = ''
    if (lastDrops.length === 1) {
      chosen = lastDrops[0]
    } else {
      const nodes = lastDrops.slice(-2)
      const collected: {node: string; ballot: number; lcd: number; lpd: number}[] = []
      let ready = true
      for (const n of nodes) {
        const ns = this.nodes.get(n)
        if (!ns || !ns.alive) {
          ready = false
          reason = `the last dropped node(${n}) hasn't come back yet`
          continue
        }
        const d = cc.dropped.find((x) => x.node === n)
        if (!d || d.ballot === INVALID_BALLOT) {
          if (ns.collected) {
            collected.push({node: n, ballot: -1, lcd: -1, lpd: -1})
          } else {
            ready = false
            reason = `the last dropped node(${n}) is unavailable because ${d ? 'replica info has not been collected from the node' : 'the node is not exist in dropped_nodes'}`
          }
        } else {
          collected.push({node: n, ballot: d.ballot, lcd: d.last_committed_decree, lpd: d.last_prepared_decree})
        }
      }
      if (ready && collected[0].ballot === -1 && collected[1].ballot === -1) {
        ready = false
        reason = 'no replica info collected from the last two drops'
      }
      if (ready) {
        const [prev, recent] = collected
        const gap1 = prev.ballot - recent.ballot
        const gap2 = prev.lcd - recent.lcd
        if (gap1 * gap2 >= 0) {
          const largerCd = Math.max(prev.lcd, recent.lcd)
          const largerPd = Math.max(prev.lpd, recent.lpd)
          if (largerPd >= pc.last_committed_decree && largerPd >= largerCd) {
            if (gap1 !== 0) chosen = gap1 < 0 ? recent.node : prev.node
            else if (gap2 !== 0) chosen = gap2 < 0 ? recent.node : prev.node
            else chosen = prev.lpd > recent.lpd ? prev.node : recent.node
          }
          // else: Pegasus formats a message but never assigns it to `reason` (so it stays as is).
        } else {
          reason = 'for the last two drops, the node with larger ballot has smaller last committed decree'
        }
      }
    }
    if (chosen) {
      this.propose(cc, ConfigType.CT_ASSIGN_PRIMARY, chosen, chosen)
      return
    }
    this.ddd.set(pc.pid, {
      config: clonePc(pc),
      dropped: cc.dropped.map((dr) => {
        const ns = this.nodes.get(dr.node)
        const alive = ns?.alive === true
        const collected = alive && ns?.collected === true
        return {
          node: dr.node,
          hp_node: dr.node,
          drop_time_ms: dr.time,
          is_alive: alive,
          is_collected: collected,
          ballot: collected ? dr.ballot : -1,
          last_committed_decree: collected ? dr.last_committed_decree : -1,
          last_prepared_decree: collected ? dr.last_prepared_decree : -1,
        }
      }),
      reason,
    })
  }

  private onMissingSecondary(app: AppState, i: number): void {
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    const min2pc = min2pcCount(this.config.mutation2pcMinReplicaCount, pc.max_replica_count)
    const last = cc.dropped[cc.dropped.length - 1]
    const emergency =
      (pc.max_replica_count > min2pc && replicaCount(pc) < min2pc) ||
      cc.dropped.length === 0 ||
      (last !== undefined && last.time + this.config.replicaAssignDelayMsForDropouts < Date.now())
    let node = ''
    if (emergency) {
      if (cc.prefered_dropped < 0 || cc.prefered_dropped >= cc.dropped.length)
        cc.prefered_dropped = cc.dropped.length - 1
      while (cc.prefered_dropped >= 0) {
        const server = cc.dropped[cc.prefered_dropped]
        cc.prefered_dropped--
        if (this.alive(server.node)) {
          node = server.node
          break
        }
      }
      if (!node) {
        // A new node with the fewest partitions.
        const load = this.replicaCounts()
        for (const [n, ns] of this.sortedNodes()) {
          if (!ns.alive || isMember(pc, n)) continue
          if (!node || (load.get(n) ?? 0) < (load.get(node) ?? 0)) node = n
        }
      }
    } else if (last && this.alive(last.node)) {
      node = last.node
    }
    if (node) this.propose(cc, ConfigType.CT_ADD_SECONDARY, pc.hp_primary ?? '', node)
  }

  private onRedundantSecondary(app: AppState, i: number): void {
    const pc = app.pcs[i]
    const secs = pc.hp_secondaries ?? []
    const load = this.replicaCounts()
    let target = 0
    for (let k = 1; k < secs.length; k++) if ((load.get(secs[k]) ?? 0) > (load.get(secs[target]) ?? 0)) target = k
    this.propose(app.ccs[i], ConfigType.CT_REMOVE, pc.hp_primary ?? '', secs[target], true)
  }

  /**
   * `send_proposal`: the target replica server carries the action out and the meta records the new
   * configuration. A target that is down or hung never answers: the action stays queued and is
   * judged again on the next check.
   */
  private sendProposal(app: AppState, i: number, action: ConfigurationProposalAction): void {
    const target = action.hp_target || action.target
    const node = action.hp_node || action.node
    const peer = this.config.replicas(target)
    if (!peer?.serving) return
    this.counters.proposals++
    switch (action.type) {
      case ConfigType.CT_ASSIGN_PRIMARY:
        this.applyChange(app, i, ConfigType.CT_ASSIGN_PRIMARY, node)
        break
      case ConfigType.CT_UPGRADE_TO_PRIMARY:
        this.applyChange(app, i, ConfigType.CT_UPGRADE_TO_PRIMARY, node)
        break
      case ConfigType.CT_ADD_SECONDARY:
      case ConfigType.CT_ADD_SECONDARY_FOR_LB:
        if (this.config.replicas(node)?.serving) this.applyChange(app, i, ConfigType.CT_UPGRADE_TO_SECONDARY, node)
        break
      case ConfigType.CT_REMOVE:
      case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
        this.applyChange(app, i, action.type, node)
        break
      default:
        app.ccs[i].lb_actions.shift()
    }
  }

  /**
   * One configuration change, as the replica side performs it and `update_configuration` records
   * it: the ballot goes up by one, last_drops and the drop list are maintained, the replicas take
   * their new roles, and the partition node is rewritten in ZooKeeper.
   */
  private applyChange(app: AppState, i: number, type: ConfigType, node: string): void {
    const old = app.pcs[i]
    const pc = clonePc(old)
    const cc = app.ccs[i]
    pc.ballot = old.ballot + 1
    const peer = this.config.replicas(node)
    const primaryPeer = old.hp_primary ? this.config.replicas(old.hp_primary) : undefined
    switch (type) {
      case ConfigType.CT_ASSIGN_PRIMARY: {
        pc.primary = node
        pc.hp_primary = node
        const r = peer?.replica(pc.pid)
        if (peer && !r) {
          peer.putReplica(app.info, {
            pid: pc.pid,
            ballot: pc.ballot,
            status: PartitionStatus.PS_PRIMARY,
            last_committed_decree: 0,
            last_prepared_decree: 0,
            last_durable_decree: 0,
            disk_tag: 'default',
            rows: 0,
          })
        } else if (peer && r) {
          peer.updateReplica(pc.pid, {last_committed_decree: Math.max(r.last_committed_decree, r.last_prepared_decree)})
        }
        pc.last_committed_decree = peer?.replica(pc.pid)?.last_committed_decree ?? 0
        break
      }
      case ConfigType.CT_UPGRADE_TO_PRIMARY: {
        pc.secondaries = pc.secondaries.filter((s) => s !== node)
        pc.hp_secondaries = (pc.hp_secondaries ?? []).filter((s) => s !== node)
        pc.primary = node
        pc.hp_primary = node
        const r = peer?.replica(pc.pid)
        if (peer && r)
          peer.updateReplica(pc.pid, {last_committed_decree: Math.max(r.last_committed_decree, r.last_prepared_decree)})
        pc.last_committed_decree = peer?.replica(pc.pid)?.last_committed_decree ?? pc.last_committed_decree
        break
      }
      case ConfigType.CT_UPGRADE_TO_SECONDARY: {
        // The new secondary learns everything from the primary.
        const src = primaryPeer?.replica(pc.pid)
        if (peer && src) {
          peer.putReplica(app.info, {...src, status: PartitionStatus.PS_SECONDARY, ballot: pc.ballot})
        }
        pc.secondaries.push(node)
        ;(pc.hp_secondaries as string[]).push(node)
        pc.last_committed_decree = src?.last_committed_decree ?? pc.last_committed_decree
        break
      }
      case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
      case ConfigType.CT_REMOVE: {
        if (pc.hp_primary === node) {
          pc.primary = ''
          pc.hp_primary = ''
        } else {
          pc.secondaries = pc.secondaries.filter((s) => s !== node)
          pc.hp_secondaries = (pc.hp_secondaries ?? []).filter((s) => s !== node)
          const src = primaryPeer?.replica(pc.pid)
          if (src) pc.last_committed_decree = src.last_committed_decree
        }
        if (peer?.serving && peer.replica(pc.pid)) peer.updateReplica(pc.pid, {status: PartitionStatus.PS_INACTIVE})
        break
      }
      default:
        return
    }
    maintainDrops(pc.last_drops, node, type)
    maintainDrops(pc.hp_last_drops as string[], node, type)
    // reconfig: the current proposal is done; the drop list follows the change.
    if (cc.lb_actions.length > 0) cc.lb_actions.shift()
    app.pcs[i] = pc
    if (type === ConfigType.CT_DOWNGRADE_TO_INACTIVE || type === ConfigType.CT_REMOVE) {
      recordDropHistory(pc, cc, node, Date.now(), this.rules)
    } else {
      removeFromDropped(cc, node)
      checkSize(pc, cc, this.rules)
    }
    // Serving members follow the new ballot (the primary propagates it).
    for (const m of members(pc)) {
      const p = this.config.replicas(m)
      if (p?.serving && p.replica(pc.pid)) {
        p.updateReplica(pc.pid, {
          ballot: pc.ballot,
          status: m === pc.hp_primary ? PartitionStatus.PS_PRIMARY : PartitionStatus.PS_SECONDARY,
        })
      }
    }
    this.counters.configChanges++
    this.writePartition(app, i)
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
    this.applyChange(app, partition_index, ConfigType.CT_DOWNGRADE_TO_INACTIVE, node)
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

  private handlers() {
    return {
      RPC_CM_START_RECOVERY: async (req: ConfigurationRecoveryRequest) => ({
        err: OK,
        response: await this.startRecovery(req),
      }),
      RPC_CM_DDD_DIAGNOSE: async (req: {pid: string}) => {
        const no = this.refusal()
        if (no) return {err: OK, response: {err: no, partitions: []}}
        const {app_id, partition_index} = parseGpid(req.pid)
        const partitions = [...this.ddd.values()].filter((d) => {
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
        const infos = this.sortedNodes()
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
        this.sendProposal(app, partition_index, act)
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
      balance_operation_count: 'move_pri=0,copy_pri=0,copy_sec=0,total=0',
      primary_replica_count_stddev: stddev([...prim.values()]).toFixed(2),
      total_replica_count_stddev: stddev([...total.values()]).toFixed(2),
    }
  }

  /** Node liveness as the meta sees it. */
  nodeStates(): {node: string; alive: boolean; collected: boolean}[] {
    return this.sortedNodes().map(([node, ns]) => ({node, alive: ns.alive, collected: ns.collected}))
  }

  /** The DDD partitions found by the last check. */
  dddPartitions(): DddPartitionInfo[] {
    return [...this.ddd.values()]
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
      sortedNodes: () => this.sortedNodes(),
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
