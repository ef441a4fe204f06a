/**
 * A simulated OpenMLDB nameserver: brpc's `NameServer` service over HTTP+JSON, leader election by
 * an EPHEMERAL|SEQUENTIAL `<root>/leader/lock_request` node (the lowest sequence leads, the others
 * answer 300 "nameserver is not leader"), metadata in ZooKeeper as protobuf (reference section 1),
 * the recovery RPCs with OpenMLDB's refusal rules and codes (sections 2.3 and 5), the op engine of
 * ops.ts, tablet liveness through the `<root>/nodes` watch, and auto_failover.
 *
 * Like OpenMLDB, it reads ZooKeeper only when it becomes the leader (Recover) and keeps the
 * metadata in memory afterwards; offsets are refreshed from the tablets' GetTableStatus.
 */
import {connectZk, isZkError, type ZkClient} from '../../zk/index.js'
import {BrpcClient, BrpcServer, type BrpcService} from './brpc.js'
import {normalizeTable, partitionOf, zkPaths, type TableInfo, type ZkPaths} from './model.js'
import {
  TaskError,
  buildTasks,
  decodeOpInfo,
  encodeData,
  encodeOpInfo,
  type Op,
  type OpHost,
  type OpInfo,
  type Task,
} from './ops.js'
import {decodeMessage, encodeMessage} from './proto.js'

export interface NameServerOptions {
  name: string
  endpoint: string
  zkHosts: string
  root: string
  /** `--auto_failover` (used only when `<root>/config/auto_failover` does not exist). */
  autoFailoverFlag: boolean
  /** Simulated duration of one task. */
  taskMs: number
  /** `tablet_heartbeat_timeout`. */
  tabletHeartbeatTimeoutMs: number
  /** `get_table_status_interval`. */
  tableStatusIntervalMs: number
  /** `name_server_task_concurrency`. */
  taskConcurrency: number
  log(line: string): void
}

/** `name_server_task_max_concurrency`. */
const MAX_CONCURRENCY = 8
/** `check_binlog_sync_progress_delta`. */
const OFFSET_DELTA = 100000n
/** `max_op_num`. */
const MAX_OP_NUM = 10000

type Reply = Record<string, unknown>
const OK = {code: 0, msg: 'ok'}
const NOT_LEADER = {code: 300, msg: 'nameserver is not leader'}
const AUTO_FAILOVER = {code: 301, msg: 'auto_failover is enabled'}

interface TabletState {
  state: 'kHealthy' | 'kOffline'
  ctime: number
  /** When it went offline (ms), while it is offline. */
  offlineSince?: number
  /** tablet_heartbeat_timeout passed and the nameserver looked at it (with auto_failover off: did nothing). */
  offlineChecked?: boolean
}

const nowSec = (): bigint => BigInt(Math.floor(Date.now() / 1000))
const byNumber = (a: string, b: string): number => a.localeCompare(b, 'en', {numeric: true})

export class NameServer {
  readonly name: string
  readonly endpoint: string
  running = false
  /** OpenMLDB's `running_`: this nameserver holds the lock and recovered. */
  leader = false
  private zk?: ZkClient
  private server?: BrpcServer
  private readonly client = new BrpcClient()
  private readonly paths: ZkPaths
  private lockNode = ''
  /** Changes whenever leadership is gained or lost; loops of an older epoch stop. */
  private epoch = 0

  tables = new Map<number, TableInfo>()
  tablets = new Map<string, TabletState>()
  autoFailover = false
  private term = 1n
  private opIndex = 0n
  /** UpdateTableStatus rounds completed (the lab's settle waits for one begun after the last change). */
  statusRounds = 0
  queues: Op[][] = []
  done: Op[] = []
  private readonly pumping = new Set<number>()
  private readonly timers = new Set<NodeJS.Timeout>()
  /** Tablet online/offline handling scheduled or running (the lab's settle waits for none). */
  private readonly handling = new Set<symbol>()

  constructor(private readonly opts: NameServerOptions) {
    this.name = opts.name
    this.endpoint = opts.endpoint
    this.paths = zkPaths(opts.root)
  }

  get port(): number {
    return Number(this.endpoint.slice(this.endpoint.lastIndexOf(':') + 1))
  }

