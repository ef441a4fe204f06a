/**
 * Gathers the live state a DDD recovery plan rests on. Read-only: meta level, node list, tables,
 * the meta's DDD list (ddd_diagnose), the current partition configs, and what each replica server
 * named in a dropped list (or in an override) reports about its replicas (query_replica_info, with
 * a deadline per node and bounded concurrency; unreachable nodes are recorded, not fatal).
 */
import {LifeboatError} from '../../../errors.js'
import {compareCodeUnits} from '../../../plan/canonical.js'
import type {EngineIo} from '../../types.js'
import {mapLimit, mapLimitSettled} from '../../../util/map-limit.js'
import {clusterInfoMap, type MetaClient} from '../client/meta-client.js'
import {PegasusClientError} from '../client/errors.js'
import type {ReplicaClient} from '../client/replica-client.js'
import {
  AppStatus,
  enumName,
  MetaFunctionLevel,
  metaLevelIdlName,
  metaLevelValue,
  type MetaLevelIdlName,
  NodeStatus,
  PartitionStatus,
  type DddPartitionInfo,
  type PartitionConfiguration,
} from '../wire/index.js'
import {compareGpid, parseGpid} from './planner.js'
import type {DddLiveState, DddRecoverySpec, NodeReplicas, PartitionConfigFacts} from './types.js'

/** How hard gathering may push the cluster. */
export interface DddGatherOptions {
  /** Deadline of each RPC to the meta (default 5000 ms, rDSN's). */
  timeoutMs?: number
  /**
   * Deadline of each replica server's query_replica_info: `cluster.timeouts.collect_seconds` or
   * `--collect-timeout` (pegasusTimeouts); default `timeoutMs`. A node that times out is asked once more.
   */
  collectMs?: number
  /** Replica servers and tables asked at once (default 32). */
  concurrency?: number
}

/** The clients gathering uses; the engine makes them from the spec. */
export interface DddGatherClients {
  meta: MetaClient
  replica: ReplicaClient
}

const DEFAULT_CONCURRENCY = 32

/** A `host:port` from an rpc_address and an optional host_port: the host_port when the meta sends one. */
export function nodeName(address: string, hostPort?: string): string {
  return hostPort !== undefined && hostPort !== '' ? hostPort : address
}

/** The fields of a partition configuration the planner reads, with host_ports preferred. */
export function configFacts(pc: PartitionConfiguration): PartitionConfigFacts {
  const hpDrops = pc.hp_last_drops
  const drops =
    hpDrops !== undefined && hpDrops.length === pc.last_drops.length && hpDrops.every((h) => h !== '')
      ? hpDrops
      : pc.last_drops
  const hpSecs = pc.hp_secondaries
  const secs =
    hpSecs !== undefined && hpSecs.length === pc.secondaries.length && hpSecs.every((h) => h !== '')
      ? hpSecs
      : pc.secondaries
  const primary = nodeName(pc.primary, pc.hp_primary)
  return {
    pid: pc.pid,
    ballot: pc.ballot,
    max_replica_count: pc.max_replica_count,
    primary: primary === '' ? null : primary,
    secondaries: [...secs],
    last_drops: [...drops],
    last_committed_decree: pc.last_committed_decree,
  }
}

/** The ddd_diagnose request ids for the spec's `recovery.gpids`. */
export function dddQueries(gpids: DddRecoverySpec['recovery']['gpids']): string[] {
  if (gpids === 'all') return ['-1.-1']
  if (typeof gpids === 'number') return [`${gpids}.-1`]
  return [...new Set(gpids)].sort(compareGpid)
}

/** cluster_info's `meta_function_level` (`freezed`, without the `fl_` prefix) as an IDL name; `stored` when absent or unknown. */
export function effectiveLevel(reported: string | undefined, stored: MetaLevelIdlName): MetaLevelIdlName {
  const value = reported === undefined ? undefined : metaLevelValue(reported)
  return value === undefined || value === MetaFunctionLevel.fl_invalid ? stored : metaLevelIdlName(value)
}

