/**
 * `lifeboat init OpenMLDBRecovery --zk HOSTS/ROOT`: the cluster's facts read from the live cluster
 * (the nameservers holding `<root>/leader`, then ShowTablet, ShowTable, ConfGet and each tablet's
 * GetTableStatus through the engine's own gather), and an annotated spec written from them.
 * Reading is read-only; writing the text is pure.
 */
import {compareNatural} from '../../plan/order.js'
import {openClient} from './client.js'
import {gatherOpenMLDB} from './gather.js'
import {normalizeRecovery} from './spec.js'
import {OPENMLDB_KIND, type OpenMLDBLiveState, type OpenMLDBRecoverySpec} from './types.js'

/** What init learnt about an OpenMLDB cluster. */
export interface OpenMLDBInitFacts {
  cluster_name: string
  zookeeper: {hosts: string; root: string}
  /** The leader nameserver that answered. */
  nameserver: string
  auto_failover: boolean
  /** Every tablet with ShowTablet's state, sorted by endpoint. */
  tablets: Array<{endpoint: string; state: string; reachable: boolean}>
  /** Healthy, answering tablets that hold a replica the nameserver marks not alive: `recoverendpoint` candidates. */
  recover_endpoints: string[]
  /** Tablets ShowTablet does not call kHealthy: `offlineendpoint` candidates, left to the operator. */
  down_tablets: string[]
  tables: number
  /** Partitions with no alive leader or a replica not alive. */
  unhealthy_partitions: number
  running_ops: number
}

/** The last segment of the ZooKeeper root (`/openmldb/prod` gives `prod`), as a name the schema accepts. */
export function nameFromRoot(root: string): string {
  const last =
    root
      .split('/')
      .filter((s) => s !== '')
      .pop() ?? ''
  const name = last.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '')
  return name === '' ? 'openmldb' : name.slice(0, 128)
}

/** Pure: the facts init keeps from a gathered live state. */
export function openMLDBInitFacts(
  live: OpenMLDBLiveState,
  where: {name: string; zookeeper: {hosts: string; root: string}},
): OpenMLDBInitFacts {
  const serving = new Set(live.tablets.filter((t) => t.state === 'kHealthy' && t.reachable).map((t) => t.endpoint))
  const notAlive = new Set<string>()
  let unhealthy = 0
  for (const t of live.tables) {
    for (const p of t.partitions) {
      // A replica serves when the nameserver marks it alive and its tablet is healthy and answers.
      const up = (r: {endpoint: string; is_alive: boolean}) => r.is_alive && serving.has(r.endpoint)
      for (const r of p.replicas) if (!r.is_alive) notAlive.add(r.endpoint)
      if (!p.replicas.every(up) || !p.replicas.some((r) => r.is_leader && up(r))) unhealthy++
    }
  }
  const recover = [...serving].filter((ep) => notAlive.has(ep))
  return {
    cluster_name: where.name,
    zookeeper: where.zookeeper,
    nameserver: live.nameserver,
    auto_failover: live.auto_failover,
    tablets: live.tablets
      .map((t) => ({endpoint: t.endpoint, state: t.state, reachable: t.reachable}))
      .sort((a, b) => compareNatural(a.endpoint, b.endpoint)),
    recover_endpoints: recover.sort(compareNatural),
    down_tablets: live.tablets
      .filter((t) => t.state !== 'kHealthy')
      .map((t) => t.endpoint)
      .sort(compareNatural),
    tables: live.tables.length,
    unhealthy_partitions: unhealthy,
    running_ops: live.running_ops.length,
  }
}

