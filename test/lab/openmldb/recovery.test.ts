// The recovery RPCs and their ops over HTTP: refusal codes, OfflineEndpoint's op choice,
// SelectLeader by the largest offset, the old leader left is_leader=true/is_alive=false,
// RecoverEndpoint's kRecoverTableOP and child ops, ShowOPStatus, ops persisted in ZooKeeper.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import type {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {connectZk} from '../../../src/zk/index.js'
import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type Meta = {endpoint: string; is_leader: boolean; is_alive?: boolean; offset?: number}
type Part = {pid: number; partition_meta: Meta[]; term_offset: {term: number; offset: number}[]}
type OpStatus = {
  op_id: number
  op_type: string
  status: string
  start_time: number
  end_time: number
  task_type: string
  name: string
  pid: number
  db: string
}

describe('OpenMLDB lab: recovery RPCs and ops (auto_failover off)', () => {
  let lab: OpenMLDBLab
  let close: () => Promise<void>
  let ns: string
  let ep: string[]

  const partitions = async (name = 't1'): Promise<Part[]> => {
    const r = await rpc(ns, 'NameServer', 'ShowTable', {db: 'db1', name})
    return (r.table_info as {table_partition: Part[]}[])[0].table_partition
  }
  const ops = async (filter: Record<string, unknown> = {}): Promise<OpStatus[]> =>
    ((await rpc(ns, 'NameServer', 'ShowOPStatus', filter)).op_status as OpStatus[] | undefined) ?? []
  const allDone = () =>
    until('ops done', async () => {
      const list = await ops()
      return list.length > 0 && list.every((o) => o.status === 'kDone' || o.status === 'kFailed') ? list : undefined
    })

  beforeAll(async () => {
    ;({lab, close} = await startLab(
      zkHosts,
      scenario({
        tables: [
          {name: 't1', db: 'db1', partitions: 4, replicas: 3, rows: 400},
          {name: 'solo', db: 'db1', partitions: 3, replicas: 1, rows: 30},
        ],
      }),
    ))
    ns = lab.leader()?.endpoint as string
    ep = lab.layout.tablets.map((t) => t.endpoint)
  })
  afterAll(async () => close?.())

  it('ChangeLeader refusals: table, pid, no follower, leader alive, no alive follower', async () => {
    expect(await rpc(ns, 'NameServer', 'ChangeLeader', {name: 'nope', pid: 0, db: 'db1'})).toEqual({
      code: 100,
      msg: 'table does not exist',
    })
    expect(await rpc(ns, 'NameServer', 'ChangeLeader', {name: 't1', pid: 4, db: 'db1'})).toEqual({
      code: 308,
      msg: 'pid does not exist',
    })
    expect(await rpc(ns, 'NameServer', 'ChangeLeader', {name: 'solo', pid: 0, db: 'db1'})).toEqual({
      code: 134,
      msg: 'no follower',
    })
    expect(await rpc(ns, 'NameServer', 'ChangeLeader', {name: 't1', pid: 1, db: 'db1'})).toEqual({
      code: 309,
      msg: 'leader is alive',
    })
    // Every replica of pid 1 marked not alive: no alive follower.
    for (const e of ep)
      expect(
        await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
          name: 't1',
          db: 'db1',
          pid: 1,
          endpoint: e,
          is_alive: false,
        }),
      ).toEqual({code: 0, msg: 'ok'})
    expect(await rpc(ns, 'NameServer', 'ChangeLeader', {name: 't1', pid: 1, db: 'db1'})).toEqual({
      code: 310,
      msg: 'no alive follower',
    })
    for (const e of ep)
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
        name: 't1',
        db: 'db1',
        pid: 1,
        endpoint: e,
        is_alive: true,
      })
    expect((await partitions())[1].partition_meta.every((m) => m.is_alive !== false)).toBe(true)
  })

  it('UpdateTableAliveStatus: endpoint and table checks; no pid updates every partition', async () => {
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
        name: 't1',
        db: 'db1',
        endpoint: '127.0.0.1:1',
        is_alive: false,
      }),
    ).toEqual({code: 302, msg: 'endpoint does not exist'})
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
        name: 'nope',
        db: 'db1',
        endpoint: ep[0],
        is_alive: false,
      }),
    ).toEqual({code: 100, msg: 'table does not exist'})
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
        name: 'solo',
        db: 'db1',
        pid: 0,
        endpoint: ep[2],
        is_alive: false,
      }),
    ).toEqual({code: 321, msg: 'no pid has update'})
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {name: 't1', db: 'db1', endpoint: ep[2], is_alive: false}),
    ).toEqual({code: 0, msg: 'ok'})
    expect((await partitions()).map((p) => p.partition_meta.find((m) => m.endpoint === ep[2])?.is_alive)).toEqual([
      false,
      false,
      false,
      false,
    ])
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {name: 't1', db: 'db1', endpoint: ep[2], is_alive: true}),
    ).toEqual({code: 0, msg: 'ok'})
  })

  it('RecoverTable and RecoverEndpoint refusals; CancelOP with nothing to cancel', async () => {
    expect(await rpc(ns, 'NameServer', 'RecoverTable', {name: 't1', pid: 1, endpoint: ep[1], db: 'db1'})).toEqual({
      code: 311,
      msg: 'table is alive, need not recover',
    })
    // solo's pids sit on tablet2, tablet3, tablet1 (placement continues after t1's four partitions).
    expect(await rpc(ns, 'NameServer', 'RecoverTable', {name: 'solo', pid: 0, endpoint: ep[0], db: 'db1'})).toEqual({
      code: 308,
      msg: 'pid does not exist',
    })
    expect(
      await rpc(ns, 'NameServer', 'RecoverTable', {name: 't1', pid: 1, endpoint: '127.0.0.1:1', db: 'db1'}),
    ).toEqual({code: 302, msg: 'endpoint does not exist'})
    expect(await rpc(ns, 'NameServer', 'OfflineEndpoint', {endpoint: ep[0], concurrency: 9})).toEqual({
      code: 307,
      msg: 'invalid parameter',
    })
    expect(await rpc(ns, 'NameServer', 'CancelOP', {op_id: 77})).toEqual({
      code: 312,
      msg: 'op status is not kDoing or kInited',
    })
  })

  it('OfflineEndpoint of a dead leader: SelectLeader takes the largest offset, the old leader stays is_leader', async () => {
    // tablet1 leads t1 pids 0 and 3; pid 0's followers are tablet2 and tablet3. tablet3 lags.
    await lab.fault({type: 'lag', replica: 'db1.t1/0@tablet3', offset: 3})
    await lab.fault({type: 'kill-tablet', tablet: 'tablet1'})
    await until('tablet1 offline', async () => {
      const r = await rpc(ns, 'NameServer', 'ShowTablet')
      return (r.tablets as {endpoint: string; state: string}[]).find((t) => t.endpoint === ep[0])?.state === 'kOffline'
        ? true
        : undefined
    })
    expect(await rpc(ns, 'NameServer', 'RecoverEndpoint', {endpoint: ep[0]})).toEqual({
      code: 303,
      msg: 'tablet is not healthy',
    })
    expect(await rpc(ns, 'NameServer', 'OfflineEndpoint', {endpoint: ep[0]})).toEqual({code: 0, msg: 'ok'})
    const done = await allDone()
    const t1ops = done.filter((o) => o.name === 't1').map((o) => [o.op_type, o.pid, o.status, o.task_type])
    expect(t1ops).toEqual([
      ['kChangeLeaderOP', 0, 'kDone', '-'],
      ['kOfflineReplicaOP', 1, 'kDone', '-'],
      ['kOfflineReplicaOP', 2, 'kDone', '-'],
      ['kChangeLeaderOP', 3, 'kDone', '-'],
    ])
    // solo pid 2 lives only on tablet1: kUpdatePartitionStatusOP (leader, not alive).
    expect(done.filter((o) => o.name === 'solo').map((o) => [o.op_type, o.pid])).toEqual([
      ['kUpdatePartitionStatusOP', 2],
    ])
    const solo2 = (await partitions('solo'))[2].partition_meta
    expect(solo2).toHaveLength(1)
    expect(solo2[0]).toMatchObject({endpoint: ep[0], is_leader: true, is_alive: false})
    const now = Math.floor(Date.now() / 1000)
    for (const o of done) {
      expect(o.db).toBe('db1')
      expect(o.start_time).toBeGreaterThan(now - 120)
      expect(o.end_time).toBeGreaterThanOrEqual(o.start_time)
      expect(o.end_time).toBeLessThanOrEqual(now + 1)
    }
    const parts = await partitions()
    const p0 = parts[0].partition_meta
    expect(p0.find((m) => m.endpoint === ep[0])).toMatchObject({is_leader: true, is_alive: false})
    expect(p0.find((m) => m.endpoint === ep[1])).toMatchObject({is_leader: true, is_alive: true})
    expect(p0.find((m) => m.endpoint === ep[2])).toMatchObject({is_leader: false})
    expect(p0.filter((m) => m.is_leader)).toHaveLength(2)
    // term 1 → SelectLeader bumps ZooKeeper's term to 3 and stamps term 3 from offset+1.
    expect(parts[0].term_offset[0]).toEqual({term: 1, offset: 0})
    expect(parts[0].term_offset[1].term).toBeGreaterThan(1)
    expect(parts[1].partition_meta.find((m) => m.endpoint === ep[0])).toMatchObject({is_leader: false, is_alive: false})
    // Filters: by name and pid, by op id.
    expect((await ops({name: 't1', pid: 3})).map((o) => o.op_type)).toEqual(['kChangeLeaderOP'])
    expect((await ops({op_id: done[0].op_id})).map((o) => o.op_id)).toEqual([done[0].op_id])
    // Done ops leave ZooKeeper; op_index is the last id.
    const zk = await connectZk({hosts: zkHosts})
    try {
      expect(await zk.getChildren(`${lab.layout.zk_root}/op/op_data`)).toEqual([])
      expect(Number((await zk.get(`${lab.layout.zk_root}/op/op_index`)).data.toString())).toBe(
        Math.max(...done.map((o) => o.op_id)),
      )
    } finally {
      await zk.close()
    }
    expect((await verifyOpenMLDBRows(lab.layout)).tables.find((t) => t.name === 'db1.t1')).toMatchObject({
      found: 400,
      total: 400,
    })
  })

  it('RecoverEndpoint on the restarted tablet: kRecoverTableOP spawns kReAddReplicaOP, every replica alive again', async () => {
    await lab.fault({type: 'start-tablet', tablet: 'tablet1'})
    await until('tablet1 healthy', async () => {
      const r = await rpc(ns, 'NameServer', 'ShowTablet')
      return (r.tablets as {endpoint: string; state: string}[]).find((t) => t.endpoint === ep[0])?.state === 'kHealthy'
        ? true
        : undefined
    })
    const before = (await ops()).length
    expect(await rpc(ns, 'NameServer', 'RecoverEndpoint', {endpoint: ep[0]})).toEqual({code: 0, msg: 'ok'})
    const list = await until('recovery ops done', async () => {
      const l = await ops()
      return l.length > before && l.every((o) => o.status === 'kDone' || o.status === 'kFailed')
        ? l.slice(before)
        : undefined
    })
    const t1 = list.filter((o) => o.name === 't1')
    expect(t1.filter((o) => o.op_type === 'kRecoverTableOP').map((o) => o.pid)).toEqual([0, 1, 2, 3])
    // No table on the restarted tablet and no snapshot: the full re-add with a sent snapshot.
    expect(t1.filter((o) => o.op_type !== 'kRecoverTableOP').map((o) => [o.op_type, o.status])).toEqual(
      Array(4).fill(['kReAddReplicaOP', 'kDone']),
    )
    // solo pid 2 (single replica, no table): kReLoadTableOP.
    expect(list.filter((o) => o.name === 'solo').map((o) => [o.op_type, o.pid])).toEqual([
      ['kRecoverTableOP', 2],
      ['kReLoadTableOP', 2],
    ])
    const parts = await partitions()
    for (const p of parts) {
      expect(p.partition_meta.every((m) => m.is_alive !== false)).toBe(true)
      expect(p.partition_meta.find((m) => m.endpoint === ep[0])?.is_leader).toBe(false)
    }
    const st = (await rpc(ep[0], 'TabletServer', 'GetTableStatus', {tid: 1})).all_table_status as {
      pid: number
      mode: string
      state: string
      offset: number
    }[]
    expect(st.map((s) => [s.pid, s.mode, s.state])).toEqual([
      [0, 'kTableFollower', 'kTableNormal'],
      [1, 'kTableFollower', 'kTableNormal'],
      [2, 'kTableFollower', 'kTableNormal'],
      [3, 'kTableFollower', 'kTableNormal'],
    ])
    expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 430, total: 430})
  })
})

