/**
 * Thrift binary protocol plumbing: in-memory transports for the official `thrift` package's
 * TBinaryProtocol, and Pegasus's special encodings (rpc_address, gpid, host_port, error_code),
 * which sit behind a T_STRUCT field type but carry a raw payload instead of a struct.
 */
import thrift from 'thrift'
import type {TProtocol, TTransport} from 'thrift'
import {LifeboatError} from '../../../errors.js'

const {TBinaryProtocol} = thrift

/** Thrift type ids (TType) used on the wire. */
export const TType = {
  STOP: 0,
  BOOL: 2,
  BYTE: 3,
  DOUBLE: 4,
  I16: 6,
  I32: 8,
  I64: 10,
  STRING: 11,
  STRUCT: 12,
  MAP: 13,
  SET: 14,
  LIST: 15,
} as const

/** Thrift message types. */
export const MessageType = {CALL: 1, REPLY: 2, EXCEPTION: 3, ONEWAY: 4} as const

/**
 * Bytes that do not follow the protocol: a bad header, a truncated struct, a value out of range.
 * The server closes the offending connection; the client reports the server as misbehaving.
 */
export class WireError extends LifeboatError {
  constructor(message: string) {
    super('PEGASUS_BAD_MESSAGE', message, {
      hints: ['Check that the peer is a Pegasus server (or client) speaking THFT over thrift binary.'],
    })
    this.name = 'WireError'
  }
}

/** Collects what TBinaryProtocol writes. */
class BufferWriteTransport {
  private readonly chunks: Buffer[] = []
  private size = 0
  write(buf: Buffer | string): void {
    const b = typeof buf === 'string' ? Buffer.from(buf) : buf
    this.chunks.push(b)
    this.size += b.length
  }
  setCurrSeqId(): void {}
  flush(): void {}
  isOpen(): boolean {
    return true
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.size)
  }
}

/**
 * The in-memory transport under `p` when `p` reads from one (a BinaryReader's protocol): the codecs
 * then read through the compiled readers (read-compiled.ts), which read its buffer directly.
 */
export function bufferTransportOf(p: TProtocol): BufferReadTransport | undefined {
  const t = (p as unknown as {trans?: unknown}).trans
  return t instanceof BufferReadTransport ? t : undefined
}

/** The error of a read of `wanted` bytes at `offset` in a buffer of `length` bytes that ends too soon. */
export function truncatedError(wanted: number, offset: number, length: number): WireError {
  return new WireError(`truncated thrift data: wanted ${wanted} bytes at offset ${offset} of ${length}`)
}

/**
 * Serves TBinaryProtocol's reads from one buffer, refusing to read past its end. The compiled
 * struct readers (read-compiled.ts) read `buf` at `pos` themselves, with the same bounds checks.
 */
export class BufferReadTransport {
  /** The next byte to read. */
  pos: number
  constructor(
    readonly buf: Buffer,
    start = 0,
  ) {
    this.pos = start
  }
  get offset(): number {
    return this.pos
  }
  remaining(): number {
    return this.buf.length - this.pos
  }
  private take(n: number): number {
    if (n < 0 || this.pos + n > this.buf.length) throw truncatedError(n, this.pos, this.buf.length)
    const at = this.pos
    this.pos += n
    return at
  }
  read(len: number): Buffer {
    const at = this.take(len)
    return this.buf.subarray(at, at + len)
  }
  readByte(): number {
    return this.buf.readInt8(this.take(1))
  }
  readI16(): number {
    return this.buf.readInt16BE(this.take(2))
  }
  readI32(): number {
    return this.buf.readInt32BE(this.take(4))
  }
  readDouble(): number {
    return this.buf.readDoubleBE(this.take(8))
  }
  readString(len: number): string {
    const at = this.take(len)
    return decodeUtf8(this.buf, at, at + len)
  }
  ensureAvailable(len: number): void {
    if (this.remaining() < len) throw new WireError('truncated thrift data')
  }
  isOpen(): boolean {
    return true
  }
}

/** Strings up to this many bytes are decoded here when they are ASCII (see decodeUtf8). */
const SHORT_STRING = 32

/** Short strings decoded lately, by a hash of their bytes: a gather reads the same few thousand again and again. */
const recentStrings: (string | undefined)[] = new Array<string | undefined>(4096)

