/**
 * A simulated OpenMLDB tablet: partitions held in memory (what GetTableStatus reports) and on
 * "disk" (snapshot and binlog, which survive a restart), served as brpc's `TabletServer` over
 * HTTP+JSON, registered in ZooKeeper as an EPHEMERAL `<root>/nodes/<endpoint>` whose value is
 * `startup_<endpoint>` on the first registration after a start.
 *
 * Rows are real: each partition replica is a log of (key, ts, value) entries whose length is its
 * binlog offset. A leader's Put replicates to its followers in the same process (OpenMLDB's
 * replicator streams the binlog); a lagging follower stops receiving entries.
 */
import {connectZk, isZkError, type ZkClient} from '../../zk/index.js'
import {BrpcServer, type BrpcService} from './brpc.js'

/** One binlog entry; its log index is its position + 1. */
export interface LogEntry {
  key: string
  ts: number
  value: string
}

/**
 * A partition replica as kept on the tablet's disk: the log of every entry it holds (position i is
 * log index i + 1; null where the replica lost the entry), a snapshot (its MANIFEST: the rows up
 * to `snapshot.offset`) and a binlog holding the entries after `binlogStart`. While the table is
 * loaded its memory has every entry; LoadTable rebuilds it from disk alone (recoverFromDisk).
 */
export interface StoredPartition {
  tid: number
  pid: number
  name: string
  db: string
  storage_mode: string
  term: bigint
  entries: (LogEntry | null)[]
  snapshot?: {offset: number; term: bigint}
  binlogStart: number
}

/** A partition replica loaded in memory. */
export interface MemTable {
  stored: StoredPartition
  mode: 'kTableLeader' | 'kTableFollower'
  state: 'kTableNormal' | 'kTableLoading' | 'kSnapshotPaused'
  followers: string[]
  rows: Map<string, {ts: number; value: string}>
  /** Set by the `lag` fault: the replicator no longer reaches this follower. */
  lagging: boolean
}

export interface TabletOptions {
  name: string
  endpoint: string
  zkHosts: string
  root: string
  /** Every tablet of the lab, by endpoint (replication and SendSnapshot between them). */
  peers: Map<string, Tablet>
  /** Simulated LoadTable duration (snapshot + binlog recovery). */
  loadMs: number
  log(line: string): void
}

type Reply = Record<string, unknown>
const OK = {code: 0, msg: 'ok'}

/** `tid_pid`, OpenMLDB's own key for a partition replica. */
export function partKey(tid: number, pid: number): string {
  return `${tid}_${pid}`
}

function rowsOf(entries: (LogEntry | null)[]): Map<string, {ts: number; value: string}> {
  const rows = new Map<string, {ts: number; value: string}>()
  for (const e of entries) if (e) rows.set(e.key, {ts: e.ts, value: e.value})
  return rows
}

/**
 * What LoadTable finds on disk (LoadTableInternal: the snapshot, then Binlog::RecoverFromBinlog
 * from the snapshot's offset). Entries between the snapshot and the binlog's start are on neither:
 * OpenMLDB logs "missing log entry" and replays the binlog after the gap, so those rows are lost
 * and the offset still reaches the binlog's end. With no binlog past the snapshot the offset is
 * the snapshot's.
 */
export function recoverFromDisk(stored: StoredPartition): void {
  const snap = Math.min(stored.snapshot?.offset ?? 0, stored.entries.length)
  if (stored.binlogStart >= stored.entries.length) stored.entries.length = snap
  else for (let i = snap; i < stored.binlogStart; i++) stored.entries[i] = null
  stored.binlogStart = Math.min(stored.binlogStart, stored.entries.length)
}

export class Tablet {
  readonly name: string
  readonly endpoint: string
  /** Disk: survives kill/start. */
  readonly disk = new Map<string, StoredPartition>()
  /** Memory: lost when the process dies. */
  readonly mem = new Map<string, MemTable>()
  running = false
  /** The `hang-tablet` fault: registered and running, but its HTTP server answers nothing. */
  hung = false
  private zk?: ZkClient
  private server?: BrpcServer
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor(private readonly opts: TabletOptions) {
    this.name = opts.name
    this.endpoint = opts.endpoint
  }

  get port(): number {
    return Number(this.endpoint.slice(this.endpoint.lastIndexOf(':') + 1))
  }

