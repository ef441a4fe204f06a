/**
 * The one HTTP client: Pegasus's `/meta` pages, OpenMLDB's brpc HTTP+JSON, PD's API and etcd's v3
 * JSON gateway all go through it.
 *
 * - Every call has a deadline covering connect, request and the whole reply (`timeoutMs`, default
 *   {@link DEFAULT_HTTP_TIMEOUT_MS}); past it the socket is destroyed and HTTP_TIMEOUT thrown.
 * - A refused connection fails at once (HTTP_CONNECTION_REFUSED, never retried: nothing listens).
 * - Idempotent calls (GET unless told otherwise) are retried a bounded number of times
 *   ({@link IDEMPOTENT_ATTEMPTS} attempts in all, each with the full deadline) on a broken
 *   connection or a timeout; other calls are sent once, so a POST that changes a cluster never
 *   runs twice because of a retry here.
 * - Connections are kept alive in one agent whose idle sockets never hold the process open.
 * - Bodies are written with {@link stringifyJson} and read with {@link parseJson} (bigint past 2^53).
 */
import http from 'node:http'
import {LifeboatError, describeError} from '../errors.js'
import {parseJson, stringifyJson} from './json.js'

export const DEFAULT_HTTP_TIMEOUT_MS = 10_000
/** Attempts in all for an idempotent call (the first and two retries). */
export const IDEMPOTENT_ATTEMPTS = 3
/** Wait before retry n (1-based): RETRY_BACKOFF_MS * 2^(n-1). */
const RETRY_BACKOFF_MS = 100
/** Characters of a reply body quoted in an error. */
const EXCERPT_CHARS = 500

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface HttpCall {
  /** `host:port` (an IPv6 host in brackets: `[::1]:2379`). */
  server: string
  method: HttpMethod
  /** Path with its query, e.g. `/pd/api/v1/regions?limit=10`. */
  path: string
  /** Sent as JSON (with {@link stringifyJson}) and `Content-Type: application/json`. */
  body?: unknown
  headers?: Record<string, string>
  /** Deadline of one attempt: connect, send, and the whole reply. */
  timeoutMs?: number
  /**
   * The setting that sets `timeoutMs`, as a hint names it (`recovery.rpc_timeout_seconds in the
   * spec`). Without one, a timeout's hint does not suggest raising anything: there is nothing to raise.
   */
  timeoutSetting?: string
  /** Whether the call may be retried on a broken connection or a timeout; GET: true, others: false. */
  idempotent?: boolean
  /** Abandons the call (HTTP_ABORTED) when aborted, e.g. on Ctrl-C. */
  signal?: AbortSignal
}

export interface HttpReply {
  status: number
  headers: Record<string, string | string[] | undefined>
  text: string
  /** The body parsed with {@link parseJson}; HTTP_BAD_JSON when it is not JSON. */
  json(): unknown
}

export type HttpErrorCode =
  'HTTP_CONNECTION_REFUSED' | 'HTTP_TIMEOUT' | 'HTTP_UNREACHABLE' | 'HTTP_BAD_JSON' | 'HTTP_STATUS' | 'HTTP_ABORTED'

/** A failed HTTP call; the message names the server, the method and the path. */
export class HttpError extends LifeboatError {
  declare readonly code: HttpErrorCode
  readonly server: string
  readonly method: HttpMethod
  readonly path: string
  /** The reply's status (HTTP_STATUS, HTTP_BAD_JSON). */
  readonly status?: number
  /** The start of the reply body (HTTP_STATUS, HTTP_BAD_JSON). */
  readonly body?: string

  constructor(
    code: HttpErrorCode,
    message: string,
    call: Pick<HttpCall, 'server' | 'method' | 'path'>,
    opts: {status?: number; body?: string; detail?: string; hints?: string[]; cause?: unknown} = {},
  ) {
    super(code, message, {detail: opts.detail, hints: opts.hints, cause: opts.cause})
    this.name = 'HttpError'
    this.server = call.server
    this.method = call.method
    this.path = call.path
    this.status = opts.status
    this.body = opts.body
  }
}

const agent = new http.Agent({keepAlive: true, maxSockets: 64, timeout: 4000})

/** Splits `host:port` / `[v6]:port`. */
function splitServer(call: HttpCall): {host: string; port: number} {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(call.server) ?? /^([^:]+):(\d+)$/.exec(call.server)
  const port = m ? Number(m[2]) : NaN
  if (!m || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new HttpError(
      'HTTP_UNREACHABLE',
      `cannot call ${call.method} ${call.path}: "${call.server}" is not host:port`,
      call,
      {
        hints: ['Give the server as host:port, e.g. 127.0.0.1:9527 (an IPv6 host in brackets: [::1]:2379).'],
      },
    )
  }
  return {host: m[1], port}
}

function excerpt(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text
}

function where(call: HttpCall): string {
  return `${call.method} ${call.path}`
}

function refused(call: HttpCall, cause: unknown): HttpError {
  return new HttpError(
    'HTTP_CONNECTION_REFUSED',
    `cannot connect to ${call.server} for ${where(call)}: connection refused`,
    call,
    {
      cause,
      hints: [`Check that the server on ${call.server} is running and listening on that port.`],
    },
  )
}

