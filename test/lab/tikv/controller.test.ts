/**
 * The unsafe recovery controller on its own, fed store heartbeats by hand with an injected clock:
 * plan dispatch and re-dispatch after the plan execution timeout, stale steps ignored, and the
 * force-leader choice (selectLeader) rule by rule.
 */
import {describe, expect, test} from 'vitest'

import {tableStartKey} from '../../../src/lab/tikv/keys.js'
import {
  type Peer,
  type PeerReport,
  type Region,
  Role,
  type StoreHeartbeatResponse,
} from '../../../src/lab/tikv/model.js'
import {RecoveryController, type RecoveryCluster} from '../../../src/lab/tikv/recovery.js'

function cluster(
  stores: {id: number; tiflash?: boolean; down?: boolean}[],
): RecoveryCluster & {clock: number; nextId: number} {
  const state = new Map(stores.map((s) => [s.id, {...s, removed: false}]))
  const c = {
    clock: 1_000_000,
    nextId: 5000,
    getStore: (id: number) => {
      const s = state.get(id)
      return (
        s && {
          id,
          removed: s.removed,
          physicallyDestroyed: false,
          serving: !s.removed,
          disconnected: s.down === true,
          tiflash: s.tiflash === true,
        }
      )
    },
    storeIds: () => [...state.keys()],
    allocId: () => c.nextId++,
    buryStore: (id: number) => {
      const s = state.get(id)
      if (s) s.removed = true
    },
    setHalted: () => {},
    now: () => c.clock,
    resetRegionCache: () => {},
  }
  return c
}

const peer = (id: number, store: number, role: Peer['role'] = Role.Voter): Peer => ({id, store_id: store, role})
const region = (peers: Peer[]): Region => ({
  id: 10,
  start_key: Buffer.alloc(0),
  end_key: Buffer.alloc(0),
  epoch: {conf_ver: 3, version: 1},
  peers,
})

function report(
  r: Region,
  raft: {term: number; last: number; commit: number; applied: number},
  forceLeader = false,
): PeerReport {
  return {
    raft_state: {hard_state: {term: raft.term, vote: 0, commit: raft.commit}, last_index: raft.last},
    region_state: {state: 'Normal', region: r},
    is_force_leader: forceLeader,
    has_commit_merge: false,
    applied_index: raft.applied,
  }
}

/** One heartbeat; returns the plan PD put in the response, if any. */
function beat(
  u: RecoveryController,
  store: number,
  peerReports?: PeerReport[],
  step?: number,
): StoreHeartbeatResponse['recovery_plan'] {
  const resp: StoreHeartbeatResponse = {}
  u.handleStoreHeartbeat(
    {
      store_id: store,
      capacity: 0,
      available: 0,
      used_size: 0,
      start_time_ms: 0,
      ...(peerReports ? {store_report: {peer_reports: peerReports, step: step ?? 0}} : {}),
    },
    resp,
  )
  return resp.recovery_plan
}

