/**
 * Gathers the live state of a PegasusZkMigration, read-only: a summary of the source tree (sizes
 * per top-level child, apps and partitions, ephemeral nodes such as the leader lock), the same of
 * the target root, the meta leader and its function level, and the table and node lists as the
 * shell's `ls -o` and `nodes -d` print them.
 *
 * For the recovery method it also asks every ALIVE node what start_recovery will ask it
 * (query_app_info), for the envs each table gets back. The ZooKeeper connects and the node calls
 * keep the deadlines of `cluster.timeouts` (or --zk-timeout / --collect-timeout).
 *
 * The table and node readers are shared with the step executors, which compare the cluster with
 * what the plan recorded.
 */
import {createHash} from 'node:crypto'

import {describeError} from '../../../errors.js'
import {compareNatural} from '../../../plan/order.js'
import {ZkError, connectZk, walkTree, type ZkClient} from '../../../zk/index.js'
import type {EngineIo} from '../../types.js'
import {
  PegasusClientError,
  ReplicaClient,
  connectClusterZk,
  getMetaCluster,
  mapLimit,
  metaClientFor,
  pegasusTimeouts,
  type Deadline,
  type MetaClient,
} from '../client/index.js'
import {AppStatus, MetaFunctionLevel, NodeStatus, enumName, metaLevelName} from '../wire/index.js'
import {
  ZK_MIGRATION_LIVE_VERSION,
  type EphemeralNode,
  type MetaObserved,
  type NodeAppsReport,
  type NodeRow,
  type TableRow,
  type TreeApp,
  type TreeSummary,
  type ZkMigrationLive,
  type ZkMigrationSpec,
} from './types.js'

/** Tables whose partition configuration is read at once for `nodes -d`. */
const QUERY_CONCURRENCY = 16
/** Replica servers asked for query_app_info at once. */
const REPORT_CONCURRENCY = 64

function relative(root: string, path: string): string {
  if (root === '/') return path.slice(1)
  return path === root ? '' : path.slice(root.length + 1)
}

/**
 * Walks the subtree at `root` once and summarises it: node counts per top-level child, apps and
 * their partitions, ephemeral nodes, and a digest of the paths. A missing root is `exists: false`.
 */
export async function summarizeTree(zk: ZkClient, hosts: string, root: string): Promise<TreeSummary> {
  const summary: TreeSummary = {
    hosts,
    root,
    exists: false,
    nodes: 0,
    bytes: 0,
    children: [],
    ephemeral: [],
    appsRootData: null,
    apps: [],
    pathsDigest: '',
  }
  const children = new Map<string, {nodes: number; ephemeral: number}>()
  const apps = new Map<string, TreeApp>()
  const ephemeral: EphemeralNode[] = []
  const paths: string[] = []
  try {
    await walkTree(zk, root, {
      includeEphemeral: true,
      onNode: ({path, data, stat}) => {
        const rel = relative(root, path)
        const parts = rel === '' ? [] : rel.split('/')
        const isEphemeral = stat.ephemeralOwner !== 0n
        if (parts.length > 0) {
          const top = children.get(parts[0]!) ?? {nodes: 0, ephemeral: 0}
          if (isEphemeral) top.ephemeral++
          else top.nodes++
          children.set(parts[0]!, top)
        }
        if (isEphemeral) {
          ephemeral.push({path, data: data.toString('utf8').slice(0, 200)})
          return
        }
        summary.nodes++
        summary.bytes += data.length
        paths.push(rel)
        if (parts[0] !== 'apps') return
        if (parts.length === 1) summary.appsRootData = data.toString('utf8')
        else if (parts.length === 2) apps.set(parts[1]!, appOf(parts[1]!, data.toString('utf8')))
        if (parts.length >= 2) {
          const app = apps.get(parts[1]!)
          if (!app) return
          app.nodes += parts.length === 2 ? 0 : 1
          if (parts.length === 3 && /^\d+$/.test(parts[2]!)) app.partitions++
        }
      },
    })
  } catch (err) {
    if (err instanceof ZkError && err.code === 'ZK_NO_NODE' && err.path === root) return summary
    throw err
  }
  summary.exists = true
  summary.children = [...children].map(([name, c]) => ({name, ...c})).sort((a, b) => compareNatural(a.name, b.name))
  summary.apps = [...apps.values()].sort((a, b) => compareNatural(a.id, b.id))
  summary.ephemeral = ephemeral.sort((a, b) => compareNatural(a.path, b.path))
  paths.sort()
  const hash = createHash('sha256')
  for (let i = 0; i < paths.length; i += 4096) hash.update(`${paths.slice(i, i + 4096).join('\n')}\n`)
  summary.pathsDigest = hash.digest('hex')
  return summary
}

