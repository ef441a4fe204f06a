/**
 * `lifeboat init` for the Pegasus kinds: the cluster's facts read from a live meta server (found
 * directly, through the leader lock node in ZooKeeper, or through the cluster section of another
 * spec), and an annotated spec written from them. Reading is read-only; writing the text is pure.
 */
import {LifeboatError} from '../../errors.js'
import {compareNatural} from '../../plan/order.js'
import {connectZk} from '../../zk/index.js'
import {MetaClient, PegasusClientError, RpcPool, clusterInfoMap, metaClientFor} from './client/index.js'
import {nodeName} from './ddd/gather.js'
import {NodeStatus} from './wire/index.js'

/** The Pegasus kinds `init` writes. */
export const PEGASUS_INIT_KINDS = ['PegasusDddRecovery', 'PegasusMetaRecovery', 'PegasusZkMigration'] as const
export type PegasusInitKind = (typeof PEGASUS_INIT_KINDS)[number]

/** What init learnt about the cluster. */
export interface PegasusInitFacts {
  cluster_name: string
  meta_servers: string[]
  zookeeper: {hosts: string; root: string} | null
  /** Replica servers from the meta's node list (or the source spec's target nodes), sorted. */
  nodes: string[]
  /** The meta answered ERR_UNDER_RECOVERY: it could not list its nodes. */
  recovery_mode: boolean
  /** Where each fact came from, for the spec's header comment. */
  source: string
}

/** Where init starts from. */
export type PegasusInitSource =
  | {meta: string[]}
  | {zk: {hosts: string; root: string}}
  | {
      spec: {name: string; meta_servers: string[]; zookeeper?: {hosts: string; root: string}; nodes?: string[]}
      path: string
    }

const INIT_TIMEOUT_MS = 5000

/** `HOSTS/ROOT` as `{hosts, root}`: `127.0.0.1:2181,127.0.0.2:2181/pegasus/onebox`. */
export function parseZkTarget(text: string): {hosts: string; root: string} {
  const slash = text.indexOf('/')
  if (slash <= 0 || slash === text.length - 1) {
    throw new LifeboatError('USAGE', `--zk ${text} is not HOSTS/ROOT`, {
      hints: [
        'Write the ZooKeeper hosts, then the cluster root: --zk 127.0.0.1:2181/pegasus/onebox ([zookeeper] hosts_list and [meta_server] cluster_root).',
      ],
    })
  }
  return {hosts: text.slice(0, slash), root: text.slice(slash)}
}

/** Reads the facts from the live cluster. */
export async function gatherPegasusInitFacts(
  source: PegasusInitSource,
  env: Record<string, string | undefined>,
): Promise<PegasusInitFacts> {
  if ('zk' in source) {
    const zk = await connectZk({hosts: source.zk.hosts, root: source.zk.root, env})
    try {
      const meta = metaClientFor([], [{zk, root: source.zk.root}])
      try {
        return await askMeta(meta, {
          zookeeper: source.zk,
          source: `the meta leader named in ZooKeeper ${source.zk.hosts}${source.zk.root}`,
        })
      } finally {
        meta.close()
      }
    } finally {
      await zk.close()
    }
  }
  const pool = new RpcPool({timeoutMs: INIT_TIMEOUT_MS})
  const metas = 'meta' in source ? source.meta : source.spec.meta_servers
  const meta = new MetaClient({metaServers: metas, pool, timeoutMs: INIT_TIMEOUT_MS})
  try {
    if ('meta' in source) return await askMeta(meta, {source: `the meta server ${metas.join(', ')}`})
    const facts = await askMeta(meta, {
      zookeeper: source.spec.zookeeper ?? null,
      name: source.spec.name,
      source: `${source.path} and its meta servers`,
    })
    if (facts.nodes.length === 0 && source.spec.nodes) facts.nodes = [...source.spec.nodes].sort(compareNatural)
    return facts
  } finally {
    meta.close()
    pool.close()
  }
}