  /** Starts the process: HTTP server, ZooKeeper session, a place in the leader election. */
  async start(): Promise<void> {
    if (this.running) return
    this.server = new BrpcServer([this.service()])
    await this.server.listen(this.port)
    this.zk = await connectZk({hosts: this.opts.zkHosts, sessionTimeoutMs: 6000})
    this.running = true
    await this.zk.mkdirp(this.paths.leader)
    this.lockNode = await this.zk.create(`${this.paths.leader}/lock_request`, Buffer.from(this.endpoint), {
      mode: 'ephemeral_sequential',
    })
    this.opts.log(`nameserver ${this.name} ${this.endpoint} started (${this.lockNode})`)
    await this.checkLock()
  }

  /** Kills the process: its lock node goes with the session, the next nameserver takes over. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.loseLeadership()
    await this.server?.close()
    await this.zk?.close()
    this.client.close()
    this.opts.log(`nameserver ${this.name} ${this.endpoint} killed`)
  }

  /** True when no op is queued and no tablet event is being handled (the lab's settle point). */
  idle(): boolean {
    return this.handling.size === 0 && this.queues.every((q) => q.length === 0)
  }

  private loseLeadership(): void {
    this.leader = false
    this.epoch++
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.handling.clear()
  }

  /** Runs a tablet event handler, counted by idle(). */
  private handle(run: () => Promise<void>): void {
    const token = Symbol('tablet event')
    this.handling.add(token)
    void run()
      .catch((e) => this.fail(e))
      .finally(() => this.handling.delete(token))
  }

