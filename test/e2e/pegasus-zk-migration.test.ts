// PegasusZkMigration end to end (issue 7), through the CLI against a lab with two ZooKeepers (the
// suite's, given with --zk, and a second one the lab starts), using the specs `lab up` writes:
// a target root that is not empty stops the plan with an error naming what is there; the copy
// method and the recovery method each move the metadata to the second ZooKeeper, the lab's meta
// playing the operator at the manual steps, and every row is readable afterwards.
// (The kill -9 resume of the copy is in test/pegasus/zk-migration/cli.test.ts.)
import {copyFileSync, rmSync} from 'node:fs'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {connectZk, readTree, removeTree} from '../../src/zk/index.js'
import {expectExit, labUp, readPlan, tempDir, writeScenario, type Lab} from './helpers.js'

const zk = inject('zookeeper')
const NAME = `e2e_zkm_${process.pid}_${Date.now() % 100000}`
const ROWS = 10000
const scenarioDirs: string[] = []
afterAll(() => {
  for (const d of scenarioDirs) rmSync(d, {recursive: true, force: true})
})

interface Target {
  hosts: string
  root: string
}

/** A lab of the shape (1 meta, 3 replica servers, 10,000 rows) with a second ZooKeeper. */
async function migrationLab(name: string): Promise<{lab: Lab; target: Target}> {
  const dir = tempDir('lifeboat-e2e-scenario-')
  scenarioDirs.push(dir)
  const scenario = writeScenario(dir, name, {
    engine: 'pegasus',
    name,
    replica_servers: 3,
    zookeepers: 2,
    tables: [{name: 'temp', partitions: 8, replicas: 3, rows: ROWS}],
  })
  const lab = await labUp(scenario, {zk})
  const target = (lab.endpoints as typeof lab.endpoints & {migration_target: Target}).migration_target
  return {lab, target}
}

/** Text with every run of whitespace made one space: the terminal rendering wraps long lines. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ')
}

/** `lab verify` until every row is found (replicas take their roles at their next config sync). */
async function rowsFound(lab: Lab): Promise<{found: number; total: number}> {
  let v = await lab.verify()
  for (let i = 0; i < 40 && v.found < v.total; i++) {
    await new Promise((r) => setTimeout(r, 250))
    v = await lab.verify()
  }
  return v
}

/** The tree under `root` as {relative path: data}, ephemeral nodes included. */
async function relTree(hosts: string, root: string): Promise<Map<string, string>> {
  const client = await connectZk({hosts})
  try {
    if (!(await client.exists(root))) return new Map()
    const entries = await readTree(client, root, {includeEphemeral: true})
    return new Map(entries.map((e) => [e.path.slice(root.length) || '/', e.data.toString('utf8')]))
  } finally {
    await client.close()
  }
}

describe('copy method through the CLI, and a target that is not empty', () => {
  let lab: Lab
  let target: Target

  beforeAll(async () => {
    ;({lab, target} = await migrationLab(`${NAME}_copy`))
  })
  afterAll(async () => {
    await lab?.down()
  })

  it('a target root that is not empty stops the plan (exit 1) with an error that names what is there; nothing is written', async () => {
    const client = await connectZk({hosts: target.hosts})
    try {
      await client.mkdirp(`${target.root}/apps/7/0`)
      await client.mkdirp(`${target.root}/backup`)
      const before = await relTree(target.hosts, target.root)
      for (const method of ['copy', 'recovery']) {
        const planned = expectExit(
          await lab.cli([
            'plan',
            lab.endpoints.specs[`pegasus-zk-migration-${method}`]!,
            '--out',
            `busy-${method}.json`,
          ]),
          1,
        )
        const what = `the target root ${target.root} on ${target.hosts} is not empty: it holds 4 nodes under it: apps (3 nodes), backup (1 node)`
        expect(squash(planned.stdout)).toContain(what)
        expect(squash(planned.stderr)).toContain('the plan has error findings')
        expect(planned.stderr).not.toMatch(/\n\s+at /)
        const plan = readPlan(`${lab.cwd}/busy-${method}.json`)
        expect(plan.applyable).toBe(false)
        expect(plan.findings.filter((f) => f.severity === 'error').map((f) => [f.code, f.message])).toEqual([
          ['PEGASUS_ZK_TARGET_NOT_EMPTY', what],
        ])
        // apply refuses it.
        expectExit(await lab.cli(['apply', `busy-${method}.json`, '--auto-approve']), 1)
      }
      expect(await relTree(target.hosts, target.root)).toEqual(before)
      await removeTree(client, target.root)
    } finally {
      await client.close()
    }
  })

  it('copies the tree node for node, the meta restarts on the target, and every row is readable', async () => {
    // Kept beside the plan, as in a repository: the lab rewrites its own copy when the metas move.
    const spec = `${lab.cwd}/copy.yaml`
    copyFileSync(lab.endpoints.specs['pegasus-zk-migration-copy']!, spec)
    const source = lab.endpoints.zookeeper
    expectExit(await lab.cli(['plan', spec, '--out', 'copy.json']), 0)
    const plan = readPlan(`${lab.cwd}/copy.json`)
    expect(plan.applyable).toBe(true)
    expect(plan.steps.map((s) => s.id)).toEqual([
      '01-stop-follower-metas',
      '02-set-meta-level-blind',
      '03-copy-tree',
      '04-verify-copy',
      '05-switch-metas-to-target',
      '06-restore-meta-level',
      '07-verify-tables',
    ])

    // One meta: no follower to stop; the operator confirms step 01 on the command line.
    const first = expectExit(
      await lab.cli(['apply', 'copy.json', '--auto-approve', '--confirm', '01-stop-follower-metas']),
      3,
    )
    expect(first.stdout).toContain('Waiting for manual step 05-switch-metas-to-target')
    expect((await lab.status()).meta_servers[0]).toMatchObject({phase: 'serving', level: 'blind'})
    // The target holds the source's persistent nodes, data for data; only the leader's ephemeral lock node stays behind.
    const src = await relTree(source.hosts, source.root)
    const dst = await relTree(target.hosts, target.root)
    expect(dst.size).toBeGreaterThan(10)
    const leftOut = [...src.keys()].filter((p) => !dst.has(p))
    expect(leftOut).toHaveLength(1)
    expect(leftOut[0]).toMatch(/^\/dsn\.meta\.server\.leader\/LOCKNODE\d+$/)
    for (const [p, data] of dst) expect({p, data}).toEqual({p, data: src.get(p)})

    await lab.lab('fault', 'restart-meta', '--zk', target.hosts, '--root', target.root, '--no-recover')
    const done = expectExit(
      await lab.cli(['apply', 'copy.json', '--resume', '--auto-approve', '--confirm', '05-switch-metas-to-target']),
      0,
    )
    expect(done.stdout).toContain('Verified: the cluster matches the plan.')
    const status = await lab.status()
    expect(status.zookeeper).toEqual(target)
    expect(status.meta_servers[0]).toMatchObject({phase: 'serving', level: 'steady'})
    expect(await rowsFound(lab)).toMatchObject({found: ROWS, total: ROWS})
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })
})

