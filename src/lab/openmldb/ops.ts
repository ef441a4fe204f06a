/**
 * The nameserver's asynchronous ops (reference section 5): an op is a list of tasks run in order,
 * queued in `task_vec_[pid % concurrency]`, persisted as protobuf `OPInfo` under
 * `<root>/op/op_data/<op_id>` and rebuilt from its type and data by a new leader. Task lists are
 * OpenMLDB's (CreateChangeLeaderOPTask, CreateRecoverTableOPTask, CreateReAddReplica*Task, ...).
 */
import {decodeMessage, encodeMessage} from './proto.js'
import type {TableInfo} from './model.js'

export type TaskStatus = 'kInited' | 'kDoing' | 'kDone' | 'kFailed' | 'kCanceled'

/** OPInfo, as kept in memory (and encoded to ZooKeeper). */
export interface OpInfo {
  op_id: bigint
  op_type: string
  task_index: number
  data: Buffer
  task_status: TaskStatus
  start_time: bigint
  end_time: bigint
  name: string
  pid: number
  parent_id?: bigint
  vec_idx: number
  for_replica_cluster: number
  db: string
}

/** A task: its TaskType name and what it does. */
export interface Task {
  type: string
  run(): Promise<void>
}

export interface Op {
  info: OpInfo
  tasks: Task[]
}

/** A task failed: the op goes kFailed with this reason in the lab log. */
export class TaskError extends Error {}

export function encodeOpInfo(info: OpInfo): Buffer {
  return encodeMessage('openmldb.api.OPInfo', {...info, parent_id: info.parent_id})
}

export function decodeOpInfo(bytes: Buffer): OpInfo {
  const o = decodeMessage<Record<string, unknown>>('openmldb.api.OPInfo', bytes)
  return {
    op_id: o.op_id as bigint,
    op_type: String(o.op_type),
    task_index: Number(o.task_index ?? 0),
    data: Buffer.from((o.data as Uint8Array | undefined) ?? []),
    task_status: (o.task_status as TaskStatus | undefined) ?? 'kInited',
    start_time: (o.start_time as bigint | undefined) ?? 0n,
    end_time: (o.end_time as bigint | undefined) ?? 0n,
    name: String(o.name ?? ''),
    pid: Number(o.pid ?? 0),
    ...(o.parent_id === undefined ? {} : {parent_id: o.parent_id as bigint}),
    vec_idx: Number(o.vec_idx ?? 0),
    for_replica_cluster: Number(o.for_replica_cluster ?? 0),
    db: String(o.db ?? ''),
  }
}

export interface ChangeLeaderData {
  name: string
  tid: number
  pid: number
  term?: bigint
  offset?: bigint
  leader?: string
  follower: string[]
  candidate_leader?: string
  db: string
}

export interface RecoverTableData {
  endpoint: string
  offset_delta: bigint
  is_leader: boolean
  concurrency: number
}

export interface EndpointStatusData {
  endpoint: string
  is_leader: boolean
  is_alive: boolean
}

export const encodeData = {
  changeLeader: (d: ChangeLeaderData) => encodeMessage('openmldb.nameserver.ChangeLeaderData', {...d}),
  recoverTable: (d: RecoverTableData) => encodeMessage('openmldb.nameserver.RecoverTableData', {...d}),
  endpointStatus: (d: EndpointStatusData) => encodeMessage('openmldb.nameserver.EndpointStatusData', {...d}),
}

