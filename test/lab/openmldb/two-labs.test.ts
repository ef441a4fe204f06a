// Two labs of one scenario on one ZooKeeper: each picks its own root (the scenario names none), serves
// its own rows, writes its root into its specs, and removes it when it goes down. A named root stays.
import {readFileSync} from 'node:fs'

import {describe, expect, inject, it} from 'vitest'

import {parseOpenMLDBScenario} from '../../../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {connectZk, removeTree} from '../../../src/zk/index.js'
import {startLab} from './helpers.js'

const zkHosts = inject('zookeeper')

describe('OpenMLDB lab: two labs on one ZooKeeper', () => {
  it('take different roots, each serving its own rows; a root the lab picked goes with it', async () => {
    const name = `twin${process.pid}`
    const doc = {
      engine: 'openmldb',
      name,
      tablets: 2,
      tables: [{name: 't1', db: 'db1', partitions: 2, replicas: 2, rows: 60}],
      settings: {task_ms: 5, load_ms: 30, tablet_heartbeat_timeout_ms: 300, table_status_interval_ms: 100},
    }
    const s = parseOpenMLDBScenario(doc, 'twin.yaml')
    expect(s.zk_root).toBeUndefined()
    const a = await startLab(zkHosts, s)
    const b = await startLab(
      zkHosts,
      parseOpenMLDBScenario({...doc, tables: [{...doc.tables[0], rows: 40}]}, 'twin.yaml'),
    )
    const zk = await connectZk({hosts: zkHosts})
    try {
      const [ra, rb] = [a.lab.layout.zk_root, b.lab.layout.zk_root]
      expect(ra).toMatch(new RegExp(`^/openmldb/${name}-[0-9a-f]{8}$`))
      expect(rb).toMatch(new RegExp(`^/openmldb/${name}-[0-9a-f]{8}$`))
      expect(ra).not.toBe(rb)
      expect(await verifyOpenMLDBRows(a.lab.layout)).toMatchObject({found: 60, total: 60})
      expect(await verifyOpenMLDBRows(b.lab.layout)).toMatchObject({found: 40, total: 40})
      // Each lab's nameservers lead in their own root only.
      for (const x of [a, b])
        expect((await zk.getChildren(`${x.lab.layout.zk_root}/leader`)).length).toBe(x.lab.layout.nameservers.length)
      const specs = a.lab.writeSpecs()
      expect(readFileSync(specs[`${name}-recover`], 'utf8')).toContain(`    root: ${ra}\n`)
      await a.close()
      expect(await zk.exists(ra)).toBeFalsy()
      expect(await verifyOpenMLDBRows(b.lab.layout)).toMatchObject({found: 40, total: 40})
      await b.close()
      expect(await zk.exists(rb)).toBeFalsy()
      // A root the scenario names is the lab's layout root, and stays after down.
      const named = `/openmldb/${name}-named`
      const c = await startLab(zkHosts, parseOpenMLDBScenario({...doc, zk_root: named}, 'twin.yaml'))
      expect(c.lab.layout.zk_root).toBe(named)
      await c.close()
      expect(await zk.exists(named)).toBeTruthy()
      await removeTree(zk, named)
    } finally {
      await a.close().catch(() => undefined)
      await b.close().catch(() => undefined)
      await zk.close()
    }
  })
})