  /** Schedules a tablet event handler after `ms`, counted by idle() from now on. */
  private handleLater(ms: number, run: () => Promise<void>): void {
    const token = Symbol('tablet event')
    this.handling.add(token)
    this.later(
      ms,
      () =>
        void run()
          .catch((e) => this.fail(e))
          .finally(() => this.handling.delete(token)),
    )
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  private get zkc(): ZkClient {
    if (!this.zk) throw new Error('nameserver is not running')
    return this.zk
  }

  // ---- leader election (DistLock) ----

  /** One lock check at a time: a watch firing during a check (or during Recover) asks for another. */
  private checking = false
  private recheck = false

  private async checkLock(): Promise<void> {
    if (this.checking) {
      this.recheck = true
      return
    }
    this.checking = true
    try {
      do {
        this.recheck = false
        if (!this.running || this.leader) return
        const children = await this.zkc.getChildren(this.paths.leader, {
          watch: () => void this.checkLock().catch((e) => this.fail(e)),
        })
        const first = children.filter((c) => c.startsWith('lock_request')).sort(byNumber)[0]
        if (first && `${this.paths.leader}/${first}` === this.lockNode) await this.becomeLeader()
      } while (this.recheck)
    } finally {
      this.checking = false
    }
  }

  private fail(err: unknown): void {
    if (this.running) this.opts.log(`nameserver ${this.name}: ${err instanceof Error ? err.message : String(err)}`)
  }

  /** OnLocked → Recover: reads every piece of state from ZooKeeper, then serves. */
  private async becomeLeader(): Promise<void> {
    // A new epoch before anything is read: the ops rebuilt below belong to it.
    this.epoch++
    const epoch = this.epoch
    const zk = this.zkc
    const p = this.paths
    for (const path of [p.nodes, p.tableData, p.dbTableData, p.opData, p.config, p.db]) await zk.mkdirp(path)
    const readText = async (path: string, init: string): Promise<string> => {
      try {
        return (await zk.get(path)).data.toString('utf8')
      } catch (err) {
        if (!isZkError(err, 'ZK_NO_NODE')) throw err
        await zk.create(path, Buffer.from(init))
        return init
      }
    }
    // ZooKeeper wins over the flag when the node exists.
    this.autoFailover = (await readText(p.autoFailover, String(this.opts.autoFailoverFlag))) === 'true'
    this.term = BigInt(await readText(p.term, '1'))
    this.opIndex = BigInt(await readText(p.opIndex, '0'))
    await readText(p.tableIndex, '1')
    this.tables.clear()
    for (const tid of (await zk.getChildren(p.dbTableData)).sort(byNumber)) {
      const {data} = await zk.get(`${p.dbTableData}/${tid}`)
      const t = normalizeTable(decodeMessage('openmldb.nameserver.TableInfo', data))
      this.tables.set(t.tid, t)
    }
    this.queues = Array.from({length: MAX_CONCURRENCY}, () => [])
    this.done = []
    const ops: Op[] = []
    for (const id of (await zk.getChildren(p.opData)).sort(byNumber)) {
      const info = decodeOpInfo((await zk.get(`${p.opData}/${id}`)).data)
      if (info.task_status === 'kDone' || info.task_status === 'kCanceled') continue
      const op: Op = {info, tasks: []}
      op.tasks = buildTasks(this.host(), op)
      ops.push(op)
    }
    for (const op of ops.sort((a, b) => (a.info.op_id < b.info.op_id ? -1 : 1))) {
      if (op.info.task_status === 'kFailed') this.done.push(op)
      else this.queues[op.info.vec_idx % MAX_CONCURRENCY].push(op)
    }
    this.tablets.clear()
    if (epoch !== this.epoch || !this.running) return
    // The tablets first (UpdateTablets in Recover), then running_: a new leader answers with them.
    await this.watchTablets(epoch)
    if (epoch !== this.epoch || !this.running) return
    this.leader = true
    this.opts.log(
      `nameserver ${this.name} is the leader: ${this.tables.size} tables, ${this.tablets.size} tablets, ${ops.length} ops reloaded, auto_failover=${this.autoFailover}`,
    )
    this.scheduleTableStatus(epoch)
    for (let i = 0; i < this.queues.length; i++) this.pump(i)
  }

  // ---- tablet liveness (UpdateTablets, OnTabletOffline, OnTabletOnline) ----

  /** The tablet scans, one after another; the epoch of the scan queued behind the running one, if any. */
  private tabletScans: Promise<void> = Promise.resolve()
  private tabletScanQueued?: number

  /**
   * Reads `<root>/nodes` (and watches it) after the scan in progress, never beside it: two scans
   * running at once could apply an older child list after a newer one and take a tablet that had
   * just registered offline again, for good (the restart-all race). A watch firing while a scan
   * is queued needs no second one: the queued scan reads the children when it starts.
   */
  private watchTablets(epoch: number): Promise<void> {
    if (this.tabletScanQueued === epoch) return this.tabletScans
    this.tabletScanQueued = epoch
    this.tabletScans = this.tabletScans
      .catch(() => undefined)
      .then(() => {
        if (this.tabletScanQueued === epoch) this.tabletScanQueued = undefined
        return this.scanTablets(epoch)
      })
    return this.tabletScans
  }

  private async scanTablets(epoch: number): Promise<void> {
    if (epoch !== this.epoch || !this.running) return
    const children = await this.zkc.getChildren(this.paths.nodes, {
      watch: () => void this.watchTablets(epoch).catch((e) => this.fail(e)),
    })
    const now = Date.now()
    const present = new Set(children)
    for (const ep of [...present].sort()) {
      const cur = this.tablets.get(ep)
      if (cur && cur.state === 'kHealthy') continue
      let value = ''
      try {
        value = (await this.zkc.get(`${this.paths.nodes}/${ep}`)).data.toString('utf8')
      } catch (err) {
        if (isZkError(err, 'ZK_NO_NODE')) continue
        throw err
      }
      if (epoch !== this.epoch) return
      this.tablets.set(ep, {state: 'kHealthy', ctime: now})
      if (cur) this.handle(() => this.onTabletOnline(ep, value.startsWith('startup_'), cur, epoch))
    }
    for (const [ep, st] of this.tablets) {
      if (present.has(ep) || st.state === 'kOffline') continue
      st.state = 'kOffline'
      st.offlineSince = now
      st.ctime = now
      this.opts.log(`nameserver ${this.name}: tablet ${ep} is offline`)
      this.handleLater(this.opts.tabletHeartbeatTimeoutMs, () => this.onTabletOffline(ep, st, epoch))
    }
  }

  /** OnTabletOffline once tablet_heartbeat_timeout has passed: the offline flow, only with auto_failover. */
  private async onTabletOffline(ep: string, st: TabletState, epoch: number): Promise<void> {
    if (epoch !== this.epoch || this.tablets.get(ep) !== st || st.state !== 'kOffline') return
    st.offlineChecked = true
    if (!this.autoFailover || this.tables.size === 0) return
    await this.offlineFlow(ep)
  }

  private async offlineFlow(ep: string): Promise<void> {
    this.opts.log(`nameserver ${this.name}: auto_failover takes ${ep} offline`)
    await this.updateEndpointTableAlive(ep, false)
    await this.offlineEndpointInternal(ep, this.opts.taskConcurrency)
  }

  /**
   * OnTabletOnline: nothing without auto_failover, nor after a short outage of a process that did
   * not restart. A restarted tablet (startup_) goes through OnTabletOffline(ep, true) first,
   * which runs the offline flow again (OpenMLDB queues its kOfflineReplicaOPs once more), then
   * RecoverEndpoint.
   */
  private async onTabletOnline(ep: string, startup: boolean, before: TabletState, epoch: number): Promise<void> {
    if (epoch !== this.epoch || !this.autoFailover || this.tables.size === 0) return
    const outage = before.offlineSince === undefined ? 0 : Date.now() - before.offlineSince
    if (!startup && outage < this.opts.tabletHeartbeatTimeoutMs) return
    this.opts.log(`nameserver ${this.name}: tablet ${ep} is back${startup ? ' (restarted)' : ''}, recovering it`)
    if (startup) await this.offlineFlow(ep)
    await this.recoverEndpointInternal(ep, false, this.opts.taskConcurrency)
  }

  /** UpdateEndpointTableAlive: marks the endpoint's replicas, skipping sole alive replicas. */
  private async updateEndpointTableAlive(ep: string, isAlive: boolean): Promise<void> {
    for (const t of this.sortedTables()) {
      let changed = false
      for (const p of t.table_partition) {
        const alive = p.partition_meta.filter((m) => m.is_alive).length
        for (const m of p.partition_meta) {
          if (m.endpoint !== ep) continue
          if (alive === 1 && !isAlive && m.is_alive) continue
          if (m.is_alive !== isAlive) {
            m.is_alive = isAlive
            changed = true
          }
        }
      }
      if (changed) await this.persistTable(t)
    }
  }

  private scheduleTableStatus(epoch: number): void {
    this.later(this.opts.tableStatusIntervalMs, () => {
      void this.updateTableStatus(epoch)
        .catch((e) => this.fail(e))
        .finally(() => {
          if (epoch !== this.epoch || !this.leader) return
          this.statusRounds++
          this.scheduleTableStatus(epoch)
        })
    })
  }

  /** UpdateTableStatus: offsets and record counts from every healthy tablet. */
  private async updateTableStatus(epoch: number): Promise<void> {
    const healthy = [...this.tablets].filter(([, s]) => s.state === 'kHealthy').map(([ep]) => ep)
    await Promise.all(
      healthy.map(async (ep) => {
        let r: Reply
        try {
          r = await this.client.call(ep, 'TabletServer', 'GetTableStatus', {}, 5000)
        } catch {
          return
        }
        if (epoch !== this.epoch) return
        for (const s of (r.all_table_status as Reply[] | undefined) ?? []) {
          const p =
            this.tables.get(Number(s.tid)) && partitionOf(this.tables.get(Number(s.tid)) as TableInfo, Number(s.pid))
          const m = p && p.partition_meta.find((x) => x.endpoint === ep)
          if (!p || !m) continue
          m.offset = BigInt(s.offset as number)
          m.record_cnt = BigInt(s.record_cnt as number)
          m.record_byte_size = BigInt(s.record_byte_size as number)
          if (m.is_leader && m.is_alive) p.record_cnt = m.record_cnt
        }
      }),
    )
  }

  // ---- metadata persistence ----

  private sortedTables(): TableInfo[] {
    return [...this.tables.values()].sort((a, b) => a.db.localeCompare(b.db) || a.name.localeCompare(b.name))
  }

  private findTable(name: string, db: string): TableInfo | undefined {
    for (const t of this.tables.values()) if (t.name === name && t.db === db) return t
    return undefined
  }

  async persistTable(t: TableInfo): Promise<void> {
    await this.zkc.set(`${this.paths.dbTableData}/${t.tid}`, encodeTable(t), -1)
  }

  // ---- ops ----

  /** What the ops of this leadership may do; a task of a lost leadership writes nothing more. */
  private host(): OpHost {
    const epoch = this.epoch
    const live = (): void => {
      if (epoch !== this.epoch || !this.leader) throw new TaskError('nameserver is no longer the leader')
    }
    return {
      table: (name, db) => this.findTable(name, db),
      tablet: async (ep, method, body) => {
        live()
        const r = await this.client.call(ep, 'TabletServer', method, body)
        if (Number(r.code ?? 0) !== 0) throw new TaskError(`${method} on ${ep}: code ${r.code} ${r.msg}`)
        return r
      },
      tabletHealthy: (ep) => this.tablets.get(ep)?.state === 'kHealthy',
      autoFailover: () => this.autoFailover,
      nextTerm: async () => {
        const cur = this.term + 1n
        live()
        await this.zkc.set(this.paths.term, Buffer.from(String(this.term + 2n)), -1)
        this.term += 2n
        return cur
      },
      persistTable: async (t) => {
        live()
        await this.persistTable(t)
      },
      persistOp: async (op) => {
        live()
        await this.persistOp(op)
      },
      addChildOp: async (parent, type, data, name, db, pid) => {
        live()
        const op = await this.newOp(type, data, name, db, pid, parent.info.vec_idx, parent.info.op_id)
        const q = this.queues[parent.info.vec_idx]
        const at = q.indexOf(parent)
        q.splice(at < 0 ? q.length : at + 1, 0, op)
      },
      pause: () => new Promise((r) => setTimeout(r, this.opts.taskMs)),
      random: (n) => Math.floor(Math.random() * n),
      log: (line) => this.opts.log(`nameserver ${this.name}: ${line}`),
    }
  }

  private async persistOp(op: Op): Promise<void> {
    await this.zkc.set(`${this.paths.opData}/${op.info.op_id}`, encodeOpInfo(op.info), -1)
  }

  /** CreateOPData + AddOPData: a new op id, its node, its tasks. Not queued. */
  private async newOp(
    type: string,
    data: Buffer,
    name: string,
    db: string,
    pid: number,
    vecIdx: number,
    parent?: bigint,
  ): Promise<Op> {
    // The id is taken before the await: concurrent requests must not share the latest value.
    const opId = ++this.opIndex
    await this.zkc.set(this.paths.opIndex, Buffer.from(String(this.opIndex)), -1)
    const info: OpInfo = {
      op_id: opId,
      op_type: type,
      task_index: 0,
      data,
      task_status: 'kInited',
      start_time: 0n,
      end_time: 0n,
      name,
      pid,
      vec_idx: vecIdx,
      for_replica_cluster: 0,
      db,
      ...(parent === undefined ? {} : {parent_id: parent}),
    }
    const op: Op = {info, tasks: []}
    op.tasks = buildTasks(this.host(), op)
    await this.zkc.create(`${this.paths.opData}/${info.op_id}`, encodeOpInfo(info))
    return op
  }

  private async addOp(type: string, data: Buffer, t: TableInfo, pid: number, concurrency: number): Promise<Op> {
    const idx = pid % concurrency
    const op = await this.newOp(type, data, t.name, t.db, pid, idx)
    this.queues[idx].push(op)
    this.opts.log(`nameserver ${this.name}: op ${op.info.op_id} ${type} ${t.name} pid ${pid} queued`)
    this.pump(idx)
    return op
  }

  /** ProcessTask for one queue: the head op's tasks, one after another. */
  private pump(idx: number): void {
    if (this.pumping.has(idx) || !this.leader) return
    this.pumping.add(idx)
    const epoch = this.epoch
    void this.runQueue(idx, epoch)
      .catch((e) => this.fail(e))
      .finally(() => {
        this.pumping.delete(idx)
        // A pump of an older leadership may end after this one began: the current queue goes on.
        if (this.leader && this.queues[idx].length > 0) this.pump(idx)
      })
  }

  private async runQueue(idx: number, epoch: number): Promise<void> {
    const q = this.queues[idx]
    const live = () => epoch === this.epoch && this.leader
    while (live() && q.length > 0) {
      const op = q[0]
      const i = op.info
      if (i.task_status === 'kCanceled') {
        i.end_time = nowSec()
        await this.persistOp(op)
        this.finish(q, op)
        continue
      }
      if (i.task_status === 'kInited') {
        i.task_status = 'kDoing'
        i.start_time = nowSec()
        await this.persistOp(op)
      }
      if (i.task_index >= op.tasks.length) {
        i.task_status = 'kDone'
        i.end_time = nowSec()
        await this.zkc.remove(`${this.paths.opData}/${i.op_id}`, -1).catch(() => undefined)
        this.finish(q, op)
        this.opts.log(`nameserver ${this.name}: op ${i.op_id} ${i.op_type} ${i.name} pid ${i.pid} done`)
        continue
      }
      const task: Task = op.tasks[i.task_index]
      await new Promise((r) => setTimeout(r, this.opts.taskMs))
      if (!live()) return
      try {
        await task.run()
      } catch (err) {
        if (!live()) return
        i.task_status = 'kFailed'
        i.end_time = nowSec()
        await this.persistOp(op)
        this.finish(q, op)
        this.opts.log(
          `nameserver ${this.name}: op ${i.op_id} ${i.op_type} ${i.name} pid ${i.pid} failed in ${task.type}: ${err instanceof Error ? err.message : String(err)}`,
        )
        continue
      }
      if (!live()) return
      if ((i.task_status as string) === 'kCanceled') continue
      i.task_index++
      await this.persistOp(op)
    }
  }

  private finish(q: Op[], op: Op): void {
    const at = q.indexOf(op)
    if (at >= 0) q.splice(at, 1)
    this.done.push(op)
    if (this.done.length > MAX_OP_NUM) this.done.splice(0, this.done.length - MAX_OP_NUM)
  }

  // ---- internal flows ----

  private async offlineEndpointInternal(ep: string, concurrency: number): Promise<void> {
    for (const t of this.sortedTables()) {
      for (const p of t.table_partition) {
        if (p.partition_meta.length === 1 && p.partition_meta[0].endpoint === ep) {
          await this.addOp(
            'kUpdatePartitionStatusOP',
            encodeData.endpointStatus({endpoint: ep, is_leader: true, is_alive: false}),
            t,
            p.pid,
            concurrency,
          )
          continue
        }
        const mine = p.partition_meta.find((m) => m.endpoint === ep)
        if (!mine) continue
        const aliveLeader = p.partition_meta.find((m) => m.is_leader && m.is_alive)?.endpoint
        if (mine.is_leader || !aliveLeader) {
          if (!aliveLeader || aliveLeader === ep) await this.createChangeLeaderOp(t, p.pid, '', concurrency)
        } else {
          await this.addOp('kOfflineReplicaOP', Buffer.from(ep), t, p.pid, concurrency)
        }
      }
    }
  }

  /** CreateChangeLeaderOP: 0 ops when no follower qualifies, -1 when the candidate is not one. */
  private async createChangeLeaderOp(
    t: TableInfo,
    pid: number,
    candidate: string,
    concurrency: number,
    needRestore = false,
  ): Promise<number> {
    const p = partitionOf(t, pid)
    if (!p) return -1
    const followers = p.partition_meta
      .filter((m) => m.is_alive && !m.is_leader && this.tablets.get(m.endpoint)?.state === 'kHealthy')
      .map((m) => m.endpoint)
    // need_restore: the candidate is being recovered right now and will be a follower by then.
    if (needRestore && candidate && !followers.includes(candidate)) followers.push(candidate)
    if (followers.length === 0) return 0
    if (candidate && !followers.includes(candidate)) return -1
    const data = encodeData.changeLeader({
      name: t.name,
      tid: t.tid,
      pid,
      follower: followers,
      db: t.db,
      ...(candidate ? {candidate_leader: candidate} : {}),
    })
    await this.addOp('kChangeLeaderOP', data, t, pid, concurrency)
    return 0
  }

  private async recoverEndpointInternal(ep: string, needRestore: boolean, concurrency: number): Promise<void> {
    for (const t of this.sortedTables()) {
      for (const p of t.table_partition) {
        const m = p.partition_meta.find((x) => x.endpoint === ep)
        if (!m) continue
        if (m.is_alive && p.partition_meta.length > 1) continue
        await this.addOp(
          'kRecoverTableOP',
          encodeData.recoverTable({
            endpoint: ep,
            offset_delta: needRestore ? 0n : OFFSET_DELTA,
            is_leader: m.is_leader,
            concurrency,
          }),
          t,
          p.pid,
          concurrency,
        )
        if (needRestore && m.is_leader) await this.createChangeLeaderOp(t, p.pid, ep, concurrency, true)
      }
    }
  }

  // ---- the RPCs ----

  private service(): BrpcService {
    const m = (request: string, handle: (req: Reply) => Reply | Promise<Reply>) => ({
      request: `openmldb.nameserver.${request}`,
      handle: (req: Reply) => (this.leader ? handle(req) : {...NOT_LEADER}),
    })
    return {
      name: 'NameServer',
      fullName: 'openmldb.nameserver.NameServer',
      methods: {
        ShowTablet: m('ShowTabletRequest', () => this.showTablet()),
        ShowTable: m('ShowTableRequest', (r) => this.showTable(r)),
        ShowOPStatus: m('ShowOPStatusRequest', (r) => this.showOPStatus(r)),
        ConfGet: m('ConfGetRequest', () => ({...OK, conf: {auto_failover: String(this.autoFailover)}})),
        ConfSet: m('ConfSetRequest', (r) => this.confSet(r)),
        ChangeLeader: m('ChangeLeaderRequest', (r) => this.changeLeader(r)),
        OfflineEndpoint: m('OfflineEndpointRequest', (r) => this.offlineEndpoint(r)),
        RecoverEndpoint: m('RecoverEndpointRequest', (r) => this.recoverEndpoint(r)),
        RecoverTable: m('RecoverTableRequest', (r) => this.recoverTable(r)),
        UpdateTableAliveStatus: m('UpdateTableAliveRequest', (r) => this.updateTableAliveStatus(r)),
        CancelOP: m('CancelOPRequest', (r) => this.cancelOP(r)),
      },
    }
  }

  private showTablet(): Reply {
    const now = Date.now()
    const tablets = [...this.tablets]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([endpoint, s]) => ({endpoint, state: s.state, age: now - s.ctime}))
    return {tablets, ...OK}
  }

