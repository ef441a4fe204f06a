/**
 * OpenMLDB's nameserver and tablets over brpc's HTTP+JSON (`POST /NameServer/<Method>`,
 * `POST /TabletServer/<Method>`), as the official tools drive them (reference openmldb.md §3).
 *
 * - The leader nameserver is the one whose `<root>/leader/lock_request<seq>` node has the lowest
 *   sequence; a nameserver that is not (or no longer) the leader answers code 300
 *   `nameserver is not leader`, and the next candidate is tried (the other lock holders, then the
 *   spec's `cluster.nameservers`).
 * - brpc rejects an HTTP call without an `Authorization` header whenever an authenticator is set;
 *   with the default `skip_grant_tables=true` any value passes (the tools send `foo`), otherwise
 *   it is `u<user>:<password>`.
 * - Application errors are HTTP 200 with a non-zero `code`: {@link OpenMLDBCallError}.
 * - Integers past 2^53 (offsets, op ids) arrive as bigint (src/http parseJson).
 */
import {LifeboatError, describeError} from '../../errors.js'
import {HttpError, httpJson} from '../../http/index.js'
import {connectZk, isZkError} from '../../zk/index.js'
import type {OpenMLDBRecoverySpec} from './types.js'

/** `kNameserverIsNotLeader`. */
export const CODE_NOT_LEADER = 300
/** `kAutoFailoverIsEnabled`. */
export const CODE_AUTO_FAILOVER_ENABLED = 301
/** `kPartitionIsAlive`: RecoverTable on an alive replica. */
export const CODE_PARTITION_IS_ALIVE = 311
/** Tablet LoadTable: `table already exists`. */
export const CODE_TABLE_EXISTS = 101

/** Default deadline of one RPC. */
export const DEFAULT_RPC_TIMEOUT_MS = 5000

/** A reply with a non-zero `code`: the store's own code and message. */
export class OpenMLDBCallError extends LifeboatError {
  readonly server: string
  readonly method: string
  readonly rpcCode: number
  readonly rpcMsg: string

  constructor(server: string, method: string, rpcCode: number, rpcMsg: string, hints: string[] = []) {
    super('OPENMLDB_RPC_FAILED', `${method} on ${server} failed: code ${rpcCode} "${rpcMsg}"`, {
      hints: hints.length > 0 ? hints : [`Look at the log of ${server} for ${method}.`],
    })
    this.server = server
    this.method = method
    this.rpcCode = rpcCode
    this.rpcMsg = rpcMsg
  }
}

/** A reply body: `code` and `msg` plus the method's fields. */
export type Reply = Record<string, unknown> & {code?: unknown; msg?: unknown}

/** `u<user>:<password>` from the named variable, or the tools' placeholder when none is named. */
export function authorizationHeader(spec: OpenMLDBRecoverySpec, env: Record<string, string | undefined>): string {
  const name = spec.cluster.credentials_env
  if (name === undefined) return 'foo'
  const value = env[name]
  if (value === undefined || value === '' || !value.includes(':')) {
    throw new LifeboatError(
      'OPENMLDB_CREDENTIALS_MISSING',
      `the environment variable ${name} named in cluster.credentials_env is ${value === undefined || value === '' ? 'not set' : 'not user:password'}`,
      {
        hints: [
          `export ${name}=USER:PASSWORD before running lifeboat (an OpenMLDB user allowed to run nameserver operations).`,
        ],
      },
    )
  }
  return `u${value}`
}

/** Sorts `lock_request<seq>` children by their sequence number (ten digits, ZooKeeper's format). */
export function sortLockRequests(children: readonly string[]): string[] {
  const seq = (c: string): bigint => {
    const m = /(\d+)$/.exec(c)
    return m ? BigInt(m[1]) : -1n
  }
  return [...children].sort((a, b) => {
    const x = seq(a)
    const y = seq(b)
    return x < y ? -1 : x > y ? 1 : a < b ? -1 : a > b ? 1 : 0
  })
}

/** The nameservers holding `<root>/leader` locks, leader first. */
export async function nameserversFromZk(
  spec: OpenMLDBRecoverySpec,
  env: Record<string, string | undefined>,
  timeoutMs: number,
): Promise<string[]> {
  const zk = await connectZk({
    hosts: spec.cluster.zookeeper.hosts,
    root: spec.cluster.zookeeper.root,
    auth: spec.cluster.zookeeper.auth,
    env,
    deadlineMs: timeoutMs,
    callDeadlineMs: timeoutMs,
  })
  try {
    const dir = `${spec.cluster.zookeeper.root === '/' ? '' : spec.cluster.zookeeper.root}/leader`
    let children: string[]
    try {
      children = await zk.getChildren(dir)
    } catch (err) {
      if (isZkError(err, 'ZK_NO_NODE')) return []
      throw err
    }
    const out: string[] = []
    for (const child of sortLockRequests(children)) {
      try {
        const {data} = await zk.get(`${dir}/${child}`)
        const ep = data.toString('utf8').trim()
        if (ep !== '' && !out.includes(ep)) out.push(ep)
      } catch (err) {
        // A lock holder that went away between the listing and the read is simply no candidate.
        if (!isZkError(err, 'ZK_NO_NODE')) throw err
      }
    }
    return out
  } finally {
    await zk.close()
  }
}

export interface OpenMLDBClientOptions {
  /** Nameserver candidates, leader first. */
  nameservers: string[]
  authorization: string
  timeoutMs?: number
}

/** Calls to the leader nameserver (found and re-found on code 300) and to tablets. */
export class OpenMLDBClient {
  private readonly candidates: string[]
  private readonly authorization: string
  readonly timeoutMs: number
  private leader: string | undefined

