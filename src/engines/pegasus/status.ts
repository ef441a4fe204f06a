/**
 * `lifeboat status` for the three Pegasus kinds: what the meta server says about the cluster, read
 * only. The facts come from the meta leader (list_apps to see whether it waits in recovery mode,
 * control_meta with fl_invalid for the stored level, cluster_info for the level it acts on, which
 * is `fl_freezed` while too few nodes are alive, list_nodes, query_partition_config per table and
 * ddd_diagnose when the level makes its answer meaningful). Summarizing is pure.
 */
import {compareCodeUnits} from '../../plan/canonical.js'
import type {PegasusCluster} from '../../spec/types.js'
import {mapLimit} from '../../util/map-limit.js'
import type {ClusterStatus, EngineIo} from '../types.js'
import {
  MetaClient,
  PegasusClientError,
  RpcPool,
  clusterInfoMap,
  pegasusTimeouts,
  type Deadline,
} from './client/index.js'
import {compareGpid} from './ddd/planner.js'
import {configFacts, nodeName} from './ddd/gather.js'
import {AppStatus, MetaFunctionLevel, NodeStatus, metaLevelIdlName} from './wire/index.js'

/** One table as status reports it. */
export interface PegasusTableStatus {
  app_id: number
  name: string
  partitions: number
  /** Partitions without a primary. */
  no_primary: number
  /** Partitions with a primary but fewer replicas than max_replica_count. */
  under_replicated: number
}

/** One DDD partition and the meta's reason. */
export interface PegasusDddStatus {
  gpid: string
  table: string
  reason: string
  /** The nodes in its dropped list, in the meta's order, with whether each is alive. */
  dropped: Array<{node: string; alive: boolean}>
}

/** The facts of `lifeboat status` for Pegasus; plain JSON. */
export interface PegasusStatusFacts {
  store: 'pegasus'
  cluster: string
  meta_server: string | null
  /** The meta waits for start_recovery (it was started with recover_from_replica_server). */
  recovery_mode: boolean
  /** The level the meta stores (`set_meta_level`), e.g. `fl_steady`; null when it did not say. */
  stored_level: string | null
  /** The level it acts on (`get_function_level`: `fl_freezed` while too few nodes live). */
  effective_level: string | null
  cluster_name: string | null
  zookeeper: {hosts: string; root: string} | null
  nodes: Array<{node: string; alive: boolean}>
  tables: PegasusTableStatus[]
  /** Null when not asked (level below steady: the meta's DDD list is meaningless then). */
  ddd: PegasusDddStatus[] | null
}

/** Tables asked at once. */
const STATUS_CONCURRENCY = 16

/**
 * Reads the facts from the meta leader, each RPC within `deadline` (the gather's per-node deadline,
 * `cluster.timeouts.collect_seconds`). Unreachable metas are a PegasusClientError (a LifeboatError
 * with hints); a meta that timed out gets a hint naming the setting.
 */
export async function gatherPegasusStatus(
  cluster: PegasusCluster,
  io: Pick<EngineIo, 'progress'>,
  deadline: Deadline,
): Promise<PegasusStatusFacts> {
  try {
    return await readStatus(cluster, io, deadline.ms)
  } catch (err) {
    if (err instanceof PegasusClientError && err.pegasusError === 'ERR_TIMEOUT') {
      err.hints.push(`If the meta server is merely slow, raise ${deadline.setting}.`)
    }
    throw err
  }
}

