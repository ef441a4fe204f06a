/**
 * Types of the PegasusZkMigration engine: the live state its gather records (plain JSON, saved as
 * `live.json` in test fixtures), the step kinds and the parameters of the steps its planner emits.
 *
 * Two methods move a cluster's metadata to another ZooKeeper (reference/pegasus.md section 6):
 * `copy` (the zkcopy path: meta level blind, copy the tree, repoint the metas) and `recovery`
 * (pegasus_migrate_zookeeper.sh: restart a meta in recovery mode on the target and rebuild the
 * metadata from the replica servers).
 */
import type {PegasusZkMigrationSpec} from '../../../spec/types.js'

/** The spec this engine plans from (see `src/spec/types.ts`). */
export type ZkMigrationSpec = PegasusZkMigrationSpec

/** The format of `ZkMigrationLive`; bump on an incompatible change. */
export const ZK_MIGRATION_LIVE_VERSION = 2

/** Step kinds of this engine. */
export const STEP_KINDS = {
  /** Manual: only the leader meta runs (copy method). */
  singleMeta: 'pegasus.zk-migration.single-meta',
  /** control_meta to a level (blind before the copy, the recorded level afterwards). */
  setLevel: 'pegasus.zk-migration.set-meta-level',
  /** Streaming copy of the cluster root to the target. */
  copy: 'pegasus.zk-migration.copy-tree',
  /** Node-for-node comparison of source and target. */
  verifyCopy: 'pegasus.zk-migration.verify-copy',
  /** Manual: the metas run on the target ZooKeeper and root, with the recovery flag as given. */
  switchMeta: 'pegasus.zk-migration.switch-meta',
  /** Recovery method: the table list and alive node list are still what the plan recorded. */
  record: 'pegasus.zk-migration.record-cluster',
  /** Recovery method: start_recovery with the recorded alive nodes. */
  startRecovery: 'pegasus.zk-migration.start-recovery',
  /** Recovery method: the node list (address, status, replica count) is back to the recorded one. */
  waitNodes: 'pegasus.zk-migration.wait-nodes',
  /** The meta lists the recorded tables. */
  verifyTables: 'pegasus.zk-migration.verify-tables',
  /** Lossy: delete the source tree. */
  removeSource: 'pegasus.zk-migration.remove-source',
} as const

/** Stable finding codes. */
export const FINDING_CODES = {
  targetNotEmpty: 'PEGASUS_ZK_TARGET_NOT_EMPTY',
  targetOverlaps: 'PEGASUS_ZK_TARGET_OVERLAPS',
  sourceMissing: 'PEGASUS_ZK_SOURCE_MISSING',
  sourceIsZkRoot: 'PEGASUS_ZK_SOURCE_IS_ROOT',
  noApps: 'PEGASUS_ZK_NO_APPS',
  metaUnreachable: 'PEGASUS_META_UNREACHABLE',
  metaElsewhere: 'PEGASUS_META_ON_OTHER_ZK',
  followers: 'PEGASUS_META_FOLLOWERS_RUNNING',
  levelLow: 'PEGASUS_META_LEVEL_LOW',
  nodeUnalive: 'PEGASUS_NODE_UNALIVE',
  noAliveNode: 'PEGASUS_NO_ALIVE_NODE',
  notCarried: 'PEGASUS_ZK_NOT_CARRIED_OVER',
  envsLost: 'PEGASUS_APP_ENVS_LOST',
  envsBack: 'PEGASUS_APP_ENVS_RECOVERED',
  envsUnknown: 'PEGASUS_APP_ENVS_UNKNOWN',
  droppedTable: 'PEGASUS_DROPPED_TABLE',
  downtime: 'PEGASUS_ZK_MIGRATION_DOWNTIME',
  lockTransaction: 'PEGASUS_APPS_ROOT_LOCKED',
} as const

/** Codes of the executors' findings. */
export const VERIFY_CODES = {
  copyDiffers: 'PEGASUS_ZK_COPY_DIFFERS',
  copyCount: 'PEGASUS_ZK_COPY_COUNT',
  metaNotSwitched: 'PEGASUS_META_NOT_SWITCHED',
  metaNotServing: 'PEGASUS_META_NOT_SERVING',
  recoveryFlag: 'PEGASUS_RECOVERY_FLAG',
  levelDiffers: 'PEGASUS_META_LEVEL_DIFFERS',
  tableMissing: 'PEGASUS_TABLE_MISSING',
  tableDiffers: 'PEGASUS_TABLE_DIFFERS',
  nodesDiffer: 'PEGASUS_NODES_DIFFER',
  followers: 'PEGASUS_META_FOLLOWERS_RUNNING',
  sourceLeft: 'PEGASUS_ZK_SOURCE_LEFT',
} as const

/** One child of a cluster root, with the size of its subtree. */
export interface TreeChild {
  name: string
  /** Persistent nodes in its subtree, itself included. */
  nodes: number
  /** Ephemeral nodes in its subtree (the meta leader lock, for one). */
  ephemeral: number
}

/** An app node `<root>/apps/<id>` as stored. */
export interface TreeApp {
  /** The node's name: the app id as a decimal string. */
  id: string
  /** From the node's JSON; null when the data is not an app_info document. */
  name: string | null
  /** `app_status::AS_AVAILABLE` and so on, as stored. */
  status: string | null
  partition_count: number | null
  /** Children named by a partition index. */
  partitions: number
  /** Persistent nodes of the app's subtree, the app node included (partitions, duplication, ...). */
  nodes: number
  /** The app's envs as the app node holds them, keys sorted. */
  envs: Record<string, string>
}

