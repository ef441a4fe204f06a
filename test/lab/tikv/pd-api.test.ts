/**
 * PD's HTTP API on the tikv-unsafe-recovery lab: bodies, statuses and messages as reference §6/§8
 * give them (stores, regions, schedule config, members, and remove-failed-stores' refusals).
 */
import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {scenarioDoc, type TestLab, upLab, waitFor} from './helpers.js'

let t: TestLab
const API = '/pd/api/v1'

beforeAll(async () => {
  const doc = scenarioDoc('tikv-unsafe-recovery')
  doc.timing = {...doc.timing, heartbeat_ms: 50, store_disconnect_seconds: 1}
  t = await upLab(doc)
  // Every live store has heartbeated once.
  await waitFor('heartbeats', () =>
    [...t.lab.set.stores.values()].every((s) => !s.alive || s.heartbeats > 0) ? true : undefined,
  )
  // The leaders have reported the peers on the killed stores (the boot faults come after the first heartbeat).
  await waitFor('down peers reported', async () => {
    const r = (await t.get(`${API}/region/id/1003`)).json as {down_peers?: unknown[]}
    return r.down_peers?.length ? true : undefined
  })
})
afterAll(async () => t?.close())

type StoreInfo = {store: Record<string, unknown>; status: Record<string, unknown>}

describe('stores', () => {
  test('GET stores: Up and Offline by default, state_name derived, zero fields omitted, sizes as strings, heartbeats in unix ns', async () => {
    const r = await t.get(`${API}/stores`)
    expect(r.status).toBe(200)
    expect(r.text.endsWith('}\n')).toBe(true)
    const body = r.json as {count: number; stores: StoreInfo[]}
    expect(body.count).toBe(6)
    const names = Object.fromEntries(body.stores.map((s) => [s.store.id as number, s.store.state_name]))
    expect(names).toEqual({1: 'Up', 2: 'Up', 3: 'Up', 4: 'Down', 5: 'Down', 6: 'Up'})
    const one = body.stores[0]
    expect(one.store.state).toBeUndefined()
    expect(one.store.node_state).toBe(1)
    expect(typeof one.store.last_heartbeat).toBe('bigint')
    expect(one.store.last_heartbeat as bigint).toBeGreaterThan(BigInt(Date.now() - 60_000) * 1_000_000n)
    expect(one.status.capacity).toBe('500GiB')
    expect(one.status.used_size).toMatch(/^\d+(\.\d+)?(B|KiB|MiB)$/)
    expect(one.status.start_ts).toMatch(/^\d{4}-\d\d-\d\dT/)
    const tiflash = body.stores.find((s) => s.store.id === 6) as StoreInfo
    expect(tiflash.store.labels).toEqual([{key: 'engine', value: 'tiflash'}])
    expect(tiflash.status.learner_count).toBe(2)
    expect(Object.keys(one.store)).toEqual([
      'id',
      'address',
      'version',
      'peer_address',
      'status_address',
      'git_hash',
      'start_timestamp',
      'deploy_path',
      'last_heartbeat',
      'node_state',
      'state_name',
    ])
  })

  test('numeric state filters, stores/check by name, store/{id}', async () => {
    expect(((await t.get(`${API}/stores?state=2`)).json as {count: number}).count).toBe(0)
    expect(((await t.get(`${API}/stores?state=0&state=1&state=2`)).json as {count: number}).count).toBe(6)
    const bad = await t.get(`${API}/stores?state=up`)
    expect(bad.status).toBe(400)
    expect(bad.json).toBe('strconv.Atoi: parsing "up": invalid syntax')
    const down = (await t.get(`${API}/stores/check?state=DOWN`)).json as {stores: StoreInfo[]}
    expect(down.stores.map((s) => s.store.id)).toEqual([4, 5])
    const one = await t.get(`${API}/store/3`)
    expect((one.json as StoreInfo).store.id).toBe(3)
    const missing = await t.get(`${API}/store/99`)
    expect(missing.status).toBe(404)
    expect(missing.json).toBe('[PD:core:ErrStoreNotFound]store 99 not found')
  })
})

