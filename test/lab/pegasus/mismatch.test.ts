// Smaller mismatches with upstream (issue 11 item 5), against the lab through ZooKeeper.
import {describe, expect, inject, it} from 'vitest'

import {LifeboatError} from '../../../src/errors.js'
import {parsePegasusScenario} from '../../../src/lab/pegasus/scenario.js'
import {connectZk} from '../../../src/zk/index.js'
import {labPerTest} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

describe('scenarios Pegasus could not have', () => {
  it('refuses a dropped table newer than the live table of the same name', () => {
    const doc = {
      engine: 'pegasus',
      replica_servers: 3,
      tables: [
        {name: 'temp', app_id: 2, partitions: 4},
        {name: 'temp', app_id: 5, partitions: 4, dropped: true},
      ],
    }
    const err = (() => {
      try {
        parsePegasusScenario(doc, 'newer-drop.yaml')
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(err).toBeInstanceOf(LifeboatError)
    expect((err as LifeboatError).code).toBe('LAB_SCENARIO_INVALID')
    expect((err as LifeboatError).detail).toContain(
      '/tables/1: the dropped table "temp" (app_id 5) is newer than the live one (/tables/0, app_id 2)',
    )
    // The other way round is what Pegasus allows: create, drop, create again.
    expect(
      parsePegasusScenario(
        {
          ...doc,
          tables: [
            {name: 'temp', app_id: 5, partitions: 4},
            {name: 'temp', app_id: 2, partitions: 4, dropped: true},
          ],
        },
        'ok.yaml',
      ).tables,
    ).toHaveLength(2)
  })
})

describe('dropped tables', () => {
  it('last_drops lists the secondaries first and the primary last, as CT_DROP_PARTITION leaves them', async () => {
    const l = await lab([{name: 'old', partitions: 1, replicas: 3, rows: 5, dropped: true}])
    const [r1, r2, r3] = l.layout.replica_servers.map((r) => r.address)
    const c = await connectZk({hosts: zk})
    try {
      const pc = JSON.parse((await c.get(`${l.layout.cluster_root}/apps/1/0`)).data.toString()) as {
        last_drops: string[]
        hp_last_drops: string[]
        primary: string
      }
      // Partition 1.0 was placed on replica1 (primary), replica2, replica3.
      expect(pc.last_drops).toEqual([r2, r3, r1])
      expect(pc.hp_last_drops).toEqual([r2, r3, r1])
      expect(pc.primary).toBe('invalid address')
    } finally {
      await c.close()
    }
  })
})

describe('lab fault ddd', () => {
  it('says when the guardian cures the partition by itself instead of reporting DDD', async () => {
    const l = await lab([{name: 'temp', partitions: 8, replicas: 3, rows: 8000}], {replica_servers: 5})
    // Both last drops alive and consistent: the guardian assigns the larger ballot itself.
    const healed = await l.fault({type: 'ddd', gpids: ['1.5']})
    expect(healed).toMatch(/^1\.5 is not DDD: the guardian assigned primary 127\.0\.0\.1:\d+ by itself$/)
    expect(l.leader()?.partition('1.5')?.hp_primary).not.toBe('')
    // The meta's committed decree ahead of both: DDD.
    expect(await l.fault({type: 'ddd', gpids: ['1.0'], config_lcd: 5000})).toBe('1.0 is in DDD')
  })
})

describe('meta HTTP', () => {
  it('/meta/* answer 400 to an argument they do not take, and 200 to the ones they do', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    const status = async (path: string): Promise<number> =>
      (await fetch(`http://${l.layout.meta_servers[0].address}${path}`)).status
    expect(await status('/meta/apps?detail')).toBe(200)
    expect(await status('/meta/nodes?detail')).toBe(200)
    expect(await status('/meta/cluster')).toBe(200)
    expect(await status('/meta/apps?details')).toBe(400)
    expect(await status('/meta/nodes?detail&x=1')).toBe(400)
    expect(await status('/meta/cluster?detail')).toBe(400)
  })
})
