// Resume that converges (issue 16 item 4), TiKV, through the real binary on one lab: apply is
// killed with SIGKILL while PD runs the unsafe recovery it accepted (remove-failed-stores finished,
// the follow step under way); the round is then aborted behind its back, so PD ends it Failed.
// `apply --resume` finds the step's effect gone (no round for these stores running or finished),
// sends remove-failed-stores again, follows the new round to its end and verifies.
import {join} from 'node:path'
import {writeFileSync} from 'node:fs'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {httpJson} from '../../src/http/client.js'
import {startCli, waitFor} from '../cli/helpers.js'
import {auditRecords, expectExit, labUp, readPlan, tempDir, writeScenario, type Lab} from './helpers.js'

let lab: Lab
let pd: string

const SHOW = '/pd/api/v1/admin/unsafe/remove-failed-stores/show'
const show = (): Promise<Array<{info: string}>> => httpJson({server: pd, method: 'GET', path: SHOW})

beforeAll(async () => {
  const dir = tempDir()
  // Slow heartbeats: PD advances a stage per round of store heartbeats, so the recovery runs long
  // enough for the kill to land while it runs.
  lab = await labUp(
    writeScenario(dir, 'tikv-resume', {
      engine: 'tikv',
      name: 'tikv-resume',
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
      timing: {heartbeat_ms: 1500, store_disconnect_seconds: 20, max_store_down_time: '30m0s', peer_down_seconds: 600},
    }),
    {cwd: dir},
  )
  pd = (lab.endpoints as unknown as {pd: string}).pd
})

afterAll(async () => {
  await lab?.down()
})

describe('TiKV: a step whose effect is gone on resume runs again', () => {
  it('remove-failed-stores, its round aborted after the run was killed, is sent again; the new round converges', async () => {
    writeFileSync(
      join(lab.cwd, 'spec.yaml'),
      stringify({
        apiVersion: 'lifeboat/v1',
        kind: 'TiKVUnsafeRecovery',
        metadata: {name: 'resume'},
        cluster: {name: 'resume', pd: [pd]},
        recovery: {failed_stores: [4, 5], timeout_seconds: 300},
      }),
    )
    expectExit(await lab.cli(['plan', 'spec.yaml', '--out', 'plan.json']), 0)
    const plan = readPlan(join(lab.cwd, 'plan.json'))
    const [remove, follow] = plan.steps
    expect(remove!.kind).toBe('tikv.remove-failed-stores')
    // Disruptive, not lossy: no region loses the last copy of its data (the runner's lossy rule is unit-tested).
    expect(remove!.risk).toBe('disruptive')

    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {cwd: lab.cwd})
    await waitFor(
      `${remove!.id} finished`,
      async () =>
        auditRecords(lab.auditLog).some((r) => r.event === 'step.finished' && r.data.step === remove!.id)
          ? true
          : undefined,
      120_000,
    )
    proc.child.kill('SIGKILL')
    expect((await proc.done).signal).toBe('SIGKILL')

    // The round is aborted behind the run's back: PD ends it Failed.
    await httpJson({server: pd, method: 'POST', path: '/pd/api/v1/admin/unsafe/remove-failed-stores/abort'})
    await waitFor('the round to end Failed', async () =>
      /^Unsafe recovery failed/i.test((await show()).at(-1)?.info ?? '') ? true : undefined,
    )

    // The dead run's lock is a lease in PD's etcd until it expires; the operator, knowing the run is dead, frees it.
    const status = JSON.parse((await lab.cli(['lock', 'status', 'spec.yaml', '--json'])).stdout) as {
      locked: boolean
      lock?: {id: string}
    }
    if (status.locked) await lab.cli(['lock', 'force-unlock', 'spec.yaml', status.lock!.id, '--force'])
    const resume = ['apply', 'plan.json', '--resume', '--auto-approve', '--lock-timeout', '90s']
    const resumed = await lab.cli(resume)
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(resumed.stdout).toContain(
      `${remove!.id}: running (done in an earlier run, but its effect is no longer there: running it again)`,
    )
    expect(resumed.stdout).toMatch(new RegExp(`${remove!.id}: done \\(ran again: PD accepted the recovery`))
    expect(resumed.stdout).toContain(`${follow!.id}: done`)
    expect(resumed.stdout).toContain('Verified: the cluster matches the plan.')
    expect((await show()).at(-1)?.info).toMatch(/^Unsafe recovery finished/i)
    const records = auditRecords(lab.auditLog)
    expect(records.filter((r) => r.data.step === remove!.id && r.data.again === true).map((r) => r.event)).toEqual([
      'step.started',
      'step.finished',
    ])
  })
})
