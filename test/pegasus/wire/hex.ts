// A tiny hex builder for test vectors written by hand from the IDL: it knows the thrift binary
// layout (big-endian, field = type byte + i16 id) and nothing about lifeboat's codec.

const pad = (n: bigint, bytes: number): string =>
  BigInt.asUintN(bytes * 8, n)
    .toString(16)
    .padStart(bytes * 2, '0')

export const T = {BOOL: 2, I32: 8, I64: 10, STRING: 11, STRUCT: 12, MAP: 13, LIST: 15} as const

export const hx = {
  i8: (n: number) => pad(BigInt(n), 1),
  i16: (n: number) => pad(BigInt(n), 2),
  i32: (n: number) => pad(BigInt(n), 4),
  i64: (n: number | bigint) => pad(BigInt(n), 8),
  bool: (b: boolean) => (b ? '01' : '00'),
  str: (s: string) => pad(BigInt(Buffer.byteLength(s)), 4) + Buffer.from(s).toString('hex'),
  field: (type: number, id: number) => pad(BigInt(type), 1) + pad(BigInt(id), 2),
  list: (etype: number, n: number) => pad(BigInt(etype), 1) + pad(BigInt(n), 4),
  map: (k: number, v: number, n: number) => pad(BigInt(k), 1) + pad(BigInt(v), 1) + pad(BigInt(n), 4),
  stop: '00',
  /** rpc_address payload, computed from the formula (ipv4 << 32) | (port << 16) | 1. */
  addr: (a: number, b: number, c: number, d: number, port: number) =>
    pad((BigInt(((a << 24) | (b << 16) | (c << 8) | d) >>> 0) << 32n) | (BigInt(port) << 16n) | 1n, 8),
  /** gpid payload: app_id in the low word, partition_index in the high word, both as uint32. */
  gpid: (app: number, pidx: number) => pad(BigInt(pidx >>> 0), 4) + pad(BigInt(app >>> 0), 4),
  /** host_port payload: string host, i16 port, byte type (1 = IPv4). */
  hp: (host: string, port: number) =>
    pad(BigInt(Buffer.byteLength(host)), 4) + Buffer.from(host).toString('hex') + pad(BigInt(port), 2) + '01',
}

/** Concatenates hex pieces. */
export const cat = (...parts: string[]): string => parts.join('')
