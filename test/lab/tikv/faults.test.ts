/** The TiKV lab's faults: what PD shows after each, and the command-line parsing. */
import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {tikvLab} from '../../../src/lab/tikv/index.js'
import {scenarioDoc, type TestLab, upLab, waitFor} from './helpers.js'

let t: TestLab
type R = {
  id: number
  start_key: string
  end_key: string
  epoch: {version: number}
  leader: {store_id?: number}
  pending_peers?: {store_id: number}[]
}

beforeAll(async () => {
  const doc = scenarioDoc('tikv-unsafe-recovery')
  doc.timing = {...doc.timing, heartbeat_ms: 50, store_disconnect_seconds: 1}
  t = await upLab(doc)
})
afterAll(async () => t?.close())

const region = async (id: number): Promise<R> => (await t.get(`/pd/api/v1/region/id/${id}`)).json as R
const stateName = async (id: number): Promise<string> =>
  ((await t.get(`/pd/api/v1/store/${id}`)).json as {store: {state_name: string}}).store.state_name

describe('faults', () => {
  test('kill-store: Disconnected after the disconnect time, the region leader moves; start-store: Up again', async () => {
    expect((await region(1001)).leader.store_id).toBe(1)
    await t.lab.fault({type: 'kill-store', store: 1})
    await waitFor('store 1 Disconnected', async () => ((await stateName(1)) === 'Disconnected' ? true : undefined))
    // Region 1001 (stores 1,2,3) keeps a quorum: a new leader on 2 or 3 reports to PD.
    await waitFor('a new leader for 1001', async () =>
      [2, 3].includes((await region(1001)).leader.store_id ?? 0) ? true : undefined,
    )
    await t.lab.fault({type: 'start-store', store: 1})
    await waitFor('store 1 Up', async () => ((await stateName(1)) === 'Up' ? true : undefined))
  })

  test('lag-peer makes a pending peer; split through PD makes a new region; a lagging peer keeps the old range', async () => {
    await t.lab.fault({type: 'lag-peer', region: 1008, store: 3, index: 10})
    await waitFor('a pending peer on store 3', async () =>
      (await region(1008)).pending_peers?.some((p) => p.store_id === 3) ? true : undefined,
    )
    const before = await region(1008)
    const msg = await t.lab.fault({type: 'split', region: 1008, table: 67, handle: 400})
    expect(msg).toMatch(/split .* region \d+ .* stores 3 lag/)
    const newId = Number(/region (\d+) \[/.exec(msg)?.[1])
    const left = await waitFor('PD to know the new region', async () => {
      const r = await region(newId)
      return r && r.end_key === '7480000000000000FF435F728000000000FF0001900000000000FA' ? r : undefined
    })
    expect(left.start_key).toBe(before.start_key)
    const right = await waitFor('the right half', async () => {
      const r = await region(1008)
      return r.epoch.version === before.epoch.version + 1 ? r : undefined
    })
    expect(right.start_key).toBe(left.end_key)
    expect(t.lab.set.get(3)?.replicas.get(1008)?.region.epoch.version).toBe(before.epoch.version)
  })

  test('bad faults are refused with what to do', async () => {
    await expect(t.lab.fault({type: 'lag-peer', region: 1001, store: 9, index: 1})).rejects.toThrow(
      'store 9 is not in this lab',
    )
    await expect(t.lab.fault({type: 'split', region: 1002, table: 64})).rejects.toThrow(
      /no leader that can commit|not inside/,
    )
    await t.lab.fault({type: 'kill-store', store: 4})
    expect(await t.lab.fault({type: 'kill-store', store: 4})).toBe('store 4 is already stopped')
  })
})

describe('lab fault on the command line', () => {
  test('parses every fault and refuses bad arguments with the usage', () => {
    expect(tikvLab.parseFault('kill-store', ['4', '--down-for', '3600'])).toEqual({
      type: 'kill-store',
      store: 4,
      down_for_seconds: 3600,
    })
    expect(tikvLab.parseFault('start-store', ['4'])).toEqual({type: 'start-store', store: 4})
    expect(tikvLab.parseFault('lag-peer', ['1005', '3', '406'])).toEqual({
      type: 'lag-peer',
      region: 1005,
      store: 3,
      index: 406,
    })
    expect(tikvLab.parseFault('restart-pd', [])).toEqual({type: 'restart-pd'})
    expect(tikvLab.parseFault('split', ['1008', '67', '400'])).toEqual({
      type: 'split',
      region: 1008,
      table: 67,
      handle: 400,
    })
    expect(tikvLab.parseFault('merge', ['1002', '1003'])).toEqual({type: 'merge', source: 1002, target: 1003})
    expect(() => tikvLab.parseFault('kill-store', ['four'])).toThrow(
      'STORE_ID must be a non-negative integer, not "four"',
    )
    expect(() => tikvLab.parseFault('lag-peer', ['1'])).toThrow('takes 3 arguments, got 1')
    expect(() => tikvLab.parseFault('explode', [])).toThrow('the TiKV lab has no fault "explode"')
  })
})
