/**
 * A connection-pooled THFT RPC caller: one TCP connection per server, calls multiplexed on it by
 * seqid, a deadline on every call that includes connecting. Idle connections do not keep the
 * process alive.
 */
import net from 'node:net'
import {describeError} from '../../../errors.js'
import {
  encodeRequestV1,
  openReply,
  readResult,
  ReplyFrameDecoder,
  RPCS,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
} from '../wire/index.js'
import {badReply, PegasusClientError, rpcError, timedOut, unreachable} from './errors.js'

/** Default deadline of one call: rDSN's default RPC timeout. */
export const DEFAULT_RPC_TIMEOUT_MS = 5000

/** Options of {@link RpcPool}. */
export interface RpcPoolOptions {
  /** Deadline of a call when the caller gives none. */
  timeoutMs?: number
}

/** Options of one call. */
export interface CallOptions {
  /** Deadline of this call, connect included. */
  timeoutMs?: number
}

interface Pending {
  rpc: string
  resolve: (v: unknown) => void
  reject: (e: unknown) => void
  timer: NodeJS.Timeout
}

/** One connection to one server. */
class Connection {
  private readonly socket: net.Socket
  private readonly decoder = new ReplyFrameDecoder()
  private readonly pending = new Map<number, Pending>()
  private seq = 0
  connected = false
  closed = false

  constructor(
    readonly server: string,
    private readonly onClosed: (c: Connection) => void,
  ) {
    const {host, port} = splitHostPort(server)
    this.socket = net.connect({host, port})
    this.socket.setNoDelay(true)
    this.socket.unref()
    this.socket.on('connect', () => {
      this.connected = true
    })
    this.socket.on('data', (chunk) => this.onData(chunk))
    this.socket.on('error', (err) => this.fail((rpc) => unreachable(server, rpc, describeSocketError(err), err)))
    this.socket.on('close', () =>
      this.fail((rpc) => unreachable(server, rpc, 'the connection was closed before the reply')),
    )
  }

  call<N extends RpcName>(name: N, request: RpcRequest<N>, timeoutMs: number): Promise<RpcResponse<N>> {
    if (this.closed) return Promise.reject(unreachable(this.server, name, 'the connection is closed'))
    this.seq = this.seq >= 0x7fffffff ? 1 : this.seq + 1
    const seqid = this.seq
    let frame: Buffer
    try {
      frame = encodeRequestV1(name, seqid, RPCS[name].request as never, request, {
        app_id: 0,
        partition_index: 0,
        client_timeout: timeoutMs,
        client_partition_hash: 0n,
        is_backup_request: false,
      })
    } catch (err) {
      return Promise.reject(err)
    }
    return new Promise<RpcResponse<N>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seqid)
        reject(timedOut(this.server, name, timeoutMs, this.connected))
        // A connect that has not completed is abandoned with its last caller, so a black-holed
        // address does not hold a socket; an open connection stays for the late reply to be dropped.
        if (!this.connected && this.pending.size === 0) this.close()
        this.refIfBusy()
      }, timeoutMs)
      this.pending.set(seqid, {rpc: name, resolve: resolve as (v: unknown) => void, reject, timer})
      this.refIfBusy()
      this.socket.write(frame)
    })
  }

  private refIfBusy(): void {
    if (this.closed) return
    if (this.pending.size > 0) this.socket.ref()
    else this.socket.unref()
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[]
    try {
      frames = this.decoder.push(chunk)
    } catch (err) {
      this.fail((rpc) => badReply(this.server, rpc, describeSocketError(err), err))
      return
    }
    for (const frame of frames) {
      let reply
      try {
        reply = openReply(frame)
      } catch (err) {
        this.fail((rpc) => badReply(this.server, rpc, describeSocketError(err), err))
        return
      }
      const p = this.pending.get(reply.seqid)
      if (!p) continue // a reply after its deadline
      this.pending.delete(reply.seqid)
      clearTimeout(p.timer)
      if (reply.name !== `${p.rpc}_ACK`) {
        p.reject(badReply(this.server, p.rpc, `the reply is named ${reply.name}, expected ${p.rpc}_ACK`))
      } else if (reply.err !== 'ERR_OK') {
        p.reject(rpcError(this.server, p.rpc, reply.err))
      } else {
        try {
          p.resolve(readResult(reply.reader, RPCS[p.rpc as RpcName].response as never))
        } catch (err) {
          p.reject(badReply(this.server, p.rpc, describeSocketError(err), err))
        }
      }
    }
    this.refIfBusy()
  }

  /** Rejects every pending call and drops the connection. */
  private fail(make: (rpc: string) => PegasusClientError): void {
    for (const [seqid, p] of this.pending) {
      clearTimeout(p.timer)
      this.pending.delete(seqid)
      p.reject(make(p.rpc))
    }
    this.close()
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.socket.destroy()
    this.onClosed(this)
    for (const [seqid, p] of this.pending) {
      clearTimeout(p.timer)
      this.pending.delete(seqid)
      p.reject(
        new PegasusClientError(
          'PEGASUS_CLIENT_CLOSED',
          `the client was closed before ${this.server} answered ${p.rpc}`,
          {
            server: this.server,
            rpc: p.rpc,
            pegasusError: 'ERR_NETWORK_FAILURE',
          },
        ),
      )
    }
  }
}