describe('regions', () => {
  type R = {
    id: number
    start_key: string
    end_key: string
    epoch: Record<string, number>
    peers: {id: number; store_id: number; role?: number; role_name: string; is_learner?: boolean}[]
    leader: Record<string, unknown>
    down_peers?: unknown[]
  }

  test('GET regions: upper-case hex keys, epochs, role_name, leader, down peers', async () => {
    const r = await t.get(`${API}/regions`)
    const body = r.json as {count: number; regions: R[]}
    expect(body.count).toBe(8)
    const byId = new Map(body.regions.map((x) => [x.id, x]))
    const r1003 = byId.get(1003) as R
    expect(r1003.start_key).toBe('7480000000000000FF4000000000000000F8')
    expect(r1003.end_key).toBe('7480000000000000FF405F728000000000FF0001F50000000000FA')
    expect(r1003.leader).toMatchObject({store_id: 1, role_name: 'Voter'})
    expect(r1003.down_peers).toEqual([
      {peer: {id: r1003.peers[2].id, store_id: 4, role_name: 'Voter'}, down_seconds: expect.any(Number)},
    ])
    const learner = (byId.get(1005) as R).peers.find((p) => p.store_id === 6)
    expect(learner).toEqual({id: learner?.id, store_id: 6, role: 1, role_name: 'Learner', is_learner: true})
    expect((byId.get(1001) as R).start_key).toBe('')
    expect((byId.get(1008) as R).end_key).toBe('')
  })

  test("the hand-written region JSON is the generic writer's, key for key", async () => {
    const pd = t.lab.pd as unknown as {
      regionJson(r: unknown): string
      regionJsonGeneric(r: unknown): string
      getRegion(id: number): unknown
    }
    for (const id of [1001, 1003, 1005, 1008]) {
      const r = pd.getRegion(id)
      expect(pd.regionJson(r)).toBe(pd.regionJsonGeneric(r))
    }
  })

  test('region/id: an unknown id is 200 null, id 0 is 400', async () => {
    const r = await t.get(`${API}/region/id/1004`)
    expect((r.json as R).id).toBe(1004)
    const unknown = await t.get(`${API}/region/id/424242`)
    expect([unknown.status, unknown.text]).toEqual([200, 'null'])
    expect((await t.get(`${API}/region/id/0`)).status).toBe(400)
  })

  test('regions/key pages by key and limit (raw and hex), regions/store, regions/check', async () => {
    const first = (await t.get(`${API}/regions/key?key=&limit=3`)).json as {count: number; regions: R[]}
    expect(first.regions.map((r) => r.id)).toEqual([1001, 1002, 1003])
    const next = (await t.get(`${API}/regions/key?format=hex&key=${first.regions[2].end_key}&limit=2`)).json as {
      regions: R[]
    }
    expect(next.regions.map((r) => r.id)).toEqual([1004, 1005])
    // A key inside a region returns that region first.
    const inside = (await t.get(`${API}/regions/key?format=hex&key=7480000000000000FF4000000000000000F9&limit=1`))
      .json as {regions: R[]}
    expect(inside.regions.map((r) => r.id)).toEqual([1003])
    const bounded = (
      await t.get(`${API}/regions/key?format=hex&key=&end_key=7480000000000000FF4000000000000000F8&limit=0`)
    ).json as {regions: R[]}
    expect(bounded.regions.map((r) => r.id)).toEqual([1001, 1002])
    const on6 = (await t.get(`${API}/regions/store/6`)).json as {regions: R[]}
    expect(on6.regions.map((r) => r.id)).toEqual([1005, 1006])
    const learners = (await t.get(`${API}/regions/check/learner-peer`)).json as {regions: R[]}
    expect(learners.regions.map((r) => r.id)).toEqual([1005, 1006])
    const miss = (await t.get(`${API}/regions/check/miss-peer`)).json as {regions: R[]}
    expect(miss.regions.map((r) => r.id)).toEqual([1006, 1007])
    const down = (await t.get(`${API}/regions/check/down-peer`)).json as {regions: R[]}
    expect(down.regions.map((r) => r.id)).toEqual([1003])
    expect((await t.get(`${API}/regions/check/nonsense`)).status).toBe(400)
  })
})

