/**
 * Pegasus's data RPCs (`service rrdb` in upstream idl/rrdb.thrift): the structs with their field
 * ids, and codecs that read and write them as Pegasus's generated clients do. A `base.blob` is
 * declared as a struct in the IDL, so its fields (and list elements) carry the T_STRUCT type id
 * while the payload is a plain thrift binary.
 */
import type {TProtocol} from 'thrift'

import {
  BinaryReader,
  BinaryWriter,
  TType,
  readI64Big,
  skipValue,
  writeI64Big,
  type StructCodec,
} from '../../../engines/pegasus/wire/index.js'

/** rocksdb::Status codes, which the rrdb responses carry in `error`. */
export const RocksStatus = {OK: 0, NOT_FOUND: 1, INVALID_ARGUMENT: 4, INCOMPLETE: 7} as const

/** `filter_type`. */
export const FilterType = {NO_FILTER: 0, MATCH_ANYWHERE: 1, MATCH_PREFIX: 2, MATCH_POSTFIX: 3} as const

/** The context id of a scan that returned its last batch (upstream's SCAN_CONTEXT_ID_COMPLETED). */
export const SCAN_CONTEXT_ID_COMPLETED = -1n

export interface UpdateRequest {
  key: Buffer
  value: Buffer
  expire_ts_seconds: number
}
export interface UpdateResponse {
  error: number
  app_id: number
  partition_index: number
  decree: bigint
  server: string
}
export interface ReadResponse {
  error: number
  value: Buffer
  app_id: number
  partition_index: number
  server: string
}
export interface TtlResponse {
  error: number
  ttl_seconds: number
  app_id: number
  partition_index: number
  server: string
}
export interface CountResponse {
  error: number
  count: bigint
  app_id: number
  partition_index: number
  server: string
}
export interface KeyValue {
  key: Buffer
  value: Buffer
}
export interface MultiPutRequest {
  hash_key: Buffer
  kvs: KeyValue[]
  expire_ts_seconds: number
}
export interface MultiGetRequest {
  hash_key: Buffer
  sort_keys: Buffer[]
  max_kv_count: number
  max_kv_size: number
  no_value: boolean
  start_sortkey: Buffer
  stop_sortkey: Buffer
  start_inclusive: boolean
  stop_inclusive: boolean
  sort_key_filter_type: number
  sort_key_filter_pattern: Buffer
  reverse: boolean
}
export interface MultiGetResponse {
  error: number
  kvs: KeyValue[]
  app_id: number
  partition_index: number
  server: string
}
export interface GetScannerRequest {
  start_key: Buffer
  stop_key: Buffer
  start_inclusive: boolean
  stop_inclusive: boolean
  batch_size: number
  no_value: boolean
  hash_key_filter_type: number
  hash_key_filter_pattern: Buffer
  sort_key_filter_type: number
  sort_key_filter_pattern: Buffer
  need_check_hash?: boolean
}
export interface ScanRequest {
  context_id: bigint
}
export interface ScanResponse {
  error: number
  kvs: KeyValue[]
  context_id: bigint
  app_id: number
  partition_index: number
  server: string
}

/** How a field is encoded. */
type Kind = 'blob' | 'bool' | 'i32' | 'i64' | 'string' | {list: Kind} | {struct: Fields}
/** A struct's fields: [id, name, kind, optional?]. */
type Fields = readonly (readonly [number, string, Kind, boolean?])[]

function ttype(kind: Kind): number {
  if (typeof kind === 'object') return 'list' in kind ? TType.LIST : TType.STRUCT
  return {blob: TType.STRUCT, bool: TType.BOOL, i32: TType.I32, i64: TType.I64, string: TType.STRING}[kind]
}

function zero(kind: Kind): unknown {
  if (typeof kind === 'object') return 'list' in kind ? [] : readFields(undefined, kind.struct)
  return {blob: Buffer.alloc(0), bool: false, i32: 0, i64: 0n, string: ''}[kind]
}

function writeValue(p: TProtocol, kind: Kind, v: unknown): void {
  if (typeof kind === 'object') {
    if ('list' in kind) {
      const items = v as unknown[]
      p.writeListBegin(ttype(kind.list) as never, items.length)
      for (const item of items) writeValue(p, kind.list, item)
      p.writeListEnd()
    } else writeFields(p, kind.struct, v as Record<string, unknown>)
    return
  }
  if (kind === 'blob') p.writeBinary(v as Buffer)
  else if (kind === 'bool') p.writeBool(v as boolean)
  else if (kind === 'i32') p.writeI32(v as number)
  else if (kind === 'i64') writeI64Big(p, v as bigint)
  else p.writeString(v as string)
}

