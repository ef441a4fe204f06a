/**
 * What a lab replica server answers to Pegasus's data RPCs. The checks come first, with
 * upstream's errors (src/replica/replica_stub.cpp, replica.cpp, replica_2pc.cpp): no replica of
 * the gpid in the request header is ERR_OBJECT_NOT_FOUND; a write to a replica that is not the
 * primary, or a read from one (unless it is a backup request to a secondary), is
 * ERR_INVALID_STATE. Both are errors of the call, with no response body, which is what makes a
 * client refresh its partition configuration. Past the checks the response carries a
 * rocksdb status in `error` (0 ok, 1 not found, 7 incomplete).
 */
import {
  PartitionStatus,
  type ExtraRpc,
  type RpcCallInfo,
  type RpcHandlerResult,
} from '../../../engines/pegasus/wire/index.js'
import {decodeKey, encodeKey, partitionOf} from './key.js'
import {
  DATA_RPCS,
  FilterType,
  RocksStatus,
  SCAN_CONTEXT_ID_COMPLETED,
  type DataRequest,
  type DataResponse,
  type DataRpcName,
  type GetScannerRequest,
  type KeyValue,
  type MultiGetRequest,
  type ScanResponse,
} from './rrdb.js'
import {pegasusNow, type DataStore, type KvRecord, type Op} from './store.js'

/** The replica state the data path needs. */
export interface DataReplica {
  status: PartitionStatus
  rows: number
  last_committed_decree: number
}

/** The replica server a {@link DataService} answers for. */
export interface DataHost {
  address: string
  store: DataStore
  replica(pid: string): DataReplica | undefined
  /** Commits one mutation through the primary of `pid`: its decree, or the error of the call. */
  write(pid: string, ops: Op[]): {decree: number} | {err: string}
  /** The partition count of an app, as the replica's app info has it. */
  partitionCount(appId: number): number | undefined
}

type Handler<N extends DataRpcName> = (
  req: DataRequest<N>,
  info: RpcCallInfo,
) => RpcHandlerResult<DataResponse<N>> | undefined

/** A scanner opened by get_scanner: the records still to read, and the next one when read ahead. */
interface ScanContext {
  pid: string
  left: Iterator<KvRecord>
  next: KvRecord | undefined
  batch: number
  noValue: boolean
}

/** The scan batch size when a client asks for none. */
const DEFAULT_BATCH = 1000

/** The data RPCs of one replica server. */
export class DataService {
  private readonly scanners = new Map<bigint, ScanContext>()
  private nextContext = 1n

  constructor(private readonly host: DataHost) {}

  /** Answers one data RPC; undefined for a one-way call (no reply). */
  handle<N extends DataRpcName>(
    name: N,
    req: DataRequest<N>,
    info: RpcCallInfo,
  ): RpcHandlerResult<unknown> | undefined {
    return (this.handlers[name] as Handler<N>)(req, info)
  }

  /** Forgets every open scanner (the process restarted). */
  reset(): void {
    this.scanners.clear()
  }

  private tail(info: RpcCallInfo): {app_id: number; partition_index: number; server: string} {
    return {app_id: info.header.app_id, partition_index: info.header.partition_index, server: this.host.address}
  }

  private pid(info: RpcCallInfo): string {
    return `${info.header.app_id}.${info.header.partition_index}`
  }

  /** The decree a read sees, or the call's error. */
  private readView(info: RpcCallInfo): {upTo: number; pid: string} | {err: string} {
    const pid = this.pid(info)
    const r = this.host.replica(pid)
    if (!r) return {err: 'ERR_OBJECT_NOT_FOUND'}
    const backup = info.header.is_backup_request && r.status === PartitionStatus.PS_SECONDARY
    if (r.status !== PartitionStatus.PS_PRIMARY && !backup) return {err: 'ERR_INVALID_STATE'}
    return {upTo: Math.min(r.rows, r.last_committed_decree), pid}
  }

  private writeOps<R>(info: RpcCallInfo, ops: Op[] | undefined, reply: (decree: number) => R): RpcHandlerResult<R> {
    if (!ops) return {err: 'ERR_OK', response: reply(-1)}
    const done = this.host.write(this.pid(info), ops)
    if ('err' in done) return {err: done.err}
    return {err: 'ERR_OK', response: reply(done.decree)}
  }

  private read<R>(info: RpcCallInfo, answer: (upTo: number, pid: string) => R): RpcHandlerResult<R> {
    const v = this.readView(info)
    if ('err' in v) return {err: v.err}
    return {err: 'ERR_OK', response: answer(v.upTo, v.pid)}
  }

