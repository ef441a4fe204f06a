/**
 * Gathers the live state of a PegasusMetaRecovery: is the meta server waiting for a recovery,
 * is the apps root empty, and what does every target replica server report. Read-only.
 *
 * The gather asks what the meta server will ask (query_app_info and query_replica_info on every
 * node, in parallel, with the meta's 5 s per-RPC deadline) and records failures with the error
 * name the meta would see, so the planner can predict its hints word for word.
 *
 * The I/O sits behind {@link MetaRecoveryPorts} so the logic is testable without a cluster;
 * {@link openMetaRecoveryPorts} builds the real ports (ZooKeeper, meta and replica clients).
 */
import {readFile} from 'node:fs/promises'
import {isAbsolute, join} from 'node:path'

import {LifeboatError, describeError} from '../../../errors.js'
import {compareNatural} from '../../../plan/order.js'
import {parseNodeList} from '../../../spec/node-list.js'
import type {ZkClient} from '../../../zk/index.js'
import type {EngineIo} from '../../types.js'
import {
  PegasusClientError,
  ReplicaClient,
  connectClusterZk,
  getMetaCluster,
  pegasusTimeouts,
  metaClientFor,
  readMetaConfigHttp,
  resolveIpv4,
  type MetaClient,
} from '../client/index.js'
import {appsRootPath} from '../zk-layout.js'
import {
  META_RECOVERY_LIVE_VERSION,
  type MetaRecoveryAppsRoot,
  type MetaRecoveryLive,
  type MetaRecoveryMetaState,
  type MetaRecoveryNode,
  type MetaRecoverySpec,
} from './types.js'

/** Replica servers queried at once. */
export const COLLECT_CONCURRENCY = 64

/** One node's answers, as the replica client reports them. */
export type NodeReport =
  | {node: string; ok: true; apps: MetaRecoveryNode['apps']; replicas: MetaRecoveryNode['replicas']}
  | {node: string; ok: false; pegasusError: string; detail: string}

/** The reads a gather makes; each may throw only for failures the operator must fix before planning. */
export interface MetaRecoveryPorts {
  /** Asks the meta leader for list_apps; the answer's error name, or the transport failure's. */
  probeMeta(): Promise<MetaRecoveryMetaState>
  /**
   * Optional: where the meta actually runs (its ZooKeeper hosts and root) and its function level,
   * as it reports them over HTTP. Ports without it leave the live state without them.
   */
  metaPlace?(): Promise<Pick<MetaRecoveryMetaState, 'zookeeper' | 'level'>>
  /** The apps root node: whether it exists, its data and children. */
  readAppsRoot(path: string): Promise<MetaRecoveryAppsRoot>
  /** query_app_info + query_replica_info on each node, results in input order. */
  collect(nodes: string[]): Promise<NodeReport[]>
  /** `ip:port` of a `host:port`, or null when the host does not resolve. */
  resolve(node: string): Promise<string | null>
  close(): Promise<void>
}

/** The node list of the spec: target_nodes, or target_nodes_file read relative to the spec's directory. */
export async function targetNodesOf(spec: MetaRecoverySpec, specDir: string): Promise<string[]> {
  if (spec.recovery.target_nodes) return [...spec.recovery.target_nodes]
  const file = spec.recovery.target_nodes_file
  if (!file) {
    throw new LifeboatError(
      'SPEC_NO_TARGET_NODES',
      'the spec names no replica server: give recovery.target_nodes or recovery.target_nodes_file',
    )
  }
  const path = isAbsolute(file) ? file : join(specDir, file)
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new LifeboatError('SPEC_NODES_FILE_UNREADABLE', `cannot read the node list ${path}: ${describeError(err)}`, {
      hints: ['recovery.target_nodes_file is relative to the spec file; check the path and its permissions.'],
    })
  }
  const parsed = parseNodeList(text, path, '/recovery/target_nodes_file')
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error')
  if (errors.length > 0) {
    throw new LifeboatError('SPEC_NODES_FILE_INVALID', `the node list ${path} is invalid`, {
      detail: errors.map((d) => `${d.file}:${d.line}:${d.col}: ${d.message}`).join('\n'),
      hints: ['Run `lifeboat validate` on the spec for the details.'],
    })
  }
  return parsed.nodes
}

/** Gathers the live state through `ports`. Never throws for a bad node: it is recorded as the meta would see it. */
export async function gatherWithPorts(
  spec: MetaRecoverySpec,
  targetNodes: string[],
  ports: MetaRecoveryPorts,
  progress: (m: string) => void = () => {},
): Promise<MetaRecoveryLive> {
  const seen = new Set<string>()
  const nodes = targetNodes.filter((n) => (seen.has(n) ? false : (seen.add(n), true)))
  const appsRoot = appsRootPath(spec.cluster.zookeeper.root)
  progress(`asking the meta server (${spec.cluster.meta_servers.join(', ')}) whether it waits for a recovery`)
  const [probed, root, place] = await Promise.all([
    ports.probeMeta(),
    ports.readAppsRoot(appsRoot),
    ports.metaPlace?.() ?? Promise.resolve({}),
  ])
  const meta: MetaRecoveryMetaState = {...probed, ...place}
  progress(`querying ${nodes.length} replica server(s) for app and replica info`)
  const [reports, ips] = await Promise.all([ports.collect(nodes), Promise.all(nodes.map((n) => ports.resolve(n)))])
  const records: MetaRecoveryNode[] = reports.map((r, i) =>
    r.ok
      ? {address: nodes[i]!, ip: ips[i] ?? null, ok: true, apps: r.apps, replicas: r.replicas}
      : {
          address: nodes[i]!,
          ip: ips[i] ?? null,
          ok: false,
          error: r.pegasusError,
          detail: r.detail,
          apps: [],
          replicas: [],
        },
  )
  const failed = records.filter((r) => !r.ok).length
  progress(`${records.length - failed} of ${records.length} replica server(s) answered`)
  return {formatVersion: META_RECOVERY_LIVE_VERSION, targetNodes: nodes, meta, appsRoot: root, nodes: records}
}