function readValue(p: TProtocol, kind: Kind): unknown {
  if (typeof kind === 'object') {
    if (!('list' in kind)) return readFields(p, kind.struct)
    const {etype, size} = p.readListBegin()
    const out: unknown[] = []
    for (let i = 0; i < size; i++) {
      if (etype === ttype(kind.list)) out.push(readValue(p, kind.list))
      else skipValue(p, etype)
    }
    p.readListEnd()
    return out
  }
  if (kind === 'blob') return Buffer.from(p.readBinary() as unknown as Buffer)
  if (kind === 'bool') return p.readBool()
  if (kind === 'i32') return p.readI32()
  if (kind === 'i64') return readI64Big(p)
  return p.readString()
}

function writeFields(p: TProtocol, fields: Fields, v: Record<string, unknown>): void {
  p.writeStructBegin('')
  for (const [id, name, kind, optional] of fields) {
    let value = v[name]
    if (value === undefined) {
      if (optional) continue
      value = zero(kind)
    }
    p.writeFieldBegin(name, ttype(kind) as never, id)
    writeValue(p, kind, value)
    p.writeFieldEnd()
  }
  p.writeFieldStop()
  p.writeStructEnd()
}

/** Reads a struct's fields (or, without a protocol, gives its zero value); unknown fields are skipped. */
function readFields(p: TProtocol | undefined, fields: Fields): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [, name, kind, optional] of fields) if (!optional) out[name] = zero(kind)
  if (!p) return out
  p.readStructBegin()
  for (;;) {
    const {ftype, fid} = p.readFieldBegin()
    if (ftype === TType.STOP) break
    const f = fields.find((x) => x[0] === fid)
    if (f && ttype(f[2]) === ftype) out[f[1]] = readValue(p, f[2])
    else skipValue(p, ftype)
    p.readFieldEnd()
  }
  p.readStructEnd()
  return out
}

function structCodec<T>(name: string, fields: Fields): StructCodec<T> {
  return valueCodec<T>(name, {struct: fields})
}

/** A codec for any value kind: RPC args that are a bare blob or i64 go through the same path. */
function valueCodec<T>(name: string, kind: Kind): StructCodec<T> {
  return {
    // The shared wire schema has no blob kind; these codecs are self-describing instead.
    schema: {name, fields: []},
    write: (p, v) => writeValue(p, kind, v),
    read: (p) => readValue(p, kind) as T,
    encode(v) {
      const w = new BinaryWriter()
      writeValue(w.proto, kind, v)
      return w.toBuffer()
    },
    decode(buf) {
      return readValue(new BinaryReader(buf).proto, kind) as T
    },
  }
}

const KEY_VALUE: Fields = [
  [1, 'key', 'blob'],
  [2, 'value', 'blob'],
]
const RESPONSE_TAIL = (first: number): Fields => [
  [first, 'app_id', 'i32'],
  [first + 1, 'partition_index', 'i32'],
  [6, 'server', 'string'],
]

