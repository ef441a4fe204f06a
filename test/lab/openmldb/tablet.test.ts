// The tablet's TabletServer surface: GetTableStatus, Put/Get/Scan with OpenMLDB's codes, and
// LoadTable's asynchronous kTableLoading → kTableNormal after a restart.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import type {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

describe('OpenMLDB lab: tablets', () => {
  let lab: OpenMLDBLab
  let close: () => Promise<void>
  let t1: string
  let t2: string

  beforeAll(async () => {
    ;({lab, close} = await startLab(
      zkHosts,
      scenario({tables: [{name: 't1', db: 'db1', partitions: 3, replicas: 2, rows: 90}], settings: {load_ms: 200}}),
    ))
    t1 = lab.layout.tablets[0].endpoint
    t2 = lab.layout.tablets[1].endpoint
  })
  afterAll(async () => close?.())

  it('GetTableStatus lists the replicas with offsets, modes and states by name', async () => {
    const r = await rpc(t1, 'TabletServer', 'GetTableStatus', {})
    expect(r.code).toBe(0)
    const all = r.all_table_status as Record<string, unknown>[]
    // tablet1 leads pid 0 and follows pid 2 (round-robin placement, 2 replicas over 3 tablets).
    expect(all.map((s) => [s.tid, s.pid, s.mode, s.state])).toEqual([
      [1, 0, 'kTableLeader', 'kTableNormal'],
      [1, 2, 'kTableFollower', 'kTableNormal'],
    ])
    for (const s of all) expect(s.offset).toBe(s.record_cnt)
    const one = await rpc(t1, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 2})
    expect((one.all_table_status as unknown[]).length).toBe(1)
    // A partition that is not here is simply absent (still code 0, the list omitted).
    expect(await rpc(t1, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 1})).toEqual({code: 0, msg: 'ok'})
  })

  it('Put on the leader replicates to the follower; Get and Scan read it; the codes of refusals', async () => {
    expect(
      await rpc(t1, 'TabletServer', 'Put', {
        tid: 1,
        pid: 0,
        dimensions: [{key: 'x1', idx: 0}],
        time: 5,
        value: 'hello',
      }),
    ).toEqual({code: 0, msg: 'ok'})
    expect(await rpc(t1, 'TabletServer', 'Get', {tid: 1, pid: 0, key: 'x1'})).toEqual({
      code: 0,
      msg: 'ok',
      key: 'x1',
      ts: 5,
      value: 'hello',
    })
    // pid 0's follower is tablet2; it has the entry at the same offset.
    const [l, f] = await Promise.all([
      rpc(t1, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0}),
      rpc(t2, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0}),
    ])
    expect((f.all_table_status as {offset: number}[])[0].offset).toBe(
      (l.all_table_status as {offset: number}[])[0].offset,
    )
    expect(await rpc(t2, 'TabletServer', 'Put', {tid: 1, pid: 0, pk: 'x2', value: 'no'})).toEqual({
      code: 103,
      msg: 'table is follower',
    })
    expect(await rpc(t1, 'TabletServer', 'Put', {tid: 9, pid: 0, pk: 'x2', value: 'no'})).toEqual({
      code: 100,
      msg: 'table does not exist',
    })
    expect(await rpc(t1, 'TabletServer', 'Get', {tid: 1, pid: 0, key: 'nope'})).toEqual({
      code: 109,
      msg: 'key not found',
    })
    const scan = await rpc(t1, 'TabletServer', 'Scan', {tid: 1, pid: 0, pk: 'x1', st: 0, et: 0})
    expect(scan.code).toBe(0)
    expect(scan.count).toBe(1)
    expect(
      Buffer.from(scan.pairs as string, 'latin1')
        .subarray(12)
        .toString(),
    ).toBe('hello')
  })

  it('a restarted tablet holds nothing until LoadTable recovers it, asynchronously', async () => {
    const before = (await rpc(t1, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as {
      offset: number
      record_cnt: number
    }[]
    await lab.fault({type: 'restart-tablet', tablet: 'tablet1'})
    expect(await rpc(t1, 'TabletServer', 'GetTableStatus', {})).toEqual({code: 0, msg: 'ok'})
    expect(await rpc(t1, 'TabletServer', 'Get', {tid: 1, pid: 0, key: 'x1'})).toEqual({
      code: 100,
      msg: 'table does not exist',
    })
    const meta = {
      table_meta: {tid: 1, name: 't1', pid: 0, seg_cnt: 8, mode: 'kTableLeader', db: 'db1', storage_mode: 'kMemory'},
    }
    expect(await rpc(t1, 'TabletServer', 'LoadTable', meta)).toEqual({code: 0, msg: 'ok'})
    const loading = (await rpc(t1, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as {
      state: string
    }[]
    expect(loading[0].state).toBe('kTableLoading')
    expect(await rpc(t1, 'TabletServer', 'LoadTable', meta)).toEqual({code: 101, msg: 'table already exists'})
    const normal = await until('kTableNormal', async () => {
      const s = (
        (await rpc(t1, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as {
          state: string
          offset: number
          record_cnt: number
          mode: string
        }[]
      )[0]
      return s.state === 'kTableNormal' ? s : undefined
    })
    expect(normal).toMatchObject({offset: before[0].offset, record_cnt: before[0].record_cnt, mode: 'kTableLeader'})
    expect((await rpc(t1, 'TabletServer', 'Get', {tid: 1, pid: 0, key: 'x1'})).value).toBe('hello')
    expect(await rpc(t1, 'TabletServer', 'LoadTable', {table_meta: {name: 't1', pid: 0}})).toEqual({
      code: 129,
      msg: 'tid <= 0, invalid tid',
    })
    expect(await rpc(t1, 'TabletServer', 'LoadTable', {})).toEqual({code: 129, msg: 'table name is empty'})
    expect(
      await rpc(t1, 'TabletServer', 'LoadTable', {table_meta: {name: 't1', tid: 1, pid: 1, storage_mode: 'kUnknown'}}),
    ).toEqual({code: 129, msg: 'storage_mode is unknown'})
  })
})
