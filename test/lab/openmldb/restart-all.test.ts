// restart-all settles every time. The built-in openmldb-recoverdata lab is restarted several times
// in a row and its state checked after each: every tablet healthy to the leader, nothing loaded,
// no op, the metadata as before. A lab of 16 tablets, whose registrations arrive together, is the
// case where two overlapping scans of <root>/nodes once took a tablet that had just registered
// offline again and restart-all never settled.
import {describe, expect, inject, it} from 'vitest'

import type {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import type {OpenMLDBScenario} from '../../../src/lab/openmldb/scenario.js'
import {loadScenario} from '../../../src/lab/scenario.js'
import {rpc, scenario, startLab} from './helpers.js'

const zkHosts = inject('zookeeper')

type Meta = {endpoint: string; is_leader: boolean; is_alive?: boolean}
type Table = {name: string; table_partition: {pid: number; partition_meta: Meta[]}[]}

/** What must hold after a restart-all: every tablet healthy, none with a loaded table, no op queued. */
async function expectRestarted(lab: OpenMLDBLab): Promise<string> {
  const ns = lab.leader()?.endpoint as string
  const tablets = (await rpc(ns, 'NameServer', 'ShowTablet')).tablets as {endpoint: string; state: string}[]
  expect(tablets.map((t) => t.endpoint)).toEqual(lab.layout.tablets.map((t) => t.endpoint).sort())
  expect(tablets.every((t) => t.state === 'kHealthy')).toBe(true)
  for (const t of lab.layout.tablets)
    expect(await rpc(t.endpoint, 'TabletServer', 'GetTableStatus')).toEqual({code: 0, msg: 'ok'})
  const ops = ((await rpc(ns, 'NameServer', 'ShowOPStatus')).op_status as {status: string}[] | undefined) ?? []
  expect(ops.filter((o) => o.status === 'kInited' || o.status === 'kDoing')).toEqual([])
  return ns
}

const roles = (tables: Table[]) =>
  tables.map((t) => t.table_partition.map((p) => p.partition_meta.map((m) => [m.endpoint, m.is_leader, m.is_alive])))

describe('OpenMLDB lab: restart-all', () => {
  it('openmldb-recoverdata: five restarts in a row, each settled with the metadata unchanged', async () => {
    // Its root is the lab's own: the scenario names none.
    const {lab, close} = await startLab(zkHosts, loadScenario<OpenMLDBScenario>('openmldb-recoverdata').scenario)
    try {
      const ns = await expectRestarted(lab)
      const before = (await rpc(ns, 'NameServer', 'ShowTable', {show_all: true})).table_info as Table[]
      // The scenario's failover left two is_leader=true replicas where tablet1 led.
      expect(before[0].table_partition.some((p) => p.partition_meta.filter((m) => m.is_leader).length === 2)).toBe(true)
      for (let i = 0; i < 5; i++) {
        expect(await lab.fault({type: 'restart-all'})).toBe('restarted every nameserver and tablet: no table is loaded')
        const now = await expectRestarted(lab)
        expect((await rpc(now, 'NameServer', 'ConfGet')).conf).toEqual({auto_failover: 'false'})
        const after = (await rpc(now, 'NameServer', 'ShowTable', {show_all: true})).table_info as Table[]
        expect(roles(after)).toEqual(roles(before))
      }
    } finally {
      await close()
    }
  })

  it('16 tablets registering at once: every restart sees all of them healthy', async () => {
    const {lab, close} = await startLab(
      zkHosts,
      scenario({tablets: 16, tables: [{name: 't1', db: 'db1', partitions: 16, replicas: 3, rows: 50}]}),
    )
    try {
      for (let i = 0; i < 5; i++) {
        await lab.fault({type: 'restart-all'})
        await expectRestarted(lab)
      }
    } finally {
      await close()
    }
  })
})
