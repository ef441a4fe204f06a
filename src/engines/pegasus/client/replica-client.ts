/**
 * The replica-server client: the two RPCs a meta uses to collect state for metadata recovery
 * (RPC_QUERY_APP_INFO, RPC_QUERY_REPLICA_INFO), one node or many in parallel.
 */
import type {AppInfo, QueryAppInfoResponse, QueryReplicaInfoResponse, ReplicaInfo} from '../wire/index.js'
import {isIpv4Address} from './address.js'
import {PegasusClientError, expectOk} from './errors.js'
import {mapLimitSettled} from '../../../util/map-limit.js'
import {RpcPool, type CallOptions} from './rpc-pool.js'

/** Options of {@link ReplicaClient}. */
export interface ReplicaClientOptions {
  /** A pool to share with other clients; a private one is made (and closed by close()) otherwise. */
  pool?: RpcPool
  /** Deadline of each call; Pegasus's meta uses 5000 ms per node. */
  timeoutMs?: number
  /** Sent as `meta_server` in query_app_info (replicas do not use it); the invalid address when absent. */
  metaServer?: string
}

/** What one node reported, or why it could not. */
export type NodeCollection =
  | {node: string; ok: true; apps: AppInfo[]; replicas: ReplicaInfo[]}
  | {node: string; ok: false; error: PegasusClientError; pegasusError: string; retried?: boolean}

/** Queries replica servers. */
export class ReplicaClient {
  private readonly pool: RpcPool
  private readonly ownPool: boolean
  private readonly timeoutMs?: number
  private readonly metaServer: string

  constructor(opts: ReplicaClientOptions = {}) {
    this.pool = opts.pool ?? new RpcPool({timeoutMs: opts.timeoutMs})
    this.ownPool = opts.pool === undefined
    this.timeoutMs = opts.timeoutMs
    this.metaServer = opts.metaServer ?? ''
  }

  private opts(o?: CallOptions): CallOptions {
    return {timeoutMs: o?.timeoutMs ?? this.timeoutMs}
  }

  /** RPC_QUERY_APP_INFO: the app_info of every replica the node holds (open, closing or closed). */
  async queryAppInfo(node: string, o?: CallOptions): Promise<QueryAppInfoResponse> {
    const meta = this.metaServer
    return this.pool.call(
      node,
      'RPC_QUERY_APP_INFO',
      isIpv4Address(meta) || meta === '' ? {meta_server: meta} : {meta_server: '', hp_meta_server: meta},
      this.opts(o),
    )
  }

  /** RPC_QUERY_REPLICA_INFO: ballot, decrees and status of every replica on the node. */
  async queryReplicaInfo(node: string, o?: CallOptions): Promise<QueryReplicaInfoResponse> {
    // Like the meta, fill both the IPv4 address and the host_port of the node asked.
    const node1 = isIpv4Address(node) ? node : ''
    return this.pool.call(node, 'RPC_QUERY_REPLICA_INFO', {node1, hp_node1: node}, this.opts(o))
  }

  /**
   * Both RPCs on one node, as the meta's sync_apps_from_replica_nodes does: the node fails if
   * either call fails or answers an error.
   */
  async collect(node: string, o?: CallOptions): Promise<NodeCollection> {
    try {
      const [a, r] = await Promise.all([this.queryAppInfo(node, o), this.queryReplicaInfo(node, o)])
      expectOk(a, node, 'RPC_QUERY_APP_INFO')
      expectOk(r, node, 'RPC_QUERY_REPLICA_INFO')
      return {node, ok: true, apps: a.apps, replicas: r.replicas}
    } catch (err) {
      if (err instanceof PegasusClientError) return {node, ok: false, error: err, pegasusError: err.pegasusError}
      throw err
    }
  }

  /**
   * {@link collect} on many nodes with at most `concurrency` in flight; results in input order. A
   * node that timed out is asked once more (a slow node under load is not a lost one); its second
   * answer stands, and a second timeout is reported with `retried: true`.
   */
  async collectAll(
    nodes: readonly string[],
    opts: CallOptions & {concurrency?: number; onRetry?: (node: string) => void; onDone?: (done: number) => void} = {},
  ): Promise<NodeCollection[]> {
    const once = async (n: string): Promise<NodeCollection> => {
      const first = await this.collect(n, opts)
      if (first.ok || first.pegasusError !== 'ERR_TIMEOUT') return first
      opts.onRetry?.(n)
      const second = await this.collect(n, opts)
      return second.ok ? second : {...second, retried: true}
    }
    let done = 0
    const settled = await mapLimitSettled(nodes, opts.concurrency ?? 64, (n) =>
      once(n).finally(() => opts.onDone?.(++done)),
    )
    return settled.map((s) => {
      if (s.status === 'fulfilled') return s.value
      throw s.reason
    })
  }

  /** Closes the private pool (a shared pool is its owner's to close). */
  close(): void {
    if (this.ownPool) this.pool.close()
  }
}
