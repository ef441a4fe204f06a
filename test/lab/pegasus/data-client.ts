// A Pegasus data client for the tests, written apart from the lab's codecs: requests and replies
// go through the `thrift` package's TBinaryProtocol over its TBufferedTransport, field by field
// with the ids of upstream's idl/rrdb.thrift, framed with the 48-byte THFT v0 header as
// Pegasus's Go and Node.js clients send it. A `base.blob` travels as a T_STRUCT field whose
// payload is a thrift binary (upstream's go-client/idl/base/blob.go).
import net from 'node:net'

import thrift from 'thrift'
import type {TProtocol} from 'thrift'

const {TBinaryProtocol, TBufferedTransport, Int64, Thrift} = thrift
const T = Thrift.Type

/** A request argument or struct field, as written. */
export type Arg =
  | {id: number; blob: Buffer}
  | {id: number; i32: number}
  | {id: number; i64: bigint}
  | {id: number; bool: boolean}
  | {id: number; blobs: Buffer[]}
  | {id: number; structs: Arg[][]}
  | {id: number; struct: Arg[]}

/** How to read a struct: which field ids hold blobs, and the element layout of list fields. */
export interface Shape {
  blobs?: number[]
  lists?: Record<number, Shape>
}

/** A struct as read: values by field id (blob and string as Buffer, i64 as bigint, lists as arrays). */
export type Fields = Map<number, unknown>

export const KV: Shape = {blobs: [1, 2]}
/** Reply shapes by RPC (field ids from rrdb.thrift). */
export const SHAPES: Record<string, Shape> = {
  RPC_RRDB_RRDB_PUT: {},
  RPC_RRDB_RRDB_MULTI_PUT: {},
  RPC_RRDB_RRDB_REMOVE: {},
  RPC_RRDB_RRDB_GET: {blobs: [2]},
  RPC_RRDB_RRDB_TTL: {},
  RPC_RRDB_RRDB_SORTKEY_COUNT: {},
  RPC_RRDB_RRDB_MULTI_GET: {lists: {2: KV}},
  RPC_RRDB_RRDB_GET_SCANNER: {lists: {2: KV}},
  RPC_RRDB_RRDB_SCAN: {lists: {2: KV}},
}

function writeArg(p: TProtocol, a: Arg): void {
  if ('blob' in a) {
    p.writeFieldBegin('', T.STRUCT, a.id)
    p.writeBinary(a.blob)
  } else if ('i32' in a) {
    p.writeFieldBegin('', T.I32, a.id)
    p.writeI32(a.i32)
  } else if ('i64' in a) {
    p.writeFieldBegin('', T.I64, a.id)
    const u = BigInt.asUintN(64, a.i64)
    p.writeI64(new Int64(Number(u >> 32n), Number(u & 0xffffffffn)))
  } else if ('bool' in a) {
    p.writeFieldBegin('', T.BOOL, a.id)
    p.writeBool(a.bool)
  } else if ('blobs' in a) {
    p.writeFieldBegin('', T.LIST, a.id)
    p.writeListBegin(T.STRUCT, a.blobs.length)
    for (const b of a.blobs) p.writeBinary(b)
    p.writeListEnd()
  } else if ('struct' in a) {
    p.writeFieldBegin('', T.STRUCT, a.id)
    writeStruct(p, a.struct)
  } else {
    p.writeFieldBegin('', T.LIST, a.id)
    p.writeListBegin(T.STRUCT, a.structs.length)
    for (const s of a.structs) writeStruct(p, s)
    p.writeListEnd()
  }
  p.writeFieldEnd()
}

function writeStruct(p: TProtocol, fields: Arg[]): void {
  p.writeStructBegin('')
  for (const f of fields) writeArg(p, f)
  p.writeFieldStop()
  p.writeStructEnd()
}

function readValue(p: TProtocol, ftype: number, blob: boolean, shape: Shape | undefined): unknown {
  if (blob) return Buffer.from(p.readBinary() as unknown as Buffer)
  switch (ftype) {
    case T.BOOL:
      return p.readBool()
    case T.I32:
      return p.readI32()
    case T.I64: {
      const v = p.readI64() as unknown as {buffer: Buffer; offset: number}
      return v.buffer.readBigInt64BE(v.offset)
    }
    case T.STRING:
      return Buffer.from(p.readBinary() as unknown as Buffer)
    case T.STRUCT:
      return readStruct(p, shape ?? {})
    case T.LIST: {
      const {etype, size} = p.readListBegin()
      const out: unknown[] = []
      for (let i = 0; i < size; i++) out.push(readValue(p, etype, false, shape))
      p.readListEnd()
      return out
    }
    default:
      p.skip(ftype as never)
      return undefined
  }
}

