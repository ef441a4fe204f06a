/** TiKV scenario validation: the built-ins load, and each kind of mistake is named with its field. */
import {describe, expect, test} from 'vitest'

import {LifeboatError} from '../../../src/errors.js'
import {tikvLab} from '../../../src/lab/tikv/index.js'
import {scenarioDoc} from './helpers.js'

function problems(doc: unknown): string {
  try {
    tikvLab.parseScenario(doc, 'x.yaml')
  } catch (e) {
    expect(e).toBeInstanceOf(LifeboatError)
    expect((e as LifeboatError).code).toBe('LAB_SCENARIO_INVALID')
    expect((e as LifeboatError).hints.join(' ')).toContain('docs/tikv-lab.md')
    return (e as LifeboatError).detail ?? ''
  }
  throw new Error('the scenario was accepted')
}

describe('TiKV scenarios', () => {
  test('the built-ins load with their defaults', () => {
    const s = tikvLab.parseScenario(scenarioDoc('tikv-unsafe-recovery'), 'x')
    expect([s.stores, s.tiflash_stores, s.replicas, s.regions?.length, s.tables.length]).toEqual([5, 1, 3, 8, 4])
    const scale = tikvLab.parseScenario(scenarioDoc('tikv-scale'), 'x')
    expect([scale.stores, scale.generate?.regions]).toEqual([100, 100000])
    expect(tikvLab.needsZooKeeper).toBe(false)
  })

  test('mistakes are named by field', () => {
    const base = {engine: 'tikv', stores: 3, tables: [{id: 1, rows: 1}], regions: [{start: '', voters: [1, 2, 3]}]}
    expect(problems({...base, stores: 0})).toContain('/stores: must be an integer >= 1')
    expect(problems({...base, regions: [{start: 'meta', voters: [1]}]})).toContain(
      '/regions/0/start: the first region starts at ""',
    )
    expect(
      problems({
        ...base,
        regions: [
          {start: '', voters: [1]},
          {start: {table: 2}, voters: [1]},
          {start: {table: 1}, voters: [2]},
        ],
      }),
    ).toContain('/regions/2/start: regions must be listed in ascending key order')
    expect(problems({...base, regions: [{start: '', voters: [1, 9]}]})).toContain(
      '/regions/0/voters: must list stores 1..3',
    )
    expect(problems({...base, tiflash_stores: 1, regions: [{start: '', voters: [4]}]})).toContain(
      'store 4 is a TiFlash store',
    )
    expect(problems({...base, regions: [{start: '', voters: [1], learners: [1]}]})).toContain(
      'a store holds at most one peer of a region',
    )
    expect(problems({...base, tables: [{id: 2}, {id: 2}]})).toContain('/tables/1/id: table 2 appears twice')
    expect(problems({...base, faults: [{type: 'explode'}]})).toContain('/faults/0/type: must be one of')
    expect(problems({...base, regions: undefined})).toContain('/regions: give the region layout')
    expect(problems({...base, colour: 'blue'})).toContain('/colour: unknown field')
  })
})