/**
 * The UTF-8 text of `buf[start, end)`, as `buf.toString('utf8', start, end)` gives it. A short
 * ASCII string (a table name, a disk tag, `pegasus`) is the one decoded last time when its bytes
 * are the same, else it is built here: at 192,000 replicas of two strings each, Buffer#toString's
 * argument checks cost more than the decoding, and a string per field would be garbage.
 */
export function decodeUtf8(buf: Buffer, start: number, end: number): string {
  const length = end - start
  if (length > SHORT_STRING) return buf.toString('utf8', start, end)
  let h = length
  for (let i = start; i < end; i++) {
    const c = buf[i]!
    if (c >= 0x80) return buf.toString('utf8', start, end)
    h = (Math.imul(h, 31) + c) | 0
  }
  const slot = h & (recentStrings.length - 1)
  const seen = recentStrings[slot]
  if (seen !== undefined && seen.length === length) {
    let same = true
    for (let i = 0; i < length; i++) {
      if (seen.charCodeAt(i) !== buf[start + i]) {
        same = false
        break
      }
    }
    if (same) return seen
  }
  let s = ''
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!)
  recentStrings[slot] = s
  return s
}

/**
 * `proto` with the primitive writes that TBinaryProtocol makes through the deprecated `new
 * Buffer()` made with Buffer.allocUnsafe / Buffer.from instead, the same bytes: Node checks the
 * call stack of each of the first 10,000 `new Buffer()` calls for node_modules, which costs a
 * gather a tenth of a second and the lab's replica servers more.
 */
function withBufferWrites(proto: TProtocol, trans: BufferWriteTransport): TProtocol {
  const original = proto.writeString.bind(proto)
  const writeI32 = (v: number): void => {
    const b = Buffer.allocUnsafe(4)
    b[0] = (v >> 24) & 0xff
    b[1] = (v >> 16) & 0xff
    b[2] = (v >> 8) & 0xff
    b[3] = v & 0xff
    trans.write(b)
  }
  return Object.assign(proto, {
    writeByte(v: number): void {
      trans.write(Buffer.from([v]))
    },
    writeI16(v: number): void {
      const b = Buffer.allocUnsafe(2)
      b[0] = (v >> 8) & 0xff
      b[1] = v & 0xff
      trans.write(b)
    },
    writeI32,
    writeString(v: string | Buffer): void {
      if (typeof v !== 'string') {
        original(v)
        return
      }
      writeI32(Buffer.byteLength(v, 'utf8'))
      trans.write(Buffer.from(v, 'utf8'))
    },
  })
}

/** A TBinaryProtocol writer (strict, as every Pegasus client and server writes) over memory. */
export class BinaryWriter {
  private readonly trans = new BufferWriteTransport()
  /** The thrift package's own protocol implementation. */
  readonly proto: TProtocol = withBufferWrites(
    new TBinaryProtocol(this.trans as unknown as TTransport, false, true),
    this.trans,
  )
  /** Appends bytes encoded earlier (a struct from {@link BinaryWriter.toBuffer}). */
  raw(bytes: Buffer): void {
    this.trans.write(bytes)
  }
  toBuffer(): Buffer {
    return this.trans.toBuffer()
  }
}

/** A TBinaryProtocol reader over one buffer. */
export class BinaryReader {
  private readonly trans: BufferReadTransport
  readonly proto: TProtocol
  constructor(buf: Buffer, start = 0) {
    this.trans = new BufferReadTransport(buf, start)
    this.proto = new TBinaryProtocol(this.trans as unknown as TTransport, false, true)
  }
  /** Bytes not read yet. */
  remaining(): number {
    return this.trans.remaining()
  }
  /** Current read offset in the buffer. */
  get offset(): number {
    return this.trans.offset
  }
}

// ---- raw i64 access (TBinaryProtocol's Int64 loses precision above 2^53) ----

/** Writes a signed 64-bit value given as a bigint. */
export function writeI64Big(p: TProtocol, v: bigint): void {
  // TBinaryProtocol writes an Int64's buffer as it is: these 8 bytes are what new Int64(hi, lo)
  // holds, without its deprecated new Buffer(8).
  const b = Buffer.allocUnsafe(8)
  b.writeBigInt64BE(BigInt.asIntN(64, v))
  p.writeI64({buffer: b, offset: 0} as unknown as InstanceType<typeof thrift.Int64>)
}

/** Reads a 64-bit value as a signed bigint. */
export function readI64Big(p: TProtocol): bigint {
  const v = p.readI64() as unknown as {buffer: Buffer; offset: number}
  return v.buffer.readBigInt64BE(v.offset)
}

