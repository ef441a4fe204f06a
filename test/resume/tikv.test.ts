// Resume that converges (issue 16 item 4), TiKV: the follow step, on one in-process lab (PD's HTTP
// API and stores with raft state) driven through apply's own step runner. The plan runs to its end
// (PD's round Finished); PD then restarts, and its unsafe recovery controller lives in memory only,
// so `show` no longer has the finished round. Resumed with every step recorded finished, the run
// finds both effects gone, sends remove-failed-stores again, follows the new round to Finished
// (saying that each runs again) and verifies; every row is still found. The new round has nothing
// left to do, so apply's verify does not compare its (empty) account with the plan's predictions:
// it says so in a warning and checks the stores and regions (before, it failed on the empty round).
//
// Step kinds and their onResume (src/engines/tikv/steps.ts): remove-failed-stores (recheck) also in
// test/e2e/resume-tikv.test.ts (its round aborted); follow (recheck): here; verify is trust (a
// read-only check; apply's final verify reads PD again).
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {memoryRecorder, runSteps, type RunStepsResult} from '../../src/apply/runner.js'
import type {TaskReporter} from '../../src/apply/ui.js'
import {createTiKVEngine} from '../../src/engines/tikv/engine.js'
import type {TiKVSpec} from '../../src/engines/tikv/types.js'
import {httpJson} from '../../src/http/client.js'
import {TikvLab} from '../../src/lab/tikv/cluster.js'
import {parseTikvScenario} from '../../src/lab/tikv/scenario.js'
import {verifyTikvRows} from '../../src/lab/tikv/verify.js'
import type {PlanBody} from '../../src/plan/types.js'
import {waitFor} from '../cli/helpers.js'

const engine = createTiKVEngine({pollMs: 100})
const io = {env: {}, specDir: '.', progress: () => {}}
const SHOW = '/pd/api/v1/admin/unsafe/remove-failed-stores/show'
let dir: string
let lab: TikvLab

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-resume-tikv-'))
  const scenario = parseTikvScenario(
    {
      engine: 'tikv',
      name: 'tikv-resume-follow',
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
      timing: {heartbeat_ms: 200, store_disconnect_seconds: 20, max_store_down_time: '30m0s', peer_down_seconds: 600},
    },
    'inline',
  )
  lab = await TikvLab.up(scenario, dir, () => {})
})

afterAll(async () => {
  await lab?.down()
  rmSync(dir, {recursive: true, force: true})
})

async function run(
  body: PlanBody,
  spec: TiKVSpec,
  finishedEarlier: string[],
  notes: string[],
): Promise<RunStepsResult> {
  const tasks: TaskReporter = {
    update: (id, status, note) => notes.push(`${id}: ${status}${note ? ` (${note})` : ''}`),
    pause() {},
    finish() {},
  }
  return runSteps({
    steps: body.steps,
    executors: new Map(body.steps.map((s) => [s.id, engine.steps[s.kind]])),
    ctx: await engine.connect(spec, io),
    recorder: memoryRecorder(),
    tasks,
    actor: 'test',
    finishedEarlier: new Set(finishedEarlier),
  })
}

describe('TiKV: the follow step, its finished round lost after the run, then resumed', () => {
  it('PD restarted after the round finished: resume sends remove-failed-stores again, follows the new round and converges', async () => {
    const pd = lab.layout.pd
    const spec = {
      apiVersion: 'lifeboat/v1',
      kind: 'TiKVUnsafeRecovery',
      metadata: {name: 'resume-follow'},
      cluster: {name: 'resume-follow', pd: [pd]},
      recovery: {failed_stores: [4, 5], timeout_seconds: 300},
    } as unknown as TiKVSpec
    const body = await waitFor('a plan without errors (PD sees stores 4 and 5 down)', async () => {
      const planned = engine.plan(spec, await engine.gather(spec, io), {now: '2026-01-01T00:00:00.000Z'})
      return planned.findings.some((f) => f.severity === 'error') ? undefined : planned
    })
    expect(body.steps.map((s) => s.kind)).toEqual(['tikv.remove-failed-stores', 'tikv.follow-recovery', 'tikv.verify'])
    const [remove, follow, verify] = body.steps
    const first = await run(body, spec, [], [])
    expect(first.end).toEqual({kind: 'completed'})
    const show = (): Promise<Array<{info: string}>> => httpJson({server: pd, method: 'GET', path: SHOW})
    expect((await show()).at(-1)?.info).toMatch(/^Unsafe recovery finished/i)

    await lab.fault({type: 'restart-pd'})
    const ctx = await engine.connect(spec, io)
    expect(await engine.steps[follow!.kind]!.isDone(ctx, follow!)).toBe(false)

    const notes: string[] = []
    const resumed = await run(body, spec, [remove!.id, follow!.id, verify!.id], notes)
    expect(resumed.end, notes.join('\n')).toEqual({kind: 'completed'})
    const again = 'done in an earlier run, but its effect is no longer there: running it again'
    expect(notes).toContain(`${remove!.id}: running (${again})`)
    expect(notes).toContain(`${follow!.id}: running (${again})`)
    expect(resumed.steps.map((o) => [o.id, o.status, o.again ?? false])).toEqual([
      [remove!.id, 'done', true],
      [follow!.id, 'done', true],
      [verify!.id, 'done', false],
    ])
    expect(resumed.steps[1]!.summary).toMatch(/^ran again: Unsafe recovery Finished in /)
    expect((await show()).at(-1)?.info).toMatch(/^Unsafe recovery finished/i)
    // The new round found nothing left to do: its account is not compared with the plan, the cluster is.
    const findings = await engine.verify(ctx, body)
    expect(findings.filter((f) => f.severity === 'error')).toEqual([])
    expect(findings.map((f) => f.code)).toContain('TIKV_VERIFY_ROUND_LOST')
    const rows = await verifyTikvRows(lab.layout)
    // The table's rows and the meta region's.
    expect(`${rows.found} of ${rows.total}`).toBe(`${300 + lab.layout.meta_rows} of ${300 + lab.layout.meta_rows}`)
  })
})
