/**
 * canonicalJson's array path (issue 17 item 3): array items are copied with their keys in
 * canonical order and written by the native encoder a batch at a time, except items a plain
 * object cannot hold in that order, which are walked. Both must write what the plain walk writes.
 */
import {describe, expect, it} from 'vitest'

import {canonicalJson, canonicalSha256, sha256Hex} from '../../src/plan/canonical.js'

/** canonicalJson written the plain way (every object walked, keys sorted). */
function reference(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'bigint') return `"${value.toString()}"`
  if (typeof value !== 'object') return JSON.stringify(value)
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : reference(v))).join(',')}]`
  const record = value as Record<string, unknown>
  const keys = Object.keys(record)
    .sort()
    .filter((k) => record[k] !== undefined)
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(record[k])}`).join(',')}}`
}

describe('canonicalJson of array items', () => {
  it('writes what the plain walk writes, item by item, whatever the items hold', () => {
    const awkward: unknown[] = [
      {partition: '1.0', table: 't', before: null, candidates: [{node: 'n', facts: {b: 1, a: 2n}, marks: ['x']}]},
      {'10': 'ten', '9': 'nine', z: {y: 1, x: 2}},
      {z: [{'2': 'two', '10': 'ten'}], a: 1},
      JSON.parse('{"z": 1, "__proto__": {"b": 1, "a": 2}}') as unknown,
      {b: [undefined, () => 0, null, {d: undefined, c: 1}], a: undefined},
      new Date(0),
      new Map([[1, 2]]),
      Object.assign(Object.create(null) as object, {y: 1, x: 2}),
      {a: -0, b: 1e21, c: 'quote " and \u0000 and lone \ud800'},
      [[{b: 1, a: 1}], []],
      'plain',
      7,
      undefined,
      null,
    ]
    expect(canonicalJson(awkward)).toBe(reference(awkward))
    // More items than one batch, with awkward ones among them and at both ends.
    const many = Array.from({length: 1300}, (_, i) =>
      i % 97 === 0 ? awkward[(i / 97) % awkward.length] : {id: `x.${i}`, facts: {n: i, m: BigInt(i)}, a: [i]},
    )
    many.push({'1': 'last'})
    expect(canonicalJson(many)).toBe(reference(many))
    expect(canonicalSha256(many)).toBe(sha256Hex(reference(many)))
    expect(canonicalJson({top: many, a: 1})).toBe(reference({top: many, a: 1}))
  })

  it('refuses inside an item what the plain walk refuses', () => {
    expect(() => canonicalJson([{b: 1, a: Number.NaN}])).toThrow(/cannot be represented/)
    expect(() => canonicalJson([{b: 1, a: () => 1}])).toThrow(/cannot be represented/)
    expect(() => canonicalJson([Symbol('s')])).toThrow(/cannot be represented/)
    expect(() => canonicalJson([{b: 1, a: {toJSON: () => 'replaced'}}])).toThrow(/cannot be represented/)
    const item: Record<string, unknown> = {b: 1}
    item.a = [item]
    expect(() => canonicalJson([item])).toThrow(/cycle/)
    expect(() => canonicalSha256({x: [1, item]})).toThrow(/cycle/)
  })
})