export const BlobCodec = valueCodec<Buffer>('blob', 'blob')
export const I64Codec = valueCodec<bigint>('i64', 'i64')
export const UpdateRequestCodec = structCodec<UpdateRequest>('update_request', [
  [1, 'key', 'blob'],
  [2, 'value', 'blob'],
  [3, 'expire_ts_seconds', 'i32'],
])
export const UpdateResponseCodec = structCodec<UpdateResponse>('update_response', [
  [1, 'error', 'i32'],
  [2, 'app_id', 'i32'],
  [3, 'partition_index', 'i32'],
  [4, 'decree', 'i64'],
  [5, 'server', 'string'],
])
export const ReadResponseCodec = structCodec<ReadResponse>('read_response', [
  [1, 'error', 'i32'],
  [2, 'value', 'blob'],
  ...RESPONSE_TAIL(3),
])
export const TtlResponseCodec = structCodec<TtlResponse>('ttl_response', [
  [1, 'error', 'i32'],
  [2, 'ttl_seconds', 'i32'],
  ...RESPONSE_TAIL(3),
])
export const CountResponseCodec = structCodec<CountResponse>('count_response', [
  [1, 'error', 'i32'],
  [2, 'count', 'i64'],
  ...RESPONSE_TAIL(3),
])
export const MultiPutRequestCodec = structCodec<MultiPutRequest>('multi_put_request', [
  [1, 'hash_key', 'blob'],
  [2, 'kvs', {list: {struct: KEY_VALUE}}],
  [3, 'expire_ts_seconds', 'i32'],
])
export const MultiGetRequestCodec = structCodec<MultiGetRequest>('multi_get_request', [
  [1, 'hash_key', 'blob'],
  [2, 'sort_keys', {list: 'blob'}],
  [3, 'max_kv_count', 'i32'],
  [4, 'max_kv_size', 'i32'],
  [5, 'no_value', 'bool'],
  [6, 'start_sortkey', 'blob'],
  [7, 'stop_sortkey', 'blob'],
  [8, 'start_inclusive', 'bool'],
  [9, 'stop_inclusive', 'bool'],
  [10, 'sort_key_filter_type', 'i32'],
  [11, 'sort_key_filter_pattern', 'blob'],
  [12, 'reverse', 'bool'],
])
export const MultiGetResponseCodec = structCodec<MultiGetResponse>('multi_get_response', [
  [1, 'error', 'i32'],
  [2, 'kvs', {list: {struct: KEY_VALUE}}],
  ...RESPONSE_TAIL(3),
])
export const GetScannerRequestCodec = structCodec<GetScannerRequest>('get_scanner_request', [
  [1, 'start_key', 'blob'],
  [2, 'stop_key', 'blob'],
  [3, 'start_inclusive', 'bool'],
  [4, 'stop_inclusive', 'bool'],
  [5, 'batch_size', 'i32'],
  [6, 'no_value', 'bool'],
  [7, 'hash_key_filter_type', 'i32'],
  [8, 'hash_key_filter_pattern', 'blob'],
  [9, 'sort_key_filter_type', 'i32'],
  [10, 'sort_key_filter_pattern', 'blob'],
  [11, 'need_check_hash', 'bool', true],
])
export const ScanRequestCodec = structCodec<ScanRequest>('scan_request', [[1, 'context_id', 'i64']])
export const ScanResponseCodec = structCodec<ScanResponse>('scan_response', [
  [1, 'error', 'i32'],
  [2, 'kvs', {list: {struct: KEY_VALUE}}],
  [3, 'context_id', 'i64'],
  [4, 'app_id', 'i32'],
  [5, 'partition_index', 'i32'],
  [6, 'server', 'string'],
])

/** One data RPC: its request and response codecs. */
export interface DataRpcDef<Req, Resp> {
  request: StructCodec<Req>
  response: StructCodec<Resp>
}
const def = <Req, Resp>(request: StructCodec<Req>, response: StructCodec<Resp>): DataRpcDef<Req, Resp> => ({
  request,
  response,
})

/**
 * The data RPCs the lab's replica servers serve, by task-code name. clear_scanner is one-way:
 * its "response" codec is never used, the server sends no reply.
 */
export const DATA_RPCS = {
  RPC_RRDB_RRDB_PUT: def(UpdateRequestCodec, UpdateResponseCodec),
  RPC_RRDB_RRDB_MULTI_PUT: def(MultiPutRequestCodec, UpdateResponseCodec),
  RPC_RRDB_RRDB_REMOVE: def(BlobCodec, UpdateResponseCodec),
  RPC_RRDB_RRDB_GET: def(BlobCodec, ReadResponseCodec),
  RPC_RRDB_RRDB_MULTI_GET: def(MultiGetRequestCodec, MultiGetResponseCodec),
  RPC_RRDB_RRDB_SORTKEY_COUNT: def(BlobCodec, CountResponseCodec),
  RPC_RRDB_RRDB_TTL: def(BlobCodec, TtlResponseCodec),
  RPC_RRDB_RRDB_GET_SCANNER: def(GetScannerRequestCodec, ScanResponseCodec),
  RPC_RRDB_RRDB_SCAN: def(ScanRequestCodec, ScanResponseCodec),
  RPC_RRDB_RRDB_CLEAR_SCANNER: def(I64Codec, I64Codec),
} as const

export type DataRpcName = keyof typeof DATA_RPCS
export type DataRequest<N extends DataRpcName> =
  (typeof DATA_RPCS)[N] extends DataRpcDef<infer Req, unknown> ? Req : never
export type DataResponse<N extends DataRpcName> =
  (typeof DATA_RPCS)[N] extends DataRpcDef<unknown, infer Resp> ? Resp : never
