// TiKVUnsafeRecovery end to end (issue 15): a lagging peer and auto-detect, on a lab of five TiKV
// stores. Region 1002 has four voters (stores 2, 1, 4, 5; store 2 leads) and its peer on store 1
// lags far behind; region 1003 sits on stores 3, 4, 5. Stores 4 and 5 fail. Both regions lose their
// quorum. The lagging peer must not become force leader: store 2 must, or rows are lost.
//
// The auto-detect story: an operator ran remove-failed-stores by hand while store 3 was also down;
// PD waited for store 3's report, the round failed on its timeout, and stores 4 and 5 were left
// Tombstone (PD buries them at once) with the regions still without a leader. lifeboat plans with auto_detect: true (Tombstone stores count as failed, nothing
// is buried) and PD's account after the apply is compared here with the plan.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {stringify} from 'yaml'

import {httpJson, httpRequest} from '../../src/http/client.js'
import {expectExit, labUp, readPlan, tempDir, writeScenario, type Lab} from './helpers.js'

interface VerifyParams {
  force_leaders: Array<{region: string; store: string; tied_with: string[]}>
  demotes: Array<{region: string; store: string; peer_stores: string[]}>
  empty_regions: unknown[]
  affected_table_ids: string[]
}
const verifyParams = (path: string): VerifyParams =>
  (readPlan(path) as unknown as {steps: Array<{kind: string; params: unknown}>}).steps.find(
    (s) => s.kind === 'tikv.verify',
  )!.params as VerifyParams
