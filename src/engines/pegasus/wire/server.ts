/**
 * A THFT RPC server, serving HTTP on the same port as real Pegasus servers do: the first 4 bytes of a
 * connection decide (`THFT` for thrift, an HTTP method for HTTP). Used by the lab's simulated meta
 * and replica servers; many instances can run in one process (no threads, no timers per server).
 */
import http from 'node:http'
import net from 'node:net'
import {LifeboatError, describeError} from '../../../errors.js'
import {
  encodeReply,
  openCall,
  readArgs,
  RequestFrameDecoder,
  type EncodedStruct,
  type ReceivedRequest,
} from './framing.js'
import {isRpcName, RPCS, type RpcName, type RpcRequest, type RpcResponse, type StructCodec} from './messages.js'

/** What a handler learns about the call besides the request. */
export interface RpcCallInfo {
  /** The client's `ip:port`. */
  remote: string
  /** The RPC name, e.g. `RPC_CM_START_RECOVERY`. */
  name: string
  seqid: number
  /** The THFT header fields (version, gpid, timeout, hashes). */
  header: Omit<ReceivedRequest, 'body'>
}

/**
 * What a handler answers. `err` is the rDSN error of the call itself, sent before the message
 * (`ERR_OK` when the handler ran; the response then carries its own `err`). Without `response`,
 * the reply has an empty body, as rDSN sends for transport-level errors. A response may be given
 * already encoded (see `encodeStruct`), for answers that are big and change rarely.
 */
export interface RpcHandlerResult<R> {
  err: string
  response?: R | EncodedStruct<R>
}

/** A handler of one RPC. A promise that never settles means the server never answers. */
export type RpcHandler<N extends RpcName> = (
  request: RpcRequest<N>,
  info: RpcCallInfo,
) => Promise<RpcHandlerResult<RpcResponse<N>>>

/** Handlers by RPC name. */
export type RpcHandlers = {[N in RpcName]?: RpcHandler<N>}

/** An RPC beyond {@link RPCS}, with its own codecs (the lab's data RPCs). A handler answering undefined sends no reply (one-way). */
export interface ExtraRpc {
  request: StructCodec<unknown>
  response: StructCodec<unknown>
  handler: (request: unknown, info: RpcCallInfo) => Promise<RpcHandlerResult<unknown> | undefined>
}

/** Options of {@link startRpcServer}. */
export interface RpcServerOptions {
  /** Interface to listen on; defaults to 127.0.0.1. */
  host?: string
  /** Port; 0 or absent picks a free one. */
  port?: number
  handlers: RpcHandlers
  /** More RPCs by name, with their codecs. */
  extra?: Record<string, ExtraRpc>
  /** Serves HTTP requests arriving on the same port (404 for everything when absent). */
  http?: (req: http.IncomingMessage, res: http.ServerResponse) => void
  /** Told about handler failures and dropped connections (defaults to silence). */
  onError?: (err: unknown, context: string) => void
}

/** A running server. */
export interface RpcServer {
  port: number
  /** `host:port`. */
  address: string
  /** Stops listening and closes every open connection. */
  close(): Promise<void>
}

/** The error name a server answers for an RPC it has no handler for (rDSN's). */
export const ERR_HANDLER_NOT_FOUND = 'ERR_HANDLER_NOT_FOUND'

const HTTP_METHODS = ['GET ', 'POST', 'HEAD', 'PUT ', 'DELE', 'OPTI', 'PATC']

