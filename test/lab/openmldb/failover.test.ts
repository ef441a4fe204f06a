// auto_failover: a killed tablet is taken offline after tablet_heartbeat_timeout with leadership
// moved to the follower with the largest offset; a restarted tablet (startup_) is recovered; with
// auto_failover off nothing happens. ZooKeeper's auto_failover wins over the flag at leader start.
import {describe, expect, inject, it} from 'vitest'

import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {connectZk} from '../../../src/zk/index.js'
import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type Meta = {endpoint: string; is_leader: boolean; is_alive?: boolean}
type Part = {pid: number; partition_meta: Meta[]}

async function parts(ns: string): Promise<Part[]> {
  const r = await rpc(ns, 'NameServer', 'ShowTable', {show_all: true})
  return (r.table_info as {table_partition: Part[]}[])[0].table_partition
}

describe('OpenMLDB lab: auto_failover', () => {
  it('moves leadership to the largest offset, recovers the restarted tablet, every row readable', async () => {
    const {lab, close} = await startLab(
      zkHosts,
      scenario({auto_failover: true, tables: [{name: 't1', db: 'db1', partitions: 6, replicas: 3, rows: 600}]}),
    )
    try {
      const ns = lab.leader()?.endpoint as string
      const ep = lab.layout.tablets.map((t) => t.endpoint)
      // tablet1 leads pids 0 and 3; for pid 0 tablet2 lags, for pid 3 tablet3 lags.
      await lab.fault({type: 'lag', replica: 't1/0@tablet2', offset: 10})
      await lab.fault({type: 'lag', replica: 't1/3@tablet3', offset: 10})
      await lab.fault({type: 'kill-tablet', tablet: 'tablet1'})
      await lab.settle()
      const after = await parts(ns)
      const leaderOf = (p: Part) => p.partition_meta.find((m) => m.is_leader && m.is_alive !== false)?.endpoint
      expect(leaderOf(after[0])).toBe(ep[2])
      expect(leaderOf(after[3])).toBe(ep[1])
      for (const pid of [0, 3])
        expect(after[pid].partition_meta.find((m) => m.endpoint === ep[0])).toMatchObject({
          is_leader: true,
          is_alive: false,
        })
      for (const pid of [1, 2, 4, 5])
        expect(after[pid].partition_meta.find((m) => m.endpoint === ep[0])).toMatchObject({
          is_leader: false,
          is_alive: false,
        })
      const ops = (await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as {op_type: string; status: string}[]
      expect(ops.filter((o) => o.op_type === 'kChangeLeaderOP')).toHaveLength(2)
      expect(ops.filter((o) => o.op_type === 'kOfflineReplicaOP')).toHaveLength(4)
      expect(ops.every((o) => o.status === 'kDone')).toBe(true)
      // The refusals that auto_failover brings.
      expect(await rpc(ns, 'NameServer', 'RecoverEndpoint', {endpoint: ep[0]})).toEqual({
        code: 301,
        msg: 'auto_failover is enabled',
      })
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 600, total: 600})

      await lab.fault({type: 'start-tablet', tablet: 'tablet1'})
      await until('recovery ops queued', () => (lab.leader()?.idle() === false ? true : undefined))
      await lab.settle()
      const back = await parts(ns)
      for (const p of back) expect(p.partition_meta.every((m) => m.is_alive !== false)).toBe(true)
      const recovered = (await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as {
        op_type: string
        status: string
      }[]
      expect(recovered.filter((o) => o.op_type === 'kRecoverTableOP')).toHaveLength(6)
      // startup_: OnTabletOffline(ep, true) ran the offline flow again, re-queuing the followers' kOfflineReplicaOPs.
      expect(recovered.filter((o) => o.op_type === 'kOfflineReplicaOP')).toHaveLength(8)
      expect(recovered.every((o) => o.status === 'kDone')).toBe(true)
      const st = (await rpc(ep[0], 'TabletServer', 'GetTableStatus', {})).all_table_status as {state: string}[]
      expect(st.map((s) => s.state)).toEqual(Array(6).fill('kTableNormal'))
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 600, total: 600})
    } finally {
      await close()
    }
  })

  it('with auto_failover off a killed tablet stays as it was; ZooKeeper wins over the flag', async () => {
    const {lab, close} = await startLab(zkHosts, scenario({auto_failover: false}))
    try {
      const ns = lab.leader()?.endpoint as string
      const before = await parts(ns)
      await lab.fault({type: 'kill-tablet', tablet: 'tablet1'})
      // The nameserver looks at the tablet once tablet_heartbeat_timeout has passed, and does nothing.
      await until('offline check', () =>
        lab.leader()?.tablets.get(lab.layout.tablets[0].endpoint)?.offlineChecked ? true : undefined,
      )
      const roles = (ps: Part[]) => ps.map((p) => p.partition_meta.map((m) => [m.endpoint, m.is_leader, m.is_alive]))
      expect(roles(await parts(ns))).toEqual(roles(before))
      expect(await rpc(ns, 'NameServer', 'ShowOPStatus', {})).toEqual({code: 0, msg: 'ok'})
      // Back with startup_: healthy again, and still nothing recovered (auto_failover off).
      await lab.fault({type: 'start-tablet', tablet: 'tablet1'})
      await until('tablet1 healthy', () =>
        lab.leader()?.tablets.get(lab.layout.tablets[0].endpoint)?.state === 'kHealthy' ? true : undefined,
      )
      await lab.settle()
      expect(roles(await parts(ns))).toEqual(roles(before))
      expect(await rpc(ns, 'NameServer', 'ShowOPStatus', {})).toEqual({code: 0, msg: 'ok'})
      expect(await rpc(lab.layout.tablets[0].endpoint, 'TabletServer', 'GetTableStatus', {})).toEqual({
        code: 0,
        msg: 'ok',
      })
      // The flag says false; ZooKeeper says true: the next leader takes ZooKeeper's value.
      const zk = await connectZk({hosts: zkHosts})
      try {
        await zk.set(`${lab.layout.zk_root}/config/auto_failover`, Buffer.from('true'), -1)
      } finally {
        await zk.close()
      }
      expect((await rpc(ns, 'NameServer', 'ConfGet')).conf).toEqual({auto_failover: 'false'})
      await lab.fault({type: 'kill-nameserver'})
      expect((await rpc(lab.leader()?.endpoint as string, 'NameServer', 'ConfGet')).conf).toEqual({
        auto_failover: 'true',
      })
    } finally {
      await close()
    }
  })
})
