import thrift from 'thrift'
import type {TProtocol, TTransport} from 'thrift'
import {describe, expect, test} from 'vitest'
import {
  AppInfoCodec,
  BinaryWriter,
  ConfigurationMetaControlRequestCodec,
  gpidFromBigInt,
  gpidToBigInt,
  PartitionConfigurationCodec,
  QueryCfgRequestCodec,
  RequestMetaV1Codec,
  rpcAddressFromBigInt,
  rpcAddressToBigInt,
  RPCS,
  WireError,
  writeGpid,
  writeHostPort,
  writeRpcAddress,
  readHostPort,
  BinaryReader,
} from '../../../src/engines/pegasus/wire/index.js'
import {readI64Num, writeI64Big} from '../../../src/engines/pegasus/wire/protocol.js'
import {cat, hx, T} from './hex.js'
import {VECTORS} from './vectors.js'

/** Bytes written by the thrift package's TBinaryProtocol through its own TBufferedTransport. */
function viaThrift(write: (p: TProtocol) => void): string {
  let out = Buffer.alloc(0)
  const trans = new thrift.TBufferedTransport(undefined, (buf?: Buffer) => {
    out = Buffer.concat([out, buf ?? Buffer.alloc(0)])
  }) as unknown as TTransport
  const p = new thrift.TBinaryProtocol(trans)
  write(p)
  p.flush()
  return out.toString('hex')
}

describe('every message matches its hand-derived bytes, both directions', () => {
  for (const v of VECTORS) {
    const codec = RPCS[v.rpc][v.dir] as {encode(x: unknown): Buffer; decode(b: Buffer): unknown}
    test(`${v.rpc} ${v.dir} ${v.hex.length > 60 ? v.hex.slice(0, 24) + '…' : v.hex}`, () => {
      expect(codec.encode(v.value).toString('hex')).toBe(v.hex)
      expect(codec.decode(Buffer.from(v.hex, 'hex'))).toEqual(v.value)
    })
  }
  test('every RPC has a request and a response vector', () => {
    for (const name of Object.keys(RPCS)) {
      expect(
        VECTORS.some((v) => v.rpc === name && v.dir === 'request'),
        name,
      ).toBe(true)
      expect(
        VECTORS.some((v) => v.rpc === name && v.dir === 'response'),
        name,
      ).toBe(true)
    }
  })
})

