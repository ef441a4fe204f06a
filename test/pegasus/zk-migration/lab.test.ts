// PegasusZkMigration end to end on the Pegasus lab: two real ZooKeepers, a simulated meta and
// replica servers speaking THFT. The test plays the operator (restarting the meta with another
// ZooKeeper, root and recovery flag) and counts the readable rows afterwards.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {zkMigrationEngine} from '../../../src/engines/pegasus/zk-migration/engine.js'
import {closeZkMigrationContext, openZkMigrationContext} from '../../../src/engines/pegasus/zk-migration/engine.js'
import {gatherZkMigration} from '../../../src/engines/pegasus/zk-migration/gather.js'
import {planZkMigration} from '../../../src/engines/pegasus/zk-migration/planner.js'
import {zkMigrationSteps} from '../../../src/engines/pegasus/zk-migration/steps.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import {startZooKeeper, type RunningZooKeeper} from '../../../src/lab/zookeeper/server.js'
import {connectZk, readTree, type ZkClient} from '../../../src/zk/index.js'
import {NOW, errorsOf, runSteps, scenario, specFor, startLab} from './helpers.js'

const zkA = inject('zookeeper')
let zkB: RunningZooKeeper
let b: ZkClient
const io = {env: process.env, specDir: '.', progress: () => {}}

beforeAll(async () => {
  zkB = await startZooKeeper({heap: '256m'})
  b = await connectZk({hosts: zkB.connectString})
})
afterAll(async () => {
  await b?.close()
  await zkB?.stop()
})

const TABLES = [
  {name: 'temp', partitions: 8, replicas: 3, rows: 4000},
  {name: 'stat', partitions: 4, replicas: 3, rows: 1000},
]

describe('copy method on the lab', () => {
  it('moves the whole tree, the meta runs on the target, every row is readable, the source is removed', async () => {
    const {lab, close} = await startLab(zkA, scenario(TABLES))
    try {
      const target = {hosts: zkB.connectString, root: `/pegasus/${lab.layout.cluster_name}`}
      const spec = specFor(lab, 'copy', target, true)
      const live = await gatherZkMigration(spec, io)
      expect(live.meta).toMatchObject({
        leader: lab.layout.meta_servers[0]!.address,
        level: 'steady',
        zookeeper: {hosts: zkA, root: lab.layout.cluster_root},
      })
      expect(live.source.apps.map((a) => [a.name, a.partitions])).toEqual([
        ['temp', 8],
        ['stat', 4],
      ])
      expect(live.source.ephemeral.map((e) => e.data)).toEqual([lab.layout.meta_servers[0]!.address])
      expect(live.target.exists).toBe(false)
      expect(live.nodes.map((n) => [n.status, n.replica_count])).toEqual([
        ['ALIVE', 12],
        ['ALIVE', 12],
        ['ALIVE', 12],
      ])
      const body = planZkMigration(spec, live, {now: NOW})
      expect(errorsOf(body.findings)).toEqual([])
      expect(body.steps.map((s) => s.id)).toEqual([
        '01-stop-follower-metas',
        '02-set-meta-level-blind',
        '03-copy-tree',
        '04-verify-copy',
        '05-switch-metas-to-target',
        '06-restore-meta-level',
        '07-verify-tables',
        '08-remove-source-tree',
      ])
      expect(body.changes.find((c) => c.address === `zk:${target.hosts}${target.root}`)).toMatchObject({
        action: 'create',
        after: {nodes: live.source.nodes, apps: 2, partitions: 12},
      })

      const ctx = openZkMigrationContext(spec, {env: process.env})
      const levels: string[] = []
      try {
        const skipped = await runSteps(ctx, body, async (step) => {
          if (step.id === '05-switch-metas-to-target') {
            levels.push(lab.leader()!.functionLevel() === 200 ? 'blind' : 'other')
            await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
          }
        })
        // One meta: step 01 holds already; the restarted meta starts at steady, the level it had.
        expect(skipped).toEqual(['01-stop-follower-metas', '06-restore-meta-level'])
        expect(levels).toEqual(['blind'])
        expect(errorsOf(await zkMigrationEngine.verify(ctx, body))).toEqual([])
      } finally {
        await closeZkMigrationContext(ctx)
      }
      const rows = await verifyRows(lab.leader()!.address, lab.layout.tables)
      expect(rows).toMatchObject({found: 5000, total: 5000})
      const a = await connectZk({hosts: zkA})
      try {
        expect(await a.exists(spec.cluster.zookeeper.root)).toBeNull()
      } finally {
        await a.close()
      }
    } finally {
      await close()
    }
  })

  it('a confirmation that does not match reality fails with what the meta reports', async () => {
    const {lab, close} = await startLab(zkA, scenario(TABLES.slice(1)))
    try {
      const target = {hosts: zkB.connectString, root: `/pegasus/${lab.layout.cluster_name}`}
      const spec = specFor(lab, 'copy', target)
      const body = planZkMigration(spec, await gatherZkMigration(spec, io), {now: NOW})
      const ctx = openZkMigrationContext(spec, {env: process.env})
      try {
        await runSteps(ctx, body, async () => {}, '04-verify-copy')
        const step = body.steps.find((s) => s.id === '05-switch-metas-to-target')!
        // The operator "confirms" without restarting anything.
        expect(await zkMigrationSteps[step.kind]!.isDone(ctx, step)).toBe(false)
        const findings = await zkMigrationSteps[step.kind]!.verify(ctx, step)
        expect(findings.map((f) => f.code)).toEqual(['PEGASUS_META_NOT_SWITCHED'])
        expect(findings[0]!.message).toBe(
          `meta ${lab.layout.meta_servers[0]!.address} reports zookeeper_hosts ${zkA} and zookeeper_root ${lab.layout.cluster_root}, not ${target.hosts} and ${target.root}`,
        )
      } finally {
        await closeZkMigrationContext(ctx)
      }
    } finally {
      await close()
    }
  })
})