async function askMeta(
  meta: MetaClient,
  known: {zookeeper?: {hosts: string; root: string} | null; name?: string; source: string},
): Promise<PegasusInitFacts> {
  let info
  try {
    info = await meta.call('RPC_CM_CLUSTER_INFO', {})
  } catch (err) {
    // A meta that refuses the call itself in recovery mode answers like one that replies so.
    if (err instanceof PegasusClientError && err.pegasusError === 'ERR_UNDER_RECOVERY') {
      info = {server: err.server, response: {err: 'ERR_UNDER_RECOVERY', keys: [], values: []}}
    } else if (err instanceof PegasusClientError) {
      throw new LifeboatError('INIT_META_UNREACHABLE', `no meta server answered: ${err.message}`, {
        detail: err.detail,
        hints: [
          "Check the address (the meta servers' RPC port, 34601 on a onebox) and that the meta runs; `lifeboat lab status` shows a lab's servers.",
        ],
        cause: err,
      })
    } else {
      throw err
    }
  }
  const server = info.server
  if (info.response.err === 'ERR_UNDER_RECOVERY') {
    if (!known.zookeeper || !known.name) {
      throw new LifeboatError(
        'INIT_META_RECOVERING',
        `the meta server ${server} waits in recovery mode and will not describe the cluster`,
        {
          hints: [
            "Start from the spec of an earlier recovery (--from SPEC), or write the spec from runbooks/pegasus-meta-recovery.yaml with the cluster's [zookeeper] hosts_list and [meta_server] cluster_root.",
          ],
        },
      )
    }
    return {
      cluster_name: known.name,
      meta_servers: [server],
      zookeeper: known.zookeeper,
      nodes: [],
      recovery_mode: true,
      source: known.source,
    }
  }
  if (info.response.err !== 'ERR_OK') {
    throw new LifeboatError(
      'INIT_META_ERROR',
      `the meta server ${server} answered cluster_info with ${info.response.err}`,
      {
        hints: [`Look at the log of the meta server ${server}, then run init again.`],
      },
    )
  }
  const map = clusterInfoMap(info.response)
  const nodesResp = await meta.listNodes(NodeStatus.NS_INVALID)
  const nodes =
    nodesResp.err === 'ERR_OK' ? nodesResp.infos.map((n) => nodeName(n.node, n.hp_node)).sort(compareNatural) : []
  const metaServers = (map.meta_servers ?? server)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  const zookeeper = map.zookeeper_hosts
    ? {hosts: map.zookeeper_hosts, root: map.zookeeper_root ?? '/'}
    : (known.zookeeper ?? null)
  return {
    cluster_name: known.name ?? map.cluster_name ?? 'pegasus',
    meta_servers: metaServers.length > 0 ? metaServers : [server],
    zookeeper,
    nodes,
    recovery_mode: false,
    source: known.source,
  }
}

/** A YAML flow list of host:port values. */
function flow(values: string[]): string {
  return `[${values.join(', ')}]`
}

/** A name safe for metadata.name. */
function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'cluster'
  )
}

/**
 * Pure: the annotated spec of `kind` for the facts. `schemaRef` is the `$schema` path for editors;
 * `target` is the new ZooKeeper of a PegasusZkMigration.
 */
