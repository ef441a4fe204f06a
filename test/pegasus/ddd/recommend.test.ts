// Pegasus's diagnose_recommend rule, branch by branch, including every way it yields none.
import {describe, expect, it} from 'vitest'

import {diagnoseRecommend, dropMark} from '../../../src/engines/pegasus/ddd/planner-recommend.js'
import type {DddNodeFacts, DddPartitionFacts} from '../../../src/engines/pegasus/ddd/types.js'

const A = '10.0.0.1:34801'
const B = '10.0.0.2:34801'
const C = '10.0.0.3:34801'

function node(n: string, ballot: number, lcd: number, extra: Partial<DddNodeFacts> = {}): DddNodeFacts {
  return {
    node: n,
    drop_time_ms: 0,
    is_alive: true,
    is_collected: true,
    ballot,
    last_committed_decree: lcd,
    last_prepared_decree: lcd + 1,
    ...extra,
  }
}

/** A partition whose last_drops are `drops` (the last one is the latest) and whose config committed `configLcd`. */
function partition(drops: string[], dropped: DddNodeFacts[], configLcd = 10): DddPartitionFacts {
  return {
    config: {
      pid: '1.0',
      ballot: 9,
      max_replica_count: 3,
      primary: null,
      secondaries: [],
      last_drops: drops,
      last_committed_decree: configLcd,
    },
    dropped,
    reason: '',
  }
}

const pick = (p: DddPartitionFacts): string | null => diagnoseRecommend(p).node

describe('diagnose_recommend', () => {
  it('yields none with fewer than two last_drops', () => {
    expect(pick(partition([], [node(A, 5, 20)]))).toBeNull()
    expect(pick(partition([A], [node(A, 5, 20)]))).toBeNull()
    expect(diagnoseRecommend(partition([A], [node(A, 5, 20)])).why).toMatch(/needs the last two drops/)
  })

  it('looks only at the last two drops, even when an older drop is better', () => {
    expect(pick(partition([C, A, B], [node(C, 9, 99), node(A, 5, 20), node(B, 5, 10)]))).toBe(A)
  })

  describe('both kept', () => {
    it('equal lcd: the latest when its ballot is larger or equal', () => {
      expect(pick(partition([A, B], [node(A, 5, 20), node(B, 6, 20)]))).toBe(B)
      expect(pick(partition([A, B], [node(A, 5, 20), node(B, 5, 20)]))).toBe(B)
    })

    it('equal lcd: the secondary latest when its ballot is strictly larger', () => {
      expect(pick(partition([A, B], [node(A, 7, 20), node(B, 6, 20)]))).toBe(A)
    })

    it('equal lcd exactly at the config is accepted; below it, none', () => {
      expect(pick(partition([A, B], [node(A, 5, 10), node(B, 5, 10)], 10))).toBe(B)
      expect(pick(partition([A, B], [node(A, 5, 9), node(B, 5, 9)], 10))).toBeNull()
    })

    it('the larger lcd wins regardless of ballot', () => {
      expect(pick(partition([A, B], [node(A, 9, 30), node(B, 6, 20)]))).toBe(A)
      expect(pick(partition([A, B], [node(A, 3, 30), node(B, 6, 20)]))).toBe(A)
      expect(pick(partition([A, B], [node(A, 9, 20), node(B, 6, 30)]))).toBe(B)
    })

    it('the larger lcd below the config yields none', () => {
      expect(pick(partition([A, B], [node(A, 5, 8), node(B, 6, 9)], 10))).toBeNull()
      expect(diagnoseRecommend(partition([A, B], [node(A, 5, 8), node(B, 6, 9)], 10)).why).toMatch(
        /larger last_committed\(9\) < the config's last_committed\(10\)/,
      )
    })

    it('a collected node without the replica (ballot and decrees -1) loses to one with data', () => {
      expect(pick(partition([A, B], [node(A, 5, 20), node(B, -1, -1, {last_prepared_decree: -1})]))).toBe(A)
      expect(
        diagnoseRecommend(partition([A, B], [node(A, 5, 20), node(B, -1, -1, {last_prepared_decree: -1})])).why,
      ).toMatch(/node\(10\.0\.0\.2:34801\) collected with ballot -1: no replica there$/)
    })
  })

  describe('only one kept', () => {
    it('the alive and collected one, if its lcd is at least the config', () => {
      expect(pick(partition([A, B], [node(A, 5, 20), node(B, -1, -1, {is_alive: false, is_collected: false})]))).toBe(A)
      expect(pick(partition([A, B], [node(A, 5, 20, {is_collected: false}), node(B, 4, 10)]))).toBe(B)
    })

    it('none when the kept one is behind the config', () => {
      expect(pick(partition([A, B], [node(A, 5, 20, {is_alive: false}), node(B, 6, 9)], 10))).toBeNull()
    })

    it('ignores the facts of an alive node that was not collected, however good', () => {
      expect(pick(partition([A, B], [node(A, 5, 99, {is_collected: false}), node(B, 6, 10)]))).toBe(B)
    })
  })

  it('yields none when neither is alive and collected', () => {
    const p = partition([A, B], [node(A, 5, 20, {is_alive: false}), node(B, 6, 20, {is_collected: false})])
    expect(pick(p)).toBeNull()
    expect(diagnoseRecommend(p).why).toMatch(/neither of the last two drops/)
  })

  it('treats a last drop missing from the dropped list as not alive (undefined behaviour in the shell)', () => {
    expect(pick(partition([A, B], [node(B, 6, 20)]))).toBe(B)
    expect(pick(partition([A, B], []))).toBeNull()
  })
})

describe('dropMark', () => {
  it('marks the latest and the secondary latest as the shell does', () => {
    expect(dropMark(B, [C, A, B])).toBe('the latest')
    expect(dropMark(A, [C, A, B])).toBe('the secondary latest')
    expect(dropMark(C, [C, A, B])).toBeUndefined()
    expect(dropMark(A, [A])).toBe('the latest')
  })
})