describe('schedule config, members, health, version', () => {
  test('config/schedule: string booleans, halt-scheduling, Go json refusals', async () => {
    const cfg = (await t.get(`${API}/config/schedule`)).json as Record<string, unknown>
    expect(cfg['enable-remove-down-replica']).toBe('true')
    expect(cfg['max-store-down-time']).toBe('30m0s')
    expect(cfg['leader-schedule-limit']).toBe(4)
    expect('halt-scheduling' in cfg).toBe(false)
    const ok = await t.post(`${API}/config/schedule`, {'halt-scheduling': 'true', 'leader-schedule-limit': 8})
    expect([ok.status, ok.json]).toEqual([200, 'The config is updated.'])
    const after = (await t.get(`${API}/config/schedule`)).json as Record<string, unknown>
    expect([after['halt-scheduling'], after['leader-schedule-limit']]).toEqual(['true', 8])
    expect(t.lab.pd.schedulingHalted()).toBe(true)
    const unquoted = await t.post(`${API}/config/schedule`, {'halt-scheduling': false})
    expect([unquoted.status, unquoted.json]).toEqual([
      400,
      'json: invalid use of ,string struct tag, trying to unmarshal unquoted value into bool',
    ])
    const frac = await t.post(`${API}/config/schedule`, {'region-schedule-limit': 1.5})
    expect(frac.status).toBe(400)
    expect(frac.json).toBe(
      'json: cannot unmarshal number 1.5 into Go struct field ScheduleConfig.region-schedule-limit of type uint64',
    )
    expect((await t.post(`${API}/config/schedule`, '{oops')).status).toBe(400)
    await t.post(`${API}/config/schedule`, {'halt-scheduling': 'false', 'leader-schedule-limit': 4})
    expect(t.lab.pd.schedulingHalted()).toBe(false)
  })

  test('members, health, version, cluster', async () => {
    const m = (await t.get(`${API}/members`)).json as {
      header: {cluster_id: bigint}
      members: {client_urls: string[]}[]
      leader: {name: string}
    }
    expect(m.header.cluster_id).toBe(7_412_345_678_901_234_567n)
    expect(m.members[0].client_urls).toEqual([`http://${t.lab.layout.pd}`])
    expect(m.leader.name).toBe('pd-lab-0')
    expect(((await t.get(`${API}/health`)).json as {health: boolean}[])[0].health).toBe(true)
    expect((await t.get(`${API}/version`)).json).toEqual({version: 'v8.5.0'})
    expect(((await t.get(`${API}/cluster`)).json as {id: bigint}).id).toBe(7_412_345_678_901_234_567n)
  })
})

describe('remove-failed-stores refusals (nothing starts)', () => {
  const url = `${API}/admin/unsafe/remove-failed-stores`
  test.each([
    ['missing stores', {}, 400, 'Store ids are invalid'],
    ['stores as strings', {stores: ['4']}, 400, 'Store ids are invalid'],
    ['auto-detect false without stores', {'auto-detect': false}, 400, 'Store ids are invalid'],
    ['a negative timeout', {stores: [4], timeout: -1}, 400, 'timeout is invalid'],
    ['a fractional timeout', {stores: [4], timeout: 1.5}, 400, 'timeout is invalid'],
    ['a string timeout', {stores: [4], timeout: '300'}, 400, 'timeout is invalid'],
    [
      'both plan-execution-timeout spellings',
      {stores: [4], 'plan-execution-timeout': 5, plan_execution_timeout: 5},
      400,
      'plan-execution-timeout is specified multiple times',
    ],
    [
      'a non-boolean disable-paranoid-check',
      {stores: [4], 'disable-paranoid-check': 'yes'},
      400,
      'disable-paranoid-check is invalid',
    ],
    [
      'an empty store list',
      {stores: []},
      500,
      '[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input no store specified',
    ],
    [
      'an unknown store',
      {stores: [4, 42]},
      500,
      "[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store 42 doesn't exist",
    ],
    [
      'an Up store',
      {stores: [2]},
      500,
      '[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store 2 is up and connected',
    ],
  ])('%s', async (_what, body, status, message) => {
    const r = await t.post(url, body)
    expect([r.status, r.json]).toEqual([status, message])
    expect(r.text).toBe(`${JSON.stringify(message)}\n`)
    expect(t.lab.pd.controller.isRunning()).toBe(false)
    expect((await t.get(`${url}/show`)).json).toEqual([{info: 'No on-going recovery.'}])
  })

  test('malformed JSON is 400; abort with nothing running is 400', async () => {
    const r = await t.post(url, '<html>')
    expect([r.status, r.json]).toEqual([400, "invalid character '<' looking for beginning of value"])
    const a = await t.post(`${url}/abort`, '')
    expect([a.status, a.json]).toEqual([
      400,
      '[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input no ongoing unsafe recovery',
    ])
  })
})

describe('an Offline store (pd-ctl store delete)', () => {
  test('DELETE store/{id} makes it Offline; remove-failed-stores accepts an Offline store; a uint64 id is exact', async () => {
    const big = await t.post(`${API}/admin/unsafe/remove-failed-stores`, '{"stores":[18446744073709551615]}')
    expect([big.status, big.json]).toEqual([
      500,
      "[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store 18446744073709551615 doesn't exist",
    ])
    const del = await fetch(`http://${t.lab.layout.pd}${API}/store/2`, {method: 'DELETE'})
    expect([del.status, await del.text()]).toEqual([200, '"The store is set as Offline."\n'])
    const s = ((await t.get(`${API}/store/2`)).json as StoreInfo).store
    expect([s.state, s.node_state, s.state_name]).toEqual([1, 2, 'Offline'])
    expect(((await t.get(`${API}/stores`)).json as {count: number}).count).toBe(6)
    const r = await t.post(`${API}/admin/unsafe/remove-failed-stores`, {stores: [2]})
    expect([r.status, r.json]).toEqual([200, 'Request has been accepted.'])
  })
})
