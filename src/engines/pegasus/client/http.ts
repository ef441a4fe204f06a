/**
 * The HTTP API of Pegasus servers (served on the RPC port): the meta's `/meta/cluster`,
 * `/meta/apps`, `/meta/nodes`, and `/config`. Every value in the meta documents is a string (rDSN's
 * table_printer JSON). A non-leader meta answers 307 to the leader, which fetch follows.
 */
import {describeError} from '../../../errors.js'
import {HttpError, httpRequest, type HttpCall} from '../../../http/index.js'
import {PegasusClientError, timedOut, unreachable} from './errors.js'
import {DEFAULT_RPC_TIMEOUT_MS} from './rpc-pool.js'

/** `GET /meta/cluster`. */
export interface MetaClusterJson {
  meta_servers: string
  primary_meta_server: string
  zookeeper_hosts: string
  zookeeper_root: string
  meta_function_level: string
  balance_operation_count: string
  primary_replica_count_stddev: string
  total_replica_count_stddev: string
  [key: string]: string
}

/** `GET /meta/apps[?detail]`. */
export interface MetaAppsJson {
  general_info: Record<string, Record<string, string>>
  healthy_info?: Record<string, Record<string, string>>
  summary: Record<string, string>
}

/** `GET /meta/nodes[?detail]`. */
export interface MetaNodesJson {
  details: Record<string, Record<string, string>>
  summary: Record<string, string>
}

/** Redirects followed (a non-leader meta answers 307 to the leader). */
const MAX_REDIRECTS = 3

/** The Pegasus error for an HTTP failure: what a meta would log for the same condition. */
function pegasusErrorOf(err: HttpError, server: string, rpc: string, timeoutMs: number): PegasusClientError {
  switch (err.code) {
    case 'HTTP_TIMEOUT':
      return timedOut(server, rpc, timeoutMs, true)
    case 'HTTP_STATUS':
      return new PegasusClientError(
        'PEGASUS_HTTP_ERROR',
        `Pegasus server ${server} answered ${rpc} with HTTP ${err.status}`,
        {
          server,
          rpc,
          pegasusError: err.status === 404 ? 'ERR_OBJECT_NOT_FOUND' : 'ERR_UNKNOWN',
          detail: err.body,
          hints: [`Check that ${server} is a meta server (these paths exist on meta servers only).`],
          cause: err,
        },
      )
    case 'HTTP_BAD_JSON':
      return new PegasusClientError('PEGASUS_BAD_REPLY', `Pegasus server ${server} sent invalid JSON for ${rpc}`, {
        server,
        rpc,
        pegasusError: 'ERR_INVALID_DATA',
        detail: err.body,
        cause: err,
      })
    default:
      return unreachable(
        server,
        rpc,
        err.code === 'HTTP_CONNECTION_REFUSED' ? 'connection refused' : describeError(err.cause ?? err),
        err,
      )
  }
}

/** Fetches a JSON document from a Pegasus server's HTTP API with a deadline, following a 307 to the meta leader. */
export async function getPegasusJson<T>(server: string, path: string, opts: {timeoutMs?: number} = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
  const rpc = `GET ${path.startsWith('/') ? path : `/${path}`}`
  let call: HttpCall = {server, method: 'GET', path: path.startsWith('/') ? path : `/${path}`, timeoutMs}
  try {
    for (let hop = 0; ; hop++) {
      const reply = await httpRequest(call)
      const location = reply.headers.location
      if (reply.status >= 300 && reply.status < 400 && typeof location === 'string' && hop < MAX_REDIRECTS) {
        const next = new URL(location, `http://${call.server}${call.path}`)
        call = {...call, server: next.host, path: `${next.pathname}${next.search}`}
        continue
      }
      if (reply.status < 200 || reply.status > 299) {
        throw new HttpError('HTTP_STATUS', `HTTP ${reply.status}`, call, {
          status: reply.status,
          body: reply.text.slice(0, 500),
        })
      }
      return reply.json() as T
    }
  } catch (err) {
    if (err instanceof HttpError) throw pegasusErrorOf(err, server, rpc, timeoutMs)
    throw err
  }
}

/** `GET /meta/cluster`. */
export function getMetaCluster(server: string, opts?: {timeoutMs?: number}): Promise<MetaClusterJson> {
  return getPegasusJson(server, '/meta/cluster', opts)
}

/** `GET /meta/apps` (with `?detail` for the healthy_info table). */
export function getMetaApps(server: string, opts: {timeoutMs?: number; detail?: boolean} = {}): Promise<MetaAppsJson> {
  return getPegasusJson(server, opts.detail ? '/meta/apps?detail' : '/meta/apps', opts)
}

/** `GET /meta/nodes` (with `?detail` for replica counts). */
export function getMetaNodes(
  server: string,
  opts: {timeoutMs?: number; detail?: boolean} = {},
): Promise<MetaNodesJson> {
  return getPegasusJson(server, opts.detail ? '/meta/nodes?detail' : '/meta/nodes', opts)
}

/** Reads `/config?name=` from a Pegasus server's HTTP API; null when it cannot be read. */
export async function readMetaConfigHttp(server: string, name: string): Promise<string | null> {
  try {
    const v = await getPegasusJson<unknown>(server, `/config?name=${encodeURIComponent(name)}`, {timeoutMs: 3000})
    return typeof v === 'string' || typeof v === 'boolean' ? String(v) : null
  } catch (err) {
    // The endpoint answers raw text (not JSON) in some versions: the value is then in the error detail.
    if (err instanceof PegasusClientError && err.code === 'PEGASUS_BAD_REPLY' && err.detail) return err.detail.trim()
    return null
  }
}

/**
 * The first value of the config `name` that one of `servers` reports through `read` (a failed read
 * counts as none), trimmed and unquoted; null when none answers.
 */
export async function firstConfigValue(
  read: (server: string, name: string) => Promise<string | null>,
  servers: readonly string[],
  name: string,
): Promise<string | null> {
  for (const server of servers) {
    const v = await read(server, name).catch(() => null)
    if (v !== null) return v.trim().replace(/^"|"$/g, '')
  }
  return null
}
