/**
 * A split (or merge) reaches PD at once: TiKV's leader sends a region heartbeat as soon as it applies
 * the split, not at its next tick. With ticks a minute apart, PD must know the new region right after
 * the fault returns (an apply's re-check made then must see it).
 */
import {afterAll, beforeAll, expect, test} from 'vitest'

import {scenarioDoc, type TestLab, upLab} from './helpers.js'

let t: TestLab
type R = {id: number; start_key: string; end_key: string; epoch: {version: number}}

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
