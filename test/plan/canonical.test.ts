import {execFileSync} from 'node:child_process'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'

import {describe, expect, it} from 'vitest'

import {REPO} from '../cli/helpers.js'

import {canonicalJson, canonicalSha256, sha256Hex, sortKeysDeep, sortKeysShallow} from '../../src/plan/canonical.js'

describe('canonicalJson', () => {
  it('sorts keys by code unit, drops undefined properties, keeps JSON escapes', () => {
    expect(canonicalJson({b: 1, a: [1, undefined, 'x"y'], '10': true, '9': null, u: undefined})).toBe(
      '{"10":true,"9":null,"a":[1,null,"x\\"y"],"b":1}',
    )
  })

  it('is the same before and after a JSON round trip, whatever the key order', () => {
    const doc = {z: {y: [3, {b: 2, a: 1}], x: 'é'}, a: 0.5}
    const shuffled = JSON.parse(JSON.stringify({a: 0.5, z: {x: 'é', y: [3, {a: 1, b: 2}]}}))
    expect(canonicalJson(doc)).toBe(canonicalJson(shuffled))
    expect(JSON.parse(canonicalJson(doc))).toEqual(doc)
  })

  it('refuses what JSON cannot carry', () => {
    expect(() => canonicalJson({n: Number.NaN})).toThrow(/cannot be represented/)
    expect(canonicalJson({n: 1n})).toBe('{"n":"1"}')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => canonicalJson(cyclic)).toThrow(/cycle/)
  })

  it('accepts a value shared by two branches (not a cycle)', () => {
    const shared = {k: 1}
    expect(canonicalJson({a: shared, b: shared})).toBe('{"a":{"k":1},"b":{"k":1}}')
  })
})

describe('canonicalJson key order', () => {
  it('gives the same bytes whether the input is sorted or not', () => {
    const sorted = {a: [1, {b: 'x', c: null}], d: {e: 2.5, f: [true, 'q']}}
    const unsorted = {d: {f: [true, 'q'], e: 2.5}, a: [1, {c: null, b: 'x'}]}
    expect(canonicalJson(sorted)).toBe(canonicalJson(unsorted))
    expect(canonicalJson(sorted)).toBe('{"a":[1,{"b":"x","c":null}],"d":{"e":2.5,"f":[true,"q"]}}')
  })

  it('orders index-like keys by code unit, unlike JSON.stringify, and encodes undefined items and null-prototype objects', () => {
    // Index-like keys come first in engine order, but last in code-unit order here.
    expect(canonicalJson({'2': 'b', '10': 'a', x: 1})).toBe('{"10":"a","2":"b","x":1}')
    expect(canonicalJson({a: [undefined, 1]})).toBe('{"a":[null,1]}')
    expect(canonicalJson(Object.assign(Object.create(null), {b: 1, a: 2}))).toBe('{"a":2,"b":1}')
  })
})

describe('canonicalSha256', () => {
  it('equals the sha256 of canonicalJson, also for values large enough to be hashed in chunks', () => {
    const small = {b: [1, 2], a: 'x'}
    expect(canonicalSha256(small)).toBe(sha256Hex(canonicalJson(small)))
    const large = Array.from({length: 20_000}, (_, i) => ({
      pid: `1.${i}`,
      ballot: i % 7,
      nodes: [`10.0.0.${i % 250}:34801`],
      ok: i % 2 === 0,
    }))
    expect(canonicalSha256(large)).toBe(sha256Hex(canonicalJson(large)))
  })

  it('changes with any value', () => {
    expect(canonicalSha256({a: 1})).not.toBe(canonicalSha256({a: 2}))
  })
})