function timedOut(call: HttpCall, timeoutMs: number, connected: boolean): HttpError {
  const how = connected ? '' : ' (the connection was not even established)'
  return new HttpError(
    'HTTP_TIMEOUT',
    `${call.server} did not answer ${where(call)} within ${timeoutMs} ms${how}`,
    call,
    {
      hints: [
        call.timeoutSetting
          ? `Check the load and health of ${call.server}; if it is merely slow, raise ${call.timeoutSetting} (now ${timeoutMs / 1000} s).`
          : `Check the load and health of ${call.server} and the network to it, then run the command again (this deadline, ${timeoutMs / 1000} s, is not a setting).`,
      ],
    },
  )
}

function unreachable(call: HttpCall, why: string, cause: unknown): HttpError {
  return new HttpError('HTTP_UNREACHABLE', `cannot reach ${call.server} for ${where(call)}: ${why}`, call, {
    cause,
    hints: [`Check that ${call.server} is up and that this machine can connect to it.`],
  })
}

function aborted(call: HttpCall): HttpError {
  return new HttpError(
    'HTTP_ABORTED',
    `${where(call)} on ${call.server} was abandoned: the operation was cancelled`,
    call,
    {
      hints: ['The call may or may not have taken effect on the server; re-read its state before acting again.'],
    },
  )
}

function makeReply(call: HttpCall, status: number, headers: HttpReply['headers'], text: string): HttpReply {
  let parsed: {value: unknown} | undefined
  return {
    status,
    headers,
    text,
    json(): unknown {
      if (!parsed) {
        try {
          parsed = {value: parseJson(text)}
        } catch (err) {
          throw new HttpError(
            'HTTP_BAD_JSON',
            `${call.server} sent invalid JSON for ${where(call)} (HTTP ${status})`,
            call,
            {
              status,
              body: excerpt(text),
              detail: `${describeError(err)}; the reply began: ${JSON.stringify(excerpt(text))}`,
              cause: err,
              hints: [
                `Check that ${call.server} is the right kind of server for ${call.path} and of a supported version.`,
              ],
            },
          )
        }
      }
      return parsed.value
    },
  }
}

/** One attempt: resolves with the reply or rejects with an HttpError. */
function attempt(call: HttpCall, host: string, port: number, timeoutMs: number): Promise<HttpReply> {
  const payload = call.body === undefined ? undefined : Buffer.from(stringifyJson(call.body), 'utf8')
  const headers: Record<string, string> = {accept: 'application/json', ...call.headers}
  if (payload) {
    headers['content-type'] ??= 'application/json'
    headers['content-length'] = String(payload.length)
  }
  return new Promise<HttpReply>((resolve, reject) => {
    let settled = false
    let connected = false
    const req = http.request({host, port, method: call.method, path: call.path, headers, agent})
    const finish = (err: HttpError | null, reply?: HttpReply): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      call.signal?.removeEventListener('abort', onAbort)
      if (err) {
        req.destroy()
        reject(err)
      } else resolve(reply as HttpReply)
    }
    const onAbort = (): void => finish(aborted(call))
    const timer = setTimeout(() => finish(timedOut(call, timeoutMs, connected)), timeoutMs)
    if (call.signal?.aborted) return finish(aborted(call))
    call.signal?.addEventListener('abort', onAbort, {once: true})
    req.on('socket', (socket) => {
      if (!socket.connecting) connected = true
      else socket.once('connect', () => (connected = true))
    })
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') finish(refused(call, err))
      else finish(unreachable(call, err.code ? `${err.code} (${err.message})` : err.message, err))
    })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', (err) => finish(unreachable(call, `the reply broke off: ${err.message}`, err)))
      res.on('aborted', () => finish(unreachable(call, 'the reply broke off', undefined)))
      res.on('end', () => {
        finish(null, makeReply(call, res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8')))
      })
    })
    req.end(payload)
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/**
 * Sends one HTTP request and returns the reply whatever its status. Throws {@link HttpError} only
 * when no reply came: HTTP_CONNECTION_REFUSED, HTTP_TIMEOUT, HTTP_UNREACHABLE, HTTP_ABORTED.
 */
export async function httpRequest(call: HttpCall): Promise<HttpReply> {
  const {host, port} = splitServer(call)
  const timeoutMs = call.timeoutMs ?? DEFAULT_HTTP_TIMEOUT_MS
  const attempts = (call.idempotent ?? call.method === 'GET') ? IDEMPOTENT_ATTEMPTS : 1
  for (let n = 1; ; n++) {
    try {
      return await attempt(call, host, port, timeoutMs)
    } catch (err) {
      const retriable = err instanceof HttpError && (err.code === 'HTTP_UNREACHABLE' || err.code === 'HTTP_TIMEOUT')
      if (!retriable || n >= attempts || call.signal?.aborted) throw err
      await sleep(RETRY_BACKOFF_MS * 2 ** (n - 1))
      if (call.signal?.aborted) throw aborted(call)
    }
  }
}

/**
 * Sends one HTTP request and returns its body parsed with {@link parseJson}. A non-2xx reply is
 * HTTP_STATUS (with `status` and the start of the body); a body that is not JSON is HTTP_BAD_JSON.
 */
export async function httpJson<T = unknown>(call: HttpCall): Promise<T> {
  const reply = await httpRequest(call)
  if (reply.status < 200 || reply.status > 299) {
    const body = excerpt(reply.text)
    throw new HttpError('HTTP_STATUS', `${call.server} answered ${where(call)} with HTTP ${reply.status}`, call, {
      status: reply.status,
      body,
      detail: body ? `The reply began: ${JSON.stringify(body)}` : 'The reply had no body.',
      hints: [
        `Check that ${call.server} serves ${call.path} (the right kind of server and version) and look at its log.`,
      ],
    })
  }
  return reply.json() as T
}