/**
 * Calls Pegasus RPCs on any number of servers, keeping one connection per server. The reply's
 * response is returned as the server sent it, including its own `err` field: callers decide
 * what a response error means. Transport failures, deadlines and call-level error names
 * (e.g. ERR_HANDLER_NOT_FOUND) throw a {@link PegasusClientError}.
 */
export class RpcPool {
  private readonly conns = new Map<string, Connection>()
  private readonly timeoutMs: number
  private closed = false

  constructor(opts: RpcPoolOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
  }

  /** Calls `name` on `server` (`host:port`). */
  call<N extends RpcName>(
    server: string,
    name: N,
    request: RpcRequest<N>,
    opts: CallOptions = {},
  ): Promise<RpcResponse<N>> {
    if (this.closed) {
      return Promise.reject(
        new PegasusClientError('PEGASUS_CLIENT_CLOSED', `the client is closed; cannot call ${name} on ${server}`, {
          server,
          rpc: name,
          pegasusError: 'ERR_NETWORK_FAILURE',
        }),
      )
    }
    let conn = this.conns.get(server)
    if (!conn || conn.closed) {
      try {
        conn = new Connection(server, (c) => {
          if (this.conns.get(c.server) === c) this.conns.delete(c.server)
        })
      } catch (err) {
        return Promise.reject(unreachable(server, name, describeError(err), err))
      }
      this.conns.set(server, conn)
    }
    return conn.call(name, request, opts.timeoutMs ?? this.timeoutMs)
  }

  /** Number of open connections (for tests and diagnostics). */
  get connectionCount(): number {
    return this.conns.size
  }

  /** Closes every connection; pending calls fail with PEGASUS_CLIENT_CLOSED. */
  close(): void {
    this.closed = true
    for (const c of [...this.conns.values()]) c.close()
    this.conns.clear()
  }
}

/** Splits `"host:port"`; bare IPv6 literals are written `[::1]:port`. */
export function splitHostPort(server: string): {host: string; port: number} {
  const i = server.lastIndexOf(':')
  const port = Number(server.slice(i + 1))
  let host = server.slice(0, i)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  if (i <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535 || host === '') {
    throw new PegasusClientError('PEGASUS_UNREACHABLE', `"${server}" is not a host:port address`, {
      server,
      rpc: '',
      pegasusError: 'ERR_INVALID_PARAMETERS',
      hints: ['Write servers as host:port, e.g. 127.0.0.1:34601.'],
    })
  }
  return {host, port}
}

function describeSocketError(err: unknown): string {
  const code = (err as {code?: string}).code
  const msg = describeError(err)
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg
}
