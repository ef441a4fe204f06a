// The built-in scenarios parse; openmldb-recoverdata comes up in the one-click recovery state and
// the manual recovery of OpenMLDB's docs (LoadTable the leader, updatetablealive, recovertable the
// others) run over HTTP against it brings every row back. Scenario validation errors.
import {describe, expect, inject, it} from 'vitest'

import {LifeboatError} from '../../../src/errors.js'
import {parseOpenMLDBScenario, type OpenMLDBScenario} from '../../../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {loadScenario} from '../../../src/lab/scenario.js'
import {rpc, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type Meta = {endpoint: string; is_leader: boolean; is_alive?: boolean; offset?: number}
type Table = {name: string; tid: number; db: string; table_partition: {pid: number; partition_meta: Meta[]}[]}

describe('OpenMLDB lab scenarios', () => {
  it('the built-in scenarios are valid', () => {
    const scale = loadScenario<OpenMLDBScenario>('openmldb-scale').scenario
    expect(scale.tablets).toBe(20)
    expect(scale.tables.reduce((n, t) => n + t.partitions, 0)).toBeGreaterThanOrEqual(1000)
    expect(loadScenario<OpenMLDBScenario>('openmldb-failover').scenario).toMatchObject({
      auto_failover: false,
      faults: [{type: 'kill-tablet', tablet: 'tablet2'}],
    })
    expect(loadScenario<OpenMLDBScenario>('openmldb-recoverdata').scenario.faults.map((f) => f.type)).toEqual([
      'lag',
      'kill-tablet',
      'settle',
      'auto-failover',
      'restart-all',
    ])
  })

  it('rejects a bad scenario with every problem named', () => {
    let err: unknown
    try {
      parseOpenMLDBScenario(
        {
          engine: 'openmldb',
          name: 'x',
          tablets: 2,
          bogus: 1,
          tables: [{name: 't', partitions: 0, replicas: 3}],
          faults: [{fault: 'explode'}],
        },
        'bad.yaml',
      )
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(LifeboatError)
    const e = err as LifeboatError
    expect(e.code).toBe('LAB_SCENARIO_INVALID')
    expect(e.message).toBe('scenario bad.yaml is not a valid OpenMLDB lab scenario')
    expect(e.detail?.split('\n')).toEqual([
      '/bogus: is not a scenario key',
      '/tables/0/partitions: must be an integer from 1 to 4096',
      '/tables/0/replicas: is more than the 2 tablets',
      '/faults/0/fault: must be one of kill-tablet, start-tablet, restart-tablet, hang-tablet, resume-tablet, kill-nameserver, start-nameserver, lag, snapshot, auto-failover, restart-all, settle',
    ])
    expect(e.hints.length).toBeGreaterThan(0)
  })

  it('openmldb-recoverdata: nothing loaded, two is_leader replicas, offsets differ; the manual recovery brings every row back', async () => {
    const s = loadScenario<OpenMLDBScenario>('openmldb-recoverdata').scenario
    const scenario = {
      ...s,
      name: `rd${process.pid}`,
      zk_root: `/openmldb/rd${process.pid}`,
      settings: {...s.settings, task_ms: 5, load_ms: 30, tablet_heartbeat_timeout_ms: 300},
    }
    const {lab, close} = await startLab(zkHosts, scenario)
    try {
      const ns = lab.leader()?.endpoint as string
      expect((await rpc(ns, 'NameServer', 'ConfGet')).conf).toEqual({auto_failover: 'false'})
      for (const t of lab.layout.tablets)
        expect(await rpc(t.endpoint, 'TabletServer', 'GetTableStatus', {})).toEqual({code: 0, msg: 'ok'})
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 0, total: 2600})
      const tables = (await rpc(ns, 'NameServer', 'ShowTable', {show_all: true})).table_info as Table[]
      const orders = tables.find((t) => t.name === 'orders') as Table
      const t1 = lab.layout.tablets[0].endpoint
      // tablet1 led orders pids 0, 3, 6: two replicas flagged leader there, tablet1's not alive.
      for (const pid of [0, 3, 6]) {
        const metas = orders.table_partition[pid].partition_meta
        expect(metas.filter((m) => m.is_leader).map((m) => [m.endpoint === t1, m.is_alive])).toEqual([
          [true, false],
          [false, true],
        ])
      }
      // The lagging follower of pid 0 (tablet2) holds 40 entries on disk; the others all of pid 0's.
      const p0 = orders.table_partition[0].partition_meta
      const full = Number(p0.find((m) => m.endpoint === lab.layout.tablets[2].endpoint)?.offset)
      expect(full).toBeGreaterThan(40)
      expect(lab.tablets[1].disk.get(`${orders.tid}_0`)?.entries.length).toBe(40)

      // The manual recovery (docs/en/maintain/backup.md): per partition, LoadTable the alive-flagged
      // leader, wait for kTableNormal, mark it alive; then recovertable every other replica.
      for (const t of tables) {
        for (const p of t.table_partition) {
          const leader = [...p.partition_meta].reverse().find((m) => m.is_leader) as Meta
          const others = p.partition_meta.filter((m) => m !== leader)
          expect(
            await rpc(leader.endpoint, 'TabletServer', 'LoadTable', {
              table_meta: {
                name: t.name,
                tid: t.tid,
                pid: p.pid,
                seg_cnt: 8,
                mode: 'kTableLeader',
                db: t.db,
                storage_mode: 'kMemory',
              },
            }),
          ).toEqual({code: 0, msg: 'ok'})
          await until('leader loaded', async () => {
            const st = (await rpc(leader.endpoint, 'TabletServer', 'GetTableStatus', {tid: t.tid, pid: p.pid}))
              .all_table_status as {state: string}[]
            return st[0].state === 'kTableNormal' ? true : undefined
          })
          expect(
            await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
              name: t.name,
              db: t.db,
              pid: p.pid,
              endpoint: leader.endpoint,
              is_alive: true,
            }),
          ).toEqual({code: 0, msg: 'ok'})
          for (const o of others) {
            if (o.is_alive !== false)
              expect(
                await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
                  name: t.name,
                  db: t.db,
                  pid: p.pid,
                  endpoint: o.endpoint,
                  is_alive: false,
                }),
              ).toEqual({code: 0, msg: 'ok'})
            expect(
              await rpc(ns, 'NameServer', 'RecoverTable', {name: t.name, db: t.db, pid: p.pid, endpoint: o.endpoint}),
            ).toEqual({code: 0, msg: 'ok'})
          }
        }
      }
      await lab.settle()
      const ops = (await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as {op_type: string; status: string}[]
      expect(ops.filter((o) => o.op_type === 'kRecoverTableOP')).toHaveLength(24)
      expect(ops.every((o) => o.status === 'kDone')).toBe(true)
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 2600, total: 2600})
      const after = (await rpc(ns, 'NameServer', 'ShowTable', {show_all: true})).table_info as Table[]
      for (const t of after)
        for (const p of t.table_partition) expect(p.partition_meta.every((m) => m.is_alive !== false)).toBe(true)
    } finally {
      await close()
    }
  })
})