export const decodeData = {
  changeLeader(b: Buffer): ChangeLeaderData {
    const o = decodeMessage<Record<string, unknown>>('openmldb.nameserver.ChangeLeaderData', b)
    return {
      name: String(o.name ?? ''),
      tid: Number(o.tid ?? 0),
      pid: Number(o.pid ?? 0),
      db: String(o.db ?? ''),
      follower: (o.follower as string[] | undefined) ?? [],
      ...(o.term === undefined ? {} : {term: o.term as bigint}),
      ...(o.offset === undefined ? {} : {offset: o.offset as bigint}),
      ...(o.leader === undefined ? {} : {leader: String(o.leader)}),
      ...(o.candidate_leader === undefined ? {} : {candidate_leader: String(o.candidate_leader)}),
    }
  },
  recoverTable(b: Buffer): RecoverTableData {
    const o = decodeMessage<Record<string, unknown>>('openmldb.nameserver.RecoverTableData', b)
    return {
      endpoint: String(o.endpoint ?? ''),
      offset_delta: (o.offset_delta as bigint | undefined) ?? 0n,
      is_leader: Boolean(o.is_leader),
      concurrency: Number(o.concurrency ?? 0),
    }
  },
  endpointStatus(b: Buffer): EndpointStatusData {
    const o = decodeMessage<Record<string, unknown>>('openmldb.nameserver.EndpointStatusData', b)
    return {endpoint: String(o.endpoint ?? ''), is_leader: Boolean(o.is_leader), is_alive: Boolean(o.is_alive)}
  },
}

/** What the tasks need from the leader nameserver. */
export interface OpHost {
  table(name: string, db: string): TableInfo | undefined
  /** Calls a tablet; a transport failure or a non-zero code fails the task. */
  tablet(endpoint: string, method: string, body: Record<string, unknown>): Promise<Record<string, unknown>>
  tabletHealthy(endpoint: string): boolean
  autoFailover(): boolean
  /** Bumps the term in ZooKeeper (`term_ + 2`) and returns the current term (`term_ + 1`). */
  nextTerm(): Promise<bigint>
  /** Writes the table node to ZooKeeper. */
  persistTable(t: TableInfo): Promise<void>
  /** Rewrites the op's node (its data changed). */
  persistOp(op: Op): Promise<void>
  /** Creates a child op placed right after `parent` in its queue. */
  addChildOp(parent: Op, type: string, data: Buffer, name: string, db: string, pid: number): Promise<void>
  /** Waits for the simulated task duration. */
  pause(): Promise<void>
  /** Picks one of `n` (SelectLeader's random choice among equal offsets). */
  random(n: number): number
  log(line: string): void
}

