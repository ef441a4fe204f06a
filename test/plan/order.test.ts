import {describe, expect, test} from 'vitest'

import {compareCodeUnits} from '../../src/plan/canonical.js'
import {compareNatural, sortByNatural} from '../../src/plan/order.js'

/** The natural order as first written (regex runs, then run by run): the oracle of the in-place compare. */
function referenceCompare(a: string, b: string): number {
  if (a === b) return 0
  const key = (text: string) => {
    const runs = text.match(/(\d+)|(\D+)/g) ?? []
    const digits = runs.map((r) => /^\d/.test(r))
    return {runs: runs.map((r, i) => (digits[i] ? r.replace(/^0+(?=\d)/, '') : r)), digits}
  }
  const x = key(a)
  const y = key(b)
  const n = Math.min(x.runs.length, y.runs.length)
  for (let i = 0; i < n; i++) {
    const p = x.runs[i]!
    const q = y.runs[i]!
    if (x.digits[i] && y.digits[i] && p.length !== q.length) return p.length - q.length
    const c = compareCodeUnits(p, q)
    if (c !== 0) return c
  }
  if (x.runs.length !== y.runs.length) return x.runs.length - y.runs.length
  return compareCodeUnits(a, b)
}

/** A deterministic pseudo-random generator (no clock, no Math.random): the same strings every run. */
function generator(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const PIECES = [
  '0',
  '00',
  '1',
  '01',
  '9',
  '10',
  '007',
  'a',
  'b',
  '.',
  '/',
  'apps',
  'zk:',
  '',
  'é',
  '\ud83d\ude00',
  '~',
  ' ',
]

function randomStrings(count: number, seed: number): string[] {
  const next = generator(seed)
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    let s = ''
    const parts = Math.floor(next() * 7)
    for (let p = 0; p < parts; p++) s += PIECES[Math.floor(next() * PIECES.length)]!
    out.push(s)
  }
  return out
}

describe('compareNatural (in place)', () => {
  test('agrees in sign with the run-splitting reference on 40,000 pairs of awkward strings', () => {
    const items = randomStrings(200, 17)
    let disagreements = 0
    for (const a of items) {
      for (const b of items) {
        if (Math.sign(compareNatural(a, b)) !== Math.sign(referenceCompare(a, b))) disagreements++
      }
    }
    expect(disagreements).toBe(0)
  })

  test('leading zeros, long digit runs and prefixes', () => {
    const cases: [string, string][] = [
      ['a01', 'a1'],
      ['a1', 'a01'],
      ['000', '0'],
      ['1.9', '1.10'],
      ['apps', 'apps/1'],
      ['x9y', 'x10'],
      ['18446744073709551615', '18446744073709551614'],
      ['', 'a'],
      ['a', ''],
      ['ab', 'abc'],
      ['a0', 'a'],
    ]
    for (const [a, b] of cases)
      expect(Math.sign(compareNatural(a, b)), `${a} vs ${b}`).toBe(Math.sign(referenceCompare(a, b)))
  })
})

describe('sortByNatural', () => {
  test('sorts as the reference does, stably, whether or not the input is already in order', () => {
    const items = randomStrings(3000, 5).map((key, at) => ({key, at}))
    const expected = [...items].sort((x, y) => referenceCompare(x.key, y.key) || x.at - y.at)
    expect(sortByNatural(items, (i) => i.key)).toEqual(expected)
    const again = sortByNatural(expected, (i) => i.key)
    expect(again).toEqual(expected)
    expect(again).not.toBe(expected)
  })
})