/** An app node's summary from its JSON (Pegasus's app_info); tolerant of anything else. */
function appOf(id: string, text: string): TreeApp {
  const app: TreeApp = {id, name: null, status: null, partition_count: null, partitions: 0, nodes: 1, envs: {}}
  try {
    const doc = JSON.parse(text) as Record<string, unknown>
    if (typeof doc.app_name === 'string') app.name = doc.app_name
    if (typeof doc.status === 'string') app.status = doc.status
    if (typeof doc.partition_count === 'number') app.partition_count = doc.partition_count
    if (doc.envs && typeof doc.envs === 'object') app.envs = sortedEnvs(doc.envs as Record<string, unknown>)
  } catch {
    // Not an app_info document: counted, not described.
  }
  return app
}

/** Envs with keys sorted; values as strings (Pegasus writes strings). */
function sortedEnvs(envs: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(envs)
      .sort()
      .map((k) => [k, String(envs[k])]),
  )
}

/**
 * query_app_info on each node, in the given order (failures recorded by their error name; a node
 * that times out is asked once more, as the meta-recovery gather does).
 */
export async function reportApps(nodes: string[], deadline: Deadline): Promise<NodeAppsReport[]> {
  const client = new ReplicaClient({timeoutMs: deadline.ms})
  const once = async (node: string): Promise<NodeAppsReport> => {
    try {
      const resp = await client.queryAppInfo(node)
      if (resp.err !== 'ERR_OK') return {address: node, error: resp.err, apps: []}
      const apps = resp.apps
        .map((a) => ({app_id: a.app_id, app_name: a.app_name, envs: sortedEnvs(a.envs ?? {})}))
        .sort((a, b) => a.app_id - b.app_id)
      return {address: node, error: null, apps}
    } catch (err) {
      if (!(err instanceof PegasusClientError)) throw err
      return {address: node, error: err.pegasusError, apps: []}
    }
  }
  try {
    return await mapLimit(nodes, REPORT_CONCURRENCY, async (node) => {
      const first = await once(node)
      return first.error === 'ERR_TIMEOUT' ? once(node) : first
    })
  } finally {
    client.close()
  }
}

