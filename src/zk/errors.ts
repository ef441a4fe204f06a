/**
 * Typed ZooKeeper errors: every failure of the zk/ layer becomes a ZkError whose code says what
 * happened, whose message names the server and the path, and whose hints say what to do next.
 *
 * Codes are assigned here, from the client's numeric exception codes or from our own checks
 * (deadlines, request size), never by parsing message text.
 */
import {LifeboatError} from '../errors.js'

/** Every code a ZkError can carry. */
export type ZkErrorCode =
  | 'ZK_NO_NODE'
  | 'ZK_NODE_EXISTS'
  | 'ZK_BAD_VERSION'
  | 'ZK_NOT_EMPTY'
  | 'ZK_CONNECTION_LOSS'
  | 'ZK_SESSION_EXPIRED'
  | 'ZK_AUTH_FAILED'
  | 'ZK_TIMEOUT'
  | 'ZK_NO_AUTH'
  | 'ZK_REQUEST_TOO_LARGE'
  | 'ZK_BAD_ARGUMENTS'
  | 'ZK_OTHER'

/** The client's numeric codes (node-zookeeper-client `Exception`), as far as we map them. */
const NUMERIC: Record<number, ZkErrorCode> = {
  [-101]: 'ZK_NO_NODE',
  [-110]: 'ZK_NODE_EXISTS',
  [-103]: 'ZK_BAD_VERSION',
  [-111]: 'ZK_NOT_EMPTY',
  [-4]: 'ZK_CONNECTION_LOSS',
  [-112]: 'ZK_SESSION_EXPIRED',
  [-115]: 'ZK_AUTH_FAILED',
  [-102]: 'ZK_NO_AUTH',
  [-7]: 'ZK_TIMEOUT',
  [-8]: 'ZK_BAD_ARGUMENTS',
}

/** Operations whose effect on the server may have happened even when we saw no reply. */
const WRITES = new Set(['create', 'set', 'remove', 'multi', 'mkdirp'])

export interface ZkErrorContext {
  /** The connect string (hosts), never credentials. */
  server: string
  /** The znode the call was about, when there is one. */
  path?: string
  /** The call: get, set, create, multi, connect, ... */
  op: string
  /** The client's numeric code, when the server or client gave one. */
  zkCode?: number
  /** Extra words for the message (e.g. the deadline). */
  reason?: string
  /**
   * For a timeout: the setting that sets the deadline, as a hint names it (`cluster.timeouts.zk_connect_seconds
   * in the spec, or --zk-timeout SECONDS`). Without one, the hint does not suggest raising anything.
   */
  setting?: string
  /** For a multi: the index of the operation that failed. */
  opIndex?: number
  cause?: unknown
}

/**
 * A failure of a ZooKeeper call. `code` is one of ZkErrorCode; `server`, `path` and `op` say where.
 * It must never carry credentials: the digest secret is never part of any field.
 */
export class ZkError extends LifeboatError {
  readonly server: string
  readonly path?: string
  readonly op: string
  readonly zkCode?: number
  /** For a multi: the index of the operation that made it fail (nothing was applied). */
  readonly opIndex?: number

  constructor(code: ZkErrorCode, ctx: ZkErrorContext) {
    const where = ctx.path === undefined ? '' : ` at ${ctx.path}`
    const what = describe(code, ctx)
    super(code, `ZooKeeper ${ctx.server}: ${what}${where} (${ctx.op})`, {
      detail: ctx.reason,
      hints: hintsFor(code, ctx),
      cause: ctx.cause,
    })
    this.name = 'ZkError'
    this.server = ctx.server
    this.path = ctx.path
    this.op = ctx.op
    this.zkCode = ctx.zkCode
    this.opIndex = ctx.opIndex
  }

  /** The error code as the narrower type. */
  get zkErrorCode(): ZkErrorCode {
    return this.code as ZkErrorCode
  }
}

function describe(code: ZkErrorCode, ctx: ZkErrorContext): string {
  switch (code) {
    case 'ZK_NO_NODE':
      return 'no such node'
    case 'ZK_NODE_EXISTS':
      return 'node already exists'
    case 'ZK_BAD_VERSION':
      return 'version conflict: the node changed since it was read'
    case 'ZK_NOT_EMPTY':
      return 'node has children'
    case 'ZK_CONNECTION_LOSS':
      return 'connection lost'
    case 'ZK_SESSION_EXPIRED':
      return 'session expired'
    case 'ZK_AUTH_FAILED':
      return 'authentication failed'
    case 'ZK_TIMEOUT':
      return ctx.reason?.split('\n')[0] ?? 'no answer within the deadline'
    case 'ZK_NO_AUTH':
      return 'not authorised (ACL)'
    case 'ZK_REQUEST_TOO_LARGE':
      return 'request too large'
    case 'ZK_BAD_ARGUMENTS':
      return 'invalid request'
    default:
      return `unexpected error${ctx.zkCode === undefined ? '' : ` (code ${ctx.zkCode})`}`
  }
}

