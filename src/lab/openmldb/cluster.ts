/**
 * A whole simulated OpenMLDB cluster in one process: nameservers and tablets on loopback ports,
 * metadata in a real ZooKeeper, rows written through the tablets' Put. It brings a scenario up,
 * applies faults, reports status and writes specs.
 */
import {randomBytes} from 'node:crypto'
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {LifeboatError} from '../../errors.js'
import {connectZk, removeTree, type ZkOp} from '../../zk/index.js'
import {freePort} from '../zookeeper/server.js'
import {BrpcClient} from './brpc.js'
import {partitionOfKey} from './hash.js'
import {zkPaths, type TableInfo} from './model.js'
import {NameServer, encodeTable} from './nameserver.js'
import type {OpenMLDBFault, OpenMLDBScenario} from './scenario.js'
import {Tablet} from './tablet.js'

/** A table as the lab created it (what `lab verify` reads back). */
export interface LabTable {
  db: string
  name: string
  tid: number
  partitions: number
  rows: number
}

/** What a client needs: endpoints, the ZooKeeper root, the tables and their rows. */
export interface OpenMLDBLabLayout {
  cluster_name: string
  zk_hosts: string
  zk_root: string
  nameservers: {name: string; endpoint: string}[]
  tablets: {name: string; endpoint: string}[]
  tables: LabTable[]
}

/** The key of row `i` of a table, and its value: what `lab up` writes and `lab verify` expects. */
export function rowKey(table: string, i: number): string {
  return `${table}-k${i}`
}
export function rowValue(table: string, i: number): string {
  return `${table}-v${i}`
}

/** The partition of a key, as OpenMLDB's clients route it (./hash.ts). */
export function pidOfKey(key: string, partitions: number): number {
  return partitionOfKey(key, partitions)
}

/** Runs `fn` over `items`, `limit` at a time. */
export async function eachBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({length: Math.min(limit, items.length)}, async () => {
      while (next < items.length) await fn(items[next++])
    }),
  )
}

