// The codecs read through readers compiled from the field tables (read-compiled.ts, issue 17): for
// the same bytes they must give what the schema walk (readStruct) gives, key order included, or
// throw the same error, and stop at the same offset. Bytes here are built by hand from seeded
// random choices: valid structs, and structs with required fields missing, unknown ids, fields of
// the wrong type, negative sizes, bad thrift types, cut short or with bytes flipped.
import {describe, expect, test} from 'vitest'

import * as W from '../../../src/engines/pegasus/wire/index.js'
import {BinaryReader, readStruct, type FieldKind, type StructSchema} from '../../../src/engines/pegasus/wire/index.js'
import {compiledReaderOf} from '../../../src/engines/pegasus/wire/read-compiled.js'

/** Every struct codec the wire module declares. */
const CODECS = Object.entries(W)
  .filter(([name, v]) => name.endsWith('Codec') && typeof v === 'object' && v !== null && 'schema' in v)
  .map(([name, v]) => [name, v as W.StructCodec<unknown>] as const)

/** A seeded generator (mulberry32), so a failure names a seed that reproduces it. */
function rng(seed: number): {int(n: number): number; chance(p: number): boolean; pick<T>(xs: readonly T[]): T} {
  let a = seed >>> 0
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  return {
    int: (n) => Math.floor(next() * n),
    chance: (p) => next() < p,
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
  }
}
type Rng = ReturnType<typeof rng>

/** Raw thrift binary, written by hand (nothing of lifeboat's writer). */
class Bytes {
  private readonly parts: Buffer[] = []
  i8(v: number): this {
    const b = Buffer.alloc(1)
    b.writeInt8((v << 24) >> 24)
    this.parts.push(b)
    return this
  }
  i16(v: number): this {
    const b = Buffer.alloc(2)
    b.writeInt16BE((v << 16) >> 16)
    this.parts.push(b)
    return this
  }
  i32(v: number): this {
    const b = Buffer.alloc(4)
    b.writeInt32BE(v | 0)
    this.parts.push(b)
    return this
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8)
    b.writeBigInt64BE(BigInt.asIntN(64, v))
    this.parts.push(b)
    return this
  }
  raw(b: Buffer): this {
    this.parts.push(b)
    return this
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8')
    return this.i32(b.length).raw(b)
  }
  done(): Buffer {
    return Buffer.concat(this.parts)
  }
}

const T = W.TType
const INT32 = [0, 1, -1, 2, 7, 127, 128, 255, 256, 32767, 32768, 65535, 2147483647, -2147483648]
const STRINGS = ['', 'pegasus', 'default', 'ssd1', 'x'.repeat(32), 'y'.repeat(40), 'é', '表😀', '__proto__', '0', '17']
/** Thrift type ids that do not exist in the binary protocol. */
const BAD_TYPES = [1, 5, 7, 9, 16, 17, 20, 127, -1, -116]

function i32(r: Rng): number {
  return r.chance(0.5) ? r.pick(INT32) : r.int(2 ** 32) | 0
}

/** A 64-bit value: mostly small, sometimes past the safe-integer range (which `i64` fields refuse). */
function i64(r: Rng): bigint {
  switch (r.int(5)) {
    case 0:
      return BigInt(r.int(1000))
    case 1:
      return BigInt(r.int(2 ** 31)) * BigInt(r.int(2 ** 21))
    case 2:
      return -BigInt(r.int(2 ** 31))
    case 3:
      return BigInt.asIntN(64, (BigInt(i32(r) >>> 0) << 32n) | BigInt(i32(r) >>> 0))
    default:
      return r.pick([2n ** 53n - 1n, 2n ** 53n, -(2n ** 53n) + 1n, -(2n ** 53n), 2n ** 63n - 1n, -(2n ** 63n)])
  }
}