describe('sortKeysShallow', () => {
  it('sorts the top-level keys, drops undefined ones and keeps the values themselves', () => {
    const list = ['b', 'a']
    const nested = {z: 1, y: 2}
    const doc = {pid: '1.0', ballot: 3, last_drops: list, hp: nested, gone: undefined}
    const sorted = sortKeysShallow(doc)
    expect(Object.keys(sorted)).toEqual(['ballot', 'hp', 'last_drops', 'pid'])
    expect(sorted.last_drops).toBe(list)
    expect(sorted.hp).toBe(nested)
    expect(Object.keys(sortKeysShallow({b: 1, a: 2, c: 3}))).toEqual(['a', 'b', 'c'])
  })

  it('gives the same copy for every object of a shape, whatever its values, and for awkward keys', () => {
    // The first objects of a shape, and later ones (the generated copy), one with an undefined value.
    for (let i = 0; i < 4; i++) {
      const doc = {pid: `1.${i}`, ballot: i, gone: i === 2 ? undefined : null}
      const sorted = sortKeysShallow(doc)
      expect(Object.keys(sorted)).toEqual(i === 2 ? ['ballot', 'pid'] : ['ballot', 'gone', 'pid'])
      expect(sorted).not.toBe(doc)
    }
    const awkward = JSON.parse('{"z\\"": 1, "10": 2, "9": 3, "__proto__": {"p": 1}, "a b": 4}') as object
    const sorted = sortKeysShallow(awkward)
    expect(JSON.stringify(sorted)).toBe('{"9":3,"10":2,"__proto__":{"p":1},"a b":4,"z\\"":1}')
    expect(Object.getPrototypeOf(sorted)).toBe(Object.prototype)
    const quoted = {'z"\\': 1, 'a\u2028': 2, "it's": 3}
    expect(JSON.stringify(sortKeysShallow(quoted))).toBe(JSON.stringify({'a\u2028': 2, "it's": 3, 'z"\\': 1}))
    expect(JSON.stringify(sortKeysDeep({x: awkward}))).toBe('{"x":{"9":3,"10":2,"__proto__":{"p":1},"a b":4,"z\\"":1}}')
  })
})

describe('sortKeysDeep', () => {
  it('orders keys by code unit at every depth', () => {
    expect(JSON.stringify(Object.keys(sortKeysDeep({b: 1, a: 2, B: 3})))).toBe('["B","a","b"]')
    expect(Object.keys(sortKeysDeep({x: {d: 1, c: 2}}).x)).toEqual(['c', 'd'])
  })
})

/** canonicalJson written the plain way (every object walked, keys sorted), to check the native fast path against. */
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

describe('canonicalJson fast path (issue 17: sorted documents go through the native encoder)', () => {
  it('writes what the plain walk writes, for sorted, unsorted and tricky documents', () => {
    let deep: unknown = {leaf: [1, 'two']}
    for (let i = 0; i < 100; i++) deep = {a: deep, z: i}
    const values: unknown[] = [
      {a: 1, b: {c: [1, 2, {d: 'x', e: null}]}},
      {b: 1, a: 2},
      {'9': 'nine', '10': 'ten', a: {'2': 0, '10': 1}},
      {a: 'quote " backslash \\ newline \n tab \t', b: '\u0000\u001f', c: 'é ☃ 𝄞'},
      {a: 'lone \ud800 surrogate', b: ['\udfff']},
      {a: [1, undefined, () => 0, null], b: undefined, c: {x: undefined}},
      {a: new Date(0), b: new Map([[1, 2]]), c: Object.assign(Object.create(null) as object, {y: 1, x: 2})},
      {a: [{n: 1n}], b: {c: {d: 2n}}},
      {a: -0, b: 1e21, c: 0.1 + 0.2, d: -1.5e-7},
      [[[]], {}, [{}], 'x'],
      deep,
    ]
    for (const v of values) expect(canonicalJson(v)).toBe(reference(v))
  })

  it('refuses a non-finite number or a function inside a document that is otherwise sorted', () => {
    expect(() => canonicalJson({a: {b: [1, Number.POSITIVE_INFINITY]}})).toThrow(/cannot be represented/)
    expect(() => canonicalJson({a: {b: () => 1}})).toThrow(/cannot be represented/)
    expect(() => canonicalJson({a: {b: Symbol('s')}})).toThrow(/cannot be represented/)
    // JSON.stringify would call toJSON; canonicalJson never does.
    expect(() => canonicalJson({a: {b: 1, toJSON: () => 'replaced'}})).toThrow(/cannot be represented/)
  })

  it('finds a cycle deep inside a sorted document', () => {
    const inner: Record<string, unknown> = {a: 1}
    inner.b = {c: [inner]}
    expect(() => canonicalJson({x: inner})).toThrow(/cycle/)
    expect(() => canonicalSha256({x: inner})).toThrow(/cycle/)
  })
})

