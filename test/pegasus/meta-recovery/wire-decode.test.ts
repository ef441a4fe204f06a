// The gather decodes 192,000 replicas at pegasus-scale (issue 17 item 3): gpids, rpc_addresses and
// short strings are read without the bigint, Int64 and Buffer#toString they used to cost. Each
// fast reader must give exactly what the plain decoding gives.
import thrift from 'thrift'
import type {TProtocol, TTransport} from 'thrift'
import {describe, expect, test} from 'vitest'

import {
  BinaryReader,
  BinaryWriter,
  ReplicaInfoCodec,
  type ReplicaInfo,
  gpidFromBigInt,
  readGpid,
  readRpcAddress,
  rpcAddressFromBigInt,
  writeI64Big,
} from '../../../src/engines/pegasus/wire/index.js'
import {decodeUtf8} from '../../../src/engines/pegasus/wire/protocol.js'

function reader(v: bigint): BinaryReader {
  const w = new BinaryWriter()
  writeI64Big(w.proto, v)
  return new BinaryReader(w.toBuffer())
}

const WORDS = [0n, 1n, 2n, 3n, 0x7fffffffn, 0x80000000n, 0xfffffffen, 0xffffffffn, 0x10000n, 0xffff0001n, 0x7f000001n]

describe('readGpid and readRpcAddress read the two words as the 64-bit value says', () => {
  test('every pair of boundary words gives what the bigint decoding gives, or the same error', () => {
    for (const hi of WORDS) {
      for (const lo of WORDS) {
        const v = BigInt.asIntN(64, (hi << 32n) | lo)
        expect(readGpid(reader(v).proto), v.toString(16)).toBe(gpidFromBigInt(v))
        let want: string | Error
        try {
          want = rpcAddressFromBigInt(v)
        } catch (err) {
          want = err as Error
        }
        if (want instanceof Error) expect(() => readRpcAddress(reader(v).proto)).toThrow(want.message)
        else expect(readRpcAddress(reader(v).proto)).toBe(want)
      }
    }
  })
})

describe('decodeUtf8', () => {
  test('gives what Buffer#toString gives, for short and long, ASCII and not', () => {
    const texts = [
      '',
      'pegasus',
      'ssd1',
      'x'.repeat(32),
      'y'.repeat(33),
      'é',
      'tab\there',
      '\u0000\u007f',
      '表',
      '😀',
      'a'.repeat(31) + 'é',
    ]
    for (const t of texts) {
      const buf = Buffer.concat([Buffer.from('<<'), Buffer.from(t, 'utf8'), Buffer.from('>>')])
      expect(decodeUtf8(buf, 2, buf.length - 2)).toBe(t)
    }
    // Many distinct short strings, each read twice, more than the strings it remembers (slots collide).
    const many = Array.from({length: 20_000}, (_, i) => `t${i}.${(i * 7919) % 10_007}`)
    const packed = Buffer.from(many.join('|'))
    for (let round = 0; round < 2; round++) {
      let at = 0
      for (const t of many) {
        expect(decodeUtf8(packed, at, at + t.length)).toBe(t)
        at += t.length + 1
      }
    }
    const invalid = Buffer.from([0x61, 0xff, 0x62, 0xc3])
    expect(decodeUtf8(invalid, 0, invalid.length)).toBe(invalid.toString('utf8'))
  })

  test('a replica decodes to the struct it was encoded from', () => {
    const replica: ReplicaInfo = {
      pid: '12.63',
      ballot: 3,
      status: 2,
      last_committed_decree: 2 ** 40,
      last_prepared_decree: 2 ** 40 + 1,
      last_durable_decree: 0,
      app_type: 'pegasus',
      disk_tag: 'données-ssd1',
    }
    expect(ReplicaInfoCodec.decode(ReplicaInfoCodec.encode(replica))).toEqual(replica)
  })
})

describe('BinaryWriter writes what the thrift package writes', () => {
  test('bytes, i16, i32, i64 and strings at their boundaries, without the deprecated new Buffer()', () => {
    const write = (p: TProtocol, i64: (p: TProtocol, v: bigint) => void) => {
      for (const v of [0, 1, -1, 127, -128, 255, 256]) p.writeByte(v)
      for (const v of [0, 1, -1, 32767, -32768, 65535, 65536]) p.writeI16(v)
      for (const v of [0, 1, -1, 2147483647, -2147483648, 4294967295]) p.writeI32(v)
      for (const v of [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n]) i64(p, v)
      for (const v of ['', 'pegasus', 'é表😀']) p.writeString(v)
      p.writeString(Buffer.from([1, 2, 3]) as unknown as string)
      p.writeBool(true)
      p.writeBool(false)
    }
    let viaThrift = Buffer.alloc(0)
    const trans = new thrift.TBufferedTransport(undefined, (buf?: Buffer) => {
      viaThrift = Buffer.concat([viaThrift, buf ?? Buffer.alloc(0)])
    }) as unknown as TTransport
    const reference = new thrift.TBinaryProtocol(trans)
    // The thrift package's own Int64 from the two words, as writeI64Big used to make it.
    write(reference, (p, v) => {
      const u = BigInt.asUintN(64, v)
      p.writeI64(new thrift.Int64(Number(u >> 32n), Number(u & 0xffffffffn)))
    })
    reference.flush()
    const w = new BinaryWriter()
    write(w.proto, writeI64Big)
    expect(w.toBuffer().toString('hex')).toBe(viaThrift.toString('hex'))
  })
})