  private readonly handlers: {[N in DataRpcName]: Handler<N>} = {
    RPC_RRDB_RRDB_PUT: (req, info) =>
      this.writeOps(
        info,
        validKey(req.key) ? [{key: req.key, value: req.value, expire: req.expire_ts_seconds}] : undefined,
        (d) => this.updateResponse(info, d),
      ),
    RPC_RRDB_RRDB_MULTI_PUT: (req, info) => {
      const ok = req.kvs.length > 0 && req.hash_key.length > 0
      const ops = req.kvs.map((kv) => ({
        key: encodeKey(req.hash_key, kv.key),
        value: kv.value,
        expire: req.expire_ts_seconds,
      }))
      return this.writeOps(info, ok ? ops : undefined, (d) => this.updateResponse(info, d))
    },
    RPC_RRDB_RRDB_REMOVE: (key, info) =>
      this.writeOps(info, validKey(key) ? [{key, value: null, expire: 0}] : undefined, (d) =>
        this.updateResponse(info, d),
      ),
    RPC_RRDB_RRDB_GET: (key, info) =>
      this.read(info, (upTo, pid) => {
        const rec = this.host.store.log(pid).get(key, upTo, pegasusNow())
        return {
          error: rec ? RocksStatus.OK : RocksStatus.NOT_FOUND,
          value: rec?.value ?? Buffer.alloc(0),
          ...this.tail(info),
        }
      }),
    RPC_RRDB_RRDB_TTL: (key, info) =>
      this.read(info, (upTo, pid) => {
        const now = pegasusNow()
        const rec = this.host.store.log(pid).get(key, upTo, now)
        const ttl = !rec ? 0 : rec.expire > 0 ? rec.expire - now : -1
        return {error: rec ? RocksStatus.OK : RocksStatus.NOT_FOUND, ttl_seconds: ttl, ...this.tail(info)}
      }),
    RPC_RRDB_RRDB_SORTKEY_COUNT: (hashKey, info) =>
      this.read(info, (upTo, pid) => {
        const prefix = encodeKey(hashKey, Buffer.alloc(0))
        const n = this.host.store.log(pid).range(upTo, pegasusNow(), prefix, nextPrefix(prefix)).length
        return {error: RocksStatus.OK, count: BigInt(n), ...this.tail(info)}
      }),
    RPC_RRDB_RRDB_MULTI_GET: (req, info) =>
      this.read(info, (upTo, pid) => ({...this.multiGet(req, upTo, pid), ...this.tail(info)})),
    RPC_RRDB_RRDB_GET_SCANNER: (req, info) =>
      this.read(info, (upTo, pid) => ({...this.openScanner(req, upTo, pid, info), ...this.tail(info)})),
    RPC_RRDB_RRDB_SCAN: (req, info) => {
      const ctx = this.scanners.get(req.context_id)
      if (!ctx || ctx.pid !== this.pid(info))
        return {
          err: 'ERR_OK',
          response: {error: RocksStatus.NOT_FOUND, kvs: [], context_id: SCAN_CONTEXT_ID_COMPLETED, ...this.tail(info)},
        }
      return {err: 'ERR_OK', response: {...this.nextBatch(req.context_id, ctx), ...this.tail(info)}}
    },
    RPC_RRDB_RRDB_CLEAR_SCANNER: (contextId) => {
      this.scanners.delete(contextId)
      return undefined
    },
  }

  private updateResponse(info: RpcCallInfo, decree: number): DataResponse<'RPC_RRDB_RRDB_PUT'> {
    return {
      error: decree < 0 ? RocksStatus.INVALID_ARGUMENT : RocksStatus.OK,
      decree: BigInt(Math.max(decree, 0)),
      ...this.tail(info),
    }
  }

  private multiGet(req: MultiGetRequest, upTo: number, pid: string): {error: number; kvs: KeyValue[]} {
    const log = this.host.store.log(pid)
    const now = pegasusNow()
    const value = (r: KvRecord): Buffer => (req.no_value ? Buffer.alloc(0) : r.value)
    if (req.sort_keys.length > 0) {
      const kvs: KeyValue[] = []
      for (const sk of req.sort_keys) {
        const r = log.get(encodeKey(req.hash_key, sk), upTo, now)
        if (r) kvs.push({key: sk, value: value(r)})
      }
      return {error: RocksStatus.OK, kvs}
    }
    const prefix = encodeKey(req.hash_key, Buffer.alloc(0))
    const start = encodeKey(req.hash_key, req.start_sortkey)
    const stop = req.stop_sortkey.length > 0 ? encodeKey(req.hash_key, req.stop_sortkey) : nextPrefix(prefix)
    const stopInclusive = req.stop_sortkey.length > 0 && req.stop_inclusive
    let recs = log
      .range(upTo, now, start, stop, req.start_inclusive, stopInclusive)
      .filter((r) => matches(req.sort_key_filter_type, req.sort_key_filter_pattern, sortKeyOf(r.key)))
    if (req.reverse) recs = recs.reverse()
    const kvs: KeyValue[] = []
    let size = 0
    for (const r of recs) {
      if (req.max_kv_count > 0 && kvs.length >= req.max_kv_count) break
      if (req.max_kv_size > 0 && size >= req.max_kv_size) break
      const kv = {key: sortKeyOf(r.key), value: value(r)}
      size += kv.key.length + kv.value.length
      kvs.push(kv)
    }
    return {error: kvs.length < recs.length ? RocksStatus.INCOMPLETE : RocksStatus.OK, kvs}
  }

