/**
 * A whole simulated Pegasus cluster in one process: meta servers and replica servers on loopback
 * ports, metadata in a real ZooKeeper, replicas in the lab's state directory. It brings a scenario
 * up (tables, rows, faults), applies faults on demand, and reports its state.
 */
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

import {
  AppStatus,
  META_LEVEL_VALUES,
  PartitionStatus,
  metaLevelName,
  type AppInfo,
  type PartitionConfiguration,
} from '../../engines/pegasus/wire/index.js'
import {LifeboatError} from '../../errors.js'
import {freePort} from '../zookeeper/server.js'
import {loadRows, PUT_LOAD_LIMIT} from './data/load.js'
import {rowsOfPartition} from './data/rows.js'
import {DataStore} from './data/store.js'
import {assignTableIds, type FaultSpec, type PegasusScenario} from './scenario.js'
import {MetaServer, type MetaServerConfig} from './meta-server.js'
import {ReplicaServer} from './replica-server.js'
import {freshZooKeeper, removeRoot, unusedRecoveryRoot} from './zk-batch.js'

/** A table as the lab created it (what `lab verify` counts). */
export interface LabTable {
  app_id: number
  name: string
  partitions: number
  replicas: number
  rows: number
  dropped: boolean
  /** Envs the table was created with (create_app's options.envs); absent: none. */
  envs?: Record<string, string>
}

/** Everything needed to find (and restart) a lab's servers; saved in the lab state. */
export interface PegasusLabLayout {
  cluster_name: string
  cluster_root: string
  zk_hosts: string
  meta_servers: {name: string; address: string}[]
  replica_servers: {name: string; address: string}[]
  tables: LabTable[]
  /** How many times the metadata was lost (names the next recovery root). */
  recoveries: number
}

export interface PegasusLabOptions {
  scenario: PegasusScenario
  stateDir: string
  zkHosts: string
  /** The lab started this ZooKeeper (nobody else's data on it): a fresh lab empties all of it. */
  ownZooKeeper?: boolean
  log?: (line: string) => void
}

/** A running simulated Pegasus cluster. */
export class PegasusLab {
  readonly scenario: PegasusScenario
  readonly stateDir: string
  layout: PegasusLabLayout
  metas: MetaServer[] = []
  readonly replicas: ReplicaServer[] = []
  /** Every partition's mutation log (what the replicas hold prefixes of). */
  readonly data = new DataStore()
  private readonly byAddress = new Map<string, ReplicaServer>()
  private readonly log: (line: string) => void

  private constructor(opts: PegasusLabOptions, layout: PegasusLabLayout) {
    this.scenario = opts.scenario
    this.stateDir = opts.stateDir
    this.layout = layout
    this.log = opts.log ?? (() => {})
  }

