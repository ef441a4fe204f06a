/**
 * Online Unsafe Recovery on the lab, driven only through PD's HTTP API: a raw POST, then `show`
 * polled until it ends, compared with a hand computation from the scenario (see the comment at the
 * top of src/lab/scenarios/tikv-unsafe-recovery.yaml).
 */
import {afterEach, describe, expect, test} from 'vitest'

import {verifyTikvRows} from '../../../src/lab/tikv/verify.js'
import {scenarioDoc, showUntilDone, type StageOut, type TestLab, upLab, waitFor} from './helpers.js'

const URL = '/pd/api/v1/admin/unsafe/remove-failed-stores'
const labs: TestLab[] = []
afterEach(async () => {
  for (const l of labs.splice(0)) await l.close()
})

async function fastLab(name = 'tikv-unsafe-recovery', patch: Record<string, unknown> = {}): Promise<TestLab> {
  const doc = {...scenarioDoc(name), ...patch}
  doc.timing = {...doc.timing, heartbeat_ms: 50}
  const t = await upLab(doc)
  labs.push(t)
  return t
}

const T66 = '7480000000000000FF4200000000000000F8'
const T67_R251 = '7480000000000000FF435F728000000000FF0000FB0000000000FA'

describe('tikv-unsafe-recovery, stage by stage', () => {
  test('a raw POST walks the stages in order and ends Finished with the hand-computed regions and tables', async () => {
    const t = await fastLab()
    const before = await verifyTikvRows(t.lab.layout)
    expect([before.found, before.total]).toEqual([750, 3005])

    const r = await t.post(URL, {stores: [4, 5]})
    expect([r.status, r.text]).toEqual([200, '"Request has been accepted."\n'])
    // Buried at POST: the failed stores are Tombstone at once.
    const tomb = (await t.get('/pd/api/v1/stores?state=2')).json as {
      stores: {store: {id: number; state: number; state_name: string}}[]
    }
    expect(tomb.stores.map((s) => [s.store.id, s.store.state, s.store.state_name])).toEqual([
      [4, 2, 'Tombstone'],
      [5, 2, 'Tombstone'],
    ])

    const show = await showUntilDone(t)
    expect(show.map((s) => s.info)).toEqual([
      'Unsafe recovery enters collect report stage',
      'Unsafe recovery enters tombstone TiFlash learner stage',
      'Unsafe recovery enters force leader stage',
      'Unsafe recovery enters demote Failed voter stage',
      'Unsafe recovery enters create empty region stage',
      'Unsafe recovery Finished',
    ])
    for (const s of show) expect(s.time).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/)
    expect(show[0].details).toEqual(['Failed stores 4, 5'])
    expect(show[1].actions).toEqual({
      'store 6': ['tombstone the peer of region 1005', 'tombstone the peer of region 1006'],
    })
    // Every live store gets a ForceLeader plan; the ones without regions an empty one.
    expect(show[2].actions).toEqual({
      'store 1': ['force leader on regions: 1002'],
      'store 2': ['force leader on regions: 1004'],
      'store 3': ['force leader on regions: 1005'],
      'store 6': ['force leader on regions: '],
    })
    // Region 1005's TiFlash peer was tombstoned: an orphan, demoted with the failed voters.
    expect(show[3].actions).toEqual({
      'store 1': ['region 1002 demotes peers { id:1013 store_id:4 }, { id:1014 store_id:5 }'],
      'store 2': ['region 1004 demotes peers { id:1019 store_id:4 }, { id:1020 store_id:5 }'],
      'store 3': [
        'region 1005 demotes peers { id:1022 store_id:4 }, { id:1023 store_id:5 }, { id:1024 store_id:6 role:Learner }',
      ],
    })
    // One hole [t66, t67_r251) (regions 1006 and 1007): one empty region on store 1, which reported 1008 first.
    expect(show[4].actions).toEqual({
      'store 1': [
        `create region 1033: id:1033 start_key:"${T66}" end_key:"${T67_R251}" region_epoch:{ conf_ver:1 version:1 } peers:{ id:1034 store_id:1 }`,
      ],
    })
    const details = show[5].details ?? []
    expect(details).toHaveLength(3)
    const asSet = (prefix: string): string[] =>
      (details.find((d) => d.startsWith(prefix)) ?? '').slice(prefix.length).split(', ').sort()
    expect(asSet('affected meta regions: ')).toEqual(['1002'])
    expect(asSet('affected table ids: ')).toEqual(['64', '65', '66'])
    expect(asSet('newly created empty regions: ')).toEqual(['1033'])
    expect(t.lab.pd.schedulingHalted()).toBe(false)

    // PD's region cache was reset on Finished; leaders report again: the new region and the demoted learners.
    type R = {
      id: number
      start_key: string
      end_key: string
      peers: {store_id: number; role_name: string}[]
      leader: {id?: number; store_id?: number}
    }
    const regions = await waitFor('PD to know the regions again', async () => {
      const body = (await t.get('/pd/api/v1/regions')).json as {count: number; regions: R[]}
      return body.count === 7 && body.regions.every((x) => x.leader.id !== undefined) ? body.regions : undefined
    })
    const created = regions.find((x) => x.id === 1033) as R
    expect([created.start_key, created.end_key, created.peers]).toEqual([
      T66,
      T67_R251,
      [{id: 1034, store_id: 1, role_name: 'Voter'}],
    ])
    const r1002 = regions.find((x) => x.id === 1002) as R
    expect(r1002.peers.map((p) => `${p.store_id}:${p.role_name}`)).toEqual(['1:Voter', '4:Learner', '5:Learner'])

    // Rows: table 64 whole again; 65 cut at the force leader's index 406 (rows 1..400); 66 and the
    // first half of 67 gone with every replica; meta keys back.
    const after = await verifyTikvRows(t.lab.layout)
    expect(after.tables.map((x) => `${x.name}=${x.found}/${x.total}`)).toEqual([
      'users (table 64)=1000/1000',
      'orders (table 65)=400/1000',
      'items (table 66)=0/500',
      'events (table 67)=250/500',
      'meta keys=5/5',
    ])
    expect(after.note).toContain('table ids with lost rows: 65, 66, 67')
    expect(t.lab.pd.controller.history).toEqual([
      'CollectReport',
      'TombstoneTiFlashLearner',
      'ForceLeader',
      'DemoteFailedVoter',
      'CreateEmptyRegion',
      'Finished',
    ])

    // Once Finished, a new POST is accepted again (the stores are already Tombstone: validation passes).
    const again = await t.post(URL, {stores: [4, 5]})
    expect(again.status).toBe(200)
    const second = await showUntilDone(t)
    expect(second.at(-1)?.info).toBe('Unsafe recovery Finished')
  })
})