async function readStatus(
  cluster: PegasusCluster,
  io: Pick<EngineIo, 'progress'>,
  timeoutMs: number,
): Promise<PegasusStatusFacts> {
  const pool = new RpcPool({timeoutMs})
  const meta = new MetaClient({metaServers: cluster.meta_servers, pool, timeoutMs})
  const base = {store: 'pegasus' as const, cluster: cluster.name}
  try {
    io.progress(`asking the meta servers (${cluster.meta_servers.join(', ')}) for the cluster's state`)
    const recovering = (server: string | null): PegasusStatusFacts => ({
      ...base,
      meta_server: server,
      recovery_mode: true,
      stored_level: null,
      effective_level: null,
      cluster_name: null,
      zookeeper: null,
      nodes: [],
      tables: [],
      ddd: null,
    })
    let listed
    try {
      listed = await meta.call('RPC_CM_LIST_APPS', {status: AppStatus.AS_INVALID})
    } catch (err) {
      // The meta may refuse the call itself with ERR_UNDER_RECOVERY: that is an answer too.
      if (err instanceof PegasusClientError && err.pegasusError === 'ERR_UNDER_RECOVERY')
        return recovering(err.server || null)
      throw err
    }
    const server = listed.server
    if (listed.response.err === 'ERR_UNDER_RECOVERY') return recovering(server)
    if (listed.response.err !== 'ERR_OK') {
      throw new PegasusClientError(
        'PEGASUS_RPC_ERROR',
        `the meta server ${server} answered list_apps with ${listed.response.err}`,
        {
          server,
          rpc: 'RPC_CM_LIST_APPS',
          pegasusError: listed.response.err,
          hints: [`Look at the log of the meta server ${server}; run \`lifeboat status\` again once it serves.`],
        },
      )
    }
    const [stored, info, nodesResp] = await Promise.all([
      meta.getMetaLevel().then(metaLevelIdlName),
      meta.clusterInfo(),
      meta.listNodes(NodeStatus.NS_INVALID),
    ])
    const infoMap = info.err === 'ERR_OK' ? clusterInfoMap(info) : {}
    const effectiveRaw = infoMap.meta_function_level
    const effective =
      effectiveRaw === undefined ? stored : effectiveRaw.startsWith('fl_') ? effectiveRaw : `fl_${effectiveRaw}`
    const nodes =
      nodesResp.err === 'ERR_OK'
        ? nodesResp.infos
            .map((n) => ({node: nodeName(n.node, n.hp_node), alive: n.status === NodeStatus.NS_ALIVE}))
            .sort((a, b) => compareCodeUnits(a.node, b.node))
        : []
    const apps = listed.response.infos
      .filter((a) => a.status === AppStatus.AS_AVAILABLE)
      .sort((a, b) => a.app_id - b.app_id)
    io.progress(`reading the partition configurations of ${apps.length} table(s)`)
    const tables = await mapLimit(apps, STATUS_CONCURRENCY, async (app): Promise<PegasusTableStatus> => {
      const r = await meta.queryPartitionConfigByIndex(app.app_name, [])
      const pcs = r.err === 'ERR_OK' ? r.partitions.map(configFacts) : []
      const noPrimary = pcs.filter((p) => p.primary === null).length
      const under = pcs.filter((p) => p.primary !== null && 1 + p.secondaries.length < p.max_replica_count).length
      return {
        app_id: app.app_id,
        name: app.app_name,
        partitions: app.partition_count,
        no_primary: noPrimary,
        under_replicated: under,
      }
    })
    const names = new Map(apps.map((a) => [a.app_id, a.app_name]))
    let ddd: PegasusDddStatus[] | null = null
    if (MetaFunctionLevel[stored] >= MetaFunctionLevel.fl_steady) {
      const d = await meta.dddDiagnose('-1.-1')
      if (d.err === 'ERR_OK') {
        ddd = d.partitions
          .map((p) => ({
            gpid: p.config.pid,
            table: names.get(Number(p.config.pid.split('.')[0])) ?? '?',
            reason: p.reason,
            dropped: p.dropped.map((x) => ({node: nodeName(x.node, x.hp_node), alive: x.is_alive})),
          }))
          .sort((a, b) => compareGpid(a.gpid, b.gpid))
      }
    }
    return {
      ...base,
      meta_server: server,
      recovery_mode: false,
      stored_level: stored,
      effective_level: effective,
      cluster_name: infoMap.cluster_name ?? null,
      zookeeper:
        infoMap.zookeeper_hosts !== undefined
          ? {hosts: infoMap.zookeeper_hosts, root: infoMap.zookeeper_root ?? ''}
          : null,
      nodes,
      tables,
      ddd,
    }
  } finally {
    meta.close()
    pool.close()
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Pure: the facts as the verdict, the problems and the sections `lifeboat status` prints. */
export function summarizePegasusStatus(f: PegasusStatusFacts): ClusterStatus {
  const problems: string[] = []
  const metaRows: Array<[string, string]> = [['leader', f.meta_server ?? '-']]
  if (f.recovery_mode) {
    problems.push(
      `the meta server ${f.meta_server ?? ''} waits in recovery mode (list_apps answers ERR_UNDER_RECOVERY): recover the metadata with a PegasusMetaRecovery spec`,
    )
    metaRows.push(['phase', 'recovery mode: waits for start_recovery'])
    return {healthy: false, problems, sections: [{title: 'Meta server', rows: metaRows}], facts: {...f}}
  }
  metaRows.push(['phase', 'serving'])
  if (f.cluster_name) metaRows.push(['cluster name', f.cluster_name])
  if (f.zookeeper) metaRows.push(['zookeeper', `${f.zookeeper.hosts} ${f.zookeeper.root}`])
  const frozen = f.effective_level !== null && f.stored_level !== null && f.effective_level !== f.stored_level
  metaRows.push([
    'level',
    frozen
      ? `${f.effective_level} (stored ${f.stored_level}; frozen while too few replica servers are alive)`
      : (f.stored_level ?? '-'),
  ])
  const level = f.effective_level ?? f.stored_level
  if (
    level !== null &&
    (MetaFunctionLevel[level as keyof typeof MetaFunctionLevel] ?? 0) <= MetaFunctionLevel.fl_freezed
  ) {
    problems.push(
      `the meta acts at level ${level}: it does not cure partitions${frozen ? ' until enough replica servers are alive' : ''}`,
    )
  }

  const dead = f.nodes.filter((n) => !n.alive)
  const nodeRows: Array<[string, string]> = [['alive', `${f.nodes.length - dead.length} of ${f.nodes.length}`]]
  if (dead.length > 0) {
    nodeRows.push(['dead', dead.map((n) => n.node).join(', ')])
    problems.push(`${plural(dead.length, 'replica server')} dead: ${dead.map((n) => n.node).join(', ')}`)
  }

  const tableRows: Array<[string, string]> = f.tables.map((t) => {
    const bad: string[] = []
    if (t.no_primary > 0) bad.push(`${t.no_primary} without a primary`)
    if (t.under_replicated > 0) bad.push(`${t.under_replicated} under-replicated`)
    return [
      `${t.name} (app ${t.app_id})`,
      `${plural(t.partitions, 'partition')}${bad.length > 0 ? `, ${bad.join(', ')}` : ', healthy'}`,
    ]
  })
  const noPrimary = f.tables.reduce((s, t) => s + t.no_primary, 0)
  if (noPrimary > 0) problems.push(`${plural(noPrimary, 'partition')} without a primary`)

  const sections: ClusterStatus['sections'] = [
    {title: 'Meta server', rows: metaRows},
    {title: 'Replica servers', rows: nodeRows},
    {title: 'Tables', rows: tableRows.length > 0 ? tableRows : [['-', 'no table']]},
  ]
  if (f.ddd === null) {
    sections.push({
      title: 'DDD partitions',
      rows: [
        ['-', `not asked: ddd_diagnose is meaningful only at fl_steady or above (level ${f.stored_level ?? '?'})`],
      ],
    })
  } else {
    sections.push({
      title: 'DDD partitions',
      rows:
        f.ddd.length === 0
          ? [['-', 'none']]
          : f.ddd.map((d) => [
              `${d.gpid} (${d.table})`,
              `${d.reason === '' ? 'no reason given' : d.reason}; dropped: ${d.dropped.map((x) => `${x.node}${x.alive ? '' : ' (dead)'}`).join(', ') || '-'}`,
            ]),
    })
    if (f.ddd.length > 0)
      problems.push(`${plural(f.ddd.length, 'DDD partition')}: recover with a PegasusDddRecovery spec`)
  }
  return {healthy: problems.length === 0, problems, sections, facts: {...f}}
}

/** The engines' `status` member for the Pegasus kinds. */
export async function pegasusStatus(cluster: PegasusCluster, io: EngineIo): Promise<ClusterStatus> {
  return summarizePegasusStatus(await gatherPegasusStatus(cluster, io, pegasusTimeouts(cluster, io.env).collect))
}
