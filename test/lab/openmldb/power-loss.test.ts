// Every tablet dies under auto_failover (a rack loses power), then the tablets come back one by
// one. A restarted tablet gets its kRecoverTableOPs (OnTabletOffline(ep, true), RecoverEndpoint),
// and OpenMLDB's RecoverEndpointTable fails those whose partition has no alive leader on a
// kHealthy tablet before it touches the target: no GetTermPair, no DeleteBinlog. The lab once
// deleted the binlog first and checked the leader afterwards, so an old leader's replica came
// back empty while the nameserver still showed its offset, and a recovery that trusted that
// offset lost the partition (the openmldb-recoverdata demo, 155 rows under load).
import {describe, expect, inject, it} from 'vitest'

import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type Status = {tid: number; pid: number; offset: number | string; state: string}

async function statuses(ep: string): Promise<Status[]> {
  return ((await rpc(ep, 'TabletServer', 'GetTableStatus')).all_table_status as Status[] | undefined) ?? []
}

describe('OpenMLDB lab: every tablet lost at once under auto_failover', () => {
  it("a restarted tablet's RecoverTable ops fail without a serving leader and its binlogs stay", async () => {
    const {lab, close} = await startLab(
      zkHosts,
      scenario({auto_failover: true, tables: [{name: 't1', db: 'db1', partitions: 6, replicas: 3, rows: 600}]}),
    )
    try {
      const [t1] = lab.layout.tablets.map((t) => t.endpoint)
      const before = new Map((await statuses(t1)).map((s) => [s.pid, Number(s.offset)]))
      expect(before.size).toBe(6)
      for (const t of ['tablet1', 'tablet2', 'tablet3']) await lab.fault({type: 'kill-tablet', tablet: t})
      // Each one's tablet_heartbeat_timeout passes and the offline flow runs (its ops fail: nobody answers).
      await lab.settle()
      await lab.fault({type: 'start-tablet', tablet: 'tablet1'})
      await until('tablet1 recovered by auto_failover', () => (lab.leader()?.idle() === false ? true : undefined))
      await lab.settle()
      const ns = lab.leader()?.endpoint as string
      const ops = (await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as {
        op_type: string
        status: string
        task_type: string
      }[]
      // No RecoverTable op got as far as a child op, and every one failed: tablet1 led pids 0 and 3
      // (is_leader=true, no DelReplica first), whose ops failed in the RecoverTable task itself.
      expect(ops.filter((o) => o.op_type.startsWith('kReAddReplica'))).toEqual([])
      const recover = ops.filter((o) => o.op_type === 'kRecoverTableOP')
      expect(recover.length).toBeGreaterThan(0)
      expect(recover.filter((o) => o.status !== 'kFailed')).toEqual([])
      expect(recover.filter((o) => o.task_type === 'kRecoverTable')).toHaveLength(2)

      // tablet1's disk still holds every partition: loaded by hand, each comes back at its old offset.
      await lab.fault({type: 'auto-failover', on: false})
      for (const pid of before.keys())
        expect(
          await rpc(t1, 'TabletServer', 'LoadTable', {
            table_meta: {tid: 1, pid, name: 't1', db: 'db1', mode: 'kTableFollower', storage_mode: 'kMemory'},
          }),
        ).toEqual({code: 0, msg: 'ok'})
      const after = await until('tablet1 loaded every partition', async () => {
        const s = await statuses(t1)
        return s.length === before.size && s.every((x) => x.state === 'kTableNormal') ? s : undefined
      })
      expect(new Map(after.map((s) => [s.pid, Number(s.offset)]))).toEqual(before)
    } finally {
      await close()
    }
  })
})