describe('while a recovery runs', () => {
  test('a second POST is refused, splits are refused, and the deadline ends it Failed through ExitForceLeader', async () => {
    const t = await fastLab()
    // auto-detect buries nothing: stores 4 and 5 stay expected reporters and never report.
    const r = await t.post(URL, {'auto-detect': true, timeout: 2, 'plan-execution-timeout': 1})
    expect(r.status).toBe(200)
    const collecting = await waitFor('the reports of the live stores', async () => {
      const s = (await t.get(`${URL}/show`)).json as StageOut[]
      return s.at(-1)?.info === 'Collecting reports from alive stores(4/6)' ? s : undefined
    })
    expect(collecting[0].details).toEqual([
      'auto detect mode with no specified Failed stores',
      'plan execution timeout 1s',
    ])
    expect(collecting.at(-1)?.details).toEqual([
      'Stores that have not dispatched plan: 4, 5',
      'Stores that have reported to PD: 1, 2, 3, 6',
      'Stores that have not reported to PD: ',
    ])
    const busy = await t.post(URL, {stores: [4, 5]})
    expect([busy.status, busy.json]).toEqual([
      500,
      '[PD:unsaferecovery:ErrUnsafeRecoveryIsRunning]unsafe recovery is running',
    ])
    expect(t.lab.pd.schedulingHalted()).toBe(true)
    await expect(t.lab.fault({type: 'split', region: 1008, table: 67, handle: 400})).rejects.toThrow(
      'scheduling is halted',
    )

    const show = await showUntilDone(t)
    expect(show.map((s) => s.info?.replace(/timeout .*/, 'timeout …'))).toEqual([
      'Unsafe recovery enters collect report stage',
      'Unsafe recovery enters exit force leader stage',
      'Unsafe recovery Failed: Exceeds timeout …',
    ])
    expect(show[1].details?.[0]).toMatch(
      /^triggered by error: Exceeds timeout \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+0000 UTC$/,
    )
    expect(show[2].details?.slice(0, 1)).toEqual(['no newly created empty regions'])
    expect(show[2].details).toContain('Stores that have not dispatched plan: 4, 5')
    expect(t.lab.pd.schedulingHalted()).toBe(false)
    // Nothing was buried in auto-detect mode.
    expect(((await t.get('/pd/api/v1/stores?state=2')).json as {count: number}).count).toBe(0)
  })

  test('abort sends the stores out of force leader and ends Failed: aborted by operator', async () => {
    const t = await fastLab()
    expect((await t.post(URL, {'auto-detect': true, 'plan-execution-timeout': 1})).status).toBe(200)
    const a = await t.post(`${URL}/abort`, '')
    expect([a.status, a.json]).toEqual([200, 'Request has been accepted.'])
    // A second abort while in ExitForceLeader is a no-op 200.
    expect((await t.post(`${URL}/abort`, '')).status).toBe(200)
    const show = await showUntilDone(t)
    expect(show.map((s) => s.info)).toEqual([
      'Unsafe recovery enters collect report stage',
      'Unsafe recovery enters exit force leader stage',
      'Unsafe recovery Failed: aborted by operator',
    ])
    expect(show[1].details).toEqual(['triggered by error: aborted by operator'])
  })

  test('a PD restart loses the recovery: show says No on-going recovery.', async () => {
    const t = await fastLab()
    expect((await t.post(URL, {'auto-detect': true})).status).toBe(200)
    expect(t.lab.pd.controller.isRunning()).toBe(true)
    const msg = await t.lab.fault({type: 'restart-pd'})
    expect(msg).toContain('lost')
    expect((await t.get(`${URL}/show`)).json).toEqual([{info: 'No on-going recovery.'}])
    expect(t.lab.pd.schedulingHalted()).toBe(false)
    // The stores heartbeat to the restarted PD on the same port.
    const before = t.lab.set.get(1)?.heartbeats ?? 0
    await waitFor('a heartbeat after the restart', () =>
      (t.lab.set.get(1)?.heartbeats ?? 0) > before + 2 ? true : undefined,
    )
  })
})