describe('special encodings', () => {
  test('rpc_address is (ipv4 << 32) | (port << 16) | 1, invalid is 0', () => {
    expect(rpcAddressToBigInt('127.0.0.1:34801')).toBe(0x7f00000187f10001n)
    expect(rpcAddressToBigInt('')).toBe(0n)
    expect(rpcAddressFromBigInt(0n)).toBe('')
    // An address above 128.0.0.0 is a negative i64 on the wire and must survive the sign.
    expect(rpcAddressFromBigInt(BigInt.asIntN(64, 0xc0a801c8ffff0001n))).toBe('192.168.1.200:65535')
    for (const a of ['10.0.0.1:1', '255.255.255.255:65535', '0.0.0.0:0'])
      expect(rpcAddressFromBigInt(rpcAddressToBigInt(a))).toBe(a)
    expect(() => rpcAddressToBigInt('localhost:34801')).toThrow(WireError)
    expect(() => rpcAddressToBigInt('1.2.3.256:1')).toThrow(WireError)
    expect(() => rpcAddressFromBigInt(0x7f00000187f10002n)).toThrow(/host type 2/)
  })

  test('gpid masks both halves to uint32, so -1.-1 round-trips', () => {
    expect(BigInt.asUintN(64, gpidToBigInt('-1.-1'))).toBe(0xffffffffffffffffn)
    expect(gpidToBigInt('2.5')).toBe(0x0000000500000002n)
    expect(BigInt.asUintN(64, gpidToBigInt('1.-1'))).toBe(0xffffffff00000001n)
    // Adding a sign-extended app_id (the Go client's way) would give 0xFFFFFFFEFFFFFFFF here.
    expect(BigInt.asUintN(64, gpidToBigInt('-1.0'))).toBe(0x00000000ffffffffn)
    for (const g of ['-1.-1', '1.-1', '-1.0', '0.0', '2147483647.2147483647', '-2147483648.7'])
      expect(gpidFromBigInt(gpidToBigInt(g))).toBe(g)
    expect(() => gpidToBigInt('2')).toThrow(WireError)
    expect(() => gpidToBigInt('2147483648.0')).toThrow(WireError)
  })

  test('host_port is string, i16, byte with no struct framing', () => {
    const w = new BinaryWriter()
    writeHostPort(w.proto, 'host1:34801')
    expect(w.toBuffer().toString('hex')).toBe('00000005' + '686f737431' + '87f1' + '01')
    const empty = new BinaryWriter()
    writeHostPort(empty.proto, '')
    expect(empty.toBuffer().toString('hex')).toBe('00000000' + '0000' + '00')
    expect(readHostPort(new BinaryReader(w.toBuffer()).proto)).toBe('host1:34801')
    expect(readHostPort(new BinaryReader(empty.toBuffer()).proto)).toBe('')
    expect(() => writeHostPort(new BinaryWriter().proto, 'nohost')).toThrow(WireError)
  })

  test('the raw payloads equal what the thrift package writes for the same primitives', () => {
    const mine = (f: (p: TProtocol) => void): string => {
      const w = new BinaryWriter()
      f(w.proto)
      return w.toBuffer().toString('hex')
    }
    expect(mine((p) => writeRpcAddress(p, '192.168.1.200:65535'))).toBe(
      viaThrift((p) => p.writeI64(new thrift.Int64('c0a801c8ffff0001'))),
    )
    expect(mine((p) => writeGpid(p, '-1.-1'))).toBe(
      viaThrift((p) => p.writeI64(new thrift.Int64(0xffffffff, 0xffffffff))),
    )
    expect(mine((p) => writeHostPort(p, 'h:40000'))).toBe(
      viaThrift((p) => {
        p.writeString('h')
        p.writeI16(40000 - 65536)
        p.writeByte(1)
      }),
    )
  })
})