  /** Brings a scenario up from nothing: ports, replicas with rows, metadata, servers, faults. */
  static async up(opts: PegasusLabOptions): Promise<PegasusLab> {
    const s = opts.scenario
    const tables = assignTableIds(s.tables)
    const metaPorts = await distinctPorts(s.meta_servers)
    const replicaPorts = await distinctPorts(s.replica_servers, metaPorts)
    const layout: PegasusLabLayout = {
      cluster_name: s.name,
      cluster_root: s.meta.cluster_root ?? `/pegasus/${s.name}`,
      zk_hosts: opts.zkHosts,
      meta_servers: metaPorts.map((p, i) => ({name: `meta${i + 1}`, address: `127.0.0.1:${p}`})),
      replica_servers: replicaPorts.map((p, i) => ({name: `replica${i + 1}`, address: `127.0.0.1:${p}`})),
      tables,
      recoveries: 0,
    }
    const lab = new PegasusLab(opts, layout)
    // A fresh lab must not inherit metadata from an earlier one: an empty ZooKeeper (or, on a
    // shared one, none of this cluster's roots), unless the scenario keeps it.
    if (!s.keep_zookeeper) {
      const removed = await freshZooKeeper(opts.zkHosts, layout.cluster_root, opts.ownZooKeeper === true)
      if (removed.length > 0) lab.log(`fresh ZooKeeper: removed ${removed.join(', ')}`)
    }
    lab.createReplicaServers()
    // Rows go in through put, one decree each; a lab too big for that gets its logs written
    // directly, and so do dropped tables (nothing can put to a dropped table) and tables with
    // fewer replicas than mutation_2pc_min_replica_count (their primary refuses writes).
    const liveRows = tables.reduce((n, t) => n + (t.dropped ? 0 : t.rows), 0)
    const min2pc = s.meta.mutation_2pc_min_replica_count ?? 2
    const direct = new Set(
      tables.filter((t) => liveRows > PUT_LOAD_LIMIT || t.dropped || t.replicas < min2pc).map((t) => t.app_id),
    )
    const apps = lab.placeTables(direct)
    for (const r of lab.replicas) r.saveNow()
    try {
      await lab.startMetas(false, layout.cluster_root, opts.zkHosts)
      const leader = lab.leader()
      if (!leader)
        throw new LifeboatError('LAB_META_FAILED', 'no meta server became the leader', {
          hints: ['See the lab log in the state directory.'],
        })
      await leader.bootstrap(apps)
      await leader.flush()
      await Promise.all(lab.replicas.map((r) => r.start()))
      const viaPut = tables.filter((t) => !direct.has(t.app_id))
      if (viaPut.length > 0) {
        const t0 = Date.now()
        const n = await loadRows(leader.address, viaPut, {log: lab.log})
        lab.log(`loaded ${n} rows through put in ${((Date.now() - t0) / 1000).toFixed(1)} s`)
      }
      for (const f of s.faults) await lab.fault(f)
      await lab.warmReplies()
    } catch (err) {
      await lab.down()
      throw err
    }
    return lab
  }

  private createReplicaServers(): void {
    const s = this.scenario
    for (const rs of this.layout.replica_servers) {
      const r = new ReplicaServer({
        name: rs.name,
        port: Number(rs.address.split(':')[1]),
        file: join(this.stateDir, 'nodes', `${rs.name}.json`),
        beaconIntervalMs: s.replica.beacon_interval_ms ?? 300,
        configSyncIntervalMs: s.replica.config_sync_interval_ms ?? 1000,
        meta: () => this.leader(),
        data: {
          store: this.data,
          secondaries: (pid) =>
            (this.leader()?.partition(pid)?.hp_secondaries ?? []).flatMap((a) => this.byAddress.get(a) ?? []),
          mutation2pcMinReplicaCount: s.meta.mutation_2pc_min_replica_count ?? 2, // upstream's default
        },
      })
      this.replicas.push(r)
      this.byAddress.set(r.address, r)
    }
    mkdirSync(join(this.stateDir, 'nodes'), {recursive: true})
  }

