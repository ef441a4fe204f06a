/**
 * THFT framing: requests with the v1 (16-byte + request meta) or v0 (48-byte) header, replies with
 * an i32 total length and the error-code name, and stream reassembly for both directions.
 * Layouts are in docs/pegasus-wire.md (from src/rpc/thrift_message_parser.cpp).
 */
import type {TProtocol} from 'thrift'
import {RequestMetaV1Codec, type StructCodec} from './messages.js'
import {BinaryReader, BinaryWriter, MessageType, TType, WireError} from './protocol.js'
import type {RequestMetaV1} from './types.js'

/** The 4 signature bytes of a THFT request. */
export const THFT_SIGNATURE = 'THFT'
const SIGNATURE_BYTES = Buffer.from(THFT_SIGNATURE, 'latin1')
/** Length of the v0 header. */
export const HEADER_LENGTH_V0 = 48
/** Length of the v1 header (the request meta and the body follow it). */
export const HEADER_LENGTH_V1 = 16
/** The largest frame either side accepts: a bad length must not make us buffer forever. */
export const MAX_FRAME_BYTES = 256 * 1024 * 1024

/** rDSN's thread hash for a gpid, as the v0 header carries it and the server derives it for v1. */
export function gpidThreadHash(app_id: number, partition_index: number): number {
  return (Math.imul(app_id, 7919) + partition_index) | 0
}

/** Fields of the v0 header after the lengths. */
export interface RequestHeaderV0 {
  app_id: number
  partition_index: number
  client_timeout: number
  thread_hash: number
  partition_hash: bigint
  hdr_crc32: number
  body_crc32: number
}

/**
 * Encodes a call body: `MessageBegin(name, T_CALL, seqid)`, the args struct with the request in
 * field 1, STOP. This is what every Pegasus client puts after the THFT header.
 */
export function encodeCallBody<T>(name: string, seqid: number, codec: StructCodec<T>, request: T): Buffer {
  const w = new BinaryWriter()
  const p = w.proto
  p.writeMessageBegin(name, MessageType.CALL as never, seqid)
  p.writeStructBegin('args')
  p.writeFieldBegin('req', TType.STRUCT as never, 1)
  codec.write(p, request)
  p.writeFieldEnd()
  p.writeFieldStop()
  p.writeStructEnd()
  p.writeMessageEnd()
  return w.toBuffer()
}

/** Frames a body with the v1 header and a `thrift_request_meta_v1` (Java, Go-admin and Python style). */
export function frameRequestV1(body: Buffer, meta: RequestMetaV1 = {}): Buffer {
  const metaBytes = RequestMetaV1Codec.encode(meta)
  const hdr = Buffer.alloc(HEADER_LENGTH_V1)
  hdr.write(THFT_SIGNATURE, 0, 'latin1')
  hdr.writeUInt32BE(1, 4)
  hdr.writeUInt32BE(metaBytes.length, 8)
  hdr.writeUInt32BE(body.length, 12)
  return Buffer.concat([hdr, metaBytes, body])
}

/** Frames a body with the 48-byte v0 header (nodejs and Go data clients). CRCs default to 0. */
export function frameRequestV0(body: Buffer, h: Partial<RequestHeaderV0> = {}): Buffer {
  const app_id = h.app_id ?? 0
  const partition_index = h.partition_index ?? 0
  const hdr = Buffer.alloc(HEADER_LENGTH_V0)
  hdr.write(THFT_SIGNATURE, 0, 'latin1')
  hdr.writeUInt32BE(0, 4)
  hdr.writeUInt32BE(HEADER_LENGTH_V0, 8)
  hdr.writeUInt32BE((h.hdr_crc32 ?? 0) >>> 0, 12)
  hdr.writeUInt32BE(body.length, 16)
  hdr.writeUInt32BE((h.body_crc32 ?? 0) >>> 0, 20)
  hdr.writeInt32BE(app_id, 24)
  hdr.writeInt32BE(partition_index, 28)
  hdr.writeInt32BE(h.client_timeout ?? 0, 32)
  hdr.writeInt32BE(h.thread_hash ?? gpidThreadHash(app_id, partition_index), 36)
  hdr.writeBigUInt64BE(BigInt.asUintN(64, h.partition_hash ?? 0n), 40)
  return Buffer.concat([hdr, body])
}

/** A complete request as the server received it. */
export interface ReceivedRequest {
  version: 0 | 1
  app_id: number
  partition_index: number
  client_timeout: number
  thread_hash: number
  partition_hash: bigint
  is_backup_request: boolean
  /** The thrift body: MessageBegin, args struct, MessageEnd. */
  body: Buffer
}

/** Bytes received and not consumed yet, kept as chunks so large frames are copied once. */
export class ByteQueue {
  private chunks: Buffer[] = []
  private total = 0
  get length(): number {
    return this.total
  }
  push(chunk: Buffer): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.total += chunk.length
  }
  /** The first n bytes (n <= length), without consuming them. */
  peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n)
    const merged = Buffer.concat(this.chunks, this.total)
    this.chunks = [merged]
    return merged.subarray(0, n)
  }
  /** Removes and returns the first n bytes (n <= length). */
  take(n: number): Buffer {
    const out = this.peek(n)
    let left = n
    while (left > 0) {
      const c = this.chunks[0]
      if (c.length <= left) {
        this.chunks.shift()
        left -= c.length
      } else {
        this.chunks[0] = c.subarray(left)
        left = 0
      }
    }
    this.total -= n
    return out
  }
}