describe('structs against the thrift package', () => {
  test('control_meta request, written field by field as generated code would', () => {
    const reference = viaThrift((p) => {
      p.writeStructBegin('configuration_meta_control_request')
      p.writeFieldBegin('level', thrift.Thrift.Type.I32, 1)
      p.writeI32(300)
      p.writeFieldEnd()
      p.writeFieldStop()
      p.writeStructEnd()
    })
    expect(ConfigurationMetaControlRequestCodec.encode({level: 300}).toString('hex')).toBe(reference)
  })

  test('query_cfg request, written field by field as the nodejs client does (no partition_indices)', () => {
    const reference = viaThrift((p) => {
      p.writeStructBegin('query_cfg_request')
      p.writeFieldBegin('app_name', thrift.Thrift.Type.STRING, 1)
      p.writeString('temp')
      p.writeFieldEnd()
      p.writeFieldStop()
      p.writeStructEnd()
    })
    expect(QueryCfgRequestCodec.decode(Buffer.from(reference, 'hex'))).toEqual({
      app_name: 'temp',
      partition_indices: [],
    })
  })

  test('partition_configuration from 2.5.0 (no hp_* fields) decodes without them', () => {
    const hex = cat(
      hx.field(T.STRUCT, 1),
      hx.gpid(1, 0),
      hx.field(T.I64, 2),
      hx.i64(3),
      hx.field(T.I32, 3),
      hx.i32(3),
      hx.field(T.STRUCT, 4),
      hx.addr(127, 0, 0, 1, 34801),
      hx.field(T.LIST, 5),
      hx.list(T.STRUCT, 0),
      hx.field(T.LIST, 6),
      hx.list(T.STRUCT, 0),
      hx.field(T.I64, 7),
      hx.i64(10),
      hx.field(T.I32, 8),
      hx.i32(0),
      hx.stop,
    )
    const pc = PartitionConfigurationCodec.decode(Buffer.from(hex, 'hex'))
    expect(pc).toEqual({
      pid: '1.0',
      ballot: 3,
      max_replica_count: 3,
      primary: '127.0.0.1:34801',
      secondaries: [],
      last_drops: [],
      last_committed_decree: 10,
      partition_flags: 0,
    })
    expect('hp_primary' in pc).toBe(false)
  })

  test('unknown fields are skipped and missing required fields take their IDL default', () => {
    const hex = cat(
      hx.field(T.STRING, 3),
      hx.str('t'),
      hx.field(T.STRING, 99),
      hx.str('future'),
      hx.field(T.LIST, 98),
      hx.list(T.I32, 1),
      hx.i32(1),
      hx.stop,
    )
    const info = AppInfoCodec.decode(Buffer.from(hex, 'hex'))
    expect(info.app_name).toBe('t')
    expect(info.init_partition_count).toBe(-1)
    expect(info.status).toBe(0)
    expect(info.envs).toEqual({})
  })

  test('request meta v1 with every field', () => {
    const v = {
      app_id: 2,
      partition_index: 3,
      client_timeout: 5000,
      client_partition_hash: 0xfedcba9876543210n,
      is_backup_request: true,
    }
    const hex = cat(
      hx.field(T.I32, 1),
      hx.i32(2),
      hx.field(T.I32, 2),
      hx.i32(3),
      hx.field(T.I32, 3),
      hx.i32(5000),
      hx.field(T.I64, 4),
      'fedcba9876543210',
      hx.field(T.BOOL, 5),
      '01',
      hx.stop,
    )
    expect(RequestMetaV1Codec.encode(v).toString('hex')).toBe(hex)
    const back = RequestMetaV1Codec.decode(Buffer.from(hex, 'hex'))
    expect(BigInt.asUintN(64, back.client_partition_hash as bigint)).toBe(0xfedcba9876543210n)
  })

  test('truncated, trailing and out-of-range data are WireErrors', () => {
    const full = RPCS.RPC_CM_CONTROL_META.response.encode({err: 'ERR_OK', old_level: 400})
    expect(() => RPCS.RPC_CM_CONTROL_META.response.decode(full.subarray(0, full.length - 3))).toThrow(WireError)
    expect(() => RPCS.RPC_CM_CONTROL_META.response.decode(Buffer.concat([full, Buffer.from([0])]))).toThrow(/trailing/)
    const huge = cat(hx.field(T.I64, 9), hx.i64(2n ** 60n), hx.stop)
    expect(() => AppInfoCodec.decode(Buffer.from(huge, 'hex'))).toThrow(/safe-integer/)
    expect(() => RPCS.RPC_CM_CONTROL_META.request.encode({level: 1.5 as never})).toThrow(WireError)
    expect(() =>
      RPCS.RPC_CM_START_RECOVERY.request.encode({
        recovery_nodes: ['node1:34801'],
        skip_bad_nodes: false,
        skip_lost_partitions: false,
      }),
    ).toThrow(/IPv4/)
  })
})

describe('readI64Num (issue 17: read without a bigint where the high word allows)', () => {
  test('gives the exact value at every boundary and refuses what a number cannot hold', () => {
    const back = (v: bigint) => {
      const w = new BinaryWriter()
      writeI64Big(w.proto, v)
      return readI64Num(new BinaryReader(w.toBuffer()).proto)
    }
    const exact = [
      0n,
      1n,
      -1n,
      2n ** 32n,
      2n ** 32n - 1n,
      -(2n ** 32n),
      -(2n ** 32n) - 1n,
      2n ** 53n - 1n,
      -(2n ** 53n) + 1n,
    ]
    for (const v of [...exact, 2n ** 52n, -(2n ** 52n) - 7n]) expect(back(v)).toBe(Number(v))
    for (const v of [2n ** 53n, -(2n ** 53n), 2n ** 60n, -(2n ** 63n)]) expect(() => back(v)).toThrow(/safe-integer/)
  })
})