describe('plan dispatch', () => {
  test('a plan goes out once per store, again after the plan execution timeout; reports of another step are ignored', () => {
    const c = cluster([{id: 1}, {id: 2}, {id: 3, down: true}])
    const u = new RecoveryController(c)
    u.removeFailedStores([3], 600, false, {planExecutionTimeoutMs: 10_000})
    const first = beat(u, 1)
    expect(first).toEqual({creates: [], tombstones: [], demotes: [], force_leader: undefined, step: 1})
    expect(beat(u, 1)).toBeUndefined()
    c.clock += 10_001
    expect(beat(u, 1)?.step).toBe(1)
    // A report for the wrong step does not count.
    const r = region([peer(11, 1), peer(12, 2), peer(13, 3)])
    beat(u, 1, [report(r, {term: 6, last: 10, commit: 10, applied: 10})], 7)
    expect(u.show().at(-1)?.info).toBe('Collecting reports from alive stores(0/2)')
    beat(u, 1, [report(r, {term: 6, last: 10, commit: 10, applied: 10})], 1)
    expect(u.show().at(-1)?.details).toEqual([
      'Stores that have not dispatched plan: 2',
      'Stores that have reported to PD: 1',
      'Stores that have not reported to PD: ',
    ])
    // Region 10 keeps quorum (2 of 3): nothing to do; store 2's report finishes the round.
    beat(u, 2, [report(r, {term: 6, last: 10, commit: 10, applied: 10})], 1)
    expect(u.show().map((s) => s.info)).toEqual([
      'Unsafe recovery enters collect report stage',
      'Unsafe recovery Finished',
    ])
    expect(u.show().at(-1)?.details).toEqual(['no newly created empty regions'])
  })

  test('a heartbeat from a failed store fails the recovery through ExitForceLeader', () => {
    const c = cluster([{id: 1}, {id: 2, down: true}])
    const u = new RecoveryController(c)
    u.removeFailedStores([2], 600, false)
    beat(u, 2)
    expect(u.show()[1]).toMatchObject({
      info: 'Unsafe recovery enters exit force leader stage',
      details: ['triggered by error: Receive heartbeat from Failed store 2'],
    })
  })
})

describe('selectLeader, rule by rule', () => {
  /** Stores 1 and 2 hold the two survivors of region 10 (voters on 1, 2, 3, 4, 5; 3, 4 and 5 failed). */
  function forceLeaderStore(
    a: {term: number; last: number; commit: number; applied: number},
    b: typeof a,
    opts: {tiflash2?: boolean; learner1?: boolean} = {},
  ): number {
    const c = cluster([
      {id: 1},
      {id: 2, tiflash: opts.tiflash2},
      {id: 3, down: true},
      {id: 4, down: true},
      {id: 5, down: true},
    ])
    const u = new RecoveryController(c)
    u.removeFailedStores([3, 4, 5], 600, false)
    const r: Region = {
      ...region([
        peer(11, 1, opts.learner1 ? Role.Learner : Role.Voter),
        peer(12, 2, opts.tiflash2 ? Role.Learner : Role.Voter),
        peer(13, 3),
        peer(14, 4),
        peer(15, 5),
      ]),
      start_key: tableStartKey(64),
    }
    beat(u, 1)
    beat(u, 2)
    beat(u, 1, [report(r, a)], 1)
    beat(u, 2, [report(r, b)], 1)
    const out = u.show()
    const stage = out.find((s) => s.info?.includes('force leader stage') || s.info?.includes('tombstone TiFlash'))
    if (stage?.info?.includes('TiFlash')) return -2
    const store = Object.entries(stage?.actions ?? {}).find(([, v]) => v[0] !== 'force leader on regions: ')?.[0]
    return Number(store?.slice('store '.length))
  }
  const base = {term: 6, last: 100, commit: 90, applied: 90}

  test('a higher term wins over a longer log', () => {
    expect(forceLeaderStore({...base, term: 7}, {...base, last: 200, applied: 200})).toBe(1)
  })
  test('then max(last, applied): an applied index past the last index counts', () => {
    expect(forceLeaderStore({...base, last: 100, applied: 150, commit: 150}, {...base, last: 120})).toBe(1)
  })
  test('then the last index, then the commit index', () => {
    expect(forceLeaderStore({...base, last: 100, applied: 100}, {...base, last: 101, applied: 90})).toBe(2)
    expect(forceLeaderStore({...base, commit: 95}, base)).toBe(1)
  })
  test('then TiKV over TiFlash, voter over learner; a TiFlash winner is tombstoned instead', () => {
    expect(forceLeaderStore(base, base, {learner1: true})).toBe(2)
    expect(forceLeaderStore(base, base, {tiflash2: true})).toBe(1)
    expect(forceLeaderStore(base, {...base, last: 300}, {tiflash2: true})).toBe(-2)
  })
})