/** An ephemeral node: held by a live session, never copied by default. */
export interface EphemeralNode {
  path: string
  /** Its data as text (a meta lock node holds the meta's `host:port`), at most 200 characters. */
  data: string
}

/** What a subtree of one ZooKeeper holds. */
export interface TreeSummary {
  hosts: string
  root: string
  exists: boolean
  /** Persistent nodes, the root included; 0 when the root does not exist. */
  nodes: number
  /** Bytes of data over those nodes. */
  bytes: number
  /** The root's children, sorted by name. */
  children: TreeChild[]
  /** Every ephemeral node in the subtree, sorted by path. */
  ephemeral: EphemeralNode[]
  /** `<root>/apps`: its data (`unlock`, `lock` or empty) or null when it does not exist. */
  appsRootData: string | null
  /** App nodes under `<root>/apps`, sorted by id (naturally). */
  apps: TreeApp[]
  /** sha256 of the sorted persistent paths relative to the root: the tree's shape, not its data. */
  pathsDigest: string
}

/** A table as `ls -o` lists it. */
export interface TableRow {
  app_id: number
  app_name: string
  /** `AVAILABLE`, `DROPPED`, ... (the shell's wording). */
  status: string
  partition_count: number
  /** max_replica_count. */
  replica_count: number
}

/** A replica server as `nodes -d` lists it. */
export interface NodeRow {
  address: string
  status: 'ALIVE' | 'UNALIVE'
  replica_count: number
  primary_count: number
  secondary_count: number
}

/** What the meta leader said. */
export interface MetaObserved {
  /** The meta server that answered control_meta, if any. */
  leader: string | null
  /** The error name when no meta answered or it refused (`ERR_UNDER_RECOVERY`, `ERR_NETWORK_FAILURE`...). */
  error: string | null
  /** Why, for a human; not used by the planner. */
  detail?: string
  /** The meta function level without `fl_` (`steady`), from control_meta with fl_invalid. */
  level: string | null
  /** `/meta/cluster`'s `zookeeper_hosts` and `zookeeper_root`, when readable. */
  zookeeper: {hosts: string; root: string} | null
}

/** The live state the planner needs, as plain JSON. */
export interface ZkMigrationLive {
  formatVersion: typeof ZK_MIGRATION_LIVE_VERSION
  source: TreeSummary
  target: TreeSummary
  meta: MetaObserved
  /** list_apps of every status, sorted by id; empty when the meta did not answer. */
  tables: TableRow[]
  /** list_nodes plus replica counts from every available table's partition configuration, sorted by address. */
  nodes: NodeRow[]
  /**
   * Recovery method: what each ALIVE node answers to query_app_info, in the node list's order
   * (the order start_recovery collects in: the first node that reports an app defines it).
   * Absent for the copy method and when the meta did not answer.
   */
  reports?: NodeAppsReport[]
}

/** One replica server's query_app_info answer, as far as the envs go. */
export interface NodeAppsReport {
  address: string
  /** The error name when the call failed (`ERR_TIMEOUT`, `ERR_NETWORK_FAILURE`...), else null. */
  error: string | null
  /** The apps it reports, sorted by id, with the envs its replicas hold in memory (keys sorted). */
  apps: {app_id: number; app_name: string; envs: Record<string, string>}[]
}

/** A ZooKeeper ensemble and root, as step parameters carry them. */
export interface ZkPlace {
  hosts: string
  root: string
}

/** Parameters of the manual `single-meta` step. */
export interface SingleMetaParams {
  meta_servers: string[]
  source: ZkPlace
  /** Where the leader lock nodes live: `<root>/dsn.meta.server.leader` and `<root>/lock/dsn.meta.server.leader`. */
  lock_dirs: string[]
}

/** Parameters of a `set-meta-level` step. */
export interface SetLevelParams {
  meta_servers: string[]
  /** The level to set, without `fl_`. */
  level: string
  /** The level the plan saw. */
  from: string
}

/** Parameters of the copy, verify-copy and remove-source steps. */
export interface CopyParams {
  source: ZkPlace
  target: ZkPlace
  ignore_ephemeral: boolean
  /** Persistent source nodes the plan saw (display and a count check). */
  expect_nodes: number
  meta_servers: string[]
}

/** Parameters of the manual `switch-meta` step. */
export interface SwitchMetaParams {
  meta_servers: string[]
  /** Where the metas must run now. */
  zookeeper: ZkPlace
  /** `[meta_server] recover_from_replica_server` as it must be. */
  recover: boolean
  /** Seconds to wait for a restarted meta to answer. */
  wait_seconds: number
}

/** Parameters of the record-cluster, wait-nodes and verify-tables steps. */
export interface ClusterParams {
  meta_servers: string[]
  /** Available tables as `ls -o` lists them. */
  tables: TableRow[]
  /** The node list as `nodes -d` lists it. */
  nodes: NodeRow[]
  wait_seconds: number
  /** Whether node replica counts are compared (the recovery method's wait) or only tables. */
  compare_nodes: boolean
}

/** Parameters of the start-recovery step. */
export interface StartRecoveryParams {
  meta_servers: string[]
  /** `host:port` as listed (hp_recovery_nodes). */
  recovery_nodes: string[]
  wait_seconds: number
  target: ZkPlace
}