export function renderPegasusInitSpec(
  kind: PegasusInitKind,
  f: PegasusInitFacts,
  opts: {schemaRef: string; target?: {hosts: string; root: string}},
): string {
  const what: Record<PegasusInitKind, [string, string]> = {
    PegasusMetaRecovery: ['meta-recovery', "Rebuild the cluster's lost ZooKeeper metadata from its replica servers."],
    PegasusDddRecovery: [
      'ddd-recovery',
      'Bring partitions out of DDD (all replicas dead, no primary) by assigning each a primary.',
    ],
    PegasusZkMigration: ['zk-migration', "Move the cluster's metadata to another ZooKeeper ensemble."],
  }
  const [suffix, purpose] = what[kind]
  const lines = [
    `# yaml-language-server: $schema=${opts.schemaRef}`,
    `# ${purpose}`,
    `# Written by \`lifeboat init\` from ${f.source}. Review every value, then: lifeboat validate, lifeboat plan.`,
    'apiVersion: lifeboat/v1',
    `kind: ${kind}`,
    'metadata:',
    `  name: ${slug(f.cluster_name)}-${suffix}`,
    '  # ticket: INC-1234',
    'cluster:',
    `  name: ${f.cluster_name}`,
    `  meta_servers: ${flow(f.meta_servers)}`,
  ]
  if (f.zookeeper) {
    lines.push("  # [zookeeper] hosts_list and [meta_server] cluster_root; also where apply's lock lives.")
    lines.push(`  zookeeper: {hosts: ${f.zookeeper.hosts}, root: ${f.zookeeper.root}}`)
  } else if (kind !== 'PegasusDddRecovery') {
    lines.push(
      '  # The meta did not say where its ZooKeeper is: fill in [zookeeper] hosts_list and [meta_server] cluster_root.',
    )
    lines.push('  zookeeper: {hosts: ZK_HOST:2181, root: /pegasus/CLUSTER}')
  }
  if (kind === 'PegasusMetaRecovery') {
    lines.push('recovery:')
    if (f.nodes.length > 0) {
      lines.push(
        `  # The ${f.nodes.length} replica servers the meta knows. Every node that may hold data must be listed:`,
      )
      lines.push('  # a node left out that holds a table the others do not know crashes the recovered meta.')
      lines.push(`  target_nodes: ${flow(f.nodes)}`)
    } else {
      lines.push(
        '  # The meta could not list its replica servers (it waits in recovery mode): list every one that may hold data.',
      )
      lines.push('  target_nodes: []')
    }
    lines.push(
      '  skip_bad_nodes: false         # true: recover without the nodes that do not answer (their replicas are not collected)',
    )
    lines.push(
      '  skip_lost_partitions: false   # true: partitions with no replica are recovered EMPTY (their data is lost)',
    )
    lines.push('  wait_seconds: 100')
  } else if (kind === 'PegasusDddRecovery') {
    lines.push('recovery:')
    lines.push('  # Which DDD partitions: all, one table\'s app id (e.g. 2), or a list such as ["2.0", "2.5"].')
    lines.push('  gpids: all')
    lines.push("  # Use the primary Pegasus's own diagnose_recommend rule picks (ddd_diagnose -d -a).")
    lines.push('  auto_diagnose: true')
    lines.push(
      '  # Overrides ("2.3": host:port), lossy unless the rule agrees; the node must be alive and hold a replica.',
    )
    lines.push('  primaries: {}')
    lines.push(
      '  # skip leaves undecided partitions DDD; max_last_prepared picks the largest last_prepared decree (lossy).',
    )
    lines.push('  undecided: skip')
    lines.push('  wait_seconds: 100')
  } else {
    if (!opts.target)
      throw new LifeboatError('USAGE', 'a PegasusZkMigration spec needs the ZooKeeper it moves to', {
        hints: ['Pass --target HOSTS/ROOT, e.g. --target 10.0.0.9:2181/pegasus/onebox.'],
      })
    lines.push('migration:')
    lines.push(
      '  # copy: blind level, copy the tree, repoint the metas (zkcopy). recovery: rebuild on the target from the replica servers.',
    )
    lines.push('  method: copy')
    lines.push('  # Must be absent or empty.')
    lines.push(`  target: {hosts: ${opts.target.hosts}, root: ${opts.target.root}}`)
    lines.push('  ignore_ephemeral: true')
    lines.push('  remove_source_after: false    # true: delete the old tree at the end (lossy)')
  }
  lines.push('approval:')
  lines.push('  approvers: {disruptive: 1, lossy: 2}')
  return `${lines.join('\n')}\n`
}