function writeString(b: Bytes, r: Rng): void {
  if (r.chance(0.03)) b.i32(-1 - r.int(3))
  else b.str(r.pick(STRINGS))
}

/** Writes a value of `kind`, mostly well formed. */
function writeKind(b: Bytes, kind: FieldKind, r: Rng, depth: number): void {
  if (typeof kind === 'object') {
    if ('list' in kind) {
      // The element type byte is not checked on read: sometimes write another one.
      b.i8(r.chance(0.9) ? W.ttypeOf(kind.list) : r.pick([T.I32, T.STRING, 1]))
      if (r.chance(0.03)) {
        b.i32(-1)
        return
      }
      const n = depth > 2 ? 0 : r.int(4)
      b.i32(n)
      for (let i = 0; i < n; i++) writeKind(b, kind.list, r, depth + 1)
      return
    }
    if ('map' in kind) {
      b.i8(W.ttypeOf(kind.map[0])).i8(W.ttypeOf(kind.map[1]))
      if (r.chance(0.03)) {
        b.i32(-2)
        return
      }
      const n = r.int(5)
      b.i32(n)
      for (let i = 0; i < n; i++) {
        writeKind(b, kind.map[0], r, depth + 1)
        writeKind(b, kind.map[1], r, depth + 1)
      }
      return
    }
    writeStructBytes(b, kind.struct, r, depth + 1)
    return
  }
  switch (kind) {
    case 'bool':
      b.i8(r.pick([0, 1, 2, -1]))
      return
    case 'i32':
      b.i32(i32(r))
      return
    case 'i64':
    case 'i64big':
      b.i64(i64(r))
      return
    case 'string':
    case 'error_code':
      if (kind === 'error_code' && r.chance(0.5)) b.str(r.pick(['ERR_OK', 'ERR_OBJECT_NOT_FOUND', 'ERR_TIMEOUT']))
      else writeString(b, r)
      return
    case 'address': {
      // ip; port << 16 | type: type 1 is IPv4, 0 the invalid address, others an error.
      const type = r.chance(0.85) ? 1 : r.pick([0, 2, 3])
      b.i32(i32(r)).i32((r.int(65536) << 16) | (r.chance(0.1) ? r.int(4) << 2 : 0) | type | 0)
      return
    }
    case 'host_port':
      writeString(b, r)
      b.i16(r.int(65536)).i8(r.chance(0.8) ? 1 : r.pick([0, 2, -1]))
      return
    case 'gpid':
      b.i32(i32(r)).i32(i32(r))
      return
  }
}

/** Writes a value the reader has to skip: any thrift type, sometimes a bad one nested in it. */
function writeSkippable(b: Bytes, type: number, r: Rng, depth: number): void {
  switch (type) {
    case T.BOOL:
    case T.BYTE:
      b.i8(r.int(256))
      return
    case T.I16:
      b.i16(r.int(65536))
      return
    case T.I32:
      b.i32(i32(r))
      return
    case T.I64:
    case T.DOUBLE:
      b.i64(i64(r))
      return
    case T.STRING:
      writeString(b, r)
      return
    case T.STRUCT: {
      const n = depth > 2 ? 0 : r.int(3)
      for (let i = 0; i < n; i++) {
        const t = skippableType(r)
        b.i8(t).i16(r.int(65536))
        writeSkippable(b, t, r, depth + 1)
      }
      b.i8(T.STOP)
      return
    }
    case T.MAP: {
      const k = skippableType(r)
      const v = skippableType(r)
      const n = depth > 2 ? 0 : r.chance(0.05) ? -1 : r.int(3)
      b.i8(k).i8(v).i32(n)
      for (let i = 0; i < n; i++) {
        writeSkippable(b, k, r, depth + 1)
        writeSkippable(b, v, r, depth + 1)
      }
      return
    }
    case T.SET:
    case T.LIST: {
      const e = skippableType(r)
      const n = depth > 2 ? 0 : r.chance(0.05) ? -1 : r.int(3)
      b.i8(e).i32(n)
      for (let i = 0; i < n; i++) writeSkippable(b, e, r, depth + 1)
      return
    }
    default:
      // A bad type: what follows is whatever it is.
      b.i32(i32(r))
  }
}