describe('recovery method on the lab', () => {
  it('rebuilds the metadata on the target from the replica servers; nodes and rows come back', async () => {
    const {lab, close} = await startLab(zkA, scenario(TABLES))
    try {
      const target = {hosts: zkB.connectString, root: `/pegasus/${lab.layout.cluster_name}_new`}
      const spec = specFor(lab, 'recovery', target)
      const live = await gatherZkMigration(spec, io)
      const body = planZkMigration(spec, live, {now: NOW})
      expect(errorsOf(body.findings)).toEqual([])
      expect(body.steps.map((s) => s.id)).toEqual([
        '01-record-cluster',
        '02-restart-meta-in-recovery-mode',
        '03-start-recovery',
        '04-wait-for-nodes',
        '05-restart-metas-normal-mode',
        '06-restore-meta-level',
        '07-verify-tables',
      ])
      const ctx = openZkMigrationContext(spec, {env: process.env})
      const acted: string[] = []
      try {
        await runSteps(ctx, body, async (step) => {
          acted.push(step.id)
          if (step.id === '02-restart-meta-in-recovery-mode')
            await lab.restartMeta({zk: target.hosts, root: target.root, recover: true})
          if (step.id === '05-restart-metas-normal-mode')
            await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
        })
        expect(acted).toEqual(['02-restart-meta-in-recovery-mode', '05-restart-metas-normal-mode'])
        expect(errorsOf(await zkMigrationEngine.verify(ctx, body))).toEqual([])
      } finally {
        await closeZkMigrationContext(ctx)
      }
      const apps = (await readTree(b, `${target.root}/apps`)).map((e) => e.path.slice(target.root.length))
      expect(apps.filter((p) => /^\/apps\/\d+$/.test(p)).sort()).toEqual(['/apps/1', '/apps/2'])
      const rows = await verifyRows(lab.leader()!.address, lab.layout.tables)
      expect(rows).toMatchObject({found: 5000, total: 5000})
    } finally {
      await close()
    }
  })
})

describe('a target root that is not empty', () => {
  it('stops the plan with an error that names what is there', async () => {
    const {lab, close} = await startLab(zkA, scenario(TABLES.slice(1)))
    try {
      const root = `/pegasus/${lab.layout.cluster_name}_busy`
      await b.mkdirp(`${root}/apps/7/0`)
      await b.mkdirp(`${root}/backup`)
      const body = planZkMigration(
        specFor(lab, 'copy', {hosts: zkB.connectString, root}),
        await gatherZkMigration(specFor(lab, 'copy', {hosts: zkB.connectString, root}), io),
        {now: NOW},
      )
      const errors = errorsOf(body.findings)
      expect(errors.map((f) => f.code)).toEqual(['PEGASUS_ZK_TARGET_NOT_EMPTY'])
      expect(errors[0]!.message).toBe(
        `the target root ${root} on ${zkB.connectString} is not empty: it holds 4 nodes under it: apps (3 nodes), backup (1 node)`,
      )
    } finally {
      await close()
    }
  })
})