/** Starts a THFT + HTTP server on one port. */
export async function startRpcServer(opts: RpcServerOptions): Promise<RpcServer> {
  const host = opts.host ?? '127.0.0.1'
  for (const name of Object.keys(opts.handlers)) {
    if (!isRpcName(name))
      throw new LifeboatError('PEGASUS_UNKNOWN_RPC', `no codec for RPC ${name}`, {
        hints: [`Known RPCs: ${Object.keys(RPCS).join(', ')}`],
      })
  }
  const onError = opts.onError ?? (() => {})
  const sockets = new Set<net.Socket>()
  const httpServer = http.createServer(
    opts.http ??
      ((_req, res) => {
        res.writeHead(404, {'content-type': 'text/plain'})
        res.end('not found\n')
      }),
  )
  httpServer.keepAliveTimeout = 5000

  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', (err) => onError(err, 'socket'))
    socket.setNoDelay(true)
    sniff(socket)
  })

  function sniff(socket: net.Socket): void {
    let head = Buffer.alloc(0)
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk])
      if (head.length < 4) return
      socket.off('data', onData)
      const sig = head.subarray(0, 4).toString('latin1')
      if (sig === 'THFT') {
        serveThrift(socket, head)
      } else if (HTTP_METHODS.includes(sig)) {
        socket.pause()
        socket.unshift(head)
        httpServer.emit('connection', socket)
        socket.resume()
      } else {
        onError(new Error(`unknown protocol signature 0x${head.subarray(0, 4).toString('hex')}`), remoteOf(socket))
        socket.destroy()
      }
    }
    socket.on('data', onData)
  }

  function serveThrift(socket: net.Socket, first: Buffer): void {
    const decoder = new RequestFrameDecoder()
    const remote = remoteOf(socket)
    const feed = (chunk: Buffer): void => {
      let requests: ReceivedRequest[]
      try {
        requests = decoder.push(chunk)
      } catch (err) {
        // A malformed frame desynchronises the stream: drop this connection only.
        onError(err, `bad frame from ${remote}`)
        socket.destroy()
        return
      }
      for (const r of requests) void dispatch(socket, remote, r)
    }
    socket.on('data', feed)
    feed(first)
  }

  async function dispatch(socket: net.Socket, remote: string, r: ReceivedRequest): Promise<void> {
    let name: string
    let seqid: number
    let request: unknown
    let extra: ExtraRpc | undefined
    try {
      const call = openCall(r.body)
      name = call.name
      seqid = call.seqid
      extra = opts.extra?.[name]
      const handler = extra ?? (opts.handlers as Record<string, unknown>)[name]
      if ((!extra && !isRpcName(name)) || handler === undefined) {
        write(socket, encodeReply(name, seqid, ERR_HANDLER_NOT_FOUND))
        return
      }
      request = readArgs(call.reader, (extra?.request ?? RPCS[name as RpcName].request) as never)
    } catch (err) {
      onError(err, `bad request from ${remote}`)
      socket.destroy()
      return
    }
    const {body: _body, ...header} = r
    const rpcName = name as RpcName
    let result: RpcHandlerResult<unknown> | undefined
    try {
      const handler =
        extra?.handler ??
        (opts.handlers[rpcName] as unknown as (req: unknown, info: RpcCallInfo) => Promise<RpcHandlerResult<unknown>>)
      result = await handler(request, {remote, name, seqid, header})
    } catch (err) {
      onError(err, `handler ${name} for ${remote}`)
      result = {err: 'ERR_UNKNOWN'}
    }
    if (result === undefined) return
    let reply: Buffer
    try {
      const codec = extra?.response ?? RPCS[rpcName].response
      reply = encodeReply(name, seqid, result.err, codec as never, result.response as never)
    } catch (err) {
      onError(err, `encoding the reply to ${name} for ${remote}`)
      reply = encodeReply(name, seqid, 'ERR_UNKNOWN')
    }
    write(socket, reply)
  }

  function write(socket: net.Socket, buf: Buffer): void {
    if (!socket.destroyed && socket.writable) socket.write(buf)
  }

  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error): void => {
      reject(
        new LifeboatError(
          'PEGASUS_LISTEN_FAILED',
          `cannot listen on ${host}:${opts.port ?? 0}: ${describeError(err)}`,
          {
            cause: err,
            hints: ['Pick another port, or stop the process that holds it.'],
          },
        ),
      )
    }
    server.once('error', fail)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', fail)
      resolve()
    })
  })
  server.on('error', (err) => onError(err, 'server'))
  const port = (server.address() as net.AddressInfo).port

  let closing: Promise<void> | undefined
  return {
    port,
    address: `${host}:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
        httpServer.closeAllConnections()
      })
      return closing
    },
  }
}

function remoteOf(socket: net.Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`
}