/** Writes an i64 field value held as a JS number (must be a safe integer). */
export function writeI64Num(p: TProtocol, v: number): void {
  if (!Number.isSafeInteger(v)) throw new WireError(`i64 value ${v} is not a safe integer`)
  writeI64Big(p, BigInt(v))
}

/** Reads an i64 as a JS number, refusing values that a number cannot hold exactly. */
export function readI64Num(p: TProtocol): number {
  // The two big-endian words read as i32s: the same 8 bytes as readI64, without the Int64 object
  // and buffer slice it makes (192,000 replicas of a few i64s each in a pegasus-scale gather).
  const hi = p.readI32()
  const lo = p.readI32() >>> 0
  return i64NumOfWords(hi, lo)
}

/** The i64 of two big-endian words (`hi` signed, `lo` unsigned) as a JS number, refusing unsafe ones. */
export function i64NumOfWords(hi: number, lo: number): number {
  // Without a bigint when the high word is small enough that hi * 2^32 + lo is exact (every ballot,
  // decree and time a gather reads); the same answer.
  if (hi >= -0x200000 && hi < 0x200000) {
    const n = hi * 0x100000000 + lo
    if (Number.isSafeInteger(n)) return n
  }
  const v = (BigInt(hi) << 32n) | BigInt(lo)
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new WireError(`i64 value ${v} is outside the safe-integer range`)
  }
  return Number(v)
}

// ---- rpc_address: i64 (ipv4 << 32) | (port << 16) | type, type 1 = IPv4, 0 = invalid ----

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/

