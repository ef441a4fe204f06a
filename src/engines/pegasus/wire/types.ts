/**
 * Pegasus message types, mirroring the thrift IDL of apache/incubator-pegasus (master, 2.6.0-SNAPSHOT)
 * field for field, with the IDL's snake_case names. See docs/pegasus-wire.md for the sources.
 *
 * Representation choices (the same everywhere in lifeboat):
 * - `rpc_address` is an `"a.b.c.d:port"` string; the invalid address (i64 0) is `""`.
 * - `host_port` is a `"host:port"` string; the invalid host_port (host "", port 0, type 0) is `""`.
 * - `gpid` is an `"app_id.partition_index"` string, as Pegasus prints it and stores it in ZooKeeper JSON
 *   (`"2.0"`, `"-1.-1"`).
 * - `error_code` is its thrift string name (`"ERR_OK"`).
 * - i64 fields are JS numbers; the decoder refuses values outside the safe-integer range.
 * - enums are their numeric values; `*_NAMES` tables give the IDL names.
 * - `optional` IDL fields are optional properties: written only when present, absent when not received.
 */

/** `dsn.layer2.app_status`. */
export const AppStatus = {
  AS_INVALID: 0,
  AS_AVAILABLE: 1,
  AS_CREATING: 2,
  AS_CREATE_FAILED: 3,
  AS_DROPPING: 4,
  AS_DROP_FAILED: 5,
  AS_DROPPED: 6,
  AS_RECALLING: 7,
} as const
export type AppStatus = (typeof AppStatus)[keyof typeof AppStatus]

/** `metadata.partition_status`. */
export const PartitionStatus = {
  PS_INVALID: 0,
  PS_INACTIVE: 1,
  PS_ERROR: 2,
  PS_PRIMARY: 3,
  PS_SECONDARY: 4,
  PS_POTENTIAL_SECONDARY: 5,
  PS_PARTITION_SPLIT: 6,
} as const
export type PartitionStatus = (typeof PartitionStatus)[keyof typeof PartitionStatus]

/** `metadata.manual_compaction_status`. */
export const ManualCompactionStatus = {IDLE: 0, QUEUING: 1, RUNNING: 2, FINISHED: 3} as const
export type ManualCompactionStatus = (typeof ManualCompactionStatus)[keyof typeof ManualCompactionStatus]

/** `meta_admin.config_type`. */
export const ConfigType = {
  CT_INVALID: 0,
  CT_ASSIGN_PRIMARY: 1,
  CT_UPGRADE_TO_PRIMARY: 2,
  CT_ADD_SECONDARY: 3,
  CT_UPGRADE_TO_SECONDARY: 4,
  CT_DOWNGRADE_TO_SECONDARY: 5,
  CT_DOWNGRADE_TO_INACTIVE: 6,
  CT_REMOVE: 7,
  CT_ADD_SECONDARY_FOR_LB: 8,
  CT_PRIMARY_FORCE_UPDATE_BALLOT: 9,
  CT_DROP_PARTITION: 10,
  CT_REGISTER_CHILD: 11,
} as const
export type ConfigType = (typeof ConfigType)[keyof typeof ConfigType]

/** `meta_admin.node_status`. */
export const NodeStatus = {NS_INVALID: 0, NS_ALIVE: 1, NS_UNALIVE: 2} as const
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus]

/** `meta_admin.meta_function_level`; `fl_invalid` in a control request only queries the level. */
export const MetaFunctionLevel = {
  fl_stopped: 100,
  fl_blind: 200,
  fl_freezed: 300,
  fl_steady: 400,
  fl_lively: 500,
  fl_invalid: 10000,
} as const
export type MetaFunctionLevel = (typeof MetaFunctionLevel)[keyof typeof MetaFunctionLevel]

/** `meta_admin.balancer_request_type`. */
export const BalancerRequestType = {move_primary: 0, copy_primary: 1, copy_secondary: 2} as const
export type BalancerRequestType = (typeof BalancerRequestType)[keyof typeof BalancerRequestType]

/** `utils.pattern_match_type` (used by list_apps since 2.5). */
export const PatternMatchType = {
  PMT_INVALID: 0,
  PMT_MATCH_ALL: 1,
  PMT_MATCH_EXACT: 2,
  PMT_MATCH_ANYWHERE: 3,
  PMT_MATCH_PREFIX: 4,
  PMT_MATCH_POSTFIX: 5,
  PMT_MATCH_REGEX: 6,
} as const
export type PatternMatchType = (typeof PatternMatchType)[keyof typeof PatternMatchType]

/** The IDL name of an enum value (`enumName(AppStatus, 1)` is `"AS_AVAILABLE"`), or the number as text. */
export function enumName(table: Record<string, number>, value: number): string {
  for (const [name, v] of Object.entries(table)) if (v === value) return name
  return String(value)
}

/** `dsn.layer2.app_info`. */
export interface AppInfo {
  status: AppStatus
  app_type: string
  app_name: string
  app_id: number
  partition_count: number
  envs: Record<string, string>
  is_stateful: boolean
  max_replica_count: number
  expire_second: number
  create_second: number
  drop_second: number
  duplicating?: boolean
  /** IDL default -1. */
  init_partition_count: number
  is_bulk_loading?: boolean
  atomic_idempotent?: boolean
}

/** `dsn.layer2.partition_configuration`; `hp_*` exist since the FQDN change (absent in 2.5.0). */
export interface PartitionConfiguration {
  pid: string
  ballot: number
  max_replica_count: number
  primary: string
  secondaries: string[]
  last_drops: string[]
  last_committed_decree: number
  partition_flags: number
  hp_primary?: string
  hp_secondaries?: string[]
  hp_last_drops?: string[]
}

