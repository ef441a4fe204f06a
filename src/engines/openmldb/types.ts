/**
 * Types of the OpenMLDBRecovery engine: the spec it reads, the live state it gathers (saved as
 * `live.json` in fixtures, so plain JSON: uint64 offsets and op ids are decimal strings) and the
 * parameters of the steps it plans.
 *
 * Live facts keep OpenMLDB's protobuf field names (`is_leader`, `is_alive`, `all_table_status`,
 * `op_type`) so that a fixture can be read beside `showtable` / `gettablestatus` output.
 */

/** The spec kind this engine handles. */
export const OPENMLDB_KIND = 'OpenMLDBRecovery'

/** ZooKeeper digest auth; the secret sits in the named environment variable. */
export interface OpenMLDBZookeeper {
  /** `zk_cluster`: `host:port[,host:port...]`. */
  hosts: string
  /** `zk_root_path`, e.g. `/openmldb`. */
  root: string
  auth?: {scheme: 'digest'; credentials_env: string}
}

/** `recovery` of an OpenMLDBRecovery spec, defaults filled in ({@link normalizeRecovery}). */
export interface OpenMLDBRecoverySettings {
  /** The value auto_failover ends with; apply turns it off while it works. */
  auto_failover: boolean
  /** `all`, `none` (no data recovery), or a list of `db.table`: whose unhealthy partitions are recovered. */
  tables: 'all' | 'none' | string[]
  /** Tablets to take out (OfflineEndpoint). */
  offline_endpoints: string[]
  /** Tablets that are back and must be recovered (RecoverEndpoint). */
  recover_endpoints: string[]
  /** `"db.table/pid": endpoint | auto`. */
  leaders: Record<string, string>
  /** A tablet that does not answer: error (false) or a warning and its replicas skipped (true). */
  skip_bad_nodes: boolean
  /** A partition with no replica on a tablet that can load it: error (false) or a lossy acknowledgement (true). */
  skip_lost_partitions: boolean
  /** Ops in flight at once (the nameserver caps a request's concurrency at 8). */
  concurrency: number
  /** Deadline of each wait (a load, an op). */
  wait_seconds: number
  /** Deadline of each request to a nameserver or tablet. */
  rpc_timeout_seconds: number
}

/** The OpenMLDBRecovery spec. */
export interface OpenMLDBRecoverySpec {
  apiVersion: string
  kind: typeof OPENMLDB_KIND
  metadata: {name: string; ticket?: string}
  cluster: {
    name: string
    zookeeper: OpenMLDBZookeeper
    /** Nameserver endpoints tried when ZooKeeper names no leader that answers. */
    nameservers?: string[]
    /** Environment variable holding `user:password` for the brpc `Authorization` header. */
    credentials_env?: string
  }
  recovery: OpenMLDBRecoverySettings
  approval?: {approvers?: {safe?: number; disruptive?: number; lossy?: number}}
}

/** One `PartitionMeta` of `TableInfo.table_partition[].partition_meta`, as the nameserver reports it. */
export interface ReplicaMeta {
  endpoint: string
  is_leader: boolean
  /** Missing in JSON means true (proto default). */
  is_alive: boolean
  /** uint64, decimal. The nameserver's cached offset (refreshed every get_table_status_interval). */
  offset: string
}

/** One `TablePartition`. */
export interface PartitionMetaFacts {
  pid: number
  /** In the nameserver's `partition_meta` order (which the upstream tool's leader rule depends on). */
  replicas: ReplicaMeta[]
}

/** One `TableInfo` of ShowTable with show_all. */
export interface TableFacts {
  db: string
  name: string
  tid: number
  /** `kMemory`, `kSSD`, `kHDD`. */
  storage_mode: string
  /** Sorted by pid. */
  partitions: PartitionMetaFacts[]
}

/** One `TableStatus` of a tablet's GetTableStatus. */
export interface TabletTableStatus {
  tid: number
  pid: number
  /** uint64, decimal. */
  offset: string
  /** `kTableLeader` | `kTableFollower`. */
  mode: string
  /** `kTableNormal`, `kTableLoading`, `kTableUndefined`, ... */
  state: string
}

/** A tablet: what ShowTablet says of it and what it answered itself. */
export interface TabletFacts {
  endpoint: string
  /** ShowTablet's state: `kHealthy` | `kOffline`; `unknown` for an endpoint in a table but not in ShowTablet. */
  state: string
  /** Whether GetTableStatus was answered (only asked of kHealthy tablets). */
  reachable: boolean
  /** Why it could not be asked or did not answer. */
  error?: string
  /** It took the request but gave no answer before the deadline (`rpc_timeout_seconds`): slow or hung. */
  timed_out?: boolean
  /** Sorted by tid, pid. */
  tables: TabletTableStatus[]
}

/** One op of ShowOPStatus. */
export interface OpFacts {
  /** uint64, decimal. */
  op_id: string
  op_type: string
  status: string
  db: string
  name: string
  pid: number
  /** The current task, or `-`. */
  task_type: string
}

