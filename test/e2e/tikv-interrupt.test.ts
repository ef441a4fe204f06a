// TiKVUnsafeRecovery end to end (issue 15): Ctrl-C while PD runs the recovery. apply stops following,
// asks PD to abort (PD's abort endpoint, which the lab's PD serves as PD master does), exits 3, and
// PD ends the round Failed "aborted by operator" after releasing its force leaders; the stores PD
// buried at the POST stay Tombstone. A real SIGINT to the real binary.
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {writeFileSync} from 'node:fs'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {httpJson} from '../../src/http/client.js'
import {BIN, expectExit, labUp, tempDir, writeScenario, type Lab} from './helpers.js'

describe('TiKVUnsafeRecovery: Ctrl-C during the recovery', () => {
  let lab: Lab
  let pd: string

  beforeAll(async () => {
    const dir = tempDir()
    // Slow heartbeats: PD advances a stage per round of store heartbeats, so the recovery runs long
    // enough to be interrupted.
    lab = await labUp(
      writeScenario(dir, 'tikv-interrupt', {
        engine: 'tikv',
        name: 'tikv-interrupt',
        stores: 5,
        tiflash_stores: 0,
        replicas: 3,
        tables: [{id: 64, name: 'users', rows: 300}],
        regions: [
          {start: '', voters: [1, 2, 3]},
          {start: {table: 64}, voters: [1, 4, 5]},
          {start: {table: 64, handle: 101}, voters: [2, 3, 4]},
        ],
        faults: [
          {type: 'kill-store', store: 4, down_for_seconds: 3600},
          {type: 'kill-store', store: 5, down_for_seconds: 3600},
        ],
        timing: {
          heartbeat_ms: 4000,
          store_disconnect_seconds: 20,
          max_store_down_time: '30m0s',
          peer_down_seconds: 600,
        },
      }),
      {cwd: dir},
    )
    pd = (lab.endpoints as unknown as {pd: string}).pd
  })

  afterAll(async () => {
    await lab?.down()
  })

  it('stops following, asks PD to abort, exits 3; PD ends the round Failed, aborted by operator', async () => {
    writeFileSync(
      join(lab.cwd, 'spec.yaml'),
      stringify({
        apiVersion: 'lifeboat/v1',
        kind: 'TiKVUnsafeRecovery',
        metadata: {name: 'interrupt'},
        cluster: {name: 'interrupt', pd: [pd]},
        recovery: {failed_stores: [4, 5], timeout_seconds: 300},
      }),
    )
    expectExit(await lab.cli(['plan', 'spec.yaml', '--out', 'plan.json']), 0)

    const child = spawn(process.execPath, [BIN, 'apply', 'plan.json', '--auto-approve'], {
      cwd: lab.cwd,
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')))
    let closed = false
    const exited = new Promise<number | null>((resolve) =>
      child.on('close', (code) => {
        closed = true
        resolve(code)
      }),
    )
    // Interrupt once PD has entered its first stage (printed by the follow step).
    for (let i = 0; i < 600 && !closed && !/enters collect report stage/.test(out); i++)
      await new Promise((r) => setTimeout(r, 100))
    expect(out).toMatch(/enters collect report stage/)
    child.kill('SIGINT')
    const code = await exited
    expect(code, out).toBe(3)
    expect(out).toMatch(/Ctrl-C: PD accepted the abort/)

    const show = (): Promise<Array<{info: string; details?: string[]}>> =>
      httpJson({server: pd, method: 'GET', path: '/pd/api/v1/admin/unsafe/remove-failed-stores/show'})
    for (let i = 0; i < 600 && !/^Unsafe recovery failed/i.test((await show()).at(-1)?.info ?? ''); i++)
      await new Promise((r) => setTimeout(r, 200))
    const entries = await show()
    expect(entries.at(-1)?.info).toMatch(/^Unsafe recovery Failed: aborted by operator/i)
    expect(entries.some((e) => /exit force leader/i.test(e.info))).toBe(true)
    const stores = await httpJson<{stores: Array<{store: {id: number; state_name: string}}>}>({
      server: pd,
      method: 'GET',
      path: '/pd/api/v1/stores?state=0&state=1&state=2',
    })
    expect(stores.stores.filter((s) => s.store.state_name === 'Tombstone').map((s) => s.store.id)).toEqual([4, 5])
  })
})