  /**
   * Places every table's partitions round-robin over the replica servers (primary first), puts
   * the replicas on the nodes (empty, or, for the tables in `direct`, holding their rows
   * already), and returns the metadata create_app would have
   * left: ballot = replicas (one ASSIGN_PRIMARY and one change per secondary), committed decree 0
   * in ZooKeeper (writes come after the last reconfiguration). Dropped tables went through
   * CT_DROP_PARTITION; their replicas stay on disk, closed, with the app info of their creation.
   */
  private placeTables(direct: Set<number>): {info: AppInfo; pcs: PartitionConfiguration[]}[] {
    const n = this.replicas.length
    const created = Math.floor(Date.now() / 1000) - 3600
    let offset = 0
    const apps: {info: AppInfo; pcs: PartitionConfiguration[]}[] = []
    for (const t of [...this.layout.tables].sort((a, b) => a.app_id - b.app_id)) {
      const info: AppInfo = {
        status: AppStatus.AS_AVAILABLE,
        app_type: 'pegasus',
        app_name: t.name,
        app_id: t.app_id,
        partition_count: t.partitions,
        // create_app's envs: in the meta's app node and in every replica's in-memory app info.
        envs: {...t.envs},
        is_stateful: true,
        max_replica_count: t.replicas,
        expire_second: 0,
        create_second: created + t.app_id,
        drop_second: 0,
        duplicating: false,
        init_partition_count: t.partitions,
        is_bulk_loading: false,
        atomic_idempotent: false,
      }
      const pcs: PartitionConfiguration[] = []
      for (let p = 0; p < t.partitions; p++) {
        const members = Array.from({length: t.replicas}, (_, k) => this.replicas[(offset + p + k) % n])
        const pid = `${t.app_id}.${p}`
        const written = direct.has(t.app_id)
        const rows = written ? rowsOfPartition(t.rows, t.partitions, p) : 0
        if (written) this.data.log(pid).generate(t.partitions, t.rows, p)
        members.forEach((node, k) =>
          node.putReplica(info, {
            pid,
            ballot: t.replicas,
            status: t.dropped
              ? PartitionStatus.PS_INACTIVE
              : k === 0
                ? PartitionStatus.PS_PRIMARY
                : PartitionStatus.PS_SECONDARY,
            last_committed_decree: rows,
            last_prepared_decree: rows,
            last_durable_decree: rows,
            disk_tag: 'default',
            rows,
          }),
        )
        const addrs = members.map((m) => m.address)
        // CT_DROP_PARTITION moves the secondaries to last_drops first and the primary last.
        const dropOrder = [...addrs.slice(1), addrs[0]].slice(-3)
        pcs.push(
          t.dropped
            ? {
                pid,
                ballot: t.replicas + 1,
                max_replica_count: t.replicas,
                primary: '',
                secondaries: [],
                last_drops: dropOrder,
                last_committed_decree: 0,
                partition_flags: 1,
                hp_primary: '',
                hp_secondaries: [],
                hp_last_drops: dropOrder,
              }
            : {
                pid,
                ballot: t.replicas,
                max_replica_count: t.replicas,
                primary: addrs[0],
                secondaries: addrs.slice(1),
                last_drops: [],
                last_committed_decree: 0,
                partition_flags: 0,
                hp_primary: addrs[0],
                hp_secondaries: addrs.slice(1),
                hp_last_drops: [],
              },
        )
      }
      offset += t.partitions
      const meta = t.dropped
        ? {...info, status: AppStatus.AS_DROPPED, drop_second: created + 1800, expire_second: created + 1800 + 604800}
        : info
      apps.push({info: meta, pcs})
    }
    return apps
  }

  private metaConfig(i: number, recover: boolean, root: string, zkHosts: string): MetaServerConfig {
    const m = this.scenario.meta
    const ms = this.layout.meta_servers[i]
    return {
      name: ms.name,
      port: Number(ms.address.split(':')[1]),
      clusterName: this.layout.cluster_name,
      metaServers: this.layout.meta_servers.map((x) => x.address),
      zkHosts,
      clusterRoot: root,
      recover,
      levelOnStart: META_LEVEL_VALUES[m.meta_function_level_on_start ?? 'steady'],
      lbIntervalMs: m.lb_interval_ms ?? 1000,
      fdGraceMs: m.fd_grace_ms ?? 1500,
      // Upstream's shipped default; onebox configs lower it to 1 (a scenario may too).
      minLiveNodeCountForUnfreeze: m.min_live_node_count_for_unfreeze ?? 3,
      nodeLivePercentageThresholdForUpdate: m.node_live_percentage_threshold_for_update ?? 65,
      maxReservedDroppedReplicas: m.max_reserved_dropped_replicas ?? 0, // upstream's shipped config.ini
      mutation2pcMinReplicaCount: m.mutation_2pc_min_replica_count ?? 2,
      replicaAssignDelayMsForDropouts: m.replica_assign_delay_ms_for_dropouts ?? 600000,
      recoveryRpcTimeoutMs: m.recovery_rpc_timeout_ms ?? 5000,
      replicas: (address) => this.byAddress.get(address),
      log: this.log,
    }
  }