function metaError(server: string, what: string, err: string): LifeboatError {
  const hints = [`Look at the log of the meta server ${server} for ${err}.`]
  if (err === 'ERR_UNDER_RECOVERY')
    hints.unshift('The meta is in recovery mode: finish the metadata recovery (PegasusMetaRecovery) first.')
  return new LifeboatError('PEGASUS_DDD_GATHER_FAILED', `${what} failed with err = ${err}`, {hints})
}

/** Reads everything the DDD planner needs. Read-only. */
export async function gatherDdd(
  spec: DddRecoverySpec,
  io: Pick<EngineIo, 'progress'>,
  clients: DddGatherClients,
  opts: DddGatherOptions = {},
): Promise<DddLiveState> {
  const {meta, replica} = clients
  const call = {timeoutMs: opts.timeoutMs}
  const concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY

  // control_meta reports the stored level; cluster_info the one the meta acts on (get_function_level:
  // freezed while fewer than min_live_node_count_for_unfreeze replica servers are alive).
  const stored = metaLevelIdlName(await meta.getMetaLevel(call))
  const server = meta.knownLeader ?? spec.cluster.meta_servers[0] ?? ''
  const info = await meta.clusterInfo(call)
  if (info.err !== 'ERR_OK') throw metaError(server, 'cluster_info', info.err)
  const level = effectiveLevel(clusterInfoMap(info).meta_function_level, stored)
  io.progress(`meta ${server}: current meta level is ${level}${level !== stored ? ` (stored ${stored})` : ''}`)

  const nodesResp = await meta.listNodes(NodeStatus.NS_INVALID, call)
  if (nodesResp.err !== 'ERR_OK') throw metaError(server, 'list_nodes', nodesResp.err)
  const nodes = nodesResp.infos
    .map((n) => ({node: nodeName(n.node, n.hp_node), alive: n.status === NodeStatus.NS_ALIVE}))
    .sort((a, b) => compareCodeUnits(a.node, b.node))

  const appsResp = await meta.listApps({}, call)
  if (appsResp.err !== 'ERR_OK') throw metaError(server, 'list_apps', appsResp.err)
  const appById = new Map(appsResp.infos.map((a) => [a.app_id, a]))

  const queries = dddQueries(spec.recovery.gpids)
  // Below steady the meta does not check partitions, so its DDD list is stale or empty: do not ask.
  const diagnosed = MetaFunctionLevel[level] >= MetaFunctionLevel.fl_steady
  const infos: DddPartitionInfo[] = []
  if (diagnosed) {
    const answers = await mapLimit(queries, concurrency, async (q) => {
      const r = await meta.dddDiagnose(q, call)
      if (r.err !== 'ERR_OK') throw metaError(server, `ddd_diagnose -g ${q}`, r.err)
      return r.partitions
    })
    for (const list of answers) infos.push(...list)
  }
  const listed = Array.isArray(spec.recovery.gpids) ? new Set(spec.recovery.gpids) : undefined
  const seen = new Set<string>()
  const ddd = infos
    .filter(
      (p) => (listed === undefined || listed.has(p.config.pid)) && !seen.has(p.config.pid) && seen.add(p.config.pid),
    )
    .map((p) => ({
      config: configFacts(p.config),
      dropped: p.dropped.map((d) => ({
        node: nodeName(d.node, d.hp_node),
        drop_time_ms: d.drop_time_ms,
        is_alive: d.is_alive,
        is_collected: d.is_collected,
        ballot: d.ballot,
        last_committed_decree: d.last_committed_decree,
        last_prepared_decree: d.last_prepared_decree,
      })),
      reason: p.reason,
    }))
    .sort((a, b) => compareGpid(a.config.pid, b.config.pid))
  io.progress(`ddd_diagnose: Total ${ddd.length} ddd partitions`)

  // Current configs of every partition of interest, one query per table.
  const interest = new Set<string>([...ddd.map((p) => p.config.pid), ...(listed ?? [])])
  const byApp = new Map<number, number[]>()
  for (const gpid of interest) {
    const id = parseGpid(gpid)
    if (!id || !appById.has(id[0])) continue
    byApp.set(id[0], [...(byApp.get(id[0]) ?? []), id[1]])
  }
  let configsRead = 0
  const configLists = await mapLimit([...byApp.entries()], concurrency, async ([appId, indices]) => {
    const app = appById.get(appId)!
    const r = await meta.queryPartitionConfigByIndex(
      app.app_name,
      indices.sort((a, b) => a - b),
      call,
    )
    if (r.err !== 'ERR_OK') throw metaError(server, `query_partition_config_by_index(${app.app_name})`, r.err)
    io.progress('query_partition_config_by_index', {done: ++configsRead, total: byApp.size, unit: 'tables'})
    return r.partitions.map(configFacts).filter((c) => interest.has(c.pid))
  })
  const configs = configLists.flat().sort((a, b) => compareGpid(a.pid, b.pid))

  // Replica info of every node that could serve a partition of interest.
  const askNodes = new Set<string>()
  for (const p of ddd) {
    for (const d of p.dropped) askNodes.add(d.node)
    for (const n of p.config.last_drops) askNodes.add(n)
  }
  for (const [gpid, node] of Object.entries(spec.recovery.primaries ?? {})) if (interest.has(gpid)) askNodes.add(node)
  const asked = [...askNodes].sort(compareCodeUnits)
  const collectCall = {timeoutMs: opts.collectMs ?? opts.timeoutMs}
  // A node that does not answer in time is asked once more: a slow node under load is not a lost one.
  const ask = async (node: string) => {
    try {
      return await replica.queryReplicaInfo(node, collectCall)
    } catch (err) {
      if (!(err instanceof PegasusClientError && err.pegasusError === 'ERR_TIMEOUT')) throw err
      if (collectCall.timeoutMs !== undefined)
        io.progress(`${node} did not answer within ${collectCall.timeoutMs / 1000} s: asking it once more`)
      return replica.queryReplicaInfo(node, collectCall)
    }
  }
  let answered = 0
  const settled = await mapLimitSettled(asked, concurrency, (node) =>
    ask(node).finally(() =>
      io.progress('query_replica_info', {done: ++answered, total: asked.length, unit: 'replica servers'}),
    ),
  )
  const replicas: NodeReplicas[] = asked.map((node, i) => {
    const s = settled[i]
    if (s.status === 'rejected') {
      const err = s.reason
      if (!(err instanceof PegasusClientError)) throw err
      return {node, reachable: false, error: err.pegasusError, replicas: []}
    }
    if (s.value.err !== 'ERR_OK') return {node, reachable: false, error: s.value.err, replicas: []}
    const mine = s.value.replicas
      .filter((r) => interest.has(r.pid))
      .map((r) => ({
        pid: r.pid,
        ballot: r.ballot,
        status: enumName(PartitionStatus, r.status),
        last_committed_decree: r.last_committed_decree,
        last_prepared_decree: r.last_prepared_decree,
        last_durable_decree: r.last_durable_decree,
      }))
      .sort((a, b) => compareGpid(a.pid, b.pid))
    return {node, reachable: true, replicas: mine}
  })
  const reached = replicas.filter((r) => r.reachable).length
  io.progress(`query_replica_info: ${reached}/${replicas.length} replica servers answered`)

  const appIds = new Set([...interest].map((g) => parseGpid(g)?.[0]).filter((x): x is number => x !== undefined))
  const apps = [...appIds]
    .sort((a, b) => a - b)
    .flatMap((id) => {
      const a = appById.get(id)
      return a === undefined ? [] : [{app_id: id, app_name: a.app_name, status: enumName(AppStatus, a.status)}]
    })

  return {
    meta_server: server,
    meta_level: level,
    ...(level !== stored ? {stored_meta_level: stored} : {}),
    queries,
    diagnosed,
    ddd,
    configs,
    apps,
    nodes,
    replicas,
  }
}