// The array path (issue 17 item 3): items are copied with their keys in canonical order and written
// by the native encoder a batch at a time, except items a plain object cannot hold in that order,
// which are walked. Both must write what the plain walk writes.
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
      // Keys a generated copier must quote exactly.
      {'z"\\': 1, 'a\u2028b': {y: 1, x: 2}, "it's ${x}": 3, '': 4, 'a\nb': undefined},
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

// Sorted key lists are reused for objects whose keys come in a list seen lately (a few shapes
// at a time); the reuse must never carry one object's key order over to another's.
describe('canonicalJson with many key shapes', () => {
  it('writes what the plain walk writes when shapes repeat, interleave and outnumber the ones remembered', () => {
    const letters = 'qwertyuiopasdfghjklz'.split('')
    const shapes = Array.from({length: 12}, (_, s) => letters.slice(s % 5, (s % 5) + 2 + (s % 7)).reverse())
    const items = Array.from({length: 2000}, (_, i) => {
      // Same key sets in another order, and shapes the cache has dropped, come back.
      const keys = i % 3 === 0 ? [...shapes[i % 12]!].sort() : shapes[(i * 7) % 12]!
      return Object.fromEntries(keys.map((k, j) => [k, j % 2 === 0 ? {[k]: i, a: [j]} : `${k}${i}`]))
    })
    expect(canonicalJson(items)).toBe(reference(items))
    expect(canonicalSha256({items})).toBe(sha256Hex(reference({items})))
    // An object whose prototype has an enumerable key that a remembered shape also has: only its own keys count.
    const inherits = Object.assign(Object.create({b: 'inherited'}) as object, {a: 1})
    const remembered = {a: 0, b: {d: 1, c: 2}}
    expect(canonicalJson([remembered, inherits])).toBe('[{"a":0,"b":{"c":2,"d":1}},{"a":1}]')
    expect(canonicalJson({x: remembered, y: inherits})).toBe(reference({x: remembered, y: inherits}))
    // The same keys as a remembered shape, but more of them, and fewer.
    expect(canonicalJson([{b: 1, a: 2}, {b: 1, a: 2, c: 3}, {b: 1}])).toBe(
      '[{"a":2,"b":1},{"a":2,"b":1,"c":3},{"b":1}]',
    )
  })
})

// The copies above come from generated functions; a process that may not make functions from
// source takes the plain walk and must write the same bytes.
describe('canonicalJson without code generation', () => {
  it('writes the same JSON under node --disallow-code-generation-from-strings', () => {
    const script = `
      const {canonicalJson, sortKeysShallow} = await import(${JSON.stringify(pathToFileURL(join(REPO, 'dist', 'src', 'plan', 'canonical.js')).href)})
      const items = Array.from({length: 300}, (_, i) => ({b: i, a: {d: 1, c: [i, {z: 1, y: 2}]}, '10': 'x'}))
      process.stdout.write(canonicalJson({items}) + JSON.stringify(sortKeysShallow({b: 1, a: 2})))`
    const out = execFileSync(
      process.execPath,
      ['--disallow-code-generation-from-strings', '--input-type=module', '-e', script],
      {encoding: 'utf8'},
    )
    const items = Array.from({length: 300}, (_, i) => ({b: i, a: {d: 1, c: [i, {z: 1, y: 2}]}, '10': 'x'}))
    expect(out).toBe(canonicalJson({items}) + '{"a":2,"b":1}')
  })
})