  /** Starts the process: HTTP server, ZooKeeper session, `startup_` registration. Memory starts empty. */
  async start(): Promise<void> {
    if (this.running) return
    this.server = new BrpcServer([this.service()])
    await this.server.listen(this.port)
    this.zk = await connectZk({hosts: this.opts.zkHosts, sessionTimeoutMs: 6000})
    const nodes = `${this.opts.root}/nodes`
    await this.zk.mkdirp(nodes)
    const path = `${nodes}/${this.endpoint}`
    try {
      await this.zk.create(path, Buffer.from(`startup_${this.endpoint}`), {mode: 'ephemeral'})
    } catch (err) {
      // A node left by a session not yet expired: replace it, as a restarted tablet does once it can.
      if (!isZkError(err, 'ZK_NODE_EXISTS')) throw err
      await this.zk.remove(path, -1).catch(() => undefined)
      await this.zk.create(path, Buffer.from(`startup_${this.endpoint}`), {mode: 'ephemeral'})
    }
    this.running = true
    this.opts.log(`tablet ${this.name} ${this.endpoint} started`)
  }

  /** Kills the process: the ephemeral node goes with the session, memory tables are lost, disk stays. */
  async kill(): Promise<void> {
    if (!this.running) return
    this.running = false
    this.hung = false
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.mem.clear()
    await this.server?.close()
    await this.zk?.close()
    this.server = undefined
    this.zk = undefined
    this.opts.log(`tablet ${this.name} ${this.endpoint} killed`)
  }

  /**
   * The `hang-tablet` fault, a wedged brpc server: the process, its ZooKeeper session and its
   * node stay (the nameserver still sees it kHealthy), connections are accepted, and no request
   * is answered. Its replicas receive nothing from their leaders meanwhile. False when not running.
   */
  hang(): boolean {
    if (!this.running) return false
    this.hung = true
    this.server?.pause()
    return true
  }

  /**
   * Ends `hang-tablet`: the held requests are answered in order, and each follower replica is
   * caught up by the leader that still lists it (the replicator retrying from its offset).
   */
  resume(): boolean {
    if (!this.running || !this.hung) return false
    this.hung = false
    this.server?.resume()
    for (const f of this.mem.values()) {
      if (f.mode !== 'kTableFollower' || f.lagging || f.state === 'kTableLoading') continue
      for (const peer of this.opts.peers.values()) {
        const l = peer.replicaFor(f.stored.tid, f.stored.pid)
        if (peer.hung || l?.mode !== 'kTableLeader' || !l.followers.includes(this.endpoint)) continue
        for (const e of l.stored.entries.slice(f.stored.entries.length)) this.append(f, e)
      }
    }
    return true
  }

  /**
   * The `snapshot` fault: the replica's snapshot now holds its rows up to `offset` (default: its
   * offset; MakeSnapshot) and its binlog keeps the entries after `binlogStart` (default: `offset`;
   * the binlog GC after a snapshot). A `binlogStart` past `offset` is a snapshot older than the
   * binlog's start: the next LoadTable loses the rows in between. Memory is not touched. The
   * problem, when the replica or an offset is not there.
   */
  snapshot(tid: number, pid: number, offset?: number, binlogStart?: number): string | undefined {
    const stored = this.disk.get(partKey(tid, pid))
    if (!stored) return `${this.name} holds no replica of tid ${tid} pid ${pid}`
    const end = stored.entries.length
    const at = offset ?? end
    const from = binlogStart ?? at
    if (at > end || from > end) return `the replica's offset is ${end}: ${Math.max(at, from)} is beyond it`
    stored.snapshot = {offset: at, term: stored.term}
    stored.binlogStart = from
    return undefined
  }

  /** Creates a replica directly (lab bring-up, as CreateTable would), loaded and on disk. */
  createReplica(
    p: Omit<StoredPartition, 'entries' | 'term' | 'snapshot' | 'binlogStart'>,
    mode: MemTable['mode'],
    followers: string[],
    term: bigint,
  ): void {
    const stored: StoredPartition = {...p, term, entries: [], binlogStart: 0}
    this.disk.set(partKey(p.tid, p.pid), stored)
    this.mem.set(partKey(p.tid, p.pid), {
      stored,
      mode,
      state: 'kTableNormal',
      followers,
      rows: new Map(),
      lagging: false,
    })
  }