/** The tasks of an op from its type and data, as OpenMLDB builds them (also when a new leader reloads it). */
export function buildTasks(host: OpHost, op: Op): Task[] {
  const i = op.info
  const t = (type: string, run: () => Promise<void>): Task => ({type, run})
  const table = (): TableInfo => {
    const x = host.table(i.name, i.db)
    if (!x) throw new TaskError(`table ${i.name} does not exist`)
    return x
  }
  const partition = () => {
    const p = table().table_partition.find((x) => x.pid === i.pid)
    if (!p) throw new TaskError(`pid ${i.pid} does not exist in ${i.name}`)
    return p
  }
  const aliveLeader = (): string => {
    const m = partition().partition_meta.find((x) => x.is_leader && x.is_alive)
    if (!m) throw new TaskError(`no alive leader for ${i.name} pid ${i.pid}`)
    return m.endpoint
  }
  const ids = () => ({tid: table().tid, pid: i.pid})
  const updatePartitionStatus = (endpoint: string, isLeader: boolean, isAlive: boolean) =>
    t('kUpdatePartitionStatus', async () => {
      const tab = table()
      const m = partition().partition_meta.find((x) => x.endpoint === endpoint)
      if (!m) throw new TaskError(`no replica of ${i.name} pid ${i.pid} on ${endpoint}`)
      m.is_leader = isLeader
      m.is_alive = isAlive
      await host.persistTable(tab)
    })
  const delReplica = (endpoint: string) =>
    t('kDelReplica', async () => {
      await host.tablet(aliveLeader(), 'DelReplica', {...ids(), endpoint})
    })
  const loadTable = (endpoint: string, mode: 'kTableLeader' | 'kTableFollower') =>
    t('kLoadTable', async () => {
      const tab = table()
      const p = partition()
      const replicas =
        mode === 'kTableLeader'
          ? p.partition_meta.filter((m) => m.endpoint !== endpoint && m.is_alive).map((m) => m.endpoint)
          : []
      const term = p.term_offset.length > 0 ? p.term_offset[p.term_offset.length - 1].term : 0n
      await host.tablet(endpoint, 'LoadTable', {
        table_meta: {
          tid: tab.tid,
          name: tab.name,
          pid: i.pid,
          seg_cnt: tab.seg_cnt,
          replicas,
          mode,
          term,
          db: tab.db,
          storage_mode: tab.storage_mode,
        },
      })
      // The tablet loads asynchronously; the task ends when the replica is kTableNormal.
      for (;;) {
        const st = await host.tablet(endpoint, 'GetTableStatus', ids())
        const s = (st.all_table_status as {state?: string}[] | undefined)?.[0]
        if (!s) throw new TaskError(`${endpoint} dropped ${i.name} pid ${i.pid} while loading it`)
        if (s.state === 'kTableNormal') return
        await host.pause()
      }
    })
  const addReplica = (endpoint: string) =>
    t('kAddReplica', async () => {
      await host.tablet(aliveLeader(), 'AddReplica', {...ids(), endpoint})
    })
  const snapshotTask = (type: 'kPauseSnapshot' | 'kRecoverSnapshot', method: 'PauseSnapshot' | 'RecoverSnapshot') =>
    t(type, async () => {
      await host.tablet(aliveLeader(), method, ids())
    })
  const sendSnapshot = (endpoint: string) =>
    t('kSendSnapshot', async () => {
      await host.tablet(aliveLeader(), 'SendSnapshot', {...ids(), endpoint})
    })
  const dropTable = (endpoint: string) =>
    t('kDropTable', async () => {
      await host.tablet(endpoint, 'DropTable', ids())
    })
  const checkBinlogSync = (endpoint: string, delta: bigint) =>
    t('kCheckBinlogSyncProgress', async () => {
      for (;;) {
        const leader = aliveLeader()
        const [l, f] = await Promise.all([
          host.tablet(leader, 'GetTableStatus', ids()),
          host.tablet(endpoint, 'GetTableStatus', ids()),
        ])
        const lo = BigInt((l.all_table_status as {offset?: bigint}[] | undefined)?.[0]?.offset ?? 0)
        const fo = BigInt((f.all_table_status as {offset?: bigint}[] | undefined)?.[0]?.offset ?? 0)
        if (lo <= fo + delta) return
        await host.pause()
      }
    })

  switch (i.op_type) {
    case 'kChangeLeaderOP': {
      return [
        t('kSelectLeader', async () => {
          const d = decodeData.changeLeader(i.data)
          const p = partition()
          if (host.autoFailover() && p.partition_meta.some((m) => m.is_leader && m.is_alive)) {
            throw new TaskError(`${i.name} pid ${i.pid} has an alive leader`)
          }
          const term = await host.nextTerm()
          let max = -1n
          let best: string[] = []
          for (const ep of d.follower) {
            const r = await host.tablet(ep, 'AppendEntries', {...ids(), term})
            const off = BigInt((r.log_offset as bigint | number | undefined) ?? 0)
            if (off > max) {
              max = off
              best = [ep]
            } else if (off === max) best.push(ep)
          }
          let leader = best[host.random(best.length)]
          if (d.candidate_leader) {
            if (!d.follower.includes(d.candidate_leader))
              throw new TaskError(`candidate ${d.candidate_leader} is not a follower`)
            leader = d.candidate_leader
          }
          d.leader = leader
          d.offset = max
          d.term = term + 1n
          i.data = encodeData.changeLeader(d)
          await host.persistOp(op)
          host.log(`SelectLeader ${i.name} pid ${i.pid}: ${leader} (offset ${max}, term ${term + 1n})`)
        }),
        t('kChangeLeader', async () => {
          const d = decodeData.changeLeader(i.data)
          if (!d.leader) throw new TaskError('no leader was selected')
          await host.tablet(d.leader, 'ChangeRole', {
            ...ids(),
            term: d.term,
            mode: 'kTableLeader',
            replicas: d.follower.filter((f) => f !== d.leader),
          })
        }),
        t('kUpdateLeaderInfo', async () => {
          const d = decodeData.changeLeader(i.data)
          const tab = table()
          const p = partition()
          for (const m of p.partition_meta) {
            // The old leader keeps is_leader=true: only its liveness changes.
            if (m.is_leader && m.is_alive && m.endpoint !== d.leader) m.is_alive = false
          }
          const nl = p.partition_meta.find((m) => m.endpoint === d.leader)
          if (!nl) throw new TaskError(`${d.leader} holds no replica of ${i.name} pid ${i.pid}`)
          nl.is_leader = true
          nl.is_alive = true
          p.term_offset.push({term: d.term ?? 0n, offset: (d.offset ?? 0n) + 1n})
          await host.persistTable(tab)
        }),
      ]
    }
    case 'kOfflineReplicaOP': {
      const endpoint = i.data.toString('utf8')
      return [delReplica(endpoint), updatePartitionStatus(endpoint, false, false)]
    }
    case 'kUpdatePartitionStatusOP': {
      const d = decodeData.endpointStatus(i.data)
      return [updatePartitionStatus(d.endpoint, d.is_leader, d.is_alive)]
    }
    case 'kReLoadTableOP': {
      const endpoint = i.data.toString('utf8')
      return [loadTable(endpoint, 'kTableLeader'), updatePartitionStatus(endpoint, true, true)]
    }
    case 'kRecoverTableOP': {
      const d = decodeData.recoverTable(i.data)
      const tasks: Task[] = []
      if (!d.is_leader) tasks.push(delReplica(d.endpoint))
      tasks.push(t('kRecoverTable', () => recoverTableTask(host, op, d, partition, ids)))
      return tasks
    }
    case 'kReAddReplicaSimplifyOP': {
      const d = decodeData.recoverTable(i.data)
      return [
        addReplica(d.endpoint),
        checkBinlogSync(d.endpoint, d.offset_delta),
        updatePartitionStatus(d.endpoint, false, true),
      ]
    }
    case 'kReAddReplicaWithDropOP': {
      const d = decodeData.recoverTable(i.data)
      return [
        snapshotTask('kPauseSnapshot', 'PauseSnapshot'),
        dropTable(d.endpoint),
        sendSnapshot(d.endpoint),
        loadTable(d.endpoint, 'kTableFollower'),
        addReplica(d.endpoint),
        snapshotTask('kRecoverSnapshot', 'RecoverSnapshot'),
        checkBinlogSync(d.endpoint, d.offset_delta),
        updatePartitionStatus(d.endpoint, false, true),
      ]
    }
    case 'kReAddReplicaNoSendOP': {
      const d = decodeData.recoverTable(i.data)
      return [
        snapshotTask('kPauseSnapshot', 'PauseSnapshot'),
        loadTable(d.endpoint, 'kTableFollower'),
        addReplica(d.endpoint),
        snapshotTask('kRecoverSnapshot', 'RecoverSnapshot'),
        checkBinlogSync(d.endpoint, d.offset_delta),
        updatePartitionStatus(d.endpoint, false, true),
      ]
    }
    case 'kReAddReplicaOP': {
      const d = decodeData.recoverTable(i.data)
      return [
        snapshotTask('kPauseSnapshot', 'PauseSnapshot'),
        sendSnapshot(d.endpoint),
        loadTable(d.endpoint, 'kTableFollower'),
        addReplica(d.endpoint),
        snapshotTask('kRecoverSnapshot', 'RecoverSnapshot'),
        checkBinlogSync(d.endpoint, d.offset_delta),
        updatePartitionStatus(d.endpoint, false, true),
      ]
    }
    default:
      return [t('kUpdateTableInfo', () => Promise.reject(new TaskError(`the lab does not run ${i.op_type}`)))]
  }
}