/**
 * Reassembles THFT requests from a TCP stream, as thrift_message_parser does: v1 and v0 headers,
 * anything else (wrong signature, version, v0 hdr_length, oversized frame) is a {@link WireError}
 * after which the stream cannot continue.
 */
export class RequestFrameDecoder {
  private readonly q = new ByteQueue()

  /** Adds received bytes and returns every request now complete. */
  push(chunk: Buffer): ReceivedRequest[] {
    this.q.push(chunk)
    const out: ReceivedRequest[] = []
    for (;;) {
      const r = this.next()
      if (!r) return out
      out.push(r)
    }
  }

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.q.length
  }

  private next(): ReceivedRequest | undefined {
    if (this.q.length < 8) {
      if (this.q.length > 0) checkSignature(this.q.peek(Math.min(4, this.q.length)))
      return undefined
    }
    const start = this.q.peek(8)
    checkSignature(start)
    const version = start.readUInt32BE(4)
    if (version === 0) {
      if (this.q.length < HEADER_LENGTH_V0) return undefined
      const h = this.q.peek(HEADER_LENGTH_V0)
      const hdrLength = h.readUInt32BE(8)
      if (hdrLength !== HEADER_LENGTH_V0) throw new WireError(`THFT v0 hdr_length should be 48, but ${hdrLength}`)
      const bodyLength = h.readUInt32BE(16)
      if (bodyLength > MAX_FRAME_BYTES) throw new WireError(`THFT body_length ${bodyLength} is too large`)
      if (this.q.length < HEADER_LENGTH_V0 + bodyLength) return undefined
      this.q.take(HEADER_LENGTH_V0)
      const body = this.q.take(bodyLength)
      return {
        version: 0,
        app_id: h.readInt32BE(24),
        partition_index: h.readInt32BE(28),
        client_timeout: h.readInt32BE(32),
        thread_hash: h.readInt32BE(36),
        partition_hash: h.readBigUInt64BE(40),
        is_backup_request: false,
        body,
      }
    }
    if (version === 1) {
      if (this.q.length < HEADER_LENGTH_V1) return undefined
      const h = this.q.peek(HEADER_LENGTH_V1)
      const metaLength = h.readUInt32BE(8)
      const bodyLength = h.readUInt32BE(12)
      if (metaLength + bodyLength > MAX_FRAME_BYTES)
        throw new WireError(`THFT v1 frame of ${metaLength + bodyLength} bytes is too large`)
      if (this.q.length < HEADER_LENGTH_V1 + metaLength + bodyLength) return undefined
      this.q.take(HEADER_LENGTH_V1)
      const meta = RequestMetaV1Codec.decode(this.q.take(metaLength))
      const body = this.q.take(bodyLength)
      const app_id = meta.app_id ?? 0
      const partition_index = meta.partition_index ?? 0
      return {
        version: 1,
        app_id,
        partition_index,
        client_timeout: meta.client_timeout ?? 0,
        thread_hash: gpidThreadHash(app_id, partition_index),
        partition_hash: BigInt.asUintN(64, meta.client_partition_hash ?? 0n),
        is_backup_request: meta.is_backup_request ?? false,
        body,
      }
    }
    throw new WireError(`invalid THFT hdr_version ${version}`)
  }
}

/** Checks the first bytes (up to 4) against "THFT", so garbage is refused as soon as it arrives. */
function checkSignature(b: Buffer): void {
  const head = b.subarray(0, 4)
  if (!head.equals(SIGNATURE_BYTES.subarray(0, head.length))) {
    throw new WireError(`hdr_type mismatch: expected "THFT", got 0x${head.toString('hex')}`)
  }
}

/** A call body opened up: its name and seqid, and a protocol positioned at the args struct. */
export interface OpenedCall {
  name: string
  seqid: number
  mtype: number
  reader: BinaryReader
}

/** Reads the MessageBegin of a call body; only T_CALL and T_ONEWAY are requests. */
export function openCall(body: Buffer): OpenedCall {
  const reader = new BinaryReader(body)
  const m = readMessageBeginStrict(reader.proto)
  if (m.mtype !== MessageType.CALL && m.mtype !== MessageType.ONEWAY) {
    throw new WireError(`invalid message type ${m.mtype} in a request (expected T_CALL)`)
  }
  return {name: m.name, seqid: m.seqid, mtype: m.mtype, reader}
}

/**
 * Reads the request from the args struct: its first field whatever the id (as rDSN's
 * unmarshall_thrift_internal does), then the field header that should be STOP.
 */
export function readArgs<T>(reader: BinaryReader, codec: StructCodec<T>): T {
  const p = reader.proto
  p.readStructBegin()
  const first = p.readFieldBegin()
  if (first.ftype === TType.STOP) throw new WireError('the args struct holds no request')
  const v = codec.read(p)
  p.readFieldEnd()
  p.readFieldBegin()
  p.readStructEnd()
  return v
}