  /** The `lag` fault: cuts the replica's log at `offset` (rows beyond it are lost) and stops replication to it. */
  lag(tid: number, pid: number, offset: number): boolean {
    const stored = this.disk.get(partKey(tid, pid))
    if (!stored) return false
    stored.entries.length = Math.min(stored.entries.length, offset)
    stored.binlogStart = Math.min(stored.binlogStart, stored.entries.length)
    if (stored.snapshot) stored.snapshot.offset = Math.min(stored.snapshot.offset, stored.entries.length)
    const t = this.mem.get(partKey(tid, pid))
    if (t) {
      t.rows = rowsOf(stored.entries)
      t.lagging = true
    }
    return true
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t)
      fn()
    }, ms)
    this.timers.add(t)
  }

  private table(req: Reply): MemTable | undefined {
    return this.mem.get(partKey(Number(req.tid ?? 0), Number(req.pid ?? 0)))
  }

  private service(): BrpcService {
    const m = (request: string, handle: (req: Reply) => Reply | Promise<Reply>) => ({
      request: `openmldb.api.${request}`,
      handle,
    })
    return {
      name: 'TabletServer',
      fullName: 'openmldb.api.TabletServer',
      methods: {
        GetTableStatus: m('GetTableStatusRequest', (r) => this.getTableStatus(r)),
        LoadTable: m('LoadTableRequest', (r) => this.loadTable(r)),
        DropTable: m('DropTableRequest', (r) => this.dropTable(r)),
        Put: m('PutRequest', (r) => this.put(r)),
        Get: m('GetRequest', (r) => this.get(r)),
        Scan: m('ScanRequest', (r) => this.scan(r)),
        ChangeRole: m('ChangeRoleRequest', (r) => this.changeRole(r)),
        AppendEntries: m('AppendEntriesRequest', (r) => this.appendEntries(r)),
        GetTermPair: m('GetTermPairRequest', (r) => this.getTermPair(r)),
        GetManifest: m('GetManifestRequest', (r) => this.getManifest(r)),
        AddReplica: m('ReplicaRequest', (r) => this.addReplica(r)),
        DelReplica: m('ReplicaRequest', (r) => this.delReplica(r)),
        PauseSnapshot: m('GeneralRequest', (r) => this.setSnapshotState(r, 'kSnapshotPaused')),
        RecoverSnapshot: m('GeneralRequest', (r) => this.setSnapshotState(r, 'kTableNormal')),
        SendSnapshot: m('SendSnapshotRequest', (r) => this.sendSnapshot(r)),
        DeleteBinlog: m('GeneralRequest', (r) => this.deleteBinlog(r)),
        GetTableFollower: m('GetTableFollowerRequest', (r) => this.getTableFollower(r)),
      },
    }
  }

  private getTableStatus(r: Reply): Reply {
    const all: Reply[] = []
    // Filter first, then order by (tid, pid) as numbers: this runs on every status poll of every
    // waiter, so a locale-aware sort of every key here was most of a large lab's CPU.
    const tables = [...this.mem.values()]
      .filter((t) => (r.tid === undefined || t.stored.tid === r.tid) && (r.pid === undefined || t.stored.pid === r.pid))
      .sort((a, b) => a.stored.tid - b.stored.tid || a.stored.pid - b.stored.pid)
    for (const t of tables) {
      const bytes = t.state === 'kTableLoading' ? 0 : [...t.rows.values()].reduce((n, v) => n + v.value.length + 8, 0)
      all.push({
        tid: t.stored.tid,
        pid: t.stored.pid,
        offset: t.state === 'kTableLoading' ? 0 : t.stored.entries.length,
        mode: t.mode,
        state: t.state,
        is_expire: false,
        time_offset: 0,
        record_cnt: t.state === 'kTableLoading' ? 0 : t.rows.size,
        idx_cnt: t.state === 'kTableLoading' ? 0 : t.rows.size,
        name: t.stored.name,
        record_byte_size: bytes,
        record_idx_byte_size: 0,
        record_pk_cnt: t.state === 'kTableLoading' ? 0 : t.rows.size,
        compress_type: 'kNoCompress',
        skiplist_height: 4,
        storage_mode: t.stored.storage_mode,
      })
    }
    return {all_table_status: all, ...OK}
  }

  private loadTable(r: Reply): Reply {
    // SchemaAdapter::CheckTableMeta, then "table already exists".
    const meta = (r.table_meta as Reply | undefined) ?? {}
    const tid = Number(meta.tid ?? 0)
    const pid = Number(meta.pid ?? 0)
    if (!meta.name) return {code: 129, msg: 'table name is empty'}
    if (tid <= 0) return {code: 129, msg: 'tid <= 0, invalid tid'}
    if (meta.storage_mode === 'kUnknown') return {code: 129, msg: 'storage_mode is unknown'}
    const key = partKey(tid, pid)
    if (this.mem.has(key)) return {code: 101, msg: 'table already exists'}
    const stored: StoredPartition = this.disk.get(key) ?? {
      tid,
      pid,
      name: String(meta.name),
      db: String(meta.db ?? ''),
      storage_mode: String(meta.storage_mode ?? 'kMemory'),
      term: 0n,
      entries: [],
      binlogStart: 0,
    }
    this.disk.set(key, stored)
    const mode = (meta.mode as MemTable['mode'] | undefined) ?? 'kTableLeader'
    const term = meta.term === undefined ? stored.term : BigInt(meta.term as bigint)
    const table: MemTable = {
      stored,
      mode,
      state: 'kTableLoading',
      followers: [...((meta.replicas as string[] | undefined) ?? [])],
      rows: new Map(),
      lagging: false,
    }
    this.mem.set(key, table)
    // Asynchronous, as LoadTableInternal in the task pool: snapshot, then binlog.
    this.later(this.opts.loadMs, () => {
      if (this.mem.get(key) !== table) return
      if (term > stored.term) stored.term = term
      recoverFromDisk(stored)
      table.rows = rowsOf(stored.entries)
      table.state = 'kTableNormal'
    })
    return {...OK}
  }

  private dropTable(r: Reply): Reply {
    const key = partKey(Number(r.tid ?? 0), Number(r.pid ?? 0))
    if (!this.mem.has(key)) return {code: 100, msg: 'table does not exist'}
    this.mem.delete(key)
    this.disk.delete(key)
    return {...OK}
  }

  private put(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.mode !== 'kTableLeader') return {code: 103, msg: 'table is follower'}
    if (t.state === 'kTableLoading') return {code: 104, msg: 'table is loading'}
    const dims = r.dimensions as {key?: string}[] | undefined
    const key = dims?.[0]?.key ?? (r.pk as string | undefined)
    if (key === undefined || key === '') return {code: 307, msg: 'invalid parameter'}
    const entry: LogEntry = {key, ts: Number(r.time ?? Date.now()), value: String(r.value ?? '')}
    this.append(t, entry)
    for (const ep of t.followers) {
      const peer = this.opts.peers.get(ep)
      const f = peer?.hung ? undefined : peer?.replicaFor(t.stored.tid, t.stored.pid)
      if (!f || f.lagging || f.mode !== 'kTableFollower' || f.state === 'kTableLoading') continue
      if (f.stored.entries.length === t.stored.entries.length - 1) this.append(f, entry)
    }
    return {...OK}
  }

  /** Appends an entry (null: one the source replica lost, which keeps the offsets aligned). */
  private append(t: MemTable, e: LogEntry | null): void {
    t.stored.entries.push(e)
    if (e) t.rows.set(e.key, {ts: e.ts, value: e.value})
  }

  /** The loaded replica of tid/pid on this tablet when the process runs. */
  replicaFor(tid: number, pid: number): MemTable | undefined {
    return this.running ? this.mem.get(partKey(tid, pid)) : undefined
  }

  private get(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.state === 'kTableLoading') return {code: 104, msg: 'table is loading'}
    const row = t.rows.get(String(r.key ?? ''))
    if (!row) return {code: 109, msg: 'key not found'}
    return {...OK, key: r.key, ts: row.ts, value: row.value}
  }

  private scan(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.state === 'kTableLoading') return {code: 104, msg: 'table is loading'}
    const row = t.rows.get(String(r.pk ?? ''))
    // pairs: per record a 4-byte little-endian size, an 8-byte ts and the value (raw bytes, as brpc writes bytes).
    const parts: Buffer[] = []
    if (row) {
      const head = Buffer.alloc(12)
      head.writeUInt32LE(8 + Buffer.byteLength(row.value), 0)
      head.writeBigUInt64LE(BigInt(row.ts), 4)
      parts.push(head, Buffer.from(row.value))
    }
    return {pairs: Buffer.concat(parts).toString('latin1'), ...OK, count: row ? 1 : 0, is_finish: true}
  }

  private changeRole(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    const term = BigInt((r.term as bigint | undefined) ?? 0n)
    if (r.mode === 'kTableLeader') {
      if (t.mode === 'kTableLeader') return {code: 102, msg: 'table is leader'}
      if (term <= t.stored.term) return {code: 123, msg: 'term is less than or equal to last term'}
      t.mode = 'kTableLeader'
      t.followers = [...((r.replicas as string[] | undefined) ?? [])]
      t.lagging = false
    } else {
      if (t.mode === 'kTableFollower') return {code: 103, msg: 'table is follower'}
      t.mode = 'kTableFollower'
      t.followers = []
    }
    if (term > t.stored.term) t.stored.term = term
    return {...OK}
  }

  /** FollowOfNoOne: a follower told of a new term stops following and answers its offset. */
  private appendEntries(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.mode === 'kTableLeader') return {code: 102, msg: 'table is leader'}
    if (t.state === 'kTableLoading') return {code: 104, msg: 'table is loading'}
    const term = BigInt((r.term as bigint | undefined) ?? 0n)
    if (term < t.stored.term) return {code: 122, msg: 'fail to append entries to replicator', term: t.stored.term}
    t.stored.term = term
    t.lagging = true // follows no one until ChangeRole or AddReplica
    return {log_offset: t.stored.entries.length, ...OK, term}
  }

  private getTermPair(r: Reply): Reply {
    const t = this.table(r)
    if (t)
      return {
        ...OK,
        term: t.stored.term,
        offset: t.stored.entries.length,
        has_table: true,
        is_leader: t.mode === 'kTableLeader',
      }
    // No table in memory: the snapshot's MANIFEST answers (term and offset 0 without one).
    const snap = this.disk.get(partKey(Number(r.tid ?? 0), Number(r.pid ?? 0)))?.snapshot
    return {...OK, term: snap?.term ?? 0, offset: snap?.offset ?? 0, has_table: false}
  }

  private getManifest(r: Reply): Reply {
    const stored = this.disk.get(partKey(Number(r.tid ?? 0), Number(r.pid ?? 0)))
    if (stored?.snapshot) {
      const {offset, term} = stored.snapshot
      const count = rowsOf(stored.entries.slice(0, offset)).size
      return {...OK, manifest: {offset, name: `${stored.tid}_${stored.pid}.sdb`, count, term}}
    }
    // Without a snapshot the lab answers as if the binlog were one (its current offset).
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    return {
      ...OK,
      manifest: {
        offset: t.stored.entries.length,
        name: `${t.stored.tid}_${t.stored.pid}.sdb`,
        count: t.rows.size,
        term: t.stored.term,
      },
    }
  }

  private addReplica(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.mode !== 'kTableLeader') return {code: 103, msg: 'table is follower'}
    const ep = String(r.endpoint ?? '')
    if (t.followers.includes(ep)) return {code: 119, msg: 'replica endpoint already exists'}
    t.followers.push(ep)
    // The replicator catches the follower up from its offset (a hung follower once it answers again).
    const peer = this.opts.peers.get(ep)
    const f = peer?.hung ? undefined : peer?.replicaFor(t.stored.tid, t.stored.pid)
    if (f && f.state !== 'kTableLoading') {
      f.lagging = false
      const have = f.stored.entries.length
      for (const e of t.stored.entries.slice(have)) this.append(f, e)
    }
    return {...OK}
  }

  private delReplica(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.mode !== 'kTableLeader') return {code: 103, msg: 'table is follower'}
    const ep = String(r.endpoint ?? '')
    t.followers = t.followers.filter((x) => x !== ep)
    return {...OK}
  }

  private setSnapshotState(r: Reply, state: 'kSnapshotPaused' | 'kTableNormal'): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.state === 'kTableLoading') return {code: 105, msg: 'table status is not kNormal'}
    t.state = state
    return {...OK}
  }

  private sendSnapshot(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    const target = this.opts.peers.get(String(r.endpoint))
    if (!target || !target.running || target.hung) return {code: 301, msg: 'send snapshot failed'}
    const key = partKey(t.stored.tid, t.stored.pid)
    if (target.mem.has(key)) return {code: 101, msg: 'table already exists'}
    // The snapshot's files go, not the binlog; without a snapshot the lab sends the whole log.
    const snap = t.stored.snapshot
    target.disk.set(key, {
      ...t.stored,
      entries: t.stored.entries.slice(0, snap?.offset),
      ...(snap ? {snapshot: {...snap}, binlogStart: snap.offset} : {}),
    })
    return {...OK}
  }

  private deleteBinlog(r: Reply): Reply {
    const key = partKey(Number(r.tid), Number(r.pid))
    if (this.mem.has(key)) return {code: 101, msg: 'table already exists'}
    const stored = this.disk.get(key)
    // The binlog goes to the recycle bin; the snapshot (none: nothing) stays.
    if (stored) {
      stored.entries.length = Math.min(stored.snapshot?.offset ?? 0, stored.entries.length)
      stored.binlogStart = stored.entries.length
    }
    return {...OK}
  }

  private getTableFollower(r: Reply): Reply {
    const t = this.table(r)
    if (!t) return {code: 100, msg: 'table does not exist'}
    if (t.mode !== 'kTableLeader') return {code: 103, msg: 'table is follower'}
    const info = t.followers.map((ep) => ({
      endpoint: ep,
      offset: this.opts.peers.get(ep)?.replicaFor(t.stored.tid, t.stored.pid)?.stored.entries.length ?? 0,
    }))
    return {...OK, offset: t.stored.entries.length, follower_info: info}
  }
}