  private async startMetas(recover: boolean, root: string, zkHosts: string): Promise<void> {
    this.metas = this.layout.meta_servers.map((_, i) => new MetaServer(this.metaConfig(i, recover, root, zkHosts)))
    // One after the other, so meta1 takes the lock first and leads, as in onebox.
    for (const m of this.metas) await m.start()
  }

  /** The meta server that holds the leader lock and runs, if any. */
  leader(): MetaServer | undefined {
    return this.metas.find((m) => m.phase === 'serving' || m.phase === 'recovering')
  }

  /** A replica server by lab name (`replica2`) or address (`127.0.0.1:PORT`). */
  node(ref: string): ReplicaServer {
    const r = this.replicas.find((x) => x.name === ref || x.address === ref)
    if (!r) {
      throw new LifeboatError('LAB_UNKNOWN_NODE', `no replica server "${ref}" in this lab`, {
        hints: [`Replica servers: ${this.replicas.map((x) => `${x.name} (${x.address})`).join(', ')}.`],
      })
    }
    return r
  }

  /** Restarts the meta servers with another ZooKeeper, root or recovery flag (the operator's edit of config.ini). */
  async restartMeta(opts: {zk?: string; root?: string; recover?: boolean}): Promise<void> {
    for (const m of this.metas) await m.stop()
    if (opts.zk) this.layout.zk_hosts = opts.zk
    if (opts.root) this.layout.cluster_root = opts.root
    await this.startMetas(opts.recover ?? false, this.layout.cluster_root, this.layout.zk_hosts)
    await this.awaitBeacons()
  }