  private openScanner(
    req: GetScannerRequest,
    upTo: number,
    pid: string,
    info: RpcCallInfo,
  ): Pick<ScanResponse, 'error' | 'kvs' | 'context_id'> {
    const count = this.host.partitionCount(info.header.app_id)
    const records = this.host.store
      .log(pid)
      .records(upTo, pegasusNow(), req.start_key, req.stop_key, req.start_inclusive, req.stop_inclusive)
    const wanted = (r: KvRecord): boolean => {
      const k = decodeKey(r.key)
      if (!k) return false
      if (!matches(req.hash_key_filter_type, req.hash_key_filter_pattern, k.hashKey)) return false
      if (!matches(req.sort_key_filter_type, req.sort_key_filter_pattern, k.sortKey)) return false
      // A partition scan (need_check_hash) returns only the keys that route to this partition.
      if (req.need_check_hash && count !== undefined)
        return partitionOf(k.hashKey.length > 0 ? k.hashKey : k.sortKey, count) === info.header.partition_index
      return true
    }
    const left = (function* () {
      for (const r of records) if (wanted(r)) yield r
    })()
    const id = this.nextContext++
    const batch = req.batch_size > 0 ? req.batch_size : DEFAULT_BATCH
    const ctx: ScanContext = {pid, left, next: undefined, batch, noValue: req.no_value}
    this.scanners.set(id, ctx)
    return this.nextBatch(id, ctx)
  }

  /** The next batch of a scanner; reading one record ahead tells whether it is the last. */
  private nextBatch(id: bigint, ctx: ScanContext): Pick<ScanResponse, 'error' | 'kvs' | 'context_id'> {
    const kvs: KeyValue[] = []
    const take = (r: KvRecord): number => kvs.push({key: r.key, value: ctx.noValue ? Buffer.alloc(0) : r.value})
    if (ctx.next) take(ctx.next)
    ctx.next = undefined
    for (;;) {
      const it = ctx.left.next()
      if (it.done) {
        this.scanners.delete(id)
        return {error: RocksStatus.OK, kvs, context_id: SCAN_CONTEXT_ID_COMPLETED}
      }
      if (kvs.length >= ctx.batch) {
        ctx.next = it.value
        return {error: RocksStatus.OK, kvs, context_id: id}
      }
      take(it.value)
    }
  }
}

/** Whether a stored key carries a well-formed hash-key length prefix. */
function validKey(key: Buffer): boolean {
  return decodeKey(key) !== undefined
}

function sortKeyOf(key: Buffer): Buffer {
  return decodeKey(key)?.sortKey ?? Buffer.alloc(0)
}

/** The first key after every key starting with `prefix` (empty: no end). */
function nextPrefix(prefix: Buffer): Buffer {
  const b = Buffer.from(prefix)
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i] !== 0xff) {
      b[i]++
      return b.subarray(0, i + 1)
    }
  }
  return Buffer.alloc(0)
}

function matches(type: number, pattern: Buffer, value: Buffer): boolean {
  if (type === FilterType.NO_FILTER || pattern.length === 0) return true
  if (type === FilterType.MATCH_PREFIX) return value.subarray(0, pattern.length).equals(pattern)
  if (type === FilterType.MATCH_POSTFIX)
    return value.length >= pattern.length && value.subarray(value.length - pattern.length).equals(pattern)
  if (type === FilterType.MATCH_ANYWHERE) return value.includes(pattern)
  return false
}

/** The data RPCs as extra RPCs of a THFT server; a hung server never answers them. */
export function dataRpcs(service: DataService, hung: () => boolean): Record<string, ExtraRpc> {
  const out: Record<string, ExtraRpc> = {}
  for (const [name, def] of Object.entries(DATA_RPCS)) {
    out[name] = {
      request: def.request as ExtraRpc['request'],
      response: def.response as ExtraRpc['response'],
      handler: (req, info) =>
        hung() ? new Promise(() => {}) : Promise.resolve(service.handle(name as DataRpcName, req as never, info)),
    }
  }
  return out
}
