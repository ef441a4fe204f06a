/**
 * The lab meta's HTTP pages on its RPC port, as a Pegasus meta serves them: `/meta/cluster`,
 * `/meta/apps[?detail]`, `/meta/nodes[?detail]`, `/meta/app?name=[&detail]`,
 * `/meta/app_envs?name=`, `/version` and `/config?name=` (values are
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
    '/meta/app': ['name', 'detail'],
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
    case '/meta/app': {
      const name = url.searchParams.get('name') ?? ''
      if (name === '') return send(400, "app name shouldn't be empty", 'text/plain')
      const app = [...meta.existingApps()].find((a) => a.info.app_name === name)
      if (!app) return send(404, `table not found: "${name}"`, 'text/plain')
      return send(200, JSON.stringify(httpApp(app, detail)))
    }
    case '/meta/app_envs': {
      // get_app_envs_handler takes the first `name` and ignores other arguments.
      const name = url.searchParams.get('name') ?? ''
      if (name === '') return send(400, "app name shouldn't be empty", 'text/plain')
      const app = meta.availableApps().find((a) => a.app_name === name)
      const envs = Object.entries(app?.envs ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      return send(200, JSON.stringify(Object.fromEntries(envs)))
    }
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

/** `add_app_info` as `/meta/app` prints it: general, and with detail replicas, nodes and healthy. */
function httpApp(app: AppState, detail: boolean): Record<string, unknown> {
  const pcs = app.pcs
  const out: Record<string, unknown> = {
    general: {
      app_name: app.info.app_name,
      app_id: String(app.info.app_id),
      partition_count: String(app.info.partition_count),
      max_replica_count: String(pcs.length === 0 ? 0 : pcs[0].max_replica_count),
    },
  }
  if (!detail) return out
  const replicas: Record<string, Record<string, string>> = {}
  const stats = new Map<string, {primary: number; secondary: number}>()
  const stat = (n: string): {primary: number; secondary: number} => {
    let v = stats.get(n)
    if (!v) stats.set(n, (v = {primary: 0, secondary: 0}))
    return v
  }
  let prim = 0
  let sec = 0
  const health = {fully: 0, write: 0, read: 0}
  for (const pc of pcs) {
    const secondaries = pc.hp_secondaries ?? []
    const n = (pc.hp_primary ? 1 : 0) + secondaries.length
    if (pc.hp_primary) {
      stat(pc.hp_primary).primary++
      prim++
      if (n >= pc.max_replica_count) health.fully++
      else if (n < 2) health.write++
    } else {
      health.write++
      health.read++
    }
    for (const s of secondaries) stat(s).secondary++
    sec += secondaries.length
    const pidx = pc.pid.slice(pc.pid.indexOf('.') + 1)
    replicas[pidx] = {
      pidx,
      ballot: String(pc.ballot),
      replica_count: `${n}/${pc.max_replica_count}`,
      primary: pc.hp_primary || '-',
      secondaries: `[${secondaries.join(',')}]`,
    }
  }
  const nodes: Record<string, Record<string, string>> = {}
  for (const [node, v] of [...stats].sort(([a], [b]) => compareHostPort(a, b))) {
    nodes[node] = {
      node,
      primary: String(v.primary),
      secondary: String(v.secondary),
      total: String(v.primary + v.secondary),
    }
  }
  nodes.total = {node: 'total', primary: String(prim), secondary: String(sec), total: String(prim + sec)}
  out.replicas = replicas
  out.nodes = nodes
  out.healthy = {
    fully_healthy_partition_count: String(health.fully),
    unhealthy_partition_count: String(app.info.partition_count - health.fully),
    write_unhealthy_partition_count: String(health.write),
    read_unhealthy_partition_count: String(health.read),
  }
  return out
}

/** host_port order: the host, then the port as a number. */
function compareHostPort(a: string, b: string): number {
  const [ha, pa] = [a.slice(0, a.lastIndexOf(':')), Number(a.slice(a.lastIndexOf(':') + 1))]
  const [hb, pb] = [b.slice(0, b.lastIndexOf(':')), Number(b.slice(b.lastIndexOf(':') + 1))]
  return ha < hb ? -1 : ha > hb ? 1 : pa - pb
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