/** Encodes `"a.b.c.d:port"` (or `""` for the invalid address) as the 64-bit rpc_address value. */
export function rpcAddressToBigInt(addr: string): bigint {
  if (addr === '') return 0n
  const m = IPV4.exec(addr)
  if (!m)
    throw new WireError(
      `rpc_address "${addr}" is not "a.b.c.d:port" (rpc_address carries IPv4 only; use the hp_* field for host names)`,
    )
  const octets = m.slice(1, 5).map(Number)
  const port = Number(m[5])
  if (octets.some((o) => o > 255) || port > 65535) throw new WireError(`rpc_address "${addr}" is out of range`)
  const ip = BigInt(((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0)
  return (ip << 32n) | (BigInt(port) << 16n) | 1n
}

/** Decodes a 64-bit rpc_address value; 0 (type invalid) gives `""`. */
export function rpcAddressFromBigInt(v: bigint): string {
  const u = BigInt.asUintN(64, v)
  const type = Number(u & 3n)
  if (type === 0) return ''
  if (type !== 1)
    throw new WireError(`rpc_address 0x${u.toString(16)} has host type ${type}; only IPv4 (1) travels in binary`)
  const ip = Number(u >> 32n)
  const port = Number((u >> 16n) & 0xffffn)
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${port}`
}

/** Writes an rpc_address payload (the field header, if any, is the caller's). */
export function writeRpcAddress(p: TProtocol, addr: string): void {
  writeI64Big(p, rpcAddressToBigInt(addr))
}

/** Reads an rpc_address payload. */
export function readRpcAddress(p: TProtocol): string {
  const hi = p.readI32()
  const lo = p.readI32()
  return rpcAddressOfWords(hi, lo)
}

/** The rpc_address of its two big-endian words (signed i32s: ip; port << 16 | type). */
export function rpcAddressOfWords(hi: number, lo: number): string {
  // No Int64, buffer slice or bigint per address; the same answer as rpcAddressFromBigInt, which
  // still words the errors.
  const type = lo & 3
  if (type !== 1) return rpcAddressFromBigInt(BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo >>> 0)))
  const ip = hi >>> 0
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}:${(lo >>> 16) & 0xffff}`
}

// ---- gpid: i64 with app_id in the low 32 bits and partition_index in the high 32 bits ----

// A gpid is `-?\d+` `.` `-?\d+` (gpidParts reads it in place).

/**
 * `"1.3"` as `[1, 3]`, or undefined when it is not `app_id.partition_index` (the one gpid reader):
 * what matching GPID and Number() give, read in place (it runs per replica of a gather).
 */
export function gpidParts(gpid: string): [number, number] | undefined {
  const dot = gpid.indexOf('.')
  if (dot < 0) return undefined
  const app = gpidNumber(gpid, 0, dot)
  if (app === undefined) return undefined
  const pidx = gpidNumber(gpid, dot + 1, gpid.length)
  return pidx === undefined ? undefined : [app, pidx]
}

/** `-?\d+` spanning `s[start, end)` as a number, or undefined. */
function gpidNumber(s: string, start: number, end: number): number | undefined {
  let i = start
  const negative = i < end && s.charCodeAt(i) === 45
  if (negative) i++
  if (i >= end) return undefined
  let n = 0
  for (let j = i; j < end; j++) {
    const c = s.charCodeAt(j)
    if (c < 48 || c > 57) return undefined
    n = n * 10 + (c - 48)
  }
  // Past 15 digits the sum above may round differently from Number(): let Number() read it.
  if (end - i > 15) return Number(s.slice(start, end))
  return negative ? -n : n
}

/** Splits `"app.pidx"` into its numbers; throws WireError when it is not a gpid of two int32. */
export function parseGpid(gpid: string): {app_id: number; partition_index: number} {
  const parts = gpidParts(gpid)
  if (!parts) throw new WireError(`gpid "${gpid}" is not "app_id.partition_index"`)
  const [app_id, partition_index] = parts
  for (const n of [app_id, partition_index]) {
    if (n < -2147483648 || n > 2147483647) throw new WireError(`gpid "${gpid}" does not fit two int32`)
  }
  return {app_id, partition_index}
}

/** Formats a gpid as `"app.pidx"`. */
export function formatGpid(app_id: number, partition_index: number): string {
  return `${app_id}.${partition_index}`
}

/**
 * Encodes a gpid. Both halves are masked to uint32 before combining, so `-1.-1` becomes
 * 0xFFFFFFFFFFFFFFFF as the C++ union does (adding a sign-extended app_id would corrupt the high half).
 */
export function gpidToBigInt(gpid: string): bigint {
  const {app_id, partition_index} = parseGpid(gpid)
  return BigInt.asIntN(64, (BigInt(partition_index >>> 0) << 32n) | BigInt(app_id >>> 0))
}

/** Decodes a 64-bit gpid value into `"app.pidx"`. */
export function gpidFromBigInt(v: bigint): string {
  const u = BigInt.asUintN(64, v)
  return formatGpid(Number(u & 0xffffffffn) | 0, Number(u >> 32n) | 0)
}

/** Writes a gpid payload. */
export function writeGpid(p: TProtocol, gpid: string): void {
  writeI64Big(p, gpidToBigInt(gpid))
}

/** Reads a gpid payload. */
export function readGpid(p: TProtocol): string {
  // The high word is partition_index, the low word app_id, each an int32: as gpidFromBigInt
  // gives them, without the Int64, buffer slice and bigint it would make per replica.
  const partitionIndex = p.readI32()
  const appId = p.readI32()
  return formatGpid(appId, partitionIndex)
}

// ---- host_port: string host; i16 port; byte type, without struct framing ----

/** Splits `"host:port"` (the last colon separates the port). `""` is the invalid host_port. */
export function parseHostPort(hp: string): {host: string; port: number; type: number} {
  if (hp === '') return {host: '', port: 0, type: 0}
  const i = hp.lastIndexOf(':')
  const port = Number(hp.slice(i + 1))
  if (i <= 0 || !/^\d{1,5}$/.test(hp.slice(i + 1)) || port > 65535) {
    throw new WireError(`host_port "${hp}" is not "host:port"`)
  }
  return {host: hp.slice(0, i), port, type: 1}
}

/** Writes a host_port payload: host string, port as i16 (two's complement above 32767), type byte. */
export function writeHostPort(p: TProtocol, hp: string): void {
  const {host, port, type} = parseHostPort(hp)
  p.writeString(host)
  p.writeI16(port > 32767 ? port - 65536 : port)
  p.writeByte(type)
}

/** Reads a host_port payload; type 0 (invalid) gives `""`. */
export function readHostPort(p: TProtocol): string {
  const host = p.readString()
  const port = p.readI16() & 0xffff
  const type = p.readByte()
  return hostPortOf(host, port, type)
}

/** The host_port of its three parts as read (port unsigned); type 0 (invalid) gives `""`. */
export function hostPortOf(host: string, port: number, type: number): string {
  if (type === 0) return ''
  if (type !== 1) throw new WireError(`host_port "${host}:${port}" has host type ${type}; only IPv4 (1) is served`)
  return `${host}:${port}`
}

/** Writes an error_code payload: its name as a thrift string. */
export function writeErrorCode(p: TProtocol, name: string): void {
  p.writeString(name)
}

/** Reads an error_code payload. */
export function readErrorCode(p: TProtocol): string {
  return p.readString()
}
