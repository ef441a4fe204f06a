/**
 * A Pegasus data client for the lab's own use (`lab up` loading rows, `lab verify` reading them):
 * one connection per replica server, requests pipelined on it and matched to replies by seqid,
 * each with the THFT v1 header naming the gpid and the key's partition hash, as Pegasus's Java
 * client sends them. Failures come back as the rDSN error a client would see.
 */
import net from 'node:net'

import {ReplyFrameDecoder, encodeRequestV1, openReply, readResult} from '../../../engines/pegasus/wire/index.js'
import {crc64, encodeKey} from './key.js'
import {
  DATA_RPCS,
  FilterType,
  type DataRequest,
  type DataResponse,
  type DataRpcName,
  type GetScannerRequest,
  type KeyValue,
  type ScanResponse,
} from './rrdb.js'

/** A get_scanner request for a whole partition (the keys that route to it), values included. */
const SCAN_ALL: GetScannerRequest = {
  start_key: Buffer.alloc(0),
  stop_key: Buffer.alloc(0),
  start_inclusive: true,
  stop_inclusive: false,
  batch_size: 0,
  no_value: false,
  hash_key_filter_type: FilterType.NO_FILTER,
  hash_key_filter_pattern: Buffer.alloc(0),
  sort_key_filter_type: FilterType.NO_FILTER,
  sort_key_filter_pattern: Buffer.alloc(0),
  need_check_hash: true,
}

/** The outcome of one call: the rDSN error of the call, and the response when it ran. */
export interface DataCallResult<R> {
  err: string
  response?: R
}

interface Pending {
  name: DataRpcName
  resolve: (r: DataCallResult<unknown>) => void
  timer: NodeJS.Timeout
}

/** A pipelined connection to one replica server. */
export class DataConnection {
  private readonly socket: net.Socket
  private readonly pending = new Map<number, Pending>()
  private seqid = 1
  private closedWith: string | undefined

  constructor(
    readonly address: string,
    private readonly timeoutMs: number,
  ) {
    const i = address.lastIndexOf(':')
    this.socket = net.createConnection({host: address.slice(0, i), port: Number(address.slice(i + 1))})
    this.socket.setNoDelay(true)
    const decoder = new ReplyFrameDecoder()
    this.socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          const reply = openReply(frame)
          const p = this.pending.get(reply.seqid)
          if (!p) continue
          this.settle(reply.seqid, p, () =>
            reply.err !== 'ERR_OK'
              ? {err: reply.err}
              : {err: 'ERR_OK', response: readResult(reply.reader, DATA_RPCS[p.name].response as never)},
          )
        }
      } catch {
        this.fail('ERR_INVALID_DATA')
      }
    })
    this.socket.on('error', () => this.fail('ERR_NETWORK_FAILURE'))
    this.socket.on('close', () => this.fail('ERR_NETWORK_FAILURE'))
  }

  private settle(seqid: number, p: Pending, result: () => DataCallResult<unknown>): void {
    this.pending.delete(seqid)
    clearTimeout(p.timer)
    let r: DataCallResult<unknown>
    try {
      r = result()
    } catch {
      r = {err: 'ERR_INVALID_DATA'}
    }
    p.resolve(r)
  }

  private fail(err: string): void {
    this.closedWith ??= err
    for (const [seqid, p] of this.pending) this.settle(seqid, p, () => ({err}))
    this.socket.destroy()
  }

  /** Calls one data RPC on partition `gpid`; never throws. */
  call<N extends DataRpcName>(
    name: N,
    gpid: {app_id: number; partition_index: number},
    request: DataRequest<N>,
    partitionHash = 0n,
  ): Promise<DataCallResult<DataResponse<N>>> {
    if (this.closedWith) return Promise.resolve({err: this.closedWith})
    const seqid = this.seqid++
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(seqid)
        if (p) this.settle(seqid, p, () => ({err: 'ERR_TIMEOUT'}))
      }, this.timeoutMs)
      this.pending.set(seqid, {name, resolve: resolve as Pending['resolve'], timer})
      this.socket.write(
        encodeRequestV1(name, seqid, DATA_RPCS[name].request as never, request as never, {
          app_id: gpid.app_id,
          partition_index: gpid.partition_index,
          client_timeout: this.timeoutMs,
          client_partition_hash: partitionHash,
        }),
      )
    })
  }

  /** Whether the connection has ended (refused, reset or closed): its calls fail at once. */
  get closed(): boolean {
    return this.closedWith !== undefined
  }

  /** Closes the connection; calls still waiting end with ERR_NETWORK_FAILURE. */
  close(): void {
    this.fail('ERR_NETWORK_FAILURE')
  }
}

/** Connections by replica server, opened on first use and again after one ended (as a client reconnects). */
export class DataClient {
  private readonly conns = new Map<string, DataConnection>()

  constructor(private readonly timeoutMs = 5000) {}

  /** The connection to `address`. */
  to(address: string): DataConnection {
    let c = this.conns.get(address)
    if (!c || c.closed) {
      c = new DataConnection(address, this.timeoutMs)
      this.conns.set(address, c)
    }
    return c
  }

  /** Puts one row (hash key, sort key, value) to the primary at `address`. */
  put(
    address: string,
    gpid: {app_id: number; partition_index: number},
    hashKey: Buffer,
    sortKey: Buffer,
    value: Buffer,
  ): Promise<DataCallResult<DataResponse<'RPC_RRDB_RRDB_PUT'>>> {
    return this.to(address).call(
      'RPC_RRDB_RRDB_PUT',
      gpid,
      {key: encodeKey(hashKey, sortKey), value, expire_ts_seconds: 0},
      crc64(hashKey),
    )
  }

  /** Gets one row from the primary at `address`. */
  get(
    address: string,
    gpid: {app_id: number; partition_index: number},
    hashKey: Buffer,
    sortKey: Buffer,
  ): Promise<DataCallResult<DataResponse<'RPC_RRDB_RRDB_GET'>>> {
    return this.to(address).call('RPC_RRDB_RRDB_GET', gpid, encodeKey(hashKey, sortKey), crc64(hashKey))
  }

  /**
   * Reads a whole partition from `address` with a scanner (get_scanner, then scan until the
   * context completes), `batch` records a call; gives each batch to `onBatch`. Returns the error
   * that stopped it, if any.
   */
  async scanPartition(
    address: string,
    gpid: {app_id: number; partition_index: number},
    batch: number,
    onBatch: (kvs: KeyValue[]) => void,
  ): Promise<string | undefined> {
    const c = this.to(address)
    let r: DataCallResult<ScanResponse> = await c.call('RPC_RRDB_RRDB_GET_SCANNER', gpid, {
      ...SCAN_ALL,
      batch_size: batch,
    })
    for (;;) {
      if (r.err !== 'ERR_OK') return r.err
      if (!r.response || r.response.error !== 0) return `scan error ${r.response?.error}`
      onBatch(r.response.kvs)
      if (r.response.context_id < 0n) return undefined
      r = await c.call('RPC_RRDB_RRDB_SCAN', gpid, {context_id: r.response.context_id})
    }
  }

  close(): void {
    for (const c of this.conns.values()) c.close()
    this.conns.clear()
  }
}
