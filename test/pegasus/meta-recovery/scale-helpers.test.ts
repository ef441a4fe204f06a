// Helpers that keep a 64,000-partition prediction from making garbage (issue 17 item 3). Each must
// give exactly what the plain code it replaced gives.
import {createHash} from 'node:crypto'

import {describe, expect, test} from 'vitest'

import {HashWriter} from '../../../src/engines/pegasus/meta-recovery/planner-fingerprint.js'
import {sortCollected, type Collected} from '../../../src/engines/pegasus/meta-recovery/planner-prediction.js'
import {gpidParts} from '../../../src/engines/pegasus/wire/protocol.js'

describe('HashWriter', () => {
  test('feeds the hash the bytes of String(piece) for every piece, across chunk boundaries', () => {
    const pieces: unknown[] = []
    for (let i = 0; i < 30_000; i++) {
      pieces.push(`${i % 1000}.${i % 64}`, ' ', i * 7919, -i, 2 ** 53 - 1 - i, 0.5 + i, -0, 1e21, ';')
      if (i % 997 === 0) pieces.push('é表😀 \ud800 lone', 'x'.repeat(30_000), null, undefined, 'big'.repeat(9000))
    }
    const plain = createHash('sha256')
    for (const p of pieces) plain.update(String(p))
    const hash = createHash('sha256')
    const w = new HashWriter(hash)
    for (const p of pieces) {
      if (typeof p === 'string') w.text(p)
      else w.value(p)
    }
    w.byte(0x3b)
    plain.update(';')
    w.flush()
    expect(hash.digest('hex')).toBe(plain.digest('hex'))
  })
})

describe('HashWriter.json', () => {
  test('writes what JSON.stringify writes for an array item', () => {
    const values: unknown[] = [
      'pegasus',
      '',
      'quote " back \\ nl \n tab \t nul \u0000 del \u007f',
      'é表 \u2028',
      '😀',
      '\ud800 lone',
      'lone \udfff',
      true,
      false,
      null,
      undefined,
      0,
      -0,
      7,
      -42,
      2 ** 53 - 1,
      2 ** 53,
      1e21,
      0.5,
      -1.25e-7,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      {b: 1, a: [2]},
      [1, 'x'],
    ]
    const plain = createHash('sha256').update(JSON.stringify(values)).digest('hex')
    const hash = createHash('sha256')
    const w = new HashWriter(hash)
    w.text('[')
    values.forEach((v, i) => {
      if (i > 0) w.text(',')
      w.json(v)
    })
    w.text(']')
    w.flush()
    expect(hash.digest('hex')).toBe(plain)
  })
})

describe('sortCollected', () => {
  test('orders as Array#sort with the same total order, for short and long lists', () => {
    let s = 7
    const next = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0
      return s % 4
    }
    for (let n = 0; n < 40; n++) {
      const list: Collected[] = Array.from({length: n}, (_, seq) => ({
        node: `n${seq}`,
        ip: `n${seq}`,
        ballot: next(),
        lcd: next(),
        lpd: next(),
        seq: (seq * 13) % (n + 1),
      }))
      const expected = [...list].sort((x, y) => y.ballot - x.ballot || y.lcd - x.lcd || y.lpd - x.lpd || x.seq - y.seq)
      sortCollected(list)
      expect(list).toEqual(expected)
    }
  })
})

describe('gpidParts', () => {
  test('accepts and reads exactly what /^(-?\\d+)\\.(-?\\d+)$/ and Number() do', () => {
    const reference = (g: string): [number, number] | undefined => {
      const m = /^(-?\d+)\.(-?\d+)$/.exec(g)
      return m ? [Number(m[1]), Number(m[2])] : undefined
    }
    const cases = [
      '1.3',
      '0.0',
      '-1.-1',
      '007.08',
      '-0.5',
      '2147483647.2147483647',
      '12345678901234567890.1',
      '1.123456789012345678901',
      '1',
      '.1',
      '1.',
      '1..2',
      '1.2.3',
      '-.1',
      '1.-',
      '+1.2',
      ' 1.2',
      '1.2 ',
      'a.b',
      '１.2',
      '',
      '1e3.2',
    ]
    for (const g of cases) expect(gpidParts(g), g).toEqual(reference(g))
    expect(Object.is(gpidParts('-0.1')![0], -0)).toBe(true)
  })
})