/**
 * MatchTermOffset (ns.cc): 0 when the replica's (term, offset) lies on the partition's term
 * history, 1 when it does not.
 */
export function matchTermOffset(
  termOffset: {term: bigint; offset: bigint}[],
  hasTable: boolean,
  term: bigint,
  offset: bigint,
): 0 | 1 {
  if (!hasTable && offset === 0n) return 1
  const map = new Map<bigint, bigint>()
  for (const x of termOffset) if (!map.has(x.term)) map.set(x.term, x.offset)
  const terms = [...map.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const start = map.get(term)
  if (start === undefined) return 1
  if (start > offset) {
    const last = map.get(terms[terms.length - 1]) as bigint
    return last === offset + 1n ? 0 : 1
  }
  const k = terms.indexOf(term)
  if (k === terms.length - 1) return 0
  return (map.get(terms[k + 1]) as bigint) <= offset ? 1 : 0
}

/** The RecoverTable task (RecoverEndpointTable): inspects the target and spawns the child op that fits it. */
async function recoverTableTask(
  host: OpHost,
  op: Op,
  d: RecoverTableData,
  partition: () => TableInfo['table_partition'][number],
  ids: () => {tid: number; pid: number},
): Promise<void> {
  const i = op.info
  const p = partition()
  // RecoverEndpointTable checks the metadata before it touches the target: an alive target needs
  // no recovery (kDone, no child op); the target's tablet and, when the partition has followers,
  // the alive leader's tablet must be kHealthy, or the task fails with the target's disk untouched
  // (no GetTermPair, no DeleteBinlog): a partition without a serving leader keeps every replica's
  // binlog for a later recovery.
  const target = p.partition_meta.find((m) => m.endpoint === d.endpoint)
  if (!target) throw new TaskError(`no replica of ${i.name} pid ${i.pid} on ${d.endpoint}`)
  if (target.is_alive) {
    host.log(`RecoverTable ${i.name} pid ${i.pid} on ${d.endpoint}: alive, need not recover`)
    return
  }
  if (!host.tabletHealthy(d.endpoint)) throw new TaskError(`endpoint ${d.endpoint} is offline`)
  if (p.partition_meta.length > 1) {
    const leader = p.partition_meta.find((m) => m.is_leader && m.is_alive)
    if (!leader) throw new TaskError(`no alive leader for ${i.name} pid ${i.pid}`)
    if (!host.tabletHealthy(leader.endpoint)) throw new TaskError(`leader endpoint ${leader.endpoint} is offline`)
  }
  const tp = await host.tablet(d.endpoint, 'GetTermPair', ids())
  const hasTable = Boolean(tp.has_table)
  let term = BigInt((tp.term as bigint | number | undefined) ?? 0)
  const offset = BigInt((tp.offset as bigint | number | undefined) ?? 0)
  if (p.partition_meta.length === 1) {
    // A single-replica partition: reload it, or only mark it alive when the tablet has it.
    if (hasTable)
      await host.addChildOp(
        op,
        'kUpdatePartitionStatusOP',
        encodeData.endpointStatus({endpoint: d.endpoint, is_leader: true, is_alive: true}),
        i.name,
        i.db,
        i.pid,
      )
    else await host.addChildOp(op, 'kReLoadTableOP', Buffer.from(d.endpoint), i.name, i.db, i.pid)
    return
  }
  if (hasTable && tp.is_leader) {
    await host.tablet(d.endpoint, 'ChangeRole', {...ids(), term, mode: 'kTableFollower'})
  }
  if (!hasTable) {
    await host.tablet(d.endpoint, 'DeleteBinlog', ids())
    term = 0n
  }
  const matched = matchTermOffset(p.term_offset, hasTable, term, offset) === 0
  const data = encodeData.recoverTable({
    endpoint: d.endpoint,
    offset_delta: d.offset_delta,
    is_leader: false,
    concurrency: d.concurrency,
  })
  let child: string
  if (hasTable) {
    let manifestOk = false
    if (matched) {
      const leader = p.partition_meta.find((m) => m.is_leader && m.is_alive)
      if (!leader) throw new TaskError(`no alive leader for ${i.name} pid ${i.pid}`)
      const mf = await host.tablet(leader.endpoint, 'GetManifest', ids())
      const mo = BigInt((mf.manifest as {offset?: bigint | number} | undefined)?.offset ?? 0)
      manifestOk = offset >= mo
    }
    child = matched && manifestOk ? 'kReAddReplicaSimplifyOP' : 'kReAddReplicaWithDropOP'
  } else {
    child = matched ? 'kReAddReplicaNoSendOP' : 'kReAddReplicaOP'
  }
  host.log(
    `RecoverTable ${i.name} pid ${i.pid} on ${d.endpoint}: has_table=${hasTable} term=${term} offset=${offset} -> ${child}`,
  )
  await host.addChildOp(op, child, data, i.name, i.db, i.pid)
}