  constructor(opts: OpenMLDBClientOptions) {
    this.candidates = [...opts.nameservers]
    this.authorization = opts.authorization
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
  }

  /** The nameserver that last answered as leader. */
  get nameserver(): string | undefined {
    return this.leader
  }

  /** One POST, the body parsed losslessly. */
  async post(
    server: string,
    service: 'NameServer' | 'TabletServer',
    method: string,
    body: unknown,
    signal?: AbortSignal,
    timeoutMs = this.timeoutMs,
  ): Promise<Reply> {
    const reply = await httpJson<Reply>({
      server,
      method: 'POST',
      path: `/${service}/${method}`,
      body,
      headers: {Authorization: this.authorization},
      timeoutMs,
      ...(timeoutMs === this.timeoutMs ? {timeoutSetting: 'recovery.rpc_timeout_seconds in the spec'} : {}),
      idempotent: false,
      signal,
    })
    if (reply === null || typeof reply !== 'object') {
      throw new LifeboatError(
        'OPENMLDB_BAD_REPLY',
        `${method} on ${server} answered with something that is not a JSON object`,
        {
          hints: [`Check that ${server} is an OpenMLDB ${service === 'NameServer' ? 'nameserver' : 'tablet'}.`],
        },
      )
    }
    return reply
  }

  /**
   * Calls the leader nameserver. Code 300 or a nameserver that cannot be reached moves on to the
   * next candidate; any other non-zero code is thrown as {@link OpenMLDBCallError}. A nameserver
   * that took the request but did not answer in time is not passed over: it may have acted (a
   * RecoverEndpoint creates its ops before it replies), so the timeout is thrown as it is.
   * `timeoutMs` overrides the client's deadline for requests that do much work before replying.
   */
  async ns(method: string, body: unknown, signal?: AbortSignal, timeoutMs?: number): Promise<Reply> {
    const order =
      this.leader === undefined ? this.candidates : [this.leader, ...this.candidates.filter((c) => c !== this.leader)]
    const tried: string[] = []
    for (const server of order) {
      let reply: Reply
      try {
        reply = await this.post(server, 'NameServer', method, body, signal, timeoutMs)
      } catch (err) {
        if (
          err instanceof HttpError &&
          err.code !== 'HTTP_ABORTED' &&
          err.code !== 'HTTP_TIMEOUT' &&
          err.code !== 'HTTP_STATUS' &&
          err.code !== 'HTTP_BAD_JSON'
        ) {
          tried.push(`${server}: ${err.message}`)
          if (this.leader === server) this.leader = undefined
          continue
        }
        throw err
      }
      const code = Number(reply.code ?? 0)
      if (code === CODE_NOT_LEADER) {
        tried.push(`${server}: code 300 "nameserver is not leader"`)
        if (this.leader === server) this.leader = undefined
        continue
      }
      this.leader = server
      if (code !== 0) throw new OpenMLDBCallError(server, method, code, String(reply.msg ?? ''), hintsFor(code))
      return reply
    }
    throw new LifeboatError('OPENMLDB_NO_LEADER_NAMESERVER', `no nameserver answered ${method} as leader`, {
      detail:
        tried.length > 0
          ? tried.join('\n')
          : 'ZooKeeper names no nameserver under <root>/leader and the spec lists none in cluster.nameservers.',
      hints: [
        'Check that a nameserver is running and holds the leader lock (`showns` in ns_client, or the children of <zk_root_path>/leader).',
        'List the nameservers in cluster.nameservers to try them when ZooKeeper names none.',
      ],
    })
  }

  /** Calls a tablet; a non-zero code is thrown as {@link OpenMLDBCallError}. */
  async tablet(endpoint: string, method: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
    const reply = await this.post(endpoint, 'TabletServer', method, body, signal)
    const code = Number(reply.code ?? 0)
    if (code !== 0) throw new OpenMLDBCallError(endpoint, method, code, String(reply.msg ?? ''))
    return reply
  }
}

function hintsFor(code: number): string[] {
  switch (code) {
    case CODE_AUTO_FAILOVER_ENABLED:
      return [
        'The nameserver refuses manual operations while auto_failover is on; something turned it back on during the run. `lifeboat apply --resume` turns it off again.',
      ]
    case 303:
      return [
        'The tablet is not kHealthy in ShowTablet: start it (or wait for it to register in ZooKeeper), then plan again.',
      ]
    default:
      return []
  }
}

/** Opens a client for a spec: nameservers from ZooKeeper first, then the spec's list. */
export async function openClient(
  spec: OpenMLDBRecoverySpec,
  env: Record<string, string | undefined>,
  timeoutMs = DEFAULT_RPC_TIMEOUT_MS,
): Promise<OpenMLDBClient> {
  let fromZk: string[] = []
  try {
    fromZk = await nameserversFromZk(spec, env, Math.max(timeoutMs, 5000))
  } catch (err) {
    if ((spec.cluster.nameservers ?? []).length === 0) {
      throw new LifeboatError(
        'OPENMLDB_ZK_UNREADABLE',
        `cannot read the nameserver leader from ZooKeeper ${spec.cluster.zookeeper.hosts}${spec.cluster.zookeeper.root}/leader`,
        {
          detail: describeError(err),
          hints: [
            'Check cluster.zookeeper (zk_cluster and zk_root_path of the nameserver flags), or list cluster.nameservers to reach the nameserver directly.',
          ],
          cause: err,
        },
      )
    }
  }
  const all = [...fromZk, ...(spec.cluster.nameservers ?? []).filter((n) => !fromZk.includes(n))]
  return new OpenMLDBClient({nameservers: all, authorization: authorizationHeader(spec, env), timeoutMs})
}
