// `lifeboat lab` with the TiKV lab, end to end through the built CLI (npm test builds first): up
// --detach, the spec it writes, verify, a raw recovery through PD's HTTP API, status, faults, down.
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {REPO, lifeboat as run, type CliResult} from '../../e2e/helpers.js'

import {waitFor} from './helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-tikvlab-cli-'))
const stateDir = join(dir, 'state')

/** `lifeboat ARGS` from the repository root (in the test worker where it can: e2e/helpers.ts). */
function lifeboat(...args: string[]): Promise<CliResult> {
  return run(args, {cwd: REPO})
}

afterAll(async () => {
  await lifeboat('lab', 'down', '--state-dir', stateDir)
  rmSync(dir, {recursive: true, force: true})
})

describe('lifeboat lab CLI (TiKV)', () => {
  it('up --detach, spec, verify, recovery over HTTP, status, faults, down', async () => {
    const up = await lifeboat('lab', 'up', 'tikv-unsafe-recovery', '--detach', '--state-dir', stateDir, '--json')
    expect(up.code, up.stderr).toBe(0)
    const out = JSON.parse(up.stdout) as {pd: string; specs: Record<string, string>; failed_stores: number[]}
    expect(out.pd).toMatch(/^127\.0\.0\.1:\d+$/)
    const spec = parse(readFileSync(out.specs['tikv-unsafe-recovery'], 'utf8')) as Record<string, unknown>
    expect(spec).toEqual({
      apiVersion: 'lifeboat/v1',
      kind: 'TiKVUnsafeRecovery',
      metadata: {name: 'tikv-unsafe-recovery-unsafe-recovery', ticket: 'LAB'},
      cluster: {name: 'lab', pd: [out.pd]},
      recovery: {failed_stores: [4, 5], timeout_seconds: 300},
    })

    const before = await lifeboat('lab', 'verify', '--state-dir', stateDir)
    expect(before.stdout).toContain('750 of 3005 found')
    expect(before.stdout).toContain('table ids with lost rows: 64, 65, 66, 67')

    const status = await lifeboat('lab', 'status', '--state-dir', stateDir)
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/store 4\s+\S+\s+TiKV\s+stopped, PD: Down/)
    expect(status.stdout).toMatch(/store 6\s+\S+\s+TiFlash running, PD: Up/)
    expect(status.stdout).toContain('unsafe recovery: none')

    const post = await fetch(`http://${out.pd}/pd/api/v1/admin/unsafe/remove-failed-stores`, {
      method: 'POST',
      body: JSON.stringify({stores: out.failed_stores}),
    })
    expect(post.status).toBe(200)
    await waitFor(
      'Finished',
      async () => {
        const show = (await (
          await fetch(`http://${out.pd}/pd/api/v1/admin/unsafe/remove-failed-stores/show`)
        ).json()) as {info: string}[]
        return show.at(-1)?.info === 'Unsafe recovery Finished' ? true : undefined
      },
      60_000,
    )
    const after = await waitFor(
      'rows readable again',
      async () => {
        const v = await lifeboat('lab', 'verify', '--state-dir', stateDir)
        return v.stdout.includes('1655 of 3005 found') ? v : undefined
      },
      60_000,
    )
    expect(after.stdout).toContain('table ids with lost rows: 65, 66, 67')
    const done = await lifeboat('lab', 'status', '--state-dir', stateDir)
    expect(done.stdout).toContain('unsafe recovery: Finished')
    expect(done.stdout).toMatch(/store 4\s+\S+\s+TiKV\s+stopped, PD: Tombstone/)

    const refused = await lifeboat('lab', 'fault', 'start-store', '4', '--state-dir', stateDir)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('store 4 is Tombstone in PD and cannot start again')
    const usage = await lifeboat('lab', 'fault', 'lag-peer', '1005', '--state-dir', stateDir)
    expect(usage.code).toBe(1)
    expect(usage.stderr).toContain('lab fault lag-peer REGION_ID STORE_ID INDEX')
    const restart = await lifeboat('lab', 'fault', 'restart-pd', '--state-dir', stateDir)
    expect(restart.code, restart.stderr).toBe(0)
    expect(restart.stdout).toContain('PD restarted')

    const down = await lifeboat('lab', 'down', '--state-dir', stateDir)
    expect(down.code, down.stderr).toBe(0)
  })
})