  private showTable(r: Reply): Reply {
    const out: Reply[] = []
    const db = String(r.db ?? '')
    for (const t of this.sortedTables()) {
      if (t.db === '' ? false : !(r.show_all === true || (db !== '' && t.db === db))) continue
      if (r.name !== undefined && r.name !== t.name) continue
      out.push(tableJson(t))
    }
    return {table_info: out, ...OK}
  }

  private showOPStatus(r: Reply): Reply {
    const ops = new Map<bigint, Op>()
    for (const op of [...this.done, ...this.queues.flat()]) {
      const i = op.info
      if (r.op_id !== undefined && i.op_id !== BigInt(r.op_id as bigint)) continue
      if (r.db !== undefined && i.db !== r.db) continue
      if (r.name !== undefined && i.name !== r.name) continue
      if (r.pid !== undefined && i.pid !== r.pid) continue
      if (!ops.has(i.op_id)) ops.set(i.op_id, op)
    }
    const op_status = [...ops.values()]
      .sort((a, b) => (a.info.op_id < b.info.op_id ? -1 : 1))
      .map(({info: i, tasks}) => ({
        op_id: i.op_id,
        op_type: i.op_type,
        status: i.task_status,
        start_time: i.start_time,
        end_time: i.end_time,
        task_type:
          i.task_status === 'kInited' || i.task_status === 'kDone' || tasks.length === 0
            ? '-'
            : tasks[Math.min(i.task_index, tasks.length - 1)].type,
        name: i.name,
        pid: i.pid,
        for_replica_cluster: i.for_replica_cluster,
        db: i.db,
      }))
    return {...OK, op_status}
  }