describe('OpenMLDB lab: a killed leader nameserver hands its ops to the next', () => {
  it('reloads the queued ops from ZooKeeper and finishes them', async () => {
    const {lab, close} = await startLab(
      zkHosts,
      scenario({tables: [{name: 't1', db: 'db1', partitions: 4, replicas: 3, rows: 40}], settings: {task_ms: 150}}),
    )
    try {
      const first = lab.leader()?.endpoint as string
      await lab.fault({type: 'kill-tablet', tablet: 'tablet2'})
      await until('tablet2 offline', () =>
        lab.leader()?.tablets.get(lab.layout.tablets[1].endpoint)?.state === 'kOffline' ? true : undefined,
      )
      expect(await rpc(first, 'NameServer', 'OfflineEndpoint', {endpoint: lab.layout.tablets[1].endpoint})).toEqual({
        code: 0,
        msg: 'ok',
      })
      const queued = (await rpc(first, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[]
      expect(queued).toHaveLength(4)
      const zk = await connectZk({hosts: zkHosts})
      try {
        expect((await zk.getChildren(`${lab.layout.zk_root}/op/op_data`)).sort()).toEqual(
          queued.map((o) => String(o.op_id)).sort(),
        )
      } finally {
        await zk.close()
      }
      await lab.fault({type: 'kill-nameserver'})
      const next = lab.leader()?.endpoint as string
      expect(next).not.toBe(first)
      expect(await rpc(first, 'NameServer', 'ShowOPStatus', {}).catch(() => 'down')).toBe('down')
      const done = await until(
        'ops done on the new leader',
        async () => {
          const l = ((await rpc(next, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[] | undefined) ?? []
          return l.filter((o) => o.status === 'kDone').length === queued.length ? l : undefined
        },
        60_000,
      )
      expect(done.map((o) => [o.op_id, o.op_type, o.pid]).sort()).toEqual(
        queued.map((o) => [o.op_id, o.op_type, o.pid]).sort(),
      )
    } finally {
      await close()
    }
  })
})