/** Reads the apps root; a missing node is `exists: false`. */
export async function readAppsRoot(zk: ZkClient, path: string): Promise<MetaRecoveryAppsRoot> {
  const stat = await zk.exists(path)
  if (!stat) return {path, exists: false, children: []}
  const [{data}, children] = await Promise.all([zk.get(path), zk.getChildren(path)])
  return {path, exists: true, data: data.toString('utf8'), children: [...children].sort(compareNatural)}
}

/** Asks the meta leader for list_apps: ERR_UNDER_RECOVERY means it waits for start_recovery. */
export async function probeMeta(meta: MetaClient): Promise<MetaRecoveryMetaState> {
  try {
    const {server, response} = await meta.call('RPC_CM_LIST_APPS', {status: 0})
    return {address: server, error: response.err, recovering: response.err === 'ERR_UNDER_RECOVERY'}
  } catch (err) {
    if (!(err instanceof PegasusClientError)) throw err
    // A call-level error name (the server refused the RPC) is an answer too.
    return {
      address: err.server || undefined,
      error: err.pegasusError,
      recovering: err.pegasusError === 'ERR_UNDER_RECOVERY',
      detail: err.message,
    }
  }
}

/**
 * Where the meta servers run and at which level, as the first that answers reports it over HTTP:
 * `/meta/cluster` (a non-leader redirects to the leader), else `/config` for a meta whose HTTP meta
 * service is not up. Null fields when none answers.
 */
export async function readMetaPlace(
  servers: readonly string[],
): Promise<Pick<MetaRecoveryMetaState, 'zookeeper' | 'level'>> {
  for (const server of servers) {
    try {
      const c = await getMetaCluster(server, {timeoutMs: 3000})
      if (typeof c.zookeeper_hosts === 'string' && typeof c.zookeeper_root === 'string')
        return {
          zookeeper: {hosts: c.zookeeper_hosts, root: c.zookeeper_root},
          level: typeof c.meta_function_level === 'string' ? c.meta_function_level : null,
        }
    } catch {
      // this meta does not serve /meta/cluster: try its /config below
    }
    const [hosts, root, level] = await Promise.all([
      readMetaConfigHttp(server, 'hosts_list'),
      readMetaConfigHttp(server, 'cluster_root'),
      readMetaConfigHttp(server, 'meta_function_level_on_start'),
    ])
    if (hosts !== null && root !== null) return {zookeeper: {hosts: hosts.trim(), root: root.trim()}, level}
  }
  return {zookeeper: null, level: null}
}

/**
 * Opens the real ports of a spec: a ZooKeeper session, a meta client and a replica client, with the
 * deadlines of `cluster.timeouts` (or the flags that override them).
 */
export async function openMetaRecoveryPorts(spec: MetaRecoverySpec, io: EngineIo): Promise<MetaRecoveryPorts> {
  const timeouts = pegasusTimeouts(spec.cluster, io.env)
  const zk = await connectClusterZk(
    {
      hosts: spec.cluster.zookeeper.hosts,
      root: spec.cluster.zookeeper.root,
      auth: spec.cluster.zookeeper.auth,
      env: io.env,
    },
    timeouts.zkConnect,
  )
  const meta = metaClientFor(spec.cluster.meta_servers, [{zk, root: spec.cluster.zookeeper.root}])
  const collectMs = timeouts.collect.ms
  const replicas = new ReplicaClient({timeoutMs: collectMs})
  return {
    probeMeta: () => probeMeta(meta),
    metaPlace: () => readMetaPlace(spec.cluster.meta_servers),
    readAppsRoot: (path) => readAppsRoot(zk, path),
    resolve: resolveIpv4,
    async collect(nodes) {
      const results = await replicas.collectAll(nodes, {
        timeoutMs: collectMs,
        concurrency: COLLECT_CONCURRENCY,
        onRetry: (node) => io.progress(`${node} did not answer within ${collectMs / 1000} s: asking it once more`),
        onDone: (done) =>
          io.progress(`querying ${nodes.length} replica server(s) for app and replica info`, {
            done,
            total: nodes.length,
            unit: 'servers',
          }),
      })
      return results.map((r): NodeReport =>
        r.ok
          ? {node: r.node, ok: true, apps: r.apps, replicas: r.replicas}
          : {
              node: r.node,
              ok: false,
              pegasusError: r.pegasusError,
              detail: r.retried ? `${r.error.message} (asked twice)` : r.error.message,
            },
      )
    },
    async close() {
      meta.close()
      replicas.close()
      await zk.close()
    },
  }
}

/** The engine's gather: opens the ports, gathers, closes them. */
export async function gatherMetaRecovery(spec: MetaRecoverySpec, io: EngineIo): Promise<MetaRecoveryLive> {
  const nodes = await targetNodesOf(spec, io.specDir)
  const ports = await openMetaRecoveryPorts(spec, io)
  try {
    return await gatherWithPorts(spec, nodes, ports, (m) => io.progress(m))
  } finally {
    await ports.close()
  }
}
