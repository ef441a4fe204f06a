/**
 * What PD shows is what the stores last told it. A split (or merge) reaches PD at once: TiKV's leader
 * sends a region heartbeat as soon as it applies the split, not at its next tick; with ticks a minute
 * apart, PD must know the new region right after the fault returns (an apply's re-check made then
 * must see it). And every region list shows the last heartbeat, not the one it was first built from.
 */
import {afterAll, beforeAll, expect, test} from 'vitest'

import {scenarioDoc, type TestLab, upLab} from './helpers.js'

let t: TestLab
type R = {
  id: number
  start_key: string
  end_key: string
  epoch: {version: number}
  down_peers?: {peer: {store_id: number}}[]
}

beforeAll(async () => {
  const doc = scenarioDoc('tikv-unsafe-recovery')
  doc.timing = {...doc.timing, heartbeat_ms: 60_000}
  t = await upLab(doc)
})
afterAll(async () => t?.close())

const region = async (id: number): Promise<R> => (await t.get(`/pd/api/v1/region/id/${id}`)).json as R

test('PD knows both halves of a split as soon as the fault returns, between heartbeats', async () => {
  const before = await region(1008)
  const msg = await t.lab.fault({type: 'split', region: 1008, table: 67, handle: 400})
  const newId = Number(/region (\d+) \[/.exec(msg)?.[1])
  const left = await region(newId)
  expect(left).toMatchObject({id: newId, start_key: before.start_key, epoch: {version: before.epoch.version + 1}})
  const right = await region(1008)
  expect(right).toMatchObject({start_key: left.end_key, end_key: before.end_key})
  expect(right.epoch.version).toBe(before.epoch.version + 1)
})

test('GET regions shows the down peers of the last heartbeat, after the list was first read without them', async () => {
  // Region 1008 (stores 1, 2, 3, led by 1) keeps its quorum when store 2 goes.
  const listed = async (): Promise<R> =>
    ((await t.get('/pd/api/v1/regions')).json as {regions: R[]}).regions.find((r) => r.id === 1008) as R
  const downOf = (r: R): number[] => (r.down_peers ?? []).map((d) => d.peer.store_id)
  expect(downOf(await listed())).toEqual([])
  await t.lab.fault({type: 'kill-store', store: 2, down_for_seconds: 3600})
  // The leaders report now rather than at their next tick, a minute away.
  t.lab.set.reportChanges()
  expect(downOf(await region(1008))).toEqual([2])
  expect(downOf(await listed())).toEqual([2])
})