/** Polls a condition (no clock assertions): 300 tries, 200 ms apart. */
async function until(what: string, cond: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (await cond().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}
const ids = (s: string): string[] =>
  s
    .split(/[^0-9]+/)
    .filter(Boolean)
    .sort((a, b) => Number(a) - Number(b))

describe('TiKVUnsafeRecovery: a lagging peer, and auto-detect after a failed hand-run recovery', () => {
  let lab: Lab
  let pd: string
  const spec = (name: string, recovery: Record<string, unknown>): string => {
    const path = join(lab.cwd, `${name}.yaml`)
    writeFileSync(
      path,
      stringify({
        apiVersion: 'lifeboat/v1',
        kind: 'TiKVUnsafeRecovery',
        metadata: {name, ticket: 'E2E'},
        cluster: {name: 'lag', pd: [pd]},
        recovery,
      }),
    )
    return path
  }

  beforeAll(async () => {
    const dir = tempDir()
    lab = await labUp(
      writeScenario(dir, 'tikv-lagging', {
        engine: 'tikv',
        name: 'tikv-lagging',
        stores: 5,
        tiflash_stores: 0,
        replicas: 3,
        tables: [{id: 64, name: 'users', rows: 1000}],
        regions: [
          {start: '', voters: [1, 2, 3]},
          {start: {table: 64}, voters: [2, 1, 4, 5]},
          {start: {table: 64, handle: 501}, voters: [3, 4, 5]},
        ],
        faults: [
          {type: 'lag-peer', region: 1002, store: 1, index: 100},
          {type: 'kill-store', store: 4, down_for_seconds: 3600},
          {type: 'kill-store', store: 5, down_for_seconds: 3600},
        ],
        timing: {
          heartbeat_ms: 1000,
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

  it("the plan makes store 2 (PD's last leader) force leader of 1002, not the lagging store 1", async () => {
    expectExit(await lab.cli(['plan', spec('listed', {failed_stores: [4, 5]}), '--out', 'listed.json']), 0)
    const v = verifyParams(join(lab.cwd, 'listed.json'))
    expect(v.force_leaders.map((f) => `${f.region}@${f.store}`)).toEqual(['1002@2', '1003@3'])
    expect(v.force_leaders[0].tied_with).toEqual([])
  })

  it('auto-detect after a failed hand-run recovery: nothing buried, the same force leaders, no row lost', async () => {
    await lab.lab('fault', 'kill-store', '3')
    const post = await httpRequest({
      server: pd,
      method: 'POST',
      path: '/pd/api/v1/admin/unsafe/remove-failed-stores',
      body: {stores: [4, 5], timeout: 3},
    })
    expect(post.status).toBe(200)
    const show = (): Promise<Array<{info: string; actions?: Record<string, string[]>; details?: string[]}>> =>
      httpJson({server: pd, method: 'GET', path: '/pd/api/v1/admin/unsafe/remove-failed-stores/show'})
    // Past its timeout PD tries to release force leaders (exit force leader stage), which again needs
    // every store's report: store 3 comes back, and the round ends Failed.
    await until('the hand-run recovery to time out', async () =>
      (await show()).some((e) => /exit force leader/i.test(e.info)),
    )
    expect((await show()).flatMap((e) => e.details ?? []).join('\n')).toMatch(/triggered by error: Exceeds timeout/)
    await lab.lab('fault', 'start-store', '3')
    await until('the hand-run recovery to fail', async () =>
      /^Unsafe recovery failed/i.test((await show()).at(-1)?.info ?? ''),
    )
    const states = async (): Promise<Map<number, string>> =>
      new Map(
        (
          await httpJson<{stores: Array<{store: {id: number; state_name: string}}>}>({
            server: pd,
            method: 'GET',
            path: '/pd/api/v1/stores?state=0&state=1&state=2',
          })
        ).stores.map((x) => [x.store.id, x.store.state_name]),
      )
    await until('store 3 to heartbeat again', async () => (await states()).get(3) === 'Up')
    expect([(await states()).get(4), (await states()).get(5)]).toEqual(['Tombstone', 'Tombstone'])

    const auto = spec('auto', {auto_detect: true, timeout_seconds: 120})
    expectExit(await lab.cli(['plan', auto, '--out', 'auto.json']), 0)
    const plan = readPlan(join(lab.cwd, 'auto.json')) as unknown as {
      changes: Array<{address: string}>
      steps: Array<{params: Record<string, unknown>; risk: string}>
    }
    expect(plan.changes.filter((c) => c.address.startsWith('store/'))).toEqual([])
    expect(plan.steps[0].params).toEqual({stores: [], auto_detect: true, timeout_seconds: 120})
    expect(plan.steps[0].risk).toBe('disruptive')
    const v = verifyParams(join(lab.cwd, 'auto.json'))
    expect(v.force_leaders.map((f) => `${f.region}@${f.store}`)).toEqual(['1002@2', '1003@3'])

    // Not lossy: no --allow-data-loss needed.
    expectExit(await lab.cli(['apply', 'auto.json', '--auto-approve']), 0)

    const round = await show()
    expect(round.filter((e) => /collect report/.test(e.info)).at(-1)?.details).toEqual([
      'auto detect mode with no specified Failed stores',
    ])
    const last = round.at(-1)!
    expect(last.info).toMatch(/^Unsafe recovery finished/i)
    const mine = round.slice(round.map((e) => /collect report/.test(e.info)).lastIndexOf(true))
    const forced = new Map<string, string>()
    const demoted = new Map<string, string[]>()
    for (const st of mine) {
      for (const [store, lines] of Object.entries(st.actions ?? {})) {
        for (const line of lines) {
          const f = /force leader on regions:(.*)/i.exec(line)
          if (f) for (const r of ids(f[1])) forced.set(r, ids(store)[0])
          const d = /region (\d+) demotes peers(.*)/i.exec(line)
          if (d) demoted.set(d[1], [...d[2].matchAll(/store_id:(\d+)/g)].map((m) => m[1]).sort())
        }
      }
    }
    expect(forced).toEqual(new Map(v.force_leaders.map((f) => [f.region, f.store])))
    expect(demoted).toEqual(new Map(v.demotes.map((d) => [d.region, d.peer_stores])))
    expect(ids(/affected table ids:(.*)/i.exec((last.details ?? []).join('\n'))![1])).toEqual(v.affected_table_ids)
    expect(v.empty_regions).toEqual([])

    const rows = await lab.verify()
    expect(rows.total).toBeGreaterThan(0)
    expect(rows.found).toBe(rows.total)
  })
})
