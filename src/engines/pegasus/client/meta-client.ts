/**
 * The meta-server client. It finds the leader through the ZooKeeper lock node when it can (the
 * read is injected, see {@link MetaClientOptions.leaderFromZk}), otherwise tries the listed meta
 * servers in turn, and follows ERR_FORWARD_TO_OTHERS (THFT requests are never forwarded by a
 * non-leader meta: it answers that error, with the leader in partitions[0] for query_cfg).
 */
import {describeError} from '../../../errors.js'
import {
  AppStatus,
  MetaFunctionLevel,
  NodeStatus,
  type ConfigurationBalancerRequest,
  type ConfigurationBalancerResponse,
  type ConfigurationClusterInfoResponse,
  type ConfigurationListAppsRequest,
  type ConfigurationListAppsResponse,
  type ConfigurationListNodesResponse,
  type ConfigurationMetaControlResponse,
  type ConfigurationRecoveryRequest,
  type ConfigurationRecoveryResponse,
  type DddDiagnoseResponse,
  type QueryCfgResponse,
  type RpcName,
  type RpcRequest,
  type RpcResponse,
} from '../wire/index.js'
import {isZkError} from '../../../zk/index.js'
import {META_LEADER_LOCK_DIR, metaLeaderLockDirs} from '../zk-layout.js'
import {PegasusClientError, expectOk} from './errors.js'
import {RpcPool, type CallOptions} from './rpc-pool.js'

/** Options of {@link MetaClient}. */
export interface MetaClientOptions {
  /** The cluster's meta servers, `host:port`. */
  metaServers: string[]
  /**
   * Reads the leader from ZooKeeper: the value of the lowest-sequence
   * `<lock_root>/dsn.meta.server.leader/LOCKNODE<seq>` node, or null when there is none.
   * See {@link leaderFromLockNodes} for the selection rule.
   */
  leaderFromZk?: () => Promise<string | null>
  /** A pool to share; a private one is made (and closed by close()) otherwise. */
  pool?: RpcPool
  /** Deadline of each call. */
  timeoutMs?: number
}

/** A meta response together with the meta server that gave it. */
export interface FromMeta<R> {
  server: string
  response: R
}

/** RPCs that change state: after a deadline they are not retried on another meta. */
const NOT_RETRIED_ON_TIMEOUT = new Set<RpcName>([
  'RPC_CM_START_RECOVERY',
  'RPC_CM_PROPOSE_BALANCER',
  'RPC_CM_CONTROL_META',
])

/**
 * Picks the leader among the children of `<lock_root>/dsn.meta.server.leader`: the lowest
 * `LOCKNODE<seq>` sequence number. Returns the child's name, or null when there is none.
 */
export function leaderLockNode(children: readonly string[]): string | null {
  let best: {name: string; seq: number} | null = null
  for (const name of children) {
    const m = /^LOCKNODE(\d+)$/.exec(name)
    if (!m) continue
    const seq = Number(m[1])
    if (best === null || seq < best.seq) best = {name, seq}
  }
  return best?.name ?? null
}

/** The two ZooKeeper reads a leader lookup makes (see {@link leaderFromLockNodes}). */
export interface LockNodeReads {
  getChildren(path: string): Promise<string[]>
  getData(path: string): Promise<Buffer | string | null>
}

/**
 * Builds a `leaderFromZk` function from two ZooKeeper reads (getChildren and getData of a path),
 * so this module needs no ZooKeeper library: `lockRoot` is the first argument of
 * `[meta_server] distributed_lock_service_parameters` (the cluster root in onebox).
 */
export function leaderFromLockNodes(lockRoot: string, zk: LockNodeReads): () => Promise<string | null> {
  return leaderFromLockDir(`${lockRoot.replace(/\/+$/, '')}/${META_LEADER_LOCK_DIR}`, zk)
}

function leaderFromLockDir(dir: string, zk: LockNodeReads): () => Promise<string | null> {
  return async () => {
    let children: string[]
    try {
      children = await zk.getChildren(dir)
    } catch (err) {
      if (isZkError(err, 'ZK_NO_NODE')) return null
      throw err
    }
    const node = leaderLockNode(children)
    if (node === null) return null
    const data = await zk.getData(`${dir}/${node}`)
    const value = data === null ? '' : data.toString().trim()
    return value === '' ? null : value
  }
}

/** A ZooKeeper session's reads, as a `ZkClient` offers them. */
export interface ZkSessionReads {
  getChildren(path: string): Promise<string[]>
  get(path: string): Promise<{data: Buffer}>
}

