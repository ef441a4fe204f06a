// A lab with two ZooKeepers (issue 7): `lab up` uses --zk for the first and starts the second,
// `lab status` shows both, the PegasusZkMigration specs it writes name the real endpoints and
// validate, `lab down` stops the second ZooKeeper too (also when the lab process was killed -9),
// and a migration target on the same ZooKeeper may not overlap the cluster root.
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, describe, expect, inject, it} from 'vitest'
import {parse} from 'yaml'

import {fourLetterWord} from '../../../src/lab/zookeeper/server.js'
import {processAlive} from '../../../src/lab/state.js'
import {connectZk} from '../../../src/zk/index.js'
import {expectExit, labUp, lifeboat, tempDir, writeScenario, type Lab} from '../../e2e/helpers.js'

const zk = inject('zookeeper')
const NAME = `twozk_${process.pid}_${Date.now() % 100000}`
const labs: Lab[] = []
const dirs: string[] = []

afterAll(async () => {
  for (const lab of labs) await lab.down().catch(() => {})
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

/** A temporary directory for scenario files, removed after the suite. */
function scenarioDir(): string {
  const d = tempDir('lifeboat-two-zk-')
  dirs.push(d)
  return d
}

interface MigrationState {
  migration: {
    source: {hosts: string; root: string}
    target: {hosts: string; root: string}
    zookeeper?: {hosts: string; pid: number}
  }
  zookeeper: {hosts: string}
  daemon: {pid: number}
}

/** lab.json, with the Pegasus lab's migration (kept under `cluster`) lifted up for the assertions. */
function labState(lab: Lab): MigrationState {
  const state = JSON.parse(readFileSync(join(lab.stateDir, 'lab.json'), 'utf8')) as Omit<
    MigrationState,
    'migration'
  > & {cluster: {migration: MigrationState['migration']}}
  return {...state, migration: state.cluster.migration}
}

describe('a lab with two ZooKeepers', () => {
  it('up with --zk starts the second; status shows both; the migration specs name both and validate; down stops it', async () => {
    const dir = scenarioDir()
    const scenario = writeScenario(dir, NAME, {
      engine: 'pegasus',
      name: NAME,
      replica_servers: 3,
      zookeepers: 2,
      tables: [{name: 'temp', partitions: 4, replicas: 3, rows: 1000}],
    })
    const lab = await labUp(scenario, {zk})
    labs.push(lab)
    const out = lab.endpoints as typeof lab.endpoints & {migration_target: {hosts: string; root: string}}
    const state = labState(lab)
    const second = state.migration.zookeeper!
    expect(out.zookeeper).toEqual({hosts: zk, root: `/pegasus/${NAME}`})
    expect(out.migration_target).toEqual({hosts: second.hosts, root: `/pegasus/${NAME}`})
    expect(second.hosts).not.toBe(zk)
    // The second ZooKeeper is real: it answers a four-letter word and is empty at the target.
    expect(await fourLetterWord(Number(second.hosts.split(':')[1]), 'srvr')).toContain('Mode: standalone')
    const client = await connectZk({hosts: second.hosts})
    try {
      expect(await client.exists(out.migration_target.root)).toBeNull()
    } finally {
      await client.close()
    }

    const status = expectExit(await lab.cli(['lab', 'status', '--state-dir', lab.stateDir]), 0)
    expect(status.stdout).toContain(`zookeeper first: ${zk} (given with --zk), the meta runs on it`)
    expect(status.stdout).toContain(`zookeeper second: ${second.hosts} (started by the lab, process ${second.pid})`)
    expect(status.stdout).toContain(`migration specs move the metadata to ${second.hosts} root /pegasus/${NAME}`)
    const json = await lab.status()
    expect(json.migration).toMatchObject({
      target: out.migration_target,
      zookeeper: {hosts: second.hosts, pid: second.pid},
    })

    for (const method of ['copy', 'recovery'] as const) {
      const path = out.specs[`pegasus-zk-migration-${method}`]!
      expect(path).toBe(join(lab.stateDir, 'specs', `pegasus-zk-migration-${method}.yaml`))
      const spec = parse(readFileSync(path, 'utf8')) as Record<string, Record<string, unknown>>
      expect(spec).toMatchObject({
        kind: 'PegasusZkMigration',
        cluster: {name: NAME, meta_servers: out.meta_servers, zookeeper: {hosts: zk, root: `/pegasus/${NAME}`}},
        migration: {method, target: {hosts: second.hosts, root: `/pegasus/${NAME}`}, remove_source_after: false},
      })
      const valid = expectExit(await lab.cli(['validate', path]), 0)
      // No warning either: the copy spec carries no recovery-only field.
      expect(valid.stdout + valid.stderr).not.toMatch(/warning/i)
    }

    // The meta moves to the second ZooKeeper: the specs now point back at the first.
    await lab.lab('fault', 'restart-meta', '--zk', second.hosts, '--root', `/pegasus/${NAME}`)
    const moved = parse(readFileSync(out.specs['pegasus-zk-migration-copy']!, 'utf8')) as {
      cluster: {zookeeper: unknown}
      migration: {target: unknown}
    }
    expect(moved.cluster.zookeeper).toEqual({hosts: second.hosts, root: `/pegasus/${NAME}`})
    expect(moved.migration.target).toEqual({hosts: zk, root: `/pegasus/${NAME}`})

    await lab.down()
    expect(processAlive(second.pid)).toBe(false)
    expect(processAlive(state.daemon.pid)).toBe(false)
  })

  it('lab down stops both ZooKeepers it started by PID after the lab process was killed -9', async () => {
    const dir = scenarioDir()
    const scenario = writeScenario(dir, `${NAME}_k`, {
      engine: 'pegasus',
      name: `${NAME}_k`,
      replica_servers: 1,
      zookeepers: 2,
      tables: [{name: 't', partitions: 2, replicas: 1, rows: 10}],
    })
    const lab = await labUp(scenario)
    labs.push(lab)
    const state = labState(lab) as MigrationState & {zookeeper: {pid: number; started_by_lab: boolean}}
    expect(state.zookeeper.started_by_lab).toBe(true)
    const pids = [state.zookeeper.pid, state.migration.zookeeper!.pid]
    expect(pids.every((p) => processAlive(p))).toBe(true)
    process.kill(state.daemon.pid, 'SIGKILL')
    for (let i = 0; i < 50 && processAlive(state.daemon.pid); i++) await new Promise((r) => setTimeout(r, 100))
    // The ZooKeepers outlive their host; lab down finds them in lab.json.
    expect(pids.every((p) => processAlive(p))).toBe(true)
    const down = expectExit(await lifeboat(['lab', 'down', '--state-dir', lab.stateDir, '--json'], {cwd: lab.cwd}), 0)
    expect((JSON.parse(down.stdout) as {pids: number[]}).pids).toEqual(expect.arrayContaining(pids))
    expect(pids.some((p) => processAlive(p))).toBe(false)
    expect(existsSync(join(lab.stateDir, 'lab.json'))).toBe(false)
    await lab.down()
  })

  it('one ZooKeeper: the target is another root on it; a root overlapping the cluster root is refused', async () => {
    const dir = scenarioDir()
    const name = `${NAME}_one`
    const bad = writeScenario(dir, 'overlap', {
      engine: 'pegasus',
      name,
      replica_servers: 1,
      migration_target: {root: `/pegasus/${name}/moved`},
      tables: [],
    })
    const refused = await lifeboat(['lab', 'up', bad, '--detach', '--zk', zk, '--state-dir', join(dir, 'bad')], {
      cwd: dir,
    })
    expectExit(refused, 1)
    expect(refused.stderr).toContain(
      `/migration_target/root: /pegasus/${name}/moved overlaps the cluster root /pegasus/${name} on the same ZooKeeper`,
    )
    expect(refused.stderr).not.toMatch(/\n\s+at /)

    const good = writeScenario(dir, name, {
      engine: 'pegasus',
      name,
      replica_servers: 1,
      migration_target: {},
      tables: [{name: 't', partitions: 2, replicas: 1, rows: 10}],
    })
    const lab = await labUp(good, {zk})
    labs.push(lab)
    const state = labState(lab)
    expect(state.migration.zookeeper).toBeUndefined()
    expect(state.migration.target).toEqual({hosts: zk, root: `/pegasus/${name}_target`})
    const spec = parse(readFileSync(lab.endpoints.specs['pegasus-zk-migration-recovery']!, 'utf8')) as {
      migration: {target: unknown}
    }
    expect(spec.migration.target).toEqual({hosts: zk, root: `/pegasus/${name}_target`})
    expectExit(await lab.cli(['validate', lab.endpoints.specs['pegasus-zk-migration-recovery']!]), 0)
    await lab.down()
  })
})
