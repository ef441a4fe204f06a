/**
 * Types of the PegasusMetaRecovery engine: the live state its gather records (plain JSON, saved
 * as `live.json` in test fixtures) and the parameters of the steps its planner emits.
 *
 * App and replica records are the wire types of `../wire/types.ts` as the replica servers sent
 * them (numeric enums, `"app.pidx"` gpids), so a live state is exactly what the meta server would
 * collect in `sync_apps_from_replica_nodes`.
 */
import type {AppInfo, ReplicaInfo} from '../wire/types.js'
import type {PegasusMetaRecoverySpec} from '../../../spec/types.js'

export type {AppInfo, ReplicaInfo}

/** The spec this engine plans from (see `src/spec/types.ts`). */
export type MetaRecoverySpec = PegasusMetaRecoverySpec

/** The format of `MetaRecoveryLive`; bump on an incompatible change. */
export const META_RECOVERY_LIVE_VERSION = 1

/** What one replica server answered to query_app_info and query_replica_info. */
export interface MetaRecoveryNode {
  /** `host:port` as listed in the spec: the meta server formats its hints with it. */
  address: string
  /** The IPv4 `ip:port` it resolves to (Pegasus writes rpc_address fields with it); null when it did not resolve. */
  ip: string | null
  /** Both RPCs answered ERR_OK. */
  ok: boolean
  /** The error the meta server would see (`ERR_NETWORK_FAILURE`, `ERR_TIMEOUT`, ...), when not ok. */
  error?: string
  /** Which RPC failed first and why, for a human; not used by the planner. */
  detail?: string
  /** query_app_info's apps, in the order the node sent them. Empty when not ok. */
  apps: AppInfo[]
  /** query_replica_info's replicas, in the order the node sent them. Empty when not ok. */
  replicas: ReplicaInfo[]
}

/** What the meta server answered to a request that any started meta serves (list_apps). */
export interface MetaRecoveryMetaState {
  /** The meta server that answered, if any. */
  address?: string
  /** `ERR_UNDER_RECOVERY` is what a meta waiting for start_recovery answers. */
  error: string
  /** True iff error is `ERR_UNDER_RECOVERY`. */
  recovering: boolean
  /** Why the meta could not be asked, for a human. */
  detail?: string
  /**
   * The ZooKeeper the meta actually runs on, as it reports it (`/meta/cluster` zookeeper_hosts and
   * zookeeper_root, else `/config` hosts_list and cluster_root): start_recovery writes under that
   * root, whatever the spec says. Null when no meta answered; absent in a live state gathered
   * before lifeboat read it.
   */
  zookeeper?: {hosts: string; root: string} | null
  /** The meta's function level as it reports it (`/meta/cluster` meta_function_level), or null. */
  level?: string | null
}

/** The `<cluster_root>/apps` node the recovery will populate. */
export interface MetaRecoveryAppsRoot {
  path: string
  exists: boolean
  /** Its data (`lock`, `unlock` or empty) when it exists. */
  data?: string
  /** Its children, sorted naturally; the meta server refuses to recover when there is any. */
  children: string[]
}

/** The live state the planner needs, as plain JSON. */
export interface MetaRecoveryLive {
  formatVersion: typeof META_RECOVERY_LIVE_VERSION
  /** The node list the request will carry, deduplicated, in spec (or node-list file) order. */
  targetNodes: string[]
  meta: MetaRecoveryMetaState
  appsRoot: MetaRecoveryAppsRoot
  /** One entry per target node, in targetNodes order. */
  nodes: MetaRecoveryNode[]
  /**
   * Replica servers known to hold data but not in the node list. The gather cannot learn them (a
   * meta in recovery mode answers nothing about nodes); another source (an operator's inventory, a
   * previous plan) may fill it. When present, the planner checks that none of them holds a table
   * the recovery will not know, which would crash the meta server at their first config_sync.
   */
  outsideNodes?: MetaRecoveryNode[]
}

/** Tunables of the prediction that are meta-server configuration, not spec fields. */
export interface MetaRecoveryPlanTunables {
  /**
   * `[meta_server] max_reserved_dropped_replicas` (Pegasus default 1; production config.ini sets 0).
   * It caps how many collected replicas of a partition the meta keeps; since the cap is always at
   * least max_replica_count it never changes the primary or last_drops, only which candidates the
   * plan marks as discarded.
   */
  maxReservedDroppedReplicas?: number
}

/** A node of the ZooKeeper tree the recovery writes, with the fields verification must ignore. */
export interface VolatileFields {
  /** `zk:<path>` address of the change. */
  address: string
  /** Top-level JSON fields whose value depends on when the meta server runs (e.g. `expire_second`). */
  fields: string[]
}

/** Parameters of the `pegasus.start-recovery` step. */
export interface StartRecoveryParams {
  meta_servers: string[]
  /** `host:port` as listed (sent as hp_recovery_nodes). */
  recovery_nodes: string[]
  /** The same nodes as `ip:port` (sent as recovery_nodes, rpc_address). */
  recovery_addresses: string[]
  skip_bad_nodes: boolean
  skip_lost_partitions: boolean
  wait_seconds: number
  apps_root: string
  /** What the meta server will answer: the error name and the hint lines in its order. */
  expect_err: string
  expect_hints: string[]
}

/** Parameters of the read steps and of the manual restart step. */
export interface MetaReadParams {
  meta_servers: string[]
  apps_root: string
  wait_seconds: number
  /** Available tables the meta must list afterwards: `id:name`, sorted by id. */
  expect_tables: string[]
  /** Every app node expected under the apps root: `id`, sorted naturally. */
  expect_app_ids: string[]
  /** Partition count per app id, to check the number of partition nodes. */
  expect_partition_counts: Record<string, number>
  volatile: VolatileFields[]
}