function hintsFor(code: ZkErrorCode, ctx: ZkErrorContext): string[] {
  const write = WRITES.has(ctx.op)
  switch (code) {
    case 'ZK_NO_NODE':
      return ['Check the path (and the cluster root in the spec); the node may have been removed meanwhile.']
    case 'ZK_NODE_EXISTS':
      return ['Something else created it; re-read the node and plan again.']
    case 'ZK_BAD_VERSION':
      return ['Someone changed the node after it was read. Run `lifeboat plan` again to see the current state.']
    case 'ZK_NOT_EMPTY':
      return ['Remove the children first, or remove the whole subtree.']
    case 'ZK_CONNECTION_LOSS':
      return write
        ? [
            'The outcome of this write is unknown: it may or may not have been applied. Re-read the node before retrying.',
            `Check that ZooKeeper ${ctx.server} is up: echo srvr | nc HOST PORT.`,
          ]
        : [`Check that ZooKeeper ${ctx.server} is up (echo srvr | nc HOST PORT), then run the command again.`]
    case 'ZK_SESSION_EXPIRED':
      return [
        'The session is gone (and with it any ephemeral node, such as the lifeboat lock). Connect again and re-read the state before continuing.',
      ]
    case 'ZK_AUTH_FAILED':
      return [
        'Check the credentials in the environment variable named by `auth.credentials_env` (format user:password).',
      ]
    case 'ZK_NO_AUTH':
      return [
        "The node's ACL refuses this client. Set `auth: {scheme: digest, credentials_env: VAR}` in the spec and export VAR=user:password.",
      ]
    case 'ZK_TIMEOUT': {
      const check = ctx.setting
        ? `Check that ZooKeeper ${ctx.server} is reachable (echo srvr | nc HOST PORT); if it is merely slow, raise ${ctx.setting}.`
        : `Check that ZooKeeper ${ctx.server} is reachable (echo srvr | nc HOST PORT) and not overloaded, then run the command again.`
      return write
        ? [
            'The outcome of this write is unknown. The client was closed so the request can never be sent late; re-read the state before retrying.',
            check,
          ]
        : [check]
    }
    case 'ZK_REQUEST_TOO_LARGE':
      return [
        'ZooKeeper drops the connection for requests over jute.maxbuffer (1 MiB by default). Write less data per node or per batch.',
      ]
    case 'ZK_BAD_ARGUMENTS':
      return ['Paths are absolute, start with /, and have no trailing /, empty segment, "." or "..".']
    default:
      return ['Look at the ZooKeeper server log for the cause.']
  }
}

/** A ZkError code from one of the client's numeric codes. */
export function codeFromNumber(n: number): ZkErrorCode {
  return NUMERIC[n] ?? 'ZK_OTHER'
}

/**
 * Converts whatever the client gave (an Exception with a numeric `code`, an assertion Error thrown
 * synchronously) into a ZkError. Never includes anything but the server, the path and the op.
 */
export function toZkError(err: unknown, ctx: Omit<ZkErrorContext, 'zkCode' | 'cause'>): ZkError {
  if (err instanceof ZkError) return err
  const numeric =
    typeof err === 'object' && err !== null && typeof (err as {code?: unknown}).code === 'number'
      ? (err as {code: number}).code
      : undefined
  if (numeric !== undefined) return new ZkError(codeFromNumber(numeric), {...ctx, zkCode: numeric, cause: err})
  // The client validates paths and sizes with assert(): a synchronous AssertionError.
  const message = err instanceof Error ? err.message : String(err)
  return new ZkError('ZK_BAD_ARGUMENTS', {...ctx, reason: ctx.reason ?? message, cause: err})
}

/** True when `err` is a ZkError with one of the given codes. */
export function isZkError(err: unknown, ...codes: ZkErrorCode[]): err is ZkError {
  return err instanceof ZkError && (codes.length === 0 || codes.includes(err.code as ZkErrorCode))
}