describe('a merge in flight', () => {
  test('a target holding an uncommitted CommitMerge gets its force leader first (ForceLeaderForCommitMerge) and takes the source range', async () => {
    const t = await fastLab('tikv-unsafe-recovery', {
      stores: 5,
      tiflash_stores: 0,
      tables: [{id: 70, name: 'm', rows: 100}],
      regions: [
        {start: '', voters: [1, 4, 5]},
        {start: {table: 70}, voters: [1, 4, 5]},
        {start: {table: 70, handle: 51}, voters: [1, 2, 3]},
      ],
      faults: [
        {type: 'kill-store', store: 2, down_for_seconds: 3600},
        {type: 'kill-store', store: 3, down_for_seconds: 3600},
      ],
    })
    const msg = await t.lab.fault({type: 'merge', source: 1002, target: 1003})
    expect(msg).toContain('in flight')
    expect((await t.post(URL, {stores: [2, 3]})).status).toBe(200)
    const show = await showUntilDone(t)
    expect(show.map((s) => s.info)).toEqual([
      'Unsafe recovery enters collect report stage',
      'Unsafe recovery enters force leader for commit merge stage',
      'Unsafe recovery enters demote Failed voter stage',
      'Unsafe recovery Finished',
    ])
    expect(show[1].actions?.['store 1']).toEqual(['force leader on regions: 1003'])
    expect(show.at(-1)?.details).toEqual(['affected table ids: 70', 'no newly created empty regions'])
    await waitFor('PD to show the merged region', async () => {
      const r = (await t.get('/pd/api/v1/region/id/1003')).json as {start_key?: string} | null
      return r?.start_key === '7480000000000000FF4600000000000000F8' ? true : undefined
    })
    const rows = await verifyTikvRows(t.lab.layout)
    expect([rows.found, rows.total]).toEqual([102, 102])
  })
})