  private async confSet(r: Reply): Promise<Reply> {
    const conf = r.conf as {key: string; value: string}
    const value = conf.value.toLowerCase()
    if (
      conf.key === '' ||
      conf.value === '' ||
      (value !== 'true' && value !== 'false') ||
      conf.key !== 'auto_failover'
    ) {
      return {code: 307, msg: 'invalid parameter'}
    }
    try {
      await this.zkc.set(this.paths.autoFailover, Buffer.from(value), -1)
    } catch {
      return {code: 304, msg: 'set zk failed'}
    }
    this.autoFailover = value === 'true'
    this.opts.log(`nameserver ${this.name}: auto_failover=${value}`)
    return {...OK}
  }

  private concurrencyOf(r: Reply): number | undefined {
    if (r.concurrency === undefined) return this.opts.taskConcurrency
    const c = Number(r.concurrency)
    return c > MAX_CONCURRENCY ? undefined : c
  }

  private async changeLeader(r: Reply): Promise<Reply> {
    if (this.autoFailover) return {...AUTO_FAILOVER}
    const t = this.findTable(String(r.name), String(r.db ?? ''))
    if (!t) return {code: 100, msg: 'table does not exist'}
    const pid = Number(r.pid)
    if (pid > t.table_partition.length - 1) return {code: 308, msg: 'pid does not exist'}
    const p = partitionOf(t, pid)
    const followers: string[] = []
    if (p) {
      if (p.partition_meta.length === 1) return {code: 134, msg: 'no follower'}
      for (const m of p.partition_meta) {
        if (!m.is_alive) continue
        if (!m.is_leader) followers.push(m.endpoint)
        else if (r.candidate_leader === undefined) return {code: 309, msg: 'leader is alive'}
      }
    }
    if (followers.length === 0) return {code: 310, msg: 'no alive follower'}
    const candidate =
      r.candidate_leader !== undefined && r.candidate_leader !== 'auto' ? String(r.candidate_leader) : ''
    if ((await this.createChangeLeaderOp(t, pid, candidate, this.opts.taskConcurrency)) < 0)
      return {code: 305, msg: 'create op failed'}
    return {...OK}
  }