/** `metadata.replica_info`. */
export interface ReplicaInfo {
  pid: string
  ballot: number
  status: PartitionStatus
  last_committed_decree: number
  last_prepared_decree: number
  last_durable_decree: number
  app_type: string
  disk_tag: string
  manual_compact_status?: ManualCompactionStatus
}

/** `meta_admin.query_app_info_request` (RPC_QUERY_APP_INFO, to a replica server). */
export interface QueryAppInfoRequest {
  meta_server: string
  hp_meta_server?: string
}
/** `meta_admin.query_app_info_response`. */
export interface QueryAppInfoResponse {
  err: string
  apps: AppInfo[]
}

/** `replica_admin.query_replica_info_request` (RPC_QUERY_REPLICA_INFO, to a replica server). */
export interface QueryReplicaInfoRequest {
  node1: string
  hp_node1?: string
}
/** `replica_admin.query_replica_info_response`. */
export interface QueryReplicaInfoResponse {
  err: string
  replicas: ReplicaInfo[]
}

/** `meta_admin.configuration_recovery_request` (RPC_CM_START_RECOVERY). */
export interface ConfigurationRecoveryRequest {
  recovery_nodes: string[]
  skip_bad_nodes: boolean
  skip_lost_partitions: boolean
  hp_recovery_nodes?: string[]
}
/** `meta_admin.configuration_recovery_response`. */
export interface ConfigurationRecoveryResponse {
  err: string
  hint_message: string
}

/** `meta_admin.ddd_diagnose_request` (RPC_CM_DDD_DIAGNOSE): `"-1.-1"` all, `"<app>.-1"` one app. */
export interface DddDiagnoseRequest {
  pid: string
}
/** `meta_admin.ddd_node_info`. */
export interface DddNodeInfo {
  node: string
  drop_time_ms: number
  is_alive: boolean
  is_collected: boolean
  ballot: number
  last_committed_decree: number
  last_prepared_decree: number
  hp_node?: string
}
/** `meta_admin.ddd_partition_info`. */
export interface DddPartitionInfo {
  config: PartitionConfiguration
  dropped: DddNodeInfo[]
  reason: string
}
/** `meta_admin.ddd_diagnose_response`. */
export interface DddDiagnoseResponse {
  err: string
  partitions: DddPartitionInfo[]
}

/** `meta_admin.configuration_proposal_action` (field 4 is retired in the IDL). */
export interface ConfigurationProposalAction {
  target: string
  node: string
  type: ConfigType
  hp_target?: string
  hp_node?: string
}
/** `meta_admin.configuration_balancer_request` (RPC_CM_PROPOSE_BALANCER). */
export interface ConfigurationBalancerRequest {
  gpid: string
  action_list: ConfigurationProposalAction[]
  force?: boolean
  balance_type?: BalancerRequestType
}
/** `meta_admin.configuration_balancer_response`. */
export interface ConfigurationBalancerResponse {
  err: string
}

/** `meta_admin.configuration_meta_control_request` (RPC_CM_CONTROL_META). */
export interface ConfigurationMetaControlRequest {
  level: MetaFunctionLevel
}
/** `meta_admin.configuration_meta_control_response`. */
export interface ConfigurationMetaControlResponse {
  err: string
  old_level: MetaFunctionLevel
}

/** `meta_admin.configuration_cluster_info_request` (RPC_CM_CLUSTER_INFO): no fields. */
export type ConfigurationClusterInfoRequest = Record<string, never>
/** `meta_admin.configuration_cluster_info_response`: parallel key and value lists. */
export interface ConfigurationClusterInfoResponse {
  err: string
  keys: string[]
  values: string[]
}

/** `meta_admin.configuration_list_apps_request` (RPC_CM_LIST_APPS); status AS_INVALID lists all. */
export interface ConfigurationListAppsRequest {
  status: AppStatus
  app_name_pattern?: string
  match_type?: PatternMatchType
}
/** `meta_admin.configuration_list_apps_response`. */
export interface ConfigurationListAppsResponse {
  err: string
  infos: AppInfo[]
  hint_message?: string
}

/** `meta_admin.node_info`. */
export interface NodeInfo {
  status: NodeStatus
  node: string
  hp_node?: string
}
/** `meta_admin.configuration_list_nodes_request` (RPC_CM_LIST_NODES); NS_INVALID lists all. */
export interface ConfigurationListNodesRequest {
  status: NodeStatus
}
/** `meta_admin.configuration_list_nodes_response`. */
export interface ConfigurationListNodesResponse {
  err: string
  infos: NodeInfo[]
}

/** `dsn.layer2.query_cfg_request` (RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX); empty indices = all. */
export interface QueryCfgRequest {
  app_name: string
  partition_indices: number[]
}
/**
 * `dsn.layer2.query_cfg_response`. On ERR_FORWARD_TO_OTHERS a meta puts the leader in
 * `partitions[0].primary` (and `hp_primary`) when it knows it.
 */
export interface QueryCfgResponse {
  err: string
  app_id: number
  partition_count: number
  is_stateful: boolean
  partitions: PartitionConfiguration[]
}

/** `thrift_request_meta_v1` (src/rpc/request_meta.thrift), sent after the v1 THFT header. */
export interface RequestMetaV1 {
  app_id?: number
  partition_index?: number
  client_timeout?: number
  client_partition_hash?: bigint
  is_backup_request?: boolean
}
