// RecoverEndpoint with need_restore: the recovered endpoint becomes the leader again of the
// partitions it led (a kChangeLeaderOP with it as the candidate, queued after its kRecoverTableOP).
import {describe, expect, inject, it} from 'vitest'

import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type OpStatus = {op_type: string; status: string; pid: number}
type Meta = {endpoint: string; is_leader: boolean; is_alive?: boolean}

describe('OpenMLDB lab: RecoverEndpoint need_restore', () => {
  it('gives leadership back to the recovered endpoint', async () => {
    const {lab, close} = await startLab(
      zkHosts,
      scenario({tables: [{name: 't1', db: 'db1', partitions: 2, replicas: 3, rows: 60}]}),
    )
    try {
      const ns = lab.leader()?.endpoint as string
      const ep = lab.layout.tablets.map((t) => t.endpoint)
      await lab.fault({type: 'kill-tablet', tablet: 'tablet1'})
      await until('offline', () => (lab.leader()?.tablets.get(ep[0])?.state === 'kOffline' ? true : undefined))
      expect(await rpc(ns, 'NameServer', 'OfflineEndpoint', {endpoint: ep[0]})).toEqual({code: 0, msg: 'ok'})
      await lab.settle()
      await lab.fault({type: 'start-tablet', tablet: 'tablet1'})
      await until('healthy', () => (lab.leader()?.tablets.get(ep[0])?.state === 'kHealthy' ? true : undefined))
      expect(await rpc(ns, 'NameServer', 'RecoverEndpoint', {endpoint: ep[0], need_restore: true})).toEqual({
        code: 0,
        msg: 'ok',
      })
      await lab.settle()
      const ops = (await rpc(ns, 'NameServer', 'ShowOPStatus', {pid: 0})).op_status as OpStatus[]
      // By op id (ShowOPStatus's order): the child kReAddReplicaOP was created last but ran right
      // after its parent, before the kChangeLeaderOP queued behind it.
      expect(ops.map((o) => [o.op_type, o.status])).toEqual([
        ['kChangeLeaderOP', 'kDone'],
        ['kRecoverTableOP', 'kDone'],
        ['kChangeLeaderOP', 'kDone'],
        ['kReAddReplicaOP', 'kDone'],
      ])
      const p0 = (
        (await rpc(ns, 'NameServer', 'ShowTable', {show_all: true})).table_info as {
          table_partition: {partition_meta: Meta[]}[]
        }[]
      )[0].table_partition[0]
      expect(p0.partition_meta.find((m) => m.is_leader && m.is_alive !== false)?.endpoint).toBe(ep[0])
      const st = (
        (await rpc(ep[0], 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as {mode: string}[]
      )[0]
      expect(st.mode).toBe('kTableLeader')
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 60, total: 60})
    } finally {
      await close()
    }
  })
})