  private async offlineEndpoint(r: Reply): Promise<Reply> {
    if (this.autoFailover) return {...AUTO_FAILOVER}
    const concurrency = this.concurrencyOf(r)
    if (concurrency === undefined) return {code: 307, msg: 'invalid parameter'}
    const ep = String(r.endpoint)
    if (!this.tablets.has(ep)) return {code: 302, msg: 'endpoint does not exist'}
    await this.offlineEndpointInternal(ep, concurrency)
    return {...OK}
  }

  private async recoverEndpoint(r: Reply): Promise<Reply> {
    if (this.autoFailover) return {...AUTO_FAILOVER}
    const concurrency = this.concurrencyOf(r)
    if (concurrency === undefined) return {code: 307, msg: 'invalid parameter'}
    const ep = String(r.endpoint)
    const st = this.tablets.get(ep)
    if (!st) return {code: 302, msg: 'endpoint does not exist'}
    if (st.state !== 'kHealthy') return {code: 303, msg: 'tablet is not healthy'}
    await this.recoverEndpointInternal(ep, r.need_restore === true, concurrency)
    return {...OK}
  }

  private async recoverTable(r: Reply): Promise<Reply> {
    if (this.autoFailover) return {...AUTO_FAILOVER}
    const ep = String(r.endpoint)
    const st = this.tablets.get(ep)
    if (!st) return {code: 302, msg: 'endpoint does not exist'}
    if (st.state !== 'kHealthy') return {code: 303, msg: 'tablet is not healthy'}
    const t = this.findTable(String(r.name), String(r.db ?? ''))
    if (!t) return {code: 100, msg: 'table does not exist'}
    const m = partitionOf(t, Number(r.pid))?.partition_meta.find((x) => x.endpoint === ep)
    if (!m) return {code: 308, msg: 'pid does not exist'}
    if (m.is_alive) return {code: 311, msg: 'table is alive, need not recover'}
    const data = encodeData.recoverTable({
      endpoint: ep,
      offset_delta: OFFSET_DELTA,
      is_leader: m.is_leader,
      concurrency: this.opts.taskConcurrency,
    })
    await this.addOp('kRecoverTableOP', data, t, Number(r.pid), this.opts.taskConcurrency)
    return {...OK}
  }

