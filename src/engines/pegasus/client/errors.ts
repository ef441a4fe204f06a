/**
 * Errors of the Pegasus clients. Each names the server and the RPC, and carries the Pegasus error
 * name the failure would have in Pegasus itself (what a meta would log for the same node), so that
 * planners can quote it: ERR_NETWORK_FAILURE for an unreachable node, ERR_TIMEOUT for a deadline.
 */
import {LifeboatError} from '../../../errors.js'

/** Codes of {@link PegasusClientError}. */
export type PegasusErrorCode =
  | 'PEGASUS_UNREACHABLE'
  | 'PEGASUS_TIMEOUT'
  | 'PEGASUS_RPC_ERROR'
  | 'PEGASUS_BAD_REPLY'
  | 'PEGASUS_NO_META_LEADER'
  | 'PEGASUS_HTTP_ERROR'
  | 'PEGASUS_CLIENT_CLOSED'

/** A failed call to a Pegasus server. */
export class PegasusClientError extends LifeboatError {
  /** The server called, `host:port`. */
  readonly server: string
  /** The RPC name (or HTTP path). */
  readonly rpc: string
  /** The failure as a Pegasus error name: ERR_NETWORK_FAILURE, ERR_TIMEOUT, or the name the server sent. */
  readonly pegasusError: string

  constructor(
    code: PegasusErrorCode,
    message: string,
    opts: {server: string; rpc: string; pegasusError: string; detail?: string; hints?: string[]; cause?: unknown},
  ) {
    super(code, message, {detail: opts.detail, hints: opts.hints, cause: opts.cause})
    this.name = 'PegasusClientError'
    this.server = opts.server
    this.rpc = opts.rpc
    this.pegasusError = opts.pegasusError
  }
}

/** The server could not be connected to, or the connection broke before the reply. */
export function unreachable(server: string, rpc: string, why: string, cause?: unknown): PegasusClientError {
  return new PegasusClientError('PEGASUS_UNREACHABLE', `cannot reach Pegasus server ${server} for ${rpc}: ${why}`, {
    server,
    rpc,
    pegasusError: 'ERR_NETWORK_FAILURE',
    cause,
    hints: [
      `Check that the server process on ${server} is running and that this machine can connect to that port.`,
      'If the node is lost for good, leave it out of the node list (or set skip_bad_nodes where the spec allows it).',
    ],
  })
}

/** The deadline passed (connect included). */
export function timedOut(server: string, rpc: string, timeoutMs: number, connected: boolean): PegasusClientError {
  return new PegasusClientError(
    'PEGASUS_TIMEOUT',
    `Pegasus server ${server} did not answer ${rpc} within ${timeoutMs} ms${connected ? '' : ' (the connection was not even established)'}`,
    {
      server,
      rpc,
      pegasusError: 'ERR_TIMEOUT',
      hints: [
        `Check the load and health of ${server}: a server under load answers late, so run the command again before treating it as lost.`,
      ],
    },
  )
}

/** The server answered with an error instead of running the RPC, or the response carries one. */
export function rpcError(server: string, rpc: string, err: string, detail?: string): PegasusClientError {
  const hints: string[] = []
  if (err === 'ERR_HANDLER_NOT_FOUND')
    hints.push(`${server} does not serve ${rpc}: is it the right kind of server (meta vs replica) and version?`)
  if (err === 'ERR_UNDER_RECOVERY')
    hints.push(
      'The meta server is in recovery mode (recover_from_replica_server = true): only start_recovery is served until recovery succeeds.',
    )
  if (err === 'ERR_FORWARD_TO_OTHERS')
    hints.push(
      `${server} is not the meta leader; list every meta server, or give the ZooKeeper lock root so lifeboat finds the leader.`,
    )
  if (err === 'ERR_STATE_FREEZED')
    hints.push('The meta level is at or below freezed; raise it (set_meta_level steady/lively) first.')
  if (hints.length === 0) hints.push(`Look at the log of ${server} around this time for ${err}.`)
  return new PegasusClientError('PEGASUS_RPC_ERROR', `Pegasus server ${server} answered ${rpc} with ${err}`, {
    server,
    rpc,
    pegasusError: err,
    detail,
    hints,
  })
}

/** Throws PEGASUS_RPC_ERROR naming the server and RPC unless the response's err is ERR_OK; returns the response. */
export function expectOk<R extends {err: string}>(response: R, server: string, rpc: string): R {
  if (response.err !== 'ERR_OK') throw rpcError(server, rpc, response.err)
  return response
}

/** The reply could not be parsed. */
export function badReply(server: string, rpc: string, why: string, cause?: unknown): PegasusClientError {
  return new PegasusClientError(
    'PEGASUS_BAD_REPLY',
    `Pegasus server ${server} sent a malformed reply to ${rpc}: ${why}`,
    {
      server,
      rpc,
      pegasusError: 'ERR_INVALID_DATA',
      cause,
      hints: [
        `Check that ${server} is a Pegasus server of a supported version (2.x) and not another service on that port.`,
      ],
    },
  )
}
