/**
 * The lab meta's HTTP pages on its RPC port, as a Pegasus meta serves them: `/meta/cluster`,
 * `/meta/apps[?detail]`, `/meta/nodes[?detail]`, `/version` and `/config?name=` (values are
 * strings, as rDSN's table_printer writes them); a follower answers 307 to the leader.
 */
import type http from 'node:http'

import {metaLevelName, type AppInfo, type PartitionConfiguration} from '../../engines/pegasus/wire/index.js'
import type {MetaServerConfig} from './meta-server.js'
import type {AppState} from './meta-state.js'

/** What the pages read of a meta server. */
export interface MetaHttpView {
  phase: string
  /** The leader's address, when known. */
  leader: string | undefined
  config: Pick<MetaServerConfig, 'recover' | 'clusterRoot' | 'zkHosts' | 'levelOnStart'>
  clusterInfo(): Record<string, string>
  availableApps(): AppInfo[]
  partitionsOf(appId: number): PartitionConfiguration[]
  existingApps(): Iterable<AppState>
  /** Every node the meta knows, sorted, with its liveness. */
  sortedNodes(): [string, {alive: boolean}][]
}

export function serveMetaHttp(meta: MetaHttpView, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://localhost')
  const send = (code: number, body: string, type = 'application/json'): void => {
    res.writeHead(code, {'content-type': type})
    res.end(body)
  }
  if (meta.phase === 'follower' && meta.leader && url.pathname.startsWith('/meta/')) {
    res.writeHead(307, {location: `http://${meta.leader}${url.pathname}${url.search}`})
    res.end()
    return
  }
  const detail = url.searchParams.has('detail')
  // Pegasus's handlers answer 400 (empty body) to any query argument they do not take.
  const accepts: Record<string, readonly string[]> = {
    '/meta/cluster': [],
    '/meta/apps': ['detail'],
    '/meta/nodes': ['detail'],
  }
  const allowed = accepts[url.pathname]
  if (allowed !== undefined && [...url.searchParams.keys()].some((k) => !allowed.includes(k)))
    return send(400, '', 'text/plain')
  switch (url.pathname) {
    case '/meta/cluster':
      return send(200, JSON.stringify(meta.clusterInfo()))
    case '/meta/apps':
      return send(200, JSON.stringify(httpApps(meta, detail)))
    case '/meta/nodes':
      return send(200, JSON.stringify(httpNodes(meta, detail)))
    case '/version':
      return send(200, JSON.stringify({Version: 'lifeboat-lab', GitCommit: 'simulated'}))
    case '/config': {
      const flags: Record<string, string> = {
        recover_from_replica_server: String(meta.config.recover),
        cluster_root: meta.config.clusterRoot,
        hosts_list: meta.config.zkHosts,
        meta_function_level_on_start: metaLevelName(meta.config.levelOnStart),
      }
      const name = url.searchParams.get('name') ?? ''
      if (name in flags) return send(200, flags[name], 'text/plain')
      return send(404, `flag "${name}" not found\n`, 'text/plain')
    }
    default:
      return send(404, 'not found\n', 'text/plain')
  }
}

function httpApps(meta: MetaHttpView, detail: boolean): Record<string, unknown> {
  const general: Record<string, Record<string, string>> = {}
  const healthy: Record<string, Record<string, string>> = {}
  let available = 0
  const counts = {fully: 0, unhealthy: 0, write: 0, read: 0}
  for (const app of meta.availableApps()) {
    available++
    general[String(app.app_id)] = {
      app_id: String(app.app_id),
      status: 'AVAILABLE',
      app_name: app.app_name,
      app_type: app.app_type,
      partition_count: String(app.partition_count),
      replica_count: String(app.max_replica_count),
      is_stateful: String(app.is_stateful),
      create_time: app.create_second > 0 ? timeMsToString(app.create_second * 1000) : '-',
      drop_time: '-',
      drop_expire: '-',
      envs_count: String(Object.keys(app.envs).length),
    }
    if (!detail) continue
    let fully = 0
    let write = 0
    let read = 0
    for (const pc of meta.partitionsOf(app.app_id)) {
      const n = (pc.hp_primary ? 1 : 0) + (pc.hp_secondaries ?? []).length
      if (pc.hp_primary) {
        if (n >= pc.max_replica_count) fully++
        else if (n < 2) write++
      } else {
        write++
        read++
      }
    }
    healthy[String(app.app_id)] = {
      app_id: String(app.app_id),
      app_name: app.app_name,
      partition_count: String(app.partition_count),
      fully_healthy: String(fully),
      unhealthy: String(app.partition_count - fully),
      write_unhealthy: String(write),
      read_unhealthy: String(read),
    }
    if (fully === app.partition_count) counts.fully++
    else counts.unhealthy++
    if (write > 0) counts.write++
    if (read > 0) counts.read++
  }
  const out: Record<string, unknown> = {general_info: general}
  if (detail && available > 0) out.healthy_info = healthy
  out.summary = detail
    ? {
        total_app_count: String(available),
        fully_healthy_app_count: String(counts.fully),
        unhealthy_app_count: String(counts.unhealthy),
        write_unhealthy_app_count: String(counts.write),
        read_unhealthy_app_count: String(counts.read),
      }
    : {total_app_count: String(available)}
  return out
}

function httpNodes(meta: MetaHttpView, detail: boolean): Record<string, unknown> {
  const details: Record<string, Record<string, string>> = {}
  const prim = new Map<string, number>()
  const sec = new Map<string, number>()
  if (detail) {
    for (const app of meta.existingApps()) {
      for (const pc of app.pcs) {
        if (pc.hp_primary) prim.set(pc.hp_primary, (prim.get(pc.hp_primary) ?? 0) + 1)
        for (const s of pc.hp_secondaries ?? []) sec.set(s, (sec.get(s) ?? 0) + 1)
      }
    }
  }
  let alive = 0
  const nodes = meta.sortedNodes()
  for (const [node, ns] of nodes) {
    if (ns.alive) alive++
    const row: Record<string, string> = {address: node, status: ns.alive ? 'ALIVE' : 'UNALIVE'}
    if (detail) {
      const p = prim.get(node) ?? 0
      const s = sec.get(node) ?? 0
      row.replica_count = String(p + s)
      row.primary_count = String(p)
      row.secondary_count = String(s)
    }
    details[node] = row
  }
  return {
    details,
    summary: {
      total_node_count: String(nodes.length),
      alive_node_count: String(alive),
      unalive_node_count: String(nodes.length - alive),
    },
  }
}

/** `time_ms_to_string`: `YYYY-mm-dd HH:MM:SS.mmm` in local time. */
function timeMsToString(ms: number): string {
  const d = new Date(ms)
  const p = (n: number, w = 2): string => String(n).padStart(w, '0')
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`
}