/** The meta leader, its function level (control_meta with fl_invalid) and its ZooKeeper as `/meta/cluster` reports it. */
export async function observeMeta(meta: MetaClient): Promise<MetaObserved> {
  const out: MetaObserved = {leader: null, error: null, level: null, zookeeper: null}
  try {
    const {server, response} = await meta.call('RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_invalid})
    out.leader = server
    if (response.err === 'ERR_OK') out.level = metaLevelName(response.old_level)
    else out.error = response.err
  } catch (err) {
    if (!(err instanceof PegasusClientError)) throw err
    out.error = err.pegasusError
    out.detail = err.message
    if (err.server && !err.server.includes(',')) out.leader = err.server
  }
  if (out.leader) {
    try {
      const c = await getMetaCluster(out.leader, {timeoutMs: 3000})
      out.zookeeper = {hosts: c.zookeeper_hosts, root: c.zookeeper_root}
    } catch {
      // Older metas without the HTTP API: the planner then relies on the spec.
    }
  }
  return out
}

/** The tables as `ls -a -o` lists them (every status), sorted by id. Throws when the meta does not answer ERR_OK. */
export async function listTables(meta: MetaClient): Promise<TableRow[]> {
  const {server, response} = await meta.call('RPC_CM_LIST_APPS', {status: AppStatus.AS_INVALID})
  if (response.err !== 'ERR_OK') {
    throw new PegasusClientError('PEGASUS_RPC_ERROR', `meta server ${server} answered list_apps with ${response.err}`, {
      server,
      rpc: 'RPC_CM_LIST_APPS',
      pegasusError: response.err,
    })
  }
  return response.infos
    .map((a): TableRow => ({
      app_id: a.app_id,
      app_name: a.app_name,
      status: enumName(AppStatus, a.status).replace(/^AS_/, ''),
      partition_count: a.partition_count,
      replica_count: a.max_replica_count,
    }))
    .sort((a, b) => a.app_id - b.app_id)
}

/**
 * The node list as `nodes -d` prints it: every node list_nodes knows, with the replicas each one
 * serves counted from the partition configurations of every available table, sorted by address.
 */
export async function listNodeRows(meta: MetaClient, tables?: TableRow[]): Promise<NodeRow[]> {
  const {server, response} = await meta.call('RPC_CM_LIST_NODES', {status: NodeStatus.NS_INVALID})
  if (response.err !== 'ERR_OK') {
    throw new PegasusClientError(
      'PEGASUS_RPC_ERROR',
      `meta server ${server} answered list_nodes with ${response.err}`,
      {server, rpc: 'RPC_CM_LIST_NODES', pegasusError: response.err},
    )
  }
  const rows = new Map<string, NodeRow>()
  for (const n of response.infos) {
    const address = n.hp_node || n.node
    rows.set(address, {
      address,
      status: n.status === NodeStatus.NS_ALIVE ? 'ALIVE' : 'UNALIVE',
      replica_count: 0,
      primary_count: 0,
      secondary_count: 0,
    })
  }
  const available = (tables ?? (await listTables(meta))).filter((t) => t.status === 'AVAILABLE')
  const configs = await mapLimit(available, QUERY_CONCURRENCY, (t) => meta.queryPartitionConfigByIndex(t.app_name))
  for (const cfg of configs) {
    if (cfg.err !== 'ERR_OK') continue
    for (const pc of cfg.partitions) {
      const primary = pc.hp_primary || pc.primary
      const secondaries = pc.hp_secondaries && pc.hp_secondaries.length > 0 ? pc.hp_secondaries : pc.secondaries
      const p = primary ? rows.get(primary) : undefined
      if (p) p.primary_count++
      for (const s of secondaries) {
        const r = rows.get(s)
        if (r) r.secondary_count++
      }
    }
  }
  for (const r of rows.values()) r.replica_count = r.primary_count + r.secondary_count
  return [...rows.values()].sort((a, b) => compareNatural(a.address, b.address))
}

/** Opens a ZooKeeper session on `place` with the spec's auth. */
export function connectPlace(
  place: {hosts: string; root: string; auth?: {scheme: 'digest'; credentials_env: string}},
  io: Pick<EngineIo, 'env'>,
): Promise<ZkClient> {
  return connectZk({hosts: place.hosts, root: place.root, auth: place.auth, env: io.env})
}

/**
 * The engine's gather: both trees, the meta, the table and node lists, and for the recovery method
 * the alive nodes' query_app_info. Never writes.
 */
export async function gatherZkMigration(spec: ZkMigrationSpec, io: EngineIo): Promise<ZkMigrationLive> {
  const src = spec.cluster.zookeeper
  const dst = spec.migration.target
  const timeouts = pegasusTimeouts(spec.cluster, io.env)
  const connect = (place: typeof src) =>
    connectClusterZk({hosts: place.hosts, root: place.root, auth: place.auth, env: io.env}, timeouts.zkConnect)
  const settled = await Promise.allSettled([connect(src), connect(dst)])
  const failed = settled.find((r) => r.status === 'rejected')
  if (failed) {
    // One side failed: close the session the other opened.
    await Promise.all(settled.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)))
    throw failed.reason
  }
  const [srcZk, dstZk] = settled.map((r) => (r as PromiseFulfilledResult<ZkClient>).value) as [ZkClient, ZkClient]
  const meta = metaClientFor(spec.cluster.meta_servers, [{zk: srcZk, root: src.root}])
  try {
    io.progress(`reading the source tree ${src.hosts}${src.root} and the target root ${dst.hosts}${dst.root}`)
    const [source, target] = await Promise.all([
      summarizeTree(srcZk, src.hosts, src.root),
      summarizeTree(dstZk, dst.hosts, dst.root),
    ])
    io.progress(
      `source: ${source.nodes} persistent node(s), ${source.apps.length} app(s); asking the meta server for its level, tables and nodes`,
    )
    const observed = await observeMeta(meta)
    let tables: TableRow[] = []
    let nodes: NodeRow[] = []
    if (observed.error === null) {
      try {
        tables = await listTables(meta)
        nodes = await listNodeRows(meta, tables)
      } catch (err) {
        observed.error = err instanceof PegasusClientError ? err.pegasusError : 'ERR_UNKNOWN'
        observed.detail = describeError(err)
      }
    }
    const live: ZkMigrationLive = {
      formatVersion: ZK_MIGRATION_LIVE_VERSION,
      source,
      target,
      meta: observed,
      tables,
      nodes,
    }
    if (spec.migration.method === 'recovery' && observed.error === null) {
      const alive = nodes.filter((n) => n.status === 'ALIVE').map((n) => n.address)
      io.progress(`asking ${alive.length} alive replica server(s) which app info (envs included) they report`)
      live.reports = await reportApps(alive, timeouts.collect)
    }
    return live
  } finally {
    meta.close()
    await Promise.all([srcZk.close(), dstZk.close()])
  }
}