/** Everything the planner needs, gathered read-only. Plain JSON. */
export interface OpenMLDBLiveState {
  /** The leader nameserver that answered. */
  nameserver: string
  /** `auto_failover` from ConfGet. */
  auto_failover: boolean
  /** Every tablet of ShowTablet (plus any replica endpoint it does not list), sorted by endpoint. */
  tablets: TabletFacts[]
  /** Every table of ShowTable (show_all), sorted by db, name. */
  tables: TableFacts[]
  /** Ops not yet finished (kInited, kDoing), sorted by op id. */
  running_ops: OpFacts[]
  /** The largest op id the nameserver reports (decimal), `0` when none: ops newer than it are this run's. */
  last_op_id: string
}

/** Step kinds of this engine. */
export const STEP_CONFSET = 'openmldb.confset'
export const STEP_CHANGE_LEADERS = 'openmldb.change-leaders'
export const STEP_OFFLINE_ENDPOINT = 'openmldb.offline-endpoint'
export const STEP_RECOVER_ENDPOINT = 'openmldb.recover-endpoint'
export const STEP_SET_ALIVE = 'openmldb.set-alive'
export const STEP_LOAD_LEADERS = 'openmldb.load-leaders'
export const STEP_RECOVER_TABLES = 'openmldb.recover-tables'
export const STEP_ACCEPT_LOST = 'openmldb.accept-lost-partitions'
export const STEP_VERIFY = 'openmldb.verify'

/** A partition: `db`, `name` (table), `pid`. */
export interface PartitionRef {
  db: string
  name: string
  pid: number
}

/** `confset auto_failover <value>`. */
export interface ConfsetParams {
  key: 'auto_failover'
  value: 'true' | 'false'
}

/** One ChangeLeader request and the leader it must end with. */
export interface ChangeLeaderOp extends PartitionRef {
  candidate: string
}

export interface ChangeLeadersParams {
  ops: ChangeLeaderOp[]
  concurrency: number
  wait_seconds: number
}

/** What the nameserver is expected to create for one partition of an endpoint request. */
export interface PredictedOp extends PartitionRef {
  endpoint: string
  /** `kOfflineReplicaOP`, `kChangeLeaderOP`, `kUpdatePartitionStatusOP`, `kRecoverTableOP`. */
  op_type: string
  /** For kRecoverTableOP: the op its RecoverTable task spawns, by the target's state (§5 table). */
  then?: string
}

export interface EndpointParams {
  endpoint: string
  concurrency: number
  wait_seconds: number
  /** What the nameserver will create, sorted. */
  predicted: PredictedOp[]
}

/** One UpdateTableAliveStatus request. */
export interface AliveUpdate extends PartitionRef {
  endpoint: string
  is_alive: boolean
}

export interface SetAliveParams {
  updates: AliveUpdate[]
  concurrency: number
}

/** One LoadTable of a partition's leader on its tablet. */
export interface LoadOp extends PartitionRef {
  endpoint: string
  tid: number
  storage_mode: string
  /** The role it is loaded in: a nameserver leader as kTableLeader, a follower about to be made leader by ChangeLeader as kTableFollower. */
  mode: 'kTableLeader' | 'kTableFollower'
  /** What the plan makes of it: the partition's leader, or a follower re-added to that leader. */
  role: 'leader' | 'follower'
  /** The offset the plan counted on it holding (the nameserver's, for a replica no tablet had loaded). */
  offset: string
  /** The planned leader's offset: the plan's loss prediction assumes no replica holds more. */
  leader_offset: string
}

export interface LoadLeadersParams {
  loads: LoadOp[]
  concurrency: number
  wait_seconds: number
}

/** One RecoverTable request and the child op the nameserver will spawn. */
export interface RecoverTableOp extends PartitionRef {
  endpoint: string
  /** The predicted child op (kReAddReplicaSimplifyOP | ... ), or an alternative list joined by `|`. */
  then: string
  /** Alive when planned: marked not alive first (RecoverTable refuses an alive replica: 311 "table is alive, need not recover"). */
  mark_dead: boolean
}

export interface RecoverTablesParams {
  ops: RecoverTableOp[]
  /** The last op id when the plan was made: a kRecoverTableOP above it, kDone, is this plan's. */
  since_op_id: string
  /**
   * Endpoints whose every replica RecoverEndpoint would recover is among `ops`: their replicas are
   * marked not alive, then one RecoverEndpoint each creates the same kRecoverTableOPs, spread over
   * `concurrency` nameserver queues (a RecoverTable request's ops share name_server_task_concurrency's).
   */
  by_endpoint: string[]
  concurrency: number
  wait_seconds: number
}

export interface AcceptLostParams {
  partitions: Array<PartitionRef & {offset: string}>
}

/** What verify checks for one partition. */
export interface ExpectedPartition extends PartitionRef {
  tid: number
  /** The one alive leader it must end with. */
  leader: string
  /** The offset the leader must serve at least (the plan's; below it, rows the plan kept are gone), where the plan knows it. */
  leader_offset?: string
  /** Replicas that must be alive and loaded as followers. */
  followers: string[]
}

export interface VerifyParams {
  partitions: ExpectedPartition[]
  /** Endpoints whose replicas must end not alive (taken out). */
  offline_endpoints: string[]
  /** The value auto_failover must have. */
  auto_failover: boolean
  /** Followers must be within this many offsets of their leader (check_binlog_sync_progress_delta). */
  binlog_delta: number
}