  /**
   * Until the leading meta counts every running replica server alive. A meta restarted in recovery
   * mode knows no node until its first beacon and stays freezed meanwhile; an operator reads the
   * cluster after the nodes have registered, and so does whoever reads the lab after a fault.
   * Bounded: a node that does not beacon within ten grace periods is left to the meta's own verdict.
   */
  private async awaitBeacons(): Promise<void> {
    const leader = this.leader()
    if (!leader) return
    const want = this.replicas.filter((r) => r.serving).map((r) => r.address)
    const limitMs = 10 * (this.scenario.meta.fd_grace_ms ?? 1500)
    const t0 = Date.now()
    for (;;) {
      const alive = new Set(
        leader
          .nodeStates()
          .filter((n) => n.alive)
          .map((n) => n.node),
      )
      const missing = want.filter((a) => !alive.has(a))
      if (missing.length === 0) return
      if (Date.now() - t0 > limitMs) {
        this.log(`meta restarted; no beacon yet from ${missing.join(', ')} after ${Date.now() - t0} ms`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }

  /** Applies one fault; returns a line for the operator. */
  async fault(f: FaultSpec): Promise<string> {
    switch (f.type) {
      case 'zk-loss':
        return this.zkLoss(f.root)
      case 'kill-node': {
        const r = this.node(f.node)
        await r.stop()
        return `${r.name} (${r.address}) is down; its replicas stay on disk`
      }
      case 'start-node': {
        const r = this.node(f.node)
        r.configSyncMuted = false
        if (r.mode === 'stopped') r.load()
        await r.start()
        return `${r.name} (${r.address}) is up`
      }
      case 'hang-node': {
        const r = this.node(f.node)
        r.hang()
        return `${r.name} (${r.address}) hangs: it accepts connections and answers nothing`
      }
      case 'remove-replica': {
        const r = this.node(f.node)
        if (!r.removeReplica(f.gpid))
          throw new LifeboatError('LAB_NO_REPLICA', `${r.name} holds no replica of ${f.gpid}`, {
            hints: ['Name a node that holds it (lab status shows the placement).'],
          })
        this.leader()?.dropMember(f.gpid, r.address)
        return `the replica of ${f.gpid} on ${r.name} is gone`
      }
      case 'lose-partition': {
        const holders = this.replicas.filter((r) => r.replica(f.gpid))
        if (holders.length === 0)
          throw new LifeboatError('LAB_NO_REPLICA', `no replica server holds ${f.gpid}`, {
            hints: ['Give the gpid of an existing partition, as app_id.partition_index.'],
          })
        for (const r of holders) {
          r.removeReplica(f.gpid)
          this.leader()?.dropMember(f.gpid, r.address)
        }
        return `every replica of ${f.gpid} is gone (${holders.map((h) => h.name).join(', ')})`
      }
      case 'ddd':
        return this.ddd(f)
      case 'meta-level': {
        const leader = this.requireServingMeta()
        const old = leader.setLevel(META_LEVEL_VALUES[f.level])
        return `meta level changed from ${metaLevelName(old)} to ${f.level}`
      }
      case 'restart-meta': {
        await this.restartMeta(f)
        const l = this.leader()
        return `meta restarted on ${this.layout.zk_hosts} root ${this.layout.cluster_root}${f.recover ? ' in recovery mode' : ''}: ${l ? l.phase : this.metas.map((m) => `${m.name} ${m.phase}${m.crashReason ? ` (${m.crashReason})` : ''}`).join(', ')}`
      }
    }
  }

  private requireServingMeta(): MetaServer {
    const l = this.leader()
    if (!l || l.phase !== 'serving') {
      throw new LifeboatError(
        'LAB_META_NOT_SERVING',
        'the meta server is not serving (it is in recovery mode or down)',
        {
          hints: [
            'Recover the metadata first (start_recovery through a PegasusMetaRecovery spec), or restart the meta: lifeboat lab fault restart-meta.',
          ],
        },
      )
    }
    return l
  }

  /**
   * The metadata root is lost, as in the Pegasus meta-recovery guide: the metas stop, the old
   * cluster_root is deleted, the replica servers lose their lease (their replicas go inactive),
   * and one meta restarts with recover_from_replica_server = true on a fresh root.
   */
  private async zkLoss(root?: string): Promise<string> {
    const t0 = Date.now()
    const step = (what: string): void => this.log(`zk-loss: ${what} (${Date.now() - t0} ms)`)
    for (const m of this.metas) await m.stop()
    const old = this.layout.cluster_root
    step(`meta servers stopped; removing ${old}`)
    await removeRoot(this.layout.zk_hosts, old)
    step(`${old} removed; the replica servers lose their lease`)
    for (const r of this.replicas) {
      for (const rep of r.allReplicas()) {
        if (rep.status === PartitionStatus.PS_PRIMARY || rep.status === PartitionStatus.PS_SECONDARY)
          r.updateReplica(rep.pid, {status: PartitionStatus.PS_INACTIVE})
      }
    }
    // A root nobody used: an old tree there would make the meta crash (apps found with the recovery flag).
    const base = this.scenario.meta.cluster_root ?? `/pegasus/${this.layout.cluster_name}`
    let fresh = root
    if (fresh === undefined) {
      const next = await unusedRecoveryRoot(this.layout.zk_hosts, base, this.layout.recoveries + 1)
      fresh = next.root
      this.layout.recoveries = next.n
    } else {
      this.layout.recoveries++
    }
    step(`restarting the meta servers in recovery mode on ${fresh}`)
    await this.restartMeta({root: fresh, recover: true})
    const leader = this.leader()
    if (leader?.phase !== 'recovering') {
      const why = this.metas.map((m) => `${m.name} ${m.phase}${m.crashReason ? ` (${m.crashReason})` : ''}`).join(', ')
      throw new LifeboatError(
        'LAB_ZK_LOSS_FAILED',
        `metadata under ${old} is lost, but the meta does not wait in recovery mode on ${fresh}: ${why}`,
        {
          hints: [
            root !== undefined
              ? `${fresh} probably holds an earlier tree; give an unused root (or omit --root and the lab picks one).`
              : 'See lab.log in the state directory.',
            'Restart the meta on an empty root: lifeboat lab fault restart-meta --root PATH --recover',
          ],
        },
      )
    }
    // Every replica went inactive: their collect replies are encoded again now, not at the first gather.
    step(
      `the meta waits in recovery mode; encoding the collect replies of ${this.replicas.length} replica servers again`,
    )
    await this.warmReplies()
    step('done')
    return `metadata under ${old} is lost; the meta waits in recovery mode on ${fresh} (${leader.name} answers ERR_UNDER_RECOVERY)`
  }

  /**
   * Encodes the collect replies (query_app_info, query_replica_info) of every running replica
   * server that changed since they last were, one server per turn of the event loop so that
   * beacons go on meanwhile: a gather after bring-up or a fault then waits on no encoding.
   */
  private async warmReplies(): Promise<void> {
    const t0 = Date.now()
    const running = this.replicas.filter((r) => r.serving)
    for (const r of running) {
      r.encodeReplies()
      await new Promise((resolve) => setImmediate(resolve))
    }
    this.log(`collect replies of ${running.length} replica servers encoded in ${Date.now() - t0} ms`)
  }

  private async ddd(f: Extract<FaultSpec, {type: 'ddd'}>): Promise<string> {
    const meta = this.requireServingMeta()
    const done: string[] = []
    for (const gpid of f.gpids) {
      const pc = meta.partition(gpid)
      if (!pc)
        throw new LifeboatError('LAB_NO_PARTITION', `the meta serves no partition ${gpid}`, {
          hints: ['Give app_id.partition_index of an available table (lab status lists the tables).'],
        })
      const members = [...(pc.hp_secondaries ?? []), ...(pc.hp_primary ? [pc.hp_primary] : [])]
      const drops = f.drops
        ? f.drops.map((d) => this.node(d).address)
        : members.length > 0
          ? members
          : (pc.hp_last_drops ?? [])
      if (drops.length === 0)
        throw new LifeboatError('LAB_NO_REPLICA', `partition ${gpid} has no member to drop`, {
          hints: ['Pass --drops NODE,... explicitly.'],
        })
      // Members leave one after the other; each departure raises the ballot the rest carry.
      let maxBallot = pc.ballot
      drops.forEach((addr, k) => {
        const r = this.byAddress.get(addr)
        if (r?.replica(gpid)) {
          r.updateReplica(gpid, {ballot: pc.ballot + k, status: PartitionStatus.PS_INACTIVE})
          maxBallot = Math.max(maxBallot, pc.ballot + k)
        }
      })
      for (const m of members)
        if (!drops.includes(m)) this.byAddress.get(m)?.updateReplica(gpid, {status: PartitionStatus.PS_INACTIVE})
      for (const spec of f.decrees ?? []) {
        const m = /^(.+)=(\d+):(\d+):(\d+)$/.exec(spec)
        if (!m)
          throw new LifeboatError('LAB_BAD_DECREES', `"${spec}" is not NODE=BALLOT:LAST_COMMITTED:LAST_PREPARED`, {
            hints: ['Example: --decrees replica2=5:1000:1000'],
          })
        const r = this.node(m[1])
        const rep = r.replica(gpid)
        if (!rep)
          throw new LifeboatError('LAB_NO_REPLICA', `${r.name} holds no replica of ${gpid}`, {
            hints: ['Use --missing for a node whose replica is gone.'],
          })
        const [ballot, lcd, lpd] = [Number(m[2]), Number(m[3]), Number(m[4])]
        if (lpd < lcd)
          throw new LifeboatError(
            'LAB_BAD_DECREES',
            `${spec}: the last prepared decree is below the last committed one`,
            {hints: ['A replica prepares before it commits: LAST_PREPARED >= LAST_COMMITTED.']},
          )
        r.updateReplica(gpid, {
          ballot,
          last_committed_decree: lcd,
          last_prepared_decree: lpd,
          last_durable_decree: Math.min(rep.last_durable_decree, lcd),
          rows: Math.min(rep.rows, lpd),
        })
        maxBallot = Math.max(maxBallot, ballot)
      }
      for (const ref of f.missing ?? []) this.node(ref).removeReplica(gpid)
      meta.forceDdd(
        gpid,
        drops,
        Math.max(pc.ballot + drops.length, maxBallot + 1),
        f.config_lcd ?? pc.last_committed_decree,
      )
      done.push(gpid)
    }
    for (const ref of f.uncollected ?? []) {
      const r = this.node(ref)
      r.configSyncMuted = true
      meta.forgetCollected(r.address)
    }
    // The survivors report at once, so the next check sees the drops with their decrees.
    for (const r of this.replicas) r.syncWithMeta()
    const dead = f.dead ?? []
    for (const ref of dead) await this.node(ref).stop()
    if (dead.length > 0) {
      // The meta notices the dead node only after fd_grace_ms; its checks decide then.
      await meta.flush()
      return `partitions ${done.join(', ')} have no primary and no secondaries; the meta reports DDD once it sees ${dead.join(', ')} dead`
    }
    // One partition check now (the guardian's next round would do the same) tells DDD from
    // what the guardian cures by itself, e.g. both last drops alive and consistent.
    meta.checkAllPartitions()
    await meta.flush()
    const inDdd = new Set(meta.dddPartitions().map((p) => p.config.pid))
    const lines = done.map((gpid) => {
      const pc = meta.partition(gpid)
      if (inDdd.has(gpid)) return `${gpid} is in DDD`
      if (pc?.hp_primary) return `${gpid} is not DDD: the guardian assigned primary ${pc.hp_primary} by itself`
      return `${gpid} has no primary but is not DDD (the meta waits for one of its last drops)`
    })
    return lines.join('; ')
  }

  /** Stops every server (the ZooKeeper is the caller's). */
  async down(): Promise<void> {
    for (const m of this.metas) await m.stop().catch(() => {})
    await Promise.all(this.replicas.map((r) => r.stop().catch(() => {})))
  }

  /** A summary for `lab status`. */
  status(): Record<string, unknown> {
    const leader = this.leader()
    let partitions = 0
    let healthy = 0
    let ddd = 0
    if (leader?.phase === 'serving') {
      for (const app of leader.allApps()) {
        if (app.info.status !== AppStatus.AS_AVAILABLE) continue
        for (const pc of app.pcs) {
          partitions++
          if (pc.hp_primary && (pc.hp_secondaries ?? []).length + 1 >= pc.max_replica_count) healthy++
        }
      }
      ddd = leader.dddPartitions().length
    }
    const alive = new Map((leader?.nodeStates() ?? []).map((n) => [n.node, n.alive]))
    return {
      cluster: this.layout.cluster_name,
      zookeeper: {hosts: this.layout.zk_hosts, root: this.layout.cluster_root},
      meta_servers: this.metas.map((m) => ({
        name: m.name,
        address: m.address,
        phase: m.phase,
        level: metaLevelName(m.functionLevel()),
        ...(m.crashReason ? {crash: m.crashReason} : {}),
      })),
      replica_servers: this.replicas.map((r) => ({
        name: r.name,
        address: r.address,
        mode: r.mode,
        replicas: r.allReplicas().length,
        alive_in_meta: alive.get(r.address) ?? false,
      })),
      partitions: {total: partitions, fully_healthy: healthy, ddd},
    }
  }
}

async function distinctPorts(n: number, avoid: number[] = []): Promise<number[]> {
  const out: number[] = []
  const seen = new Set(avoid)
  while (out.length < n) {
    const p = await freePort()
    if (seen.has(p)) continue
    seen.add(p)
    out.push(p)
  }
  return out
}