function readStruct(p: TProtocol, shape: Shape): Fields {
  const out: Fields = new Map()
  p.readStructBegin()
  for (;;) {
    const {ftype, fid} = p.readFieldBegin()
    if (ftype === T.STOP) break
    const blob = (shape.blobs ?? []).includes(fid) && ftype === T.STRUCT
    out.set(fid, readValue(p, ftype, blob, shape.lists?.[fid]))
    p.readFieldEnd()
  }
  p.readStructEnd()
  return out
}

/** One call's outcome: the rDSN error of the call and, when it ran, the response's fields. */
export interface Reply {
  err: string
  fields?: Fields
}

/** Encodes a call: the v0 header, then MessageBegin, the args struct, MessageEnd. */
export function encodeCall(
  name: string,
  seqid: number,
  gpid: [number, number],
  args: Arg[],
  partitionHash = 0n,
  oneway = false,
): Buffer {
  let body = Buffer.alloc(0)
  const t = new TBufferedTransport(undefined, (buf?: Buffer) => {
    if (buf) body = Buffer.concat([body, buf])
  })
  const p = new TBinaryProtocol(t)
  p.writeMessageBegin(name, oneway ? Thrift.MessageType.ONEWAY : Thrift.MessageType.CALL, seqid)
  writeStruct(p, args)
  p.writeMessageEnd()
  p.flush()
  const h = Buffer.alloc(48)
  h.write('THFT', 0, 'latin1')
  h.writeUInt32BE(0, 4) // version
  h.writeUInt32BE(48, 8) // header length
  h.writeUInt32BE(0, 12) // header crc (not checked)
  h.writeUInt32BE(body.length, 16)
  h.writeUInt32BE(0, 20) // body crc
  h.writeInt32BE(gpid[0], 24)
  h.writeInt32BE(gpid[1], 28)
  h.writeInt32BE(5000, 32) // client timeout
  h.writeInt32BE(gpid[0] * 7919 + gpid[1], 36) // thread hash
  h.writeBigUInt64BE(BigInt.asUintN(64, partitionHash), 40)
  return Buffer.concat([h, body])
}

/** A connection to one replica server; calls are pipelined and matched by seqid. */
export class TestDataClient {
  private readonly socket: net.Socket
  private readonly waiting = new Map<number, {shape: Shape; resolve: (r: Reply) => void}>()
  private buffered = Buffer.alloc(0)
  private seqid = 100

  constructor(address: string) {
    const i = address.lastIndexOf(':')
    this.socket = net.createConnection({host: address.slice(0, i), port: Number(address.slice(i + 1))})
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk))
    this.socket.on('error', () => {})
  }

  private onData(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk])
    while (this.buffered.length >= 4) {
      const total = this.buffered.readInt32BE(0)
      if (this.buffered.length < total) return
      const frame = this.buffered.subarray(4, total)
      this.buffered = this.buffered.subarray(total)
      TBufferedTransport.receiver((reader: unknown) => {
        const p = new TBinaryProtocol(reader as never)
        const err = p.readString()
        const m = p.readMessageBegin()
        const w = this.waiting.get(m.rseqid)
        if (!w) return
        this.waiting.delete(m.rseqid)
        if (err !== 'ERR_OK') return w.resolve({err})
        p.readStructBegin()
        p.readFieldBegin() // field 0: the response struct
        const fields = readStruct(p, w.shape)
        w.resolve({err, fields})
      }, 0)(frame)
    }
  }

  /** Calls `name` on partition `gpid` with `args` as the fields of the args struct, and waits for the reply. */
  call(name: string, gpid: [number, number], args: Arg[], partitionHash = 0n): Promise<Reply> {
    const seqid = this.seqid++
    return new Promise((resolve) => {
      this.waiting.set(seqid, {shape: SHAPES[name] ?? {}, resolve})
      this.socket.write(encodeCall(name, seqid, gpid, args, partitionHash))
    })
  }

  /** Sends a one-way call (no reply comes). */
  send(name: string, gpid: [number, number], args: Arg[]): void {
    this.socket.write(encodeCall(name, this.seqid++, gpid, args, 0n, true))
  }

  close(): void {
    this.socket.destroy()
  }
}

/** Pegasus's stored key: u16 big-endian hash-key length, hash key, sort key. */
export function pegasusKey(hashKey: string, sortKey: string): Buffer {
  const h = Buffer.from(hashKey)
  const len = Buffer.alloc(2)
  len.writeUInt16BE(h.length)
  return Buffer.concat([len, h, Buffer.from(sortKey)])
}
