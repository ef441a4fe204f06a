// `lifeboat lab` end to end through the built CLI (npm test builds first): up --detach on the
// issue's scenario, verify, a fault, status, down; and the messages when no lab runs.
import {execFile} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {afterAll, describe, expect, inject, it} from 'vitest'
import {parse} from 'yaml'

import {loadScenario, type PegasusScenario} from '../../../src/lab/scenario.js'
import {processAlive} from '../../../src/lab/state.js'

const run = promisify(execFile)
const zk = inject('zookeeper')
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-cli-'))

async function lifeboat(...args: string[]): Promise<{code: number; stdout: string; stderr: string}> {
  try {
    const r = await run(process.execPath, ['bin/run.js', ...args], {timeout: 120_000})
    return {code: 0, stdout: r.stdout, stderr: r.stderr}
  } catch (err) {
    const e = err as {code: number; stdout: string; stderr: string}
    return {code: e.code, stdout: e.stdout, stderr: e.stderr}
  }
}

afterAll(async () => {
  await lifeboat('lab', 'down', '--state-dir', dir)
  rmSync(dir, {recursive: true, force: true})
})

describe('lifeboat lab CLI', () => {
  it('up --detach, verify prints 10000 of 10000 found, fault zk-loss, status, down', async () => {
    const scenarioFile = join(dir, 'scenario.yaml')
    writeFileSync(
      scenarioFile,
      [
        'engine: pegasus',
        'meta_servers: 1',
        'replica_servers: 3',
        'tables:',
        '  - {name: temp, partitions: 8, replicas: 3, rows: 10000}',
        '  - {name: temp, partitions: 4, replicas: 3, rows: 100, dropped: true}   # soft-deleted, same name',
        '',
      ].join('\n'),
    )
    const stateDir = join(dir, 'state')
    const up = await lifeboat('lab', 'up', scenarioFile, '--detach', '--state-dir', stateDir, '--zk', zk, '--json')
    expect(up.code, up.stderr).toBe(0)
    const out = JSON.parse(up.stdout) as {
      zookeeper: {hosts: string; root: string}
      meta_servers: string[]
      replica_servers: string[]
      specs: Record<string, string>
    }
    expect(out.zookeeper.hosts).toBe(zk)
    expect(out.replica_servers).toHaveLength(3)
    const spec = parse(readFileSync(out.specs['pegasus-meta-recovery'], 'utf8')) as Record<
      string,
      Record<string, unknown>
    >
    expect(spec).toMatchObject({
      apiVersion: 'lifeboat/v1',
      kind: 'PegasusMetaRecovery',
      cluster: {meta_servers: out.meta_servers, zookeeper: {hosts: zk, root: out.zookeeper.root}},
    })
    expect(spec.recovery.target_nodes).toEqual(out.replica_servers)
    expect(existsSync(out.specs['pegasus-ddd-recovery'])).toBe(true)

    const verify = await lifeboat('lab', 'verify', '--state-dir', stateDir)
    expect(verify.stdout).toBe('10000 of 10000 found\n')
    expect(verify.code).toBe(0)
    const vjson = await lifeboat('lab', 'verify', '--state-dir', stateDir, '--json')
    expect(JSON.parse(vjson.stdout)).toMatchObject({found: 10000, total: 10000})

    const again = await lifeboat('lab', 'up', scenarioFile, '--detach', '--state-dir', stateDir)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('is already running in')

    const loss = await lifeboat('lab', 'fault', 'zk-loss', '--state-dir', stateDir)
    expect(loss.code, loss.stderr).toBe(0)
    expect(loss.stdout).toContain('the meta waits in recovery mode on /pegasus/scenario_recovery')
    const respec = parse(readFileSync(out.specs['pegasus-meta-recovery'], 'utf8')) as {
      cluster: {zookeeper: {root: string}}
    }
    expect(respec.cluster.zookeeper.root).toBe('/pegasus/scenario_recovery')
    const lost = await lifeboat('lab', 'verify', '--state-dir', stateDir)
    expect(lost.code).toBe(1)
    expect(lost.stdout.split('\n')[0]).toBe('0 of 10000 found')

    const status = await lifeboat('lab', 'status', '--state-dir', stateDir)
    expect(status.stdout).toContain('recovering, level steady')

    const bad = await lifeboat('lab', 'fault', 'kill-node', 'replica9', '--state-dir', stateDir)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('no replica server "replica9" in this lab')

    const state = JSON.parse(readFileSync(join(stateDir, 'lab.json'), 'utf8')) as {daemon: {pid: number}}
    const down = await lifeboat('lab', 'down', '--state-dir', stateDir)
    expect(down.code).toBe(0)
    expect(processAlive(state.daemon.pid)).toBe(false)
    expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
  })

  it('says how to start a lab when none runs, and names a bad scenario', async () => {
    const none = await lifeboat('lab', 'verify', '--state-dir', join(dir, 'nothing'))
    expect(none.code).toBe(1)
    expect(none.stderr).toContain(`Error: no lab is running in ${join(dir, 'nothing')}`)
    expect(none.stderr).toContain('hint: Start one: lifeboat lab up pegasus-meta-recovery --detach')
    const missing = await lifeboat('lab', 'up', 'no-such-scenario', '--state-dir', join(dir, 'x'))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('scenario "no-such-scenario" is neither a file nor a built-in scenario')
    expect(missing.stderr).not.toContain('    at ')
  })
})

describe('scenarios', () => {
  it('every built-in scenario validates', () => {
    for (const name of ['pegasus-meta-recovery', 'pegasus-meta-recovery-lossy', 'pegasus-ddd', 'pegasus-scale']) {
      expect(loadScenario(name).builtin).toBe(name)
    }
    expect(loadScenario<PegasusScenario>('pegasus-scale').scenario.tables.reduce((n, t) => n + t.partitions, 0)).toBe(
      64000,
    )
  })

  it('rejects schema violations and impossible clusters with their location', () => {
    const f = join(dir, 'bad.yaml')
    writeFileSync(
      f,
      'engine: pegasus\nreplica_servers: 2\ntables:\n  - {name: t, partitions: 2, replicas: 3, colour: red}\n',
    )
    expect(() => loadScenario(f)).toThrowError(/does not match the lab scenario schema/)
    writeFileSync(f, 'engine: pegasus\nreplica_servers: 2\ntables:\n  - {name: t, partitions: 2, replicas: 3}\n')
    expect(() => loadScenario(f)).toThrowError(/is not a cluster Pegasus could have/)
  })
})