describe('recovery method through the CLI', () => {
  let lab: Lab
  let target: Target

  beforeAll(async () => {
    ;({lab, target} = await migrationLab(`${NAME}_rec`))
  })
  afterAll(async () => {
    await lab?.down()
  })

  it('rebuilds the metadata on the target from the replica servers; every row is readable', async () => {
    const spec = `${lab.cwd}/recovery.yaml`
    copyFileSync(lab.endpoints.specs['pegasus-zk-migration-recovery']!, spec)
    expectExit(await lab.cli(['plan', spec, '--out', 'recovery.json']), 0)
    expect(readPlan(`${lab.cwd}/recovery.json`).steps.map((s) => s.id)).toEqual([
      '01-record-cluster',
      '02-restart-meta-in-recovery-mode',
      '03-start-recovery',
      '04-wait-for-nodes',
      '05-restart-metas-normal-mode',
      '06-restore-meta-level',
      '07-verify-tables',
    ])
    const first = expectExit(await lab.cli(['apply', 'recovery.json', '--auto-approve']), 3)
    expect(first.stdout).toContain('Waiting for manual step 02-restart-meta-in-recovery-mode')

    // A confirmation before the operator acted is refused with what the meta reports.
    const early = await lab.cli([
      'apply',
      'recovery.json',
      '--resume',
      '--auto-approve',
      '--confirm',
      '02-restart-meta-in-recovery-mode',
    ])
    expect(early.code).not.toBe(0)
    expect(early.code).not.toBe(3)
    expect(squash(early.stderr)).toContain(
      'manual step 02-restart-meta-in-recovery-mode was confirmed, but its effect is not there',
    )

    await lab.lab('fault', 'restart-meta', '--zk', target.hosts, '--root', target.root, '--recover')
    expect((await lab.status()).meta_servers[0]!.phase).toBe('recovering')
    const second = expectExit(
      await lab.cli([
        'apply',
        'recovery.json',
        '--resume',
        '--auto-approve',
        '--confirm',
        '02-restart-meta-in-recovery-mode',
      ]),
      3,
    )
    expect(second.stdout).toContain('Waiting for manual step 05-restart-metas-normal-mode')
    // start_recovery wrote the app on the target.
    const apps = await relTree(target.hosts, `${target.root}/apps`)
    expect(apps.get('/')).toBe('unlock')
    expect(JSON.parse(apps.get('/1')!)).toMatchObject({app_name: 'temp', partition_count: 8})

    await lab.lab('fault', 'restart-meta', '--zk', target.hosts, '--root', target.root, '--no-recover')
    const done = expectExit(
      await lab.cli([
        'apply',
        'recovery.json',
        '--resume',
        '--auto-approve',
        '--confirm',
        '05-restart-metas-normal-mode',
      ]),
      0,
    )
    expect(done.stdout).toContain('Verified: the cluster matches the plan.')
    expect((await lab.status()).zookeeper).toEqual(target)
    expect(await rowsFound(lab)).toMatchObject({found: ROWS, total: ROWS})
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })
})