/** Reads the facts from the live cluster, read-only. */
export async function gatherOpenMLDBInitFacts(
  zookeeper: {hosts: string; root: string},
  env: Record<string, string | undefined>,
  opts: {name?: string; progress?: (m: string) => void} = {},
): Promise<OpenMLDBInitFacts> {
  const name = opts.name ?? nameFromRoot(zookeeper.root)
  const spec: OpenMLDBRecoverySpec = {
    apiVersion: 'lifeboat/v1',
    kind: OPENMLDB_KIND,
    metadata: {name: `${name}-recovery`},
    cluster: {name, zookeeper},
    recovery: normalizeRecovery(undefined),
  }
  const client = await openClient(spec, env)
  const live = await gatherOpenMLDB(client, {concurrency: spec.recovery.concurrency, progress: opts.progress})
  return openMLDBInitFacts(live, {name, zookeeper})
}

function flow(values: string[]): string {
  return `[${values.join(', ')}]`
}

/** Pure: the annotated OpenMLDBRecovery spec for the facts; `schemaRef` is the `$schema` path for editors. */
export function renderOpenMLDBInitSpec(f: OpenMLDBInitFacts, opts: {schemaRef: string}): string {
  const lines = [
    `# yaml-language-server: $schema=${opts.schemaRef}`,
    '# OpenMLDB failover and recovery through the leader nameserver, as one reviewed plan.',
    `# Written by \`lifeboat init\` from ZooKeeper ${f.zookeeper.hosts}${f.zookeeper.root} and the leader nameserver ${f.nameserver || '(none answered)'}.`,
    '# Review every value, then: lifeboat validate, lifeboat plan.',
    `# Found: ${f.tablets.length} tablets, ${f.tables} tables, ${f.unhealthy_partitions} unhealthy partitions, ${f.running_ops} ops running, auto_failover ${f.auto_failover}.`,
    'apiVersion: lifeboat/v1',
    `kind: ${OPENMLDB_KIND}`,
    'metadata:',
    `  name: ${f.cluster_name}-recovery`,
    '  # ticket: INC-1234',
    'cluster:',
    `  name: ${f.cluster_name}`,
    '  # --zk_cluster and --zk_root_path of the nameserver flags; also where the apply lock lives.',
    `  zookeeper: {hosts: ${f.zookeeper.hosts}, root: ${f.zookeeper.root}}`,
    'recovery:',
    '  # The value auto_failover ends with; apply turns it off while it works and restores this value.',
    `  auto_failover: ${f.auto_failover}`,
    '  # Whose unhealthy partitions data recovery plans: all, none, or a list such as [demo_db.orders].',
    '  tables: all',
    '  # Tablets as ShowTablet lists them:',
  ]
  for (const t of f.tablets)
    lines.push(
      `  #   ${t.endpoint}  ${t.state}${t.state === 'kHealthy' && !t.reachable ? ', not answering GetTableStatus' : ''}`,
    )
  if (f.tablets.length === 0) lines.push('  #   (none)')
  lines.push('  # Tablets to take out for good (offlineendpoint); partitions they lead get a ChangeLeader first.')
  if (f.down_tablets.length > 0)
    lines.push(`  # Not kHealthy now, take out only those that will not come back: ${f.down_tablets.join(', ')}`)
  lines.push('  offline_endpoints: []')
  lines.push(
    '  # Tablets that are back (kHealthy) and must rejoin their partitions (recoverendpoint): those below answer',
  )
  lines.push('  # but hold replicas the nameserver marks not alive.')
  lines.push(`  recover_endpoints: ${flow(f.recover_endpoints)}`)
  lines.push('  # Leader overrides: "db.table/pid": host:port (a replica of that partition) or auto.')
  lines.push('  leaders: {}')
  lines.push('  skip_bad_nodes: false         # true: a kHealthy tablet that does not answer is left out (a warning)')
  lines.push(
    '  skip_lost_partitions: false   # true: a partition with no loadable replica is left without a leader (lossy)',
  )
  lines.push('  concurrency: 8')
  lines.push('  wait_seconds: 600')
  lines.push('approval:')
  lines.push('  approvers: {disruptive: 1, lossy: 2}')
  return `${lines.join('\n')}\n`
}