/** Waits until `cond()` holds, checking every `everyMs`; throws LAB_NOT_SETTLED after `deadlineMs`. */
export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  deadlineMs = 60_000,
  everyMs = 25,
): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await cond())) {
    if (Date.now() > end)
      throw new LifeboatError('LAB_NOT_SETTLED', `the OpenMLDB lab did not settle: ${what}`, {
        hints: ['See the lab log in the state directory (lifeboat lab status shows its path).'],
      })
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

export class OpenMLDBLab {
  readonly nameservers: NameServer[] = []
  readonly tablets: Tablet[] = []
  private readonly peers = new Map<string, Tablet>()
  private readonly client = new BrpcClient()

  private constructor(
    readonly scenario: OpenMLDBScenario,
    readonly layout: OpenMLDBLabLayout,
    private readonly stateDir: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Brings a scenario up: ZooKeeper layout, tablets with their replicas, nameservers, rows, faults. */
  static async up(opts: {
    scenario: OpenMLDBScenario
    stateDir: string
    zkHosts: string
    log?: (line: string) => void
  }): Promise<OpenMLDBLab> {
    const s = opts.scenario
    const ports = new Set<number>()
    const port = async (): Promise<number> => {
      for (;;) {
        const p = await freePort()
        if (!ports.has(p)) {
          ports.add(p)
          return p
        }
      }
    }
    const nsEps: {name: string; endpoint: string}[] = []
    for (let i = 0; i < s.nameservers; i++) nsEps.push({name: `ns${i + 1}`, endpoint: `127.0.0.1:${await port()}`})
    const tabEps: {name: string; endpoint: string}[] = []
    for (let i = 0; i < s.tablets; i++) tabEps.push({name: `tablet${i + 1}`, endpoint: `127.0.0.1:${await port()}`})
    const tables: LabTable[] = s.tables.map((t, i) => ({
      db: t.db,
      name: t.name,
      tid: i + 1,
      partitions: t.partitions,
      rows: t.rows,
    }))
    const layout: OpenMLDBLabLayout = {
      cluster_name: s.name,
      zk_hosts: opts.zkHosts,
      // Two labs on one ZooKeeper must not share a root: without one named, this lab takes its own.
      zk_root: s.zk_root ?? `/openmldb/${s.name}-${randomBytes(4).toString('hex')}`,
      nameservers: nsEps,
      tablets: tabEps,
      tables,
    }
    const lab = new OpenMLDBLab(s, layout, opts.stateDir, opts.log ?? (() => {}))
    try {
      await lab.bootstrap()
      for (const f of s.faults) await lab.fault(f)
    } catch (err) {
      await lab.down()
      throw err
    }
    return lab
  }

  private async bootstrap(): Promise<void> {
    const s = this.scenario
    const L = this.layout
    const p = zkPaths(L.zk_root)
    const set = s.settings
    for (const t of L.tablets) {
      const tab = new Tablet({
        name: t.name,
        endpoint: t.endpoint,
        zkHosts: L.zk_hosts,
        root: L.zk_root,
        peers: this.peers,
        loadMs: set.load_ms,
        log: this.log,
      })
      this.tablets.push(tab)
      this.peers.set(t.endpoint, tab)
    }
    for (const n of L.nameservers) {
      this.nameservers.push(
        new NameServer({
          name: n.name,
          endpoint: n.endpoint,
          zkHosts: L.zk_hosts,
          root: L.zk_root,
          autoFailoverFlag: s.auto_failover,
          taskMs: set.task_ms,
          tabletHeartbeatTimeoutMs: set.tablet_heartbeat_timeout_ms,
          tableStatusIntervalMs: set.table_status_interval_ms,
          taskConcurrency: set.task_concurrency,
          log: this.log,
        }),
      )
    }
    // Tables as CreateTable leaves them: replicas spread round-robin, leader first; term 1 from offset 0.
    const infos: TableInfo[] = []
    let slot = 0
    for (const [k, t] of L.tables.entries()) {
      const st = s.tables[k]
      const info: TableInfo = {
        name: t.name,
        seg_cnt: 8,
        tid: t.tid,
        partition_num: t.partitions,
        replica_num: st.replicas,
        format_version: 1,
        db: t.db,
        storage_mode: 'kMemory',
        table_partition: [],
      }
      for (let pid = 0; pid < t.partitions; pid++) {
        const eps = Array.from({length: st.replicas}, (_, r) => this.tablets[(slot + r) % this.tablets.length].endpoint)
        slot++
        info.table_partition.push({
          pid,
          partition_meta: eps.map((endpoint, r) => ({endpoint, is_leader: r === 0, is_alive: true})),
          term_offset: [{term: 1n, offset: 0n}],
        })
        eps.forEach((ep, r) => {
          this.peers
            .get(ep)
            ?.createReplica(
              {tid: t.tid, pid, name: t.name, db: t.db, storage_mode: 'kMemory'},
              r === 0 ? 'kTableLeader' : 'kTableFollower',
              r === 0 ? eps.slice(1) : [],
              1n,
            )
        })
      }
      infos.push(info)
    }
    this.log('openmldb lab: writing the ZooKeeper layout')
    const zk = await connectZk({hosts: L.zk_hosts})
    try {
      await removeTree(zk, p.root)
      await zk.mkdirp(p.root)
      const text = (s: string) => Buffer.from(s)
      const ops: ZkOp[] = [
        {op: 'create', path: p.nodes},
        {op: 'create', path: p.leader},
        {op: 'create', path: p.table},
        {op: 'create', path: p.tableIndex, data: text(String(L.tables.length + 1))},
        {op: 'create', path: p.term, data: text('1')},
        {op: 'create', path: p.tableData},
        {op: 'create', path: p.dbTableData},
        {op: 'create', path: p.notify, data: text('1')},
        {op: 'create', path: p.db},
        {op: 'create', path: p.op},
        {op: 'create', path: p.opIndex, data: text('0')},
        {op: 'create', path: p.opData},
        {op: 'create', path: p.config},
        {op: 'create', path: p.autoFailover, data: text(String(s.auto_failover))},
      ]
      for (const db of [...new Set(L.tables.map((t) => t.db))].sort()) ops.push({op: 'create', path: `${p.db}/${db}`})
      await zk.multi(ops)
      for (const info of infos) await zk.create(`${p.dbTableData}/${info.tid}`, encodeTable(info))
    } finally {
      await zk.close()
    }
    await Promise.all(this.tablets.map((t) => t.start()))
    for (const ns of this.nameservers) await ns.start()
    await waitFor('no nameserver became the leader', () => this.leader() !== undefined)
    await waitFor(
      'the leader nameserver does not see every tablet',
      () => (this.leader()?.tablets.size ?? 0) === this.tablets.length,
    )
    const t0 = Date.now()
    await this.writeRows()
    this.log(`rows written through Put in ${Date.now() - t0} ms`)
    this.log(
      `openmldb lab ${s.name} up: ${this.nameservers.length} nameservers, ${this.tablets.length} tablets, ${infos.reduce((n, t) => n + t.partition_num, 0)} partitions`,
    )
  }

  /** Every row through the leader tablet's Put over HTTP, as a client writes. */
  private async writeRows(): Promise<void> {
    const jobs: {ep: string; body: Record<string, unknown>}[] = []
    for (const t of this.layout.tables) {
      for (let i = 0; i < t.rows; i++) {
        const key = rowKey(t.name, i)
        const pid = pidOfKey(key, t.partitions)
        const ep = this.tablets.find((tab) => tab.replicaFor(t.tid, pid)?.mode === 'kTableLeader')?.endpoint
        if (!ep) throw new LifeboatError('LAB_UP_FAILED', `no leader for ${t.db}.${t.name} pid ${pid}`)
        jobs.push({
          ep,
          body: {tid: t.tid, pid, dimensions: [{key, idx: 0}], time: 1_700_000_000_000 + i, value: rowValue(t.name, i)},
        })
      }
    }
    // The tablets run in this process: a reply is late only when the whole process is starved of CPU
    // (a loaded machine), so the deadline is long; Put is not retried, it appends to the binlog.
    await eachBounded(jobs, 64, async (j) => {
      const r = await this.client.call(j.ep, 'TabletServer', 'Put', j.body, 120_000)
      if (r.code !== 0)
        throw new LifeboatError('LAB_UP_FAILED', `Put on ${j.ep} answered ${String(r.code)} ${String(r.msg)}`)
    })
  }

  /** The leader nameserver, if any. */
  leader(): NameServer | undefined {
    return this.nameservers.find((n) => n.running && n.leader)
  }

  private tablet(ref: string): Tablet {
    const t = this.tablets.find((x) => x.name === ref || x.endpoint === ref)
    if (!t)
      throw new LifeboatError('LAB_FAULT_INVALID', `no tablet ${ref}`, {
        hints: [`Tablets: ${this.tablets.map((x) => `${x.name} (${x.endpoint})`).join(', ')}`],
      })
    return t
  }

  /** `[DB.]TABLE/PID@TABLET` → the table, the pid and the tablet. */
  private replica(ref: string): {table: LabTable; pid: number; t: Tablet} {
    const m = /^(?:([A-Za-z0-9_]+)\.)?([A-Za-z0-9_]+)\/(\d+)@(.+)$/.exec(ref)
    if (!m) throw new LifeboatError('LAB_FAULT_INVALID', `replica ${ref} is not [DB.]TABLE/PID@TABLET`)
    const table = this.layout.tables.find((t) => t.name === m[2] && (m[1] === undefined || t.db === m[1]))
    if (!table) throw new LifeboatError('LAB_FAULT_INVALID', `no table ${m[1] ? `${m[1]}.` : ''}${m[2]}`)
    return {table, pid: Number(m[3]), t: this.tablet(m[4])}
  }

  /**
   * Waits until the leader nameserver sees every tablet as it is (killed ones kOffline, running
   * ones kHealthy), handles no tablet event, has no op queued, and has refreshed the offsets from
   * the tablets once entirely after that (a status round begun later than the quiet point ended).
   */
  async settle(): Promise<void> {
    let quiet: {ns: NameServer; round: number} | undefined
    await waitFor(
      'ops still queued on the leader nameserver',
      () => {
        const ns = this.leader()
        const seen =
          ns !== undefined &&
          this.tablets.every((t) => {
            const st = ns.tablets.get(t.endpoint)
            return t.running ? st?.state === 'kHealthy' : st === undefined || st.state === 'kOffline'
          })
        if (!ns || !seen || !ns.idle()) {
          quiet = undefined
          return false
        }
        if (quiet?.ns !== ns) quiet = {ns, round: ns.statusRounds}
        return ns.statusRounds >= quiet.round + 2
      },
      120_000,
    )
  }

  /** Applies a fault; returns the line for the operator. */
  async fault(f: OpenMLDBFault): Promise<string> {
    switch (f.type) {
      case 'kill-tablet': {
        const t = this.tablet(f.tablet)
        await t.kill()
        return `killed tablet ${t.name} (${t.endpoint})`
      }
      case 'start-tablet': {
        const t = this.tablet(f.tablet)
        await t.start()
        return `started tablet ${t.name} (${t.endpoint}); its tables are not loaded until recovered`
      }
      case 'restart-tablet': {
        const t = this.tablet(f.tablet)
        await t.kill()
        // A real restart takes long enough for the nameserver to see the node go; so does this one.
        await waitFor(`the leader nameserver does not see ${t.name} go`, () => {
          const ns = this.leader()
          return ns === undefined || ns.tablets.get(t.endpoint)?.state !== 'kHealthy'
        })
        await t.start()
        return `restarted tablet ${t.name} (${t.endpoint}) with startup_`
      }
      case 'hang-tablet': {
        const t = this.tablet(f.tablet)
        if (!t.hang())
          throw new LifeboatError('LAB_FAULT_INVALID', `tablet ${t.name} is not running`, {
            hints: [`Start it first: lifeboat lab fault start-tablet ${t.name}`],
          })
        return `tablet ${t.name} (${t.endpoint}) hangs: registered and healthy to the nameserver, no HTTP reply`
      }
      case 'resume-tablet': {
        const t = this.tablet(f.tablet)
        if (!t.resume())
          throw new LifeboatError('LAB_FAULT_INVALID', `tablet ${t.name} is not hung`, {
            hints: [`Hang it with: lifeboat lab fault hang-tablet ${t.name}`],
          })
        return `tablet ${t.name} (${t.endpoint}) answers again`
      }
      case 'kill-nameserver': {
        const ns = f.nameserver
          ? this.nameservers.find((n) => n.name === f.nameserver || n.endpoint === f.nameserver)
          : this.leader()
        if (!ns)
          throw new LifeboatError(
            'LAB_FAULT_INVALID',
            f.nameserver ? `no nameserver ${f.nameserver}` : 'no leader nameserver is running',
          )
        await ns.kill()
        if (this.nameservers.some((n) => n.running))
          await waitFor('no nameserver took over', () => this.leader() !== undefined)
        const next = this.leader()
        return `killed nameserver ${ns.name} (${ns.endpoint})${next ? `; ${next.name} (${next.endpoint}) leads now` : '; no nameserver is running'}`
      }
      case 'start-nameserver': {
        const ns = f.nameserver
          ? this.nameservers.find((n) => n.name === f.nameserver || n.endpoint === f.nameserver)
          : this.nameservers.find((n) => !n.running)
        if (!ns)
          throw new LifeboatError(
            'LAB_FAULT_INVALID',
            f.nameserver ? `no nameserver ${f.nameserver}` : 'every nameserver is running',
          )
        await ns.start()
        await waitFor('no nameserver is the leader', () => this.leader() !== undefined)
        return `started nameserver ${ns.name} (${ns.endpoint})`
      }
      case 'lag': {
        const {table, pid, t} = this.replica(f.replica)
        if (!t.lag(table.tid, pid, f.offset))
          throw new LifeboatError('LAB_FAULT_INVALID', `${t.name} holds no replica of ${table.name} pid ${pid}`)
        return `${table.name} pid ${pid} on ${t.name}: binlog cut at offset ${f.offset}, replication to it stopped`
      }
      case 'snapshot': {
        const {table, pid, t} = this.replica(f.replica)
        const problem = t.snapshot(table.tid, pid, f.offset, f.binlog_start)
        if (problem) throw new LifeboatError('LAB_FAULT_INVALID', problem)
        const d = t.disk.get(`${table.tid}_${pid}`)
        return `${table.name} pid ${pid} on ${t.name}: snapshot at offset ${d?.snapshot?.offset}, binlog from offset ${d?.binlogStart}`
      }
      case 'auto-failover': {
        const ns = this.leader()
        if (!ns) throw new LifeboatError('LAB_FAULT_INVALID', 'no leader nameserver is running')
        const r = await this.client.call(ns.endpoint, 'NameServer', 'ConfSet', {
          conf: {key: 'auto_failover', value: String(f.on)},
        })
        if (r.code !== 0)
          throw new LifeboatError('LAB_FAULT_FAILED', `ConfSet answered ${String(r.code)} ${String(r.msg)}`)
        return `auto_failover=${f.on}`
      }
      case 'restart-all': {
        for (const t of this.tablets) await t.kill()
        for (const n of this.nameservers) await n.kill()
        for (const n of this.nameservers) await n.start()
        await waitFor('no nameserver became the leader', () => this.leader() !== undefined)
        await Promise.all(this.tablets.map((t) => t.start()))
        await this.settle()
        return 'restarted every nameserver and tablet: no table is loaded'
      }
      case 'settle':
        await this.settle()
        return 'settled'
    }
  }

  /** Live state for `lab status`. */
  status(): Record<string, unknown> {
    const ns = this.leader()
    const queued = ns ? ns.queues.reduce((n, q) => n + q.length, 0) : 0
    const failed = ns ? ns.done.filter((o) => o.info.task_status === 'kFailed').length : 0
    let unhealthy = 0
    let partitions = 0
    for (const t of ns?.tables.values() ?? []) {
      for (const p of t.table_partition) {
        partitions++
        const leaderOk = p.partition_meta.some(
          (m) =>
            m.is_leader && m.is_alive && this.peers.get(m.endpoint)?.replicaFor(t.tid, p.pid)?.state === 'kTableNormal',
        )
        if (!leaderOk || p.partition_meta.some((m) => !m.is_alive)) unhealthy++
      }
    }
    return {
      cluster: this.layout.cluster_name,
      zookeeper: {hosts: this.layout.zk_hosts, root: this.layout.zk_root},
      auto_failover: ns?.autoFailover,
      nameservers: this.nameservers.map((n) => ({
        name: n.name,
        endpoint: n.endpoint,
        running: n.running,
        leader: n.leader,
      })),
      tablets: this.tablets.map((t) => ({
        name: t.name,
        endpoint: t.endpoint,
        running: t.running,
        hung: t.hung,
        loaded: t.mem.size,
        on_disk: t.disk.size,
      })),
      partitions: {total: partitions, unhealthy},
      ops: {queued, done: ns ? ns.done.length - failed : 0, failed},
    }
  }

  /** Writes the OpenMLDBRecovery specs under `<stateDir>/specs/`. */
  writeSpecs(): Record<string, string> {
    const dir = join(this.stateDir, 'specs')
    mkdirSync(dir, {recursive: true})
    const L = this.layout
    const spec = (name: string, autoFailover: boolean) =>
      [
        'apiVersion: lifeboat/v1',
        'kind: OpenMLDBRecovery',
        'metadata:',
        `  name: ${name}`,
        'cluster:',
        `  name: ${L.cluster_name}`,
        '  zookeeper:',
        `    hosts: ${L.zk_hosts}`,
        `    root: ${L.zk_root}`,
        'recovery:',
        `  auto_failover: ${autoFailover}`,
        '  tables: all',
        '',
      ].join('\n')
    const out: Record<string, string> = {}
    for (const [name, af] of [
      [`${L.cluster_name}-recover`, true],
      [`${L.cluster_name}-recover-manual`, false],
    ] as const) {
      const path = join(dir, `${name}.yaml`)
      writeFileSync(path, spec(name, af))
      out[name] = path
    }
    return out
  }

  /** Stops every server; a root this lab picked itself is removed from ZooKeeper (a named one stays). */
  async down(): Promise<void> {
    for (const n of this.nameservers) await n.kill().catch(() => undefined)
    for (const t of this.tablets) await t.kill().catch(() => undefined)
    this.client.close()
    if (this.scenario.zk_root === undefined) {
      const zk = await connectZk({hosts: this.layout.zk_hosts}).catch(() => undefined)
      if (zk)
        await removeTree(zk, this.layout.zk_root)
          .catch(() => undefined)
          .finally(() => zk.close())
    }
  }
}