const GOOD_TYPES = [T.BOOL, T.BYTE, T.DOUBLE, T.I16, T.I32, T.I64, T.STRING, T.STRUCT, T.MAP, T.SET, T.LIST]
function skippableType(r: Rng): number {
  return r.chance(0.03) ? r.pick(BAD_TYPES) : r.pick(GOOD_TYPES)
}

/** Writes a struct of `schema`: fields in any order, some missing, some twice, unknown and mistyped ones. */
function writeStructBytes(b: Bytes, schema: StructSchema, r: Rng, depth: number): void {
  if (depth > 4) {
    b.i8(T.STOP)
    return
  }
  const fields = schema.fields.filter(() => r.chance(0.8))
  if (r.chance(0.3)) fields.reverse()
  if (fields.length > 0 && r.chance(0.1)) fields.push(r.pick(fields))
  for (const f of fields) {
    if (r.chance(0.1)) {
      // An unknown field id (or a negative one) before it.
      const t = skippableType(r)
      b.i8(t).i16(r.chance(0.2) ? -1 - r.int(5) : 100 + r.int(1000))
      writeSkippable(b, t, r, depth)
    }
    if (r.chance(0.05)) {
      // The field's id with another type: skipped, so a required field reads as its default.
      const t = r.pick(GOOD_TYPES.filter((x) => x !== W.ttypeOf(f.kind)))
      b.i8(t).i16(f.id)
      writeSkippable(b, t, r, depth)
      continue
    }
    b.i8(W.ttypeOf(f.kind)).i16(f.id)
    writeKind(b, f.kind, r, depth)
  }
  b.i8(T.STOP)
}

/** A value written out with its types and key order (JSON would merge 1 and 1n, drop undefined). */
function dump(v: unknown): string {
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v)
  if (typeof v === 'string') return JSON.stringify(v)
  if (v === undefined || v === null || typeof v === 'boolean') return String(v)
  if (Array.isArray(v)) {
    const items: string[] = []
    for (let i = 0; i < v.length; i++) items.push(i in v ? dump(v[i]) : '<hole>')
    return `[${items.join(',')}]`
  }
  const o = v as Record<string, unknown>
  const proto = Object.getPrototypeOf(o) === Object.prototype ? '' : '<proto>'
  return `${proto}{${Object.keys(o)
    .map((k) => `${JSON.stringify(k)}:${dump(o[k])}`)
    .join(',')}}`
}

/** What reading `buf` gives: the value and where the reader stopped, or the error. */
function outcome(buf: Buffer, read: (r: BinaryReader) => unknown): string {
  const r = new BinaryReader(buf)
  try {
    const v = read(r)
    return `ok @${r.offset} ${dump(v)}`
  } catch (err) {
    const e = err as Error
    return `throws ${e.constructor.name} ${e.name}: ${e.message}`
  }
}

function expectSame(
  buf: Buffer,
  schema: StructSchema,
  codec: W.StructCodec<unknown> | undefined,
  what: string,
): string {
  const walk = outcome(buf, (r) => readStruct(r.proto, schema))
  const fast = outcome(buf, (r) => (codec ? codec.read(r.proto) : compiledReaderOf(schema)(bufferTransport(r))))
  if (fast !== walk) expect(fast, `${what} ${buf.toString('hex')}`).toBe(walk)
  return walk
}

/** The transport under a BinaryReader, which the compiled readers read. */
function bufferTransport(r: BinaryReader): W.BufferReadTransport {
  return W.bufferTransportOf(r.proto)!
}

