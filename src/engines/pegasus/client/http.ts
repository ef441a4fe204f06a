/**
 * The HTTP API of Pegasus servers (served on the RPC port): the meta's `/meta/cluster`,
 * `/meta/apps`, `/meta/nodes`, and `/config`. Every value in the meta documents is a string (rDSN's
 * table_printer JSON). A non-leader meta answers 307 to the leader, which fetch follows.
 */
import {describeError} from '../../../errors.js'
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

/** Fetches a JSON document from a Pegasus server's HTTP API with a deadline. */
export async function getPegasusJson<T>(server: string, path: string, opts: {timeoutMs?: number} = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS
  const url = `http://${server}${path.startsWith('/') ? path : `/${path}`}`
  let res: Response
  try {
    res = await fetch(url, {signal: AbortSignal.timeout(timeoutMs), redirect: 'follow'})
  } catch (err) {
    if ((err as {name?: string}).name === 'TimeoutError') throw timedOut(server, `GET ${path}`, timeoutMs, true)
    const cause = (err as {cause?: unknown}).cause
    throw unreachable(server, `GET ${path}`, describeError(cause ?? err), err)
  }
  let text: string
  try {
    text = await res.text()
  } catch (err) {
    if ((err as {name?: string}).name === 'TimeoutError') throw timedOut(server, `GET ${path}`, timeoutMs, true)
    throw unreachable(server, `GET ${path}`, describeError(err), err)
  }
  if (!res.ok) {
    throw new PegasusClientError('PEGASUS_HTTP_ERROR', `Pegasus server ${server} answered GET ${path} with HTTP ${res.status}`, {
      server,
      rpc: `GET ${path}`,
      pegasusError: res.status === 404 ? 'ERR_OBJECT_NOT_FOUND' : 'ERR_UNKNOWN',
      detail: text.slice(0, 500),
      hints: [`Check that ${server} is a meta server (these paths exist on meta servers only).`],
    })
  }
  try {
    return JSON.parse(text) as T
  } catch (err) {
    throw new PegasusClientError('PEGASUS_BAD_REPLY', `Pegasus server ${server} sent invalid JSON for GET ${path}`, {
      server,
      rpc: `GET ${path}`,
      pegasusError: 'ERR_INVALID_DATA',
      detail: text.slice(0, 500),
      cause: err,
    })
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
export function getMetaNodes(server: string, opts: {timeoutMs?: number; detail?: boolean} = {}): Promise<MetaNodesJson> {
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