/** Encodes a complete request with the v1 header. */
export function encodeRequestV1<T>(
  name: string,
  seqid: number,
  codec: StructCodec<T>,
  request: T,
  meta: RequestMetaV1 = {},
): Buffer {
  return frameRequestV1(encodeCallBody(name, seqid, codec, request), meta)
}

/** Encodes a complete request with the v0 header. */
export function encodeRequestV0<T>(
  name: string,
  seqid: number,
  codec: StructCodec<T>,
  request: T,
  header: Partial<RequestHeaderV0> = {},
): Buffer {
  return frameRequestV0(encodeCallBody(name, seqid, codec, request), header)
}

/**
 * A response struct encoded once, to be sent in many replies: a server whose state changes
 * rarely encodes a big answer per state change rather than per call.
 */
export class EncodedStruct<T> {
  declare private readonly of?: T
  constructor(readonly bytes: Buffer) {}
}

/** Encodes `value` with `codec` into an {@link EncodedStruct}. */
export function encodeStruct<T>(codec: StructCodec<T>, value: T): EncodedStruct<T> {
  const w = new BinaryWriter()
  codec.write(w.proto, value)
  return new EncodedStruct<T>(w.toBuffer())
}

/**
 * Encodes a reply: i32 total length (itself included), the error name, `MessageBegin(<name>_ACK,
 * T_REPLY, seqid)`, and, when a response is given, the result struct with it in field 0 and STOP.
 * Without a response (a transport-level error such as ERR_HANDLER_NOT_FOUND) the body is empty,
 * as rDSN sends it.
 */
export function encodeReply<T>(
  name: string,
  seqid: number,
  err: string,
  codec?: StructCodec<T>,
  response?: T | EncodedStruct<T>,
): Buffer {
  const w = new BinaryWriter()
  const p = w.proto
  p.writeI32(0)
  p.writeString(err)
  p.writeMessageBegin(`${name}_ACK`, MessageType.REPLY as never, seqid)
  if (codec && response !== undefined) {
    p.writeStructBegin('thrift_rpc_result')
    p.writeFieldBegin('success', TType.STRUCT as never, 0)
    if (response instanceof EncodedStruct) w.raw(response.bytes)
    else codec.write(p, response)
    p.writeFieldEnd()
    p.writeFieldStop()
    p.writeStructEnd()
  }
  p.writeMessageEnd()
  const buf = w.toBuffer()
  buf.writeInt32BE(buf.length, 0)
  return buf
}

/** Splits a reply stream into frames (each without its 4-byte length). */
export class ReplyFrameDecoder {
  private readonly q = new ByteQueue()

  /** Adds received bytes and returns every reply frame now complete. */
  push(chunk: Buffer): Buffer[] {
    this.q.push(chunk)
    const out: Buffer[] = []
    while (this.q.length >= 4) {
      const total = this.q.peek(4).readInt32BE(0)
      if (total < 4 || total > MAX_FRAME_BYTES) throw new WireError(`reply length ${total} is invalid`)
      if (this.q.length < total) break
      this.q.take(4)
      out.push(this.q.take(total - 4))
    }
    return out
  }
}

/** A reply frame opened up. */
export interface OpenedReply {
  /** The rDSN error name of the call itself (ERR_OK unless the server could not run the handler). */
  err: string
  /** The message name, `<RPC>_ACK`. */
  name: string
  seqid: number
  reader: BinaryReader
}

/** Reads the error name and MessageBegin of a reply frame (length already removed). */
export function openReply(frame: Buffer): OpenedReply {
  const reader = new BinaryReader(frame)
  const err = reader.proto.readString()
  const m = readMessageBeginStrict(reader.proto)
  if (m.mtype !== MessageType.REPLY)
    throw new WireError(`invalid message type ${m.mtype} in a reply (expected T_REPLY)`)
  return {err, name: m.name, seqid: m.seqid, reader}
}

/** Reads the response from the result struct (its first field, id 0 when rDSN writes it). */
export function readResult<T>(reader: BinaryReader, codec: StructCodec<T>): T {
  const p = reader.proto
  p.readStructBegin()
  const first = p.readFieldBegin()
  if (first.ftype === TType.STOP) throw new WireError('the reply carries no result')
  const v = codec.read(p)
  p.readFieldEnd()
  const stop = p.readFieldBegin()
  if (stop.ftype !== TType.STOP) throw new WireError('the result struct has more than one field')
  p.readStructEnd()
  return v
}

function readMessageBeginStrict(p: TProtocol): {name: string; mtype: number; seqid: number} {
  // Every Pegasus peer writes the strict form (version word 0x8001); the non-strict form would let
  // garbage be read as a name length.
  const word = p.readI32()
  if ((word & 0xffff0000) !== (0x80010000 | 0))
    throw new WireError(`bad thrift message version word 0x${(word >>> 0).toString(16)}`)
  const name = p.readString()
  const seqid = p.readI32()
  return {name, mtype: word & 0xff, seqid}
}
