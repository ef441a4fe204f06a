/**
 * Which table envs Pegasus accepts, and its hint for the others (app_env_validator.cpp,
 * replica_envs.cpp): apart from the update_app_env codec (./app-envs.ts), so that parsing a
 * scenario loads no wire code.
 */

/** The one env a replica's `.app-info` keeps (replica_envs::ROCKSDB_ALLOW_INGEST_BEHIND). */
export const ENV_ALLOW_INGEST_BEHIND = 'rocksdb.allow_ingest_behind'

/** Envs whose value is a boolean (app_env_validator.cpp, ValueType::kBool). */
const BOOL_ENVS = new Set([
  ENV_ALLOW_INGEST_BEHIND,
  'replica.rocksdb_block_cache_enabled',
  'replica.split.validate_partition_hash',
  'manual_compact.disabled',
])

/** Further envs app_env_validator accepts (replica_envs.cpp); their values are taken as given. */
const OTHER_ENVS = new Set([
  'replica.deny_client_request',
  'replica.write_throttling',
  'replica.write_throttling_by_size',
  'replica.read_throttling',
  'replica.read_throttling_by_size',
  'replica.backup_request_throttling',
  'replica.slow_query_threshold',
  'rocksdb.usage_scenario',
  'rocksdb.checkpoint.reserve_min_count',
  'rocksdb.checkpoint.reserve_time_seconds',
  'rocksdb.iteration_threshold_time_ms',
  'rocksdb.write_buffer_size',
  'rocksdb.num_levels',
  'default_ttl',
  'business.info',
  'user_specified_compaction',
  'replica_access_controller.allowed_users',
  'replica_access_controller.ranger_policies',
  'manual_compact.max_concurrent_running_count',
  'manual_compact.once.trigger_time',
  'manual_compact.once.target_level',
  'manual_compact.once.bottommost_level_compaction',
  'manual_compact.periodic.trigger_time',
  'manual_compact.periodic.target_level',
  'manual_compact.periodic.bottommost_level_compaction',
])

/** app_env_validator::validate_app_env: undefined when valid, else the hint upstream answers. */
export function invalidEnvHint(key: string, value: string): string | undefined {
  if (BOOL_ENVS.has(key)) {
    return value === 'true' || value === 'false' ? undefined : `invalid value '${value}', should be a boolean`
  }
  return OTHER_ENVS.has(key) ? undefined : `app_env '${key}' is not supported`
}
