// RecoverTable's child op follows the target's state (RecoverEndpointTable + MatchTermOffset):
// a caught-up replica only re-adds (kReAddReplicaSimplifyOP), a lagging one is dropped and sent a
// snapshot (kReAddReplicaWithDropOP); both end alive with the leader's rows.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import type {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import {matchTermOffset} from '../../../src/lab/openmldb/ops.js'
import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type OpStatus = {op_id: number; op_type: string; status: string; pid: number}

describe('matchTermOffset (MatchTermOffset in ns.cc)', () => {
  const history = [
    {term: 1n, offset: 0n},
    {term: 3n, offset: 101n},
    {term: 5n, offset: 201n},
  ]
  it('no table and offset 0: no match', () => expect(matchTermOffset(history, false, 1n, 0n)).toBe(1))
  it('an unknown term: no match', () => expect(matchTermOffset(history, true, 2n, 50n)).toBe(1))
  it('inside its term: match', () => expect(matchTermOffset(history, true, 3n, 150n)).toBe(0))
  it('past the next term start: no match', () => expect(matchTermOffset(history, true, 1n, 150n)).toBe(1))
  it('the last term: match', () => expect(matchTermOffset(history, true, 5n, 999n)).toBe(0))
  it('before its term start but one short of the last start: match', () =>
    expect(matchTermOffset(history, true, 5n, 200n)).toBe(0))
  it('before its term start otherwise: no match', () => expect(matchTermOffset(history, true, 3n, 50n)).toBe(1))
})

describe('OpenMLDB lab: RecoverTable child ops', () => {
  let lab: OpenMLDBLab
  let close: () => Promise<void>
  let ns: string
  let ep: string[]

  beforeAll(async () => {
    ;({lab, close} = await startLab(
      zkHosts,
      scenario({tables: [{name: 't1', db: 'db1', partitions: 2, replicas: 3, rows: 100}]}),
    ))
    ns = lab.leader()?.endpoint as string
    ep = lab.layout.tablets.map((t) => t.endpoint)
  })
  afterAll(async () => close?.())

  const recover = async (pid: number, endpoint: string): Promise<string[]> => {
    const before = ((await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[] | undefined)?.length ?? 0
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {name: 't1', db: 'db1', pid, endpoint, is_alive: false}),
    ).toEqual({code: 0, msg: 'ok'})
    expect(await rpc(ns, 'NameServer', 'RecoverTable', {name: 't1', db: 'db1', pid, endpoint})).toEqual({
      code: 0,
      msg: 'ok',
    })
    const ops = await until('ops done', async () => {
      const l = ((await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[]).slice(before)
      return l.length >= 2 && l.every((o) => o.status === 'kDone') ? l : undefined
    })
    return ops.map((o) => o.op_type)
  }

  const offsets = async (pid: number): Promise<number[]> =>
    Promise.all(
      ep.map(async (e) =>
        Number(
          ((await rpc(e, 'TabletServer', 'GetTableStatus', {tid: 1, pid})).all_table_status as {offset: number}[])[0]
            .offset,
        ),
      ),
    )

  it('a caught-up follower: kReAddReplicaSimplifyOP', async () => {
    // pid 0: leader tablet1, followers tablet2 and tablet3, all at the same offset.
    expect(await recover(0, ep[2])).toEqual(['kRecoverTableOP', 'kReAddReplicaSimplifyOP'])
    const o = await offsets(0)
    expect(new Set(o).size).toBe(1)
  })

  it('a lagging follower: kReAddReplicaWithDropOP, then it has every row again', async () => {
    // pid 1: leader tablet2; tablet3 follows; cut tablet3's binlog short.
    await lab.fault({type: 'lag', replica: 't1/1@tablet3', offset: 2})
    expect(await recover(1, ep[2])).toEqual(['kRecoverTableOP', 'kReAddReplicaWithDropOP'])
    const o = await offsets(1)
    expect(o[2]).toBe(o[1])
    const parts = (
      (await rpc(ns, 'NameServer', 'ShowTable', {show_all: true})).table_info as {
        table_partition: {partition_meta: {endpoint: string; is_leader: boolean; is_alive?: boolean}[]}[]
      }[]
    )[0].table_partition
    expect(parts[1].partition_meta.find((m) => m.endpoint === ep[2])).toMatchObject({is_leader: false, is_alive: true})
  })
})