  private async updateTableAliveStatus(r: Reply): Promise<Reply> {
    if (this.autoFailover) return {...AUTO_FAILOVER}
    const ep = String(r.endpoint ?? '')
    if (!this.tablets.has(ep)) return {code: 302, msg: 'endpoint does not exist'}
    const t = this.findTable(String(r.name ?? ''), String(r.db ?? ''))
    if (!t) return {code: 100, msg: 'table does not exist'}
    let updated = false
    for (const p of t.table_partition) {
      if (r.pid !== undefined && p.pid !== r.pid) continue
      const m = p.partition_meta.find((x) => x.endpoint === ep)
      if (!m) continue
      m.is_alive = r.is_alive === true
      updated = true
    }
    if (!updated) return {code: 321, msg: 'no pid has update'}
    try {
      await this.persistTable(t)
    } catch {
      return {code: 304, msg: 'set zk failed'}
    }
    return {...OK}
  }

  private cancelOP(r: Reply): Reply {
    if (this.autoFailover) return {...AUTO_FAILOVER}
    const id = r.op_id === undefined ? 0n : BigInt(r.op_id as bigint)
    const op = this.queues.flat().find((o) => o.info.op_id === id)
    if (!op || (op.info.task_status !== 'kInited' && op.info.task_status !== 'kDoing')) {
      return {code: 312, msg: 'op status is not kDoing or kInited'}
    }
    op.info.task_status = 'kCanceled'
    return {...OK}
  }
}

/** TableInfo as protobuf bytes (the `db_table_data/<tid>` node). */
export function encodeTable(t: TableInfo): Buffer {
  return encodeMessage('openmldb.nameserver.TableInfo', t as unknown as Record<string, unknown>)
}

/** TableInfo as pb2json writes it: set fields only. */
function tableJson(t: TableInfo): Reply {
  return {
    name: t.name,
    seg_cnt: t.seg_cnt,
    table_partition: t.table_partition.map((p) => ({
      pid: p.pid,
      partition_meta: p.partition_meta.map((m) => ({...m})),
      term_offset: p.term_offset.map((x) => ({...x})),
      record_cnt: p.record_cnt,
      record_byte_size: p.record_byte_size,
    })),
    tid: t.tid,
    partition_num: t.partition_num,
    replica_num: t.replica_num,
    format_version: t.format_version,
    db: t.db,
    storage_mode: t.storage_mode,
  }
}