/**
 * A meta client that reads the leader from the lock nodes under each given cluster root first
 * (`<root>/dsn.meta.server.leader`, then `<root>/lock/...`, see {@link metaLeaderLockDirs}; a failed
 * read counts as no leader), then tries the listed meta servers.
 */
export function metaClientFor(
  metaServers: string[],
  clusterRoots: ReadonlyArray<{zk: ZkSessionReads; root: string}> = [],
): MetaClient {
  const candidates = clusterRoots.flatMap(({zk, root}) => {
    const read: LockNodeReads = {getChildren: (p) => zk.getChildren(p), getData: async (p) => (await zk.get(p)).data}
    return metaLeaderLockDirs(root).map((dir) => leaderFromLockDir(dir, read))
  })
  const leaderFromZk =
    candidates.length === 0
      ? undefined
      : async (): Promise<string | null> => {
          for (const c of candidates) {
            const leader = await c().catch(() => null)
            if (leader) return leader
          }
          return null
        }
  return new MetaClient({metaServers, leaderFromZk})
}

/** The response field that carries a forward address, if the RPC has one. */
function forwardAddress(name: RpcName, response: unknown): string | undefined {
  if (name !== 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX') return undefined
  const first = (response as QueryCfgResponse).partitions?.[0]
  if (!first) return undefined
  return first.hp_primary || first.primary || undefined
}

/** Talks to the meta leader. */
export class MetaClient {
  private readonly pool: RpcPool
  private readonly ownPool: boolean
  private readonly metaServers: string[]
  private readonly leaderFromZk?: () => Promise<string | null>
  private readonly timeoutMs?: number
  private lastLeader?: string

  constructor(opts: MetaClientOptions) {
    if (opts.metaServers.length === 0 && !opts.leaderFromZk) {
      throw new PegasusClientError('PEGASUS_NO_META_LEADER', 'no meta server given', {
        server: '',
        rpc: '',
        pegasusError: 'ERR_INVALID_PARAMETERS',
        hints: ['List the meta servers in cluster.meta_servers, or give the ZooKeeper settings.'],
      })
    }
    this.pool = opts.pool ?? new RpcPool({timeoutMs: opts.timeoutMs})
    this.ownPool = opts.pool === undefined
    this.metaServers = [...opts.metaServers]
    this.leaderFromZk = opts.leaderFromZk
    this.timeoutMs = opts.timeoutMs
  }

  /** The meta server that answered last (the leader as far as we know). */
  get knownLeader(): string | undefined {
    return this.lastLeader
  }

  /**
   * Calls an RPC on the leader and returns its response with the server that gave it.
   * ERR_FORWARD_TO_OTHERS moves to the forward address (query_cfg) or the next meta server;
   * any other response `err` is returned for the caller to judge.
   */
  async call<N extends RpcName>(name: N, request: RpcRequest<N>, o?: CallOptions): Promise<FromMeta<RpcResponse<N>>> {
    const opts = {timeoutMs: o?.timeoutMs ?? this.timeoutMs}
    const queue: string[] = []
    const notes: string[] = []
    const add = (s: string | null | undefined, front = false): void => {
      if (!s || queue.includes(s)) return
      if (front) queue.unshift(s)
      else queue.push(s)
    }
    if (this.leaderFromZk) {
      try {
        add(await this.leaderFromZk())
      } catch (err) {
        notes.push(`ZooKeeper leader lookup failed: ${describeError(err)}`)
      }
    }
    add(this.lastLeader)
    for (const s of this.metaServers) add(s)

    const tried = new Set<string>()
    let lastError: PegasusClientError | undefined
    while (queue.length > 0) {
      const server = queue.shift() as string
      if (tried.has(server)) continue
      tried.add(server)
      let response: RpcResponse<N>
      try {
        response = await this.pool.call(server, name, request, opts)
      } catch (err) {
        if (!(err instanceof PegasusClientError)) throw err
        if (err.code === 'PEGASUS_TIMEOUT' && NOT_RETRIED_ON_TIMEOUT.has(name)) throw err
        if (err.code === 'PEGASUS_RPC_ERROR' || err.code === 'PEGASUS_BAD_REPLY') throw err
        lastError = err
        notes.push(`${server}: ${err.pegasusError} (${err.message})`)
        if (this.lastLeader === server) this.lastLeader = undefined
        continue
      }
      const err = (response as {err?: string}).err
      if (err === 'ERR_FORWARD_TO_OTHERS') {
        const fwd = forwardAddress(name, response)
        notes.push(`${server}: ERR_FORWARD_TO_OTHERS${fwd ? ` (to ${fwd})` : ''}`)
        if (fwd && !tried.has(fwd)) add(fwd, true)
        if (this.lastLeader === server) this.lastLeader = undefined
        continue
      }
      this.lastLeader = server
      return {server, response}
    }
    const all = [...tried]
    if (all.length === 1 && lastError && notes.length === 1) throw lastError
    throw new PegasusClientError(
      'PEGASUS_NO_META_LEADER',
      `no meta server answered ${name} as leader (tried ${all.join(', ') || 'none'})`,
      {
        server: all.join(','),
        rpc: name,
        pegasusError: lastError?.pegasusError ?? 'ERR_FORWARD_TO_OTHERS',
        detail: notes.join('\n'),
        hints: [
          'Check that at least one meta server is running and holds the leader lock.',
          'List every meta server of the cluster, or give the ZooKeeper lock root so lifeboat can read the leader.',
        ],
      },
    )
  }

  private async value<N extends RpcName>(name: N, request: RpcRequest<N>, o?: CallOptions): Promise<RpcResponse<N>> {
    return (await this.call(name, request, o)).response
  }

  /** RPC_CM_START_RECOVERY. The response's err and hint_message are the result (ERR_TRY_AGAIN is an answer, not a failure). */
  startRecovery(req: ConfigurationRecoveryRequest, o?: CallOptions): Promise<ConfigurationRecoveryResponse> {
    return this.value('RPC_CM_START_RECOVERY', req, o)
  }

  /** RPC_CM_DDD_DIAGNOSE for `"-1.-1"` (all), `"<app>.-1"` (one app) or one partition. */
  dddDiagnose(pid = '-1.-1', o?: CallOptions): Promise<DddDiagnoseResponse> {
    return this.value('RPC_CM_DDD_DIAGNOSE', {pid}, o)
  }

  /** RPC_CM_PROPOSE_BALANCER. */
  proposeBalancer(req: ConfigurationBalancerRequest, o?: CallOptions): Promise<ConfigurationBalancerResponse> {
    return this.value('RPC_CM_PROPOSE_BALANCER', req, o)
  }

  /** RPC_CM_CONTROL_META: sets the level (fl_invalid only queries); the response has the old level. */
  controlMeta(level: MetaFunctionLevel, o?: CallOptions): Promise<ConfigurationMetaControlResponse> {
    return this.value('RPC_CM_CONTROL_META', {level}, o)
  }

  /** The current meta function level (control_meta with fl_invalid); throws on a response error. */
  getMetaLevel(o?: CallOptions): Promise<MetaFunctionLevel> {
    return this.setMetaLevel(MetaFunctionLevel.fl_invalid, o)
  }

  /** Sets the meta function level and returns the previous one; throws on a response error. */
  async setMetaLevel(level: MetaFunctionLevel, o?: CallOptions): Promise<MetaFunctionLevel> {
    const {server, response} = await this.call('RPC_CM_CONTROL_META', {level}, o)
    return expectOk(response, server, 'RPC_CM_CONTROL_META').old_level
  }

  /** RPC_CM_CLUSTER_INFO (see {@link clusterInfoMap} for the keys and values as an object). */
  clusterInfo(o?: CallOptions): Promise<ConfigurationClusterInfoResponse> {
    return this.value('RPC_CM_CLUSTER_INFO', {}, o)
  }

  /** RPC_CM_LIST_APPS; by default every status. */
  listApps(req: Partial<ConfigurationListAppsRequest> = {}, o?: CallOptions): Promise<ConfigurationListAppsResponse> {
    return this.value('RPC_CM_LIST_APPS', {status: AppStatus.AS_INVALID, ...req}, o)
  }

  /** RPC_CM_LIST_NODES; by default every status. */
  listNodes(status: NodeStatus = NodeStatus.NS_INVALID, o?: CallOptions): Promise<ConfigurationListNodesResponse> {
    return this.value('RPC_CM_LIST_NODES', {status}, o)
  }

  /** RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX; no indices means every partition. */
  queryPartitionConfigByIndex(
    app_name: string,
    partition_indices: number[] = [],
    o?: CallOptions,
  ): Promise<QueryCfgResponse> {
    return this.value('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', {app_name, partition_indices}, o)
  }

  /** Closes the private pool (a shared pool is its owner's to close). */
  close(): void {
    if (this.ownPool) this.pool.close()
  }
}

/** cluster_info's parallel key/value lists as an object. */
export function clusterInfoMap(r: ConfigurationClusterInfoResponse): Record<string, string> {
  const out: Record<string, string> = {}
  r.keys.forEach((k, i) => {
    out[k] = r.values[i] ?? ''
  })
  return out
}