describe('compiled struct readers give what the schema walk gives', () => {
  test('the module declares the codecs the RPCs use', () => {
    expect(CODECS.length).toBeGreaterThanOrEqual(20)
    for (const def of Object.values(W.RPCS)) {
      expect(CODECS.some(([, c]) => c === def.request)).toBe(true)
      expect(CODECS.some(([, c]) => c === def.response)).toBe(true)
    }
  })

  for (const [name, codec] of CODECS) {
    test(`${name}: well-formed, damaged, cut short and flipped bytes`, () => {
      const schema = codec.schema
      const seen = {ok: 0, throws: 0}
      const count = (o: string): void => {
        if (o.startsWith('ok')) seen.ok++
        else seen.throws++
      }
      // Values the writer encodes (optional fields present and absent, empty lists and maps).
      for (let seed = 0; seed < 40; seed++) {
        const r = rng(seed * 7919 + name.length)
        const b = new Bytes()
        writeStructBytes(b, schema, r, 0)
        const buf = b.done()
        const o = expectSame(buf, schema, codec, `${name} seed ${seed}`)
        count(o)
        if (o.startsWith('ok')) {
          // Whatever the walk read back, the writer writes and the compiled reader reads the same.
          const v = readStruct(new BinaryReader(buf).proto, schema)
          let again: Buffer | undefined
          try {
            again = codec.encode(v)
          } catch {
            // a value the writer refuses (an unsafe i64 read as a bigint field, say)
          }
          if (again) count(expectSame(again, schema, codec, `${name} seed ${seed} re-encoded`))
        }
        // Prefixes (every one of a small struct): the same value or the same truncation error.
        if (seed % 4 === 0)
          for (let end = 0; end < buf.length; end += 1 + Math.floor(buf.length / 150))
            count(expectSame(buf.subarray(0, end), schema, codec, `${name} seed ${seed} cut at ${end}`))
        // Bytes flipped.
        for (let k = 0; k < 5 && buf.length > 0; k++) {
          const bad = Buffer.from(buf)
          bad[r.int(bad.length)] = r.int(256)
          count(expectSame(bad, schema, codec, `${name} seed ${seed} flipped`))
        }
      }
      // Both outcomes occur, so neither side of the comparison is vacuous.
      expect(seen.ok).toBeGreaterThan(0)
      expect(seen.throws).toBeGreaterThan(0)
    })
  }

  test('an empty struct, missing required fields, and the errors by name', () => {
    const schema = W.ReplicaInfoCodec.schema
    // Only STOP: every required field takes its default, the optional one stays absent.
    expect(expectSame(Buffer.from('00', 'hex'), schema, W.ReplicaInfoCodec, 'empty')).toBe(
      'ok @1 {"pid":"","ballot":0,"status":0,"last_committed_decree":0,"last_prepared_decree":0,"last_durable_decree":0,"app_type":"","disk_tag":""}',
    )
    // init_partition_count defaults to -1 (its IDL default), envs to an empty map.
    expect(expectSame(Buffer.from('00', 'hex'), W.AppInfoCodec.schema, W.AppInfoCodec, 'empty app_info')).toContain(
      '"envs":{},"is_stateful":false,"max_replica_count":0,"expire_second":0,"create_second":0,"drop_second":0,"init_partition_count":-1}',
    )
    const errors: [string, string][] = [
      ['', 'throws WireError WireError: truncated thrift data: wanted 1 bytes at offset 0 of 0'],
      ['0b00', 'throws WireError WireError: truncated thrift data: wanted 2 bytes at offset 1 of 2'],
      ['0b0007ffffffff', 'throws TProtocolException TProtocolException: Negative string size'],
      ['0b000700000005616263', 'throws WireError WireError: truncated thrift data: wanted 5 bytes at offset 7 of 10'],
      ['010001', 'throws WireError WireError: unknown thrift type 1'],
      ['0f0063010000000100', 'throws Error Error: Invalid type: 1'],
      [
        '0a0004002000000000000000',
        'throws WireError WireError: i64 value 9007199254740992 is outside the safe-integer range',
      ],
    ]
    for (const [hex, want] of errors)
      expect(expectSame(Buffer.from(hex, 'hex'), schema, W.ReplicaInfoCodec, hex)).toBe(want)
    const list = W.QueryReplicaInfoResponseCodec
    expect(expectSame(Buffer.from('0f00020cffffffff', 'hex'), list.schema, list, 'negative list')).toBe(
      'throws WireError WireError: negative list size',
    )
    const map = W.AppInfoCodec
    expect(expectSame(Buffer.from('0d00060b0bfffffffe', 'hex'), map.schema, map, 'negative map')).toBe(
      'throws WireError WireError: negative map size',
    )
  })

  test('schemas the IDL does not have: a repeated id, a negative id, optional fields out of order, a struct in itself', () => {
    const odd: StructSchema = {
      name: 'odd struct',
      fields: [
        {id: 1, name: 'a', kind: 'i32'},
        {id: 1, name: 'b', kind: 'string'},
        {id: -3, name: 'neg', kind: 'i32'},
        {id: 3, name: 'm', kind: {map: ['i32', {list: 'bool'}]}, optional: true},
        {id: 4, name: 'd', kind: 'i32', default: 42},
        {id: 5, name: 'o', kind: 'gpid', optional: true},
        {id: 6, name: 'q', kind: 'i64big', optional: true},
        {id: 7, name: 'l', kind: {list: 'host_port'}},
        {id: 8, name: 'big', kind: 'i64big', default: -5n},
      ],
    }
    const self: StructSchema = {name: 'self', fields: [{id: 1, name: 'x', kind: 'i32', optional: true}]}
    self.fields.push({id: 2, name: 'next', kind: {struct: self}, optional: true})
    for (const schema of [odd, self]) {
      for (let seed = 0; seed < 100; seed++) {
        const r = rng(seed)
        const b = new Bytes()
        // -3 is not a valid id on the wire for the walk (it never looks it up): write it anyway.
        if (schema === odd && r.chance(0.3)) b.i8(T.I32).i16(-3).i32(5)
        writeStructBytes(b, schema, r, 0)
        const buf = b.done()
        expectSame(buf, schema, undefined, `${schema.name} seed ${seed}`)
        for (let end = 0; end < buf.length; end += 3) expectSame(buf.subarray(0, end), schema, undefined, 'cut')
      }
    }
    // The optional fields in the order they arrive, whatever the IDL order.
    const out = (hex: string): string =>
      outcome(Buffer.from(hex, 'hex'), (r) => compiledReaderOf(odd)(bufferTransport(r)))
    expect(out('0a00060000000000000007' + '0c00050000000200000001' + '00')).toBe(
      'ok @23 {"a":0,"b":"","neg":0,"d":42,"l":[],"big":-5n,"q":7n,"o":"1.2"}',
    )
  })

  test('a field named __proto__, two fields of one name: what the walk does', () => {
    const proto: StructSchema = {
      name: 'proto',
      fields: [
        {id: 1, name: '__proto__', kind: {map: ['string', 'string']}},
        {id: 2, name: 'x', kind: 'i32'},
      ],
    }
    const twice: StructSchema = {
      name: 'twice',
      fields: [
        {id: 1, name: 'x', kind: 'i32'},
        {id: 2, name: 'x', kind: 'i32'},
      ],
    }
    const outer: StructSchema = {name: 'outer', fields: [{id: 1, name: 'in', kind: {list: {struct: proto}}}]}
    for (const schema of [proto, twice, outer]) {
      for (let seed = 0; seed < 20; seed++) {
        const b = new Bytes()
        writeStructBytes(b, schema, rng(seed), 0)
        expectSame(b.done(), schema, undefined, `${schema.name} seed ${seed}`)
      }
    }
  })
})
