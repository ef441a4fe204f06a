/**
 * Outgoing THFT calls of the simulated servers (the meta collecting from replica servers, `lab
 * verify` asking the meta): one connection per call, a deadline, and failures reported as the
 * rDSN error a real server would see (`ERR_NETWORK_FAILURE` when nothing listens or the peer
 * hangs up, `ERR_TIMEOUT` when the deadline passes).
 */
import net from 'node:net'

import {
  ReplyFrameDecoder,
  RPCS,
  encodeRequestV1,
  openReply,
  readResult,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
  type StructCodec,
} from '../../engines/pegasus/wire/index.js'

/** The outcome of a call: the rDSN error of the call, and the response when it ran. */
export interface CallResult<R> {
  err: string
  response?: R
}

let nextSeqid = 1

/** Calls one RPC on `address` ("host:port"); never throws. */
export function callRpc<N extends RpcName>(
  address: string,
  name: N,
  request: RpcRequest<N>,
  timeoutMs: number,
): Promise<CallResult<RpcResponse<N>>> {
  const def = RPCS[name]
  return callRpcWith(address, name, def.request as never, def.response as never, request, timeoutMs) as Promise<
    CallResult<RpcResponse<N>>
  >
}

/** Calls an RPC with its own codecs (one {@link RPCS} does not carry); never throws. */
export function callRpcWith<Req, Resp>(
  address: string,
  name: string,
  requestCodec: StructCodec<Req>,
  responseCodec: StructCodec<Resp>,
  request: Req,
  timeoutMs: number,
): Promise<CallResult<Resp>> {
  const i = address.lastIndexOf(':')
  const host = address.slice(0, i)
  const port = Number(address.slice(i + 1))
  const seqid = nextSeqid++
  return new Promise((resolve) => {
    let done = false
    const finish = (result: CallResult<Resp>): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => finish({err: 'ERR_TIMEOUT'}), timeoutMs)
    const decoder = new ReplyFrameDecoder()
    const socket = net.createConnection({host, port})
    socket.setNoDelay(true)
    socket.on('connect', () => {
      socket.write(encodeRequestV1(name, seqid, requestCodec, request))
    })
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of decoder.push(chunk)) {
          const reply = openReply(frame)
          if (reply.seqid !== seqid) continue
          if (reply.err !== 'ERR_OK') return finish({err: reply.err})
          return finish({err: 'ERR_OK', response: readResult(reply.reader, responseCodec)})
        }
      } catch {
        finish({err: 'ERR_INVALID_DATA'})
      }
    })
    socket.on('error', () => finish({err: 'ERR_NETWORK_FAILURE'}))
    socket.on('close', () => finish({err: 'ERR_NETWORK_FAILURE'}))
  })
}
