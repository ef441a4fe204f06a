// `lifeboat lab` with the OpenMLDB lab, end to end through the built CLI (npm test builds first):
// up --detach, verify, a tablet killed under auto_failover and found again, status, a usage
// error, down.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, inject, it} from 'vitest'
import {parse} from 'yaml'

import {REPO, lifeboat as run, type CliResult} from '../../e2e/helpers.js'

import {until} from './helpers.js'

const zk = inject('zookeeper')
const dir = mkdtempSync(join(tmpdir(), 'lifeboat-omlab-cli-'))
const stateDir = join(dir, 'state')

/** `lifeboat ARGS` from the repository root (in the test worker where it can: e2e/helpers.ts). */
function lifeboat(...args: string[]): Promise<CliResult> {
  return run(args, {cwd: REPO})
}

afterAll(async () => {
  await lifeboat('lab', 'down', '--state-dir', stateDir)
  rmSync(dir, {recursive: true, force: true})
})

describe('lifeboat lab CLI (OpenMLDB)', () => {
  // Limits for a hung run, not budgets: every step is a CLI start, seconds each on a loaded machine.
  it('up --detach, verify, kill-tablet under auto_failover, status, down', async () => {
    const file = join(dir, `omcli${process.pid}.yaml`)
    writeFileSync(
      file,
      [
        'engine: openmldb',
        'tablets: 3',
        'auto_failover: true',
        'settings: {tablet_heartbeat_timeout_ms: 300, task_ms: 5}',
        'tables:',
        '  - {name: orders, db: shop, partitions: 4, replicas: 3, rows: 300}',
        '',
      ].join('\n'),
    )
    const up = await lifeboat('lab', 'up', file, '--detach', '--state-dir', stateDir, '--zk', zk, '--json')
    expect(up.code, up.stderr).toBe(0)
    const out = JSON.parse(up.stdout) as {
      zookeeper: {hosts: string; root: string}
      tablets: string[]
      nameservers: string[]
      specs: Record<string, string>
    }
    // The scenario names no zk_root: the lab takes one of its own.
    expect(out.zookeeper.hosts).toBe(zk)
    expect(out.zookeeper.root).toMatch(new RegExp(`^/openmldb/omcli${process.pid}-[0-9a-f]{8}$`))
    expect(out.tablets).toHaveLength(3)
    expect(out.nameservers).toHaveLength(2)
    const spec = parse(readFileSync(out.specs[`omcli${process.pid}-recover`], 'utf8')) as Record<string, unknown>
    expect(spec).toEqual({
      apiVersion: 'lifeboat/v1',
      kind: 'OpenMLDBRecovery',
      metadata: {name: `omcli${process.pid}-recover`},
      cluster: {name: `omcli${process.pid}`, zookeeper: {hosts: zk, root: out.zookeeper.root}},
      recovery: {auto_failover: true, tables: 'all'},
    })

    const verify = await lifeboat('lab', 'verify', '--state-dir', stateDir)
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toContain('300 of 300 found')

    const kill = await lifeboat('lab', 'fault', 'kill-tablet', 'tablet1', '--state-dir', stateDir)
    expect(kill.code, kill.stderr).toBe(0)
    expect(kill.stdout).toContain('killed tablet tablet1')
    // auto_failover moves leadership off tablet1: every row readable again.
    await until(
      'rows found after failover',
      async () => {
        const v = await lifeboat('lab', 'verify', '--state-dir', stateDir)
        return v.stdout.includes('300 of 300 found') ? true : undefined
      },
      300_000,
    )
    const status = await lifeboat('lab', 'status', '--state-dir', stateDir)
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/tablet1\s+\S+\s+killed/)
    expect(status.stdout).toMatch(/ns1\s+\S+\s+leader/)

    const bad = await lifeboat('lab', 'fault', 'lag', 'orders', '5', '--state-dir', stateDir)
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('is not [DB.]TABLE/PID@TABLET')

    const down = await lifeboat('lab', 'down', '--state-dir', stateDir)
    expect(down.code, down.stderr).toBe(0)
  })
})
