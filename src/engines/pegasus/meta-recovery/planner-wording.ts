/**
 * Pegasus's own words for a metadata recovery (server_state.cpp; shell recovery.cpp): the stable
 * finding codes and the hint lines start_recovery answers with. Pure.
 */

/** Stable finding codes. */
export const FINDING_CODES = {
  badNode: 'PEGASUS_BAD_NODE',
  underReplicated: 'PEGASUS_PARTITION_UNDER_REPLICATED',
  lost: 'PEGASUS_PARTITION_LOST',
  renamed: 'PEGASUS_APP_RENAMED',
  softDeleted: 'PEGASUS_SOFT_DELETED_RESTORED',
  conflict: 'PEGASUS_APP_CONFLICT',
  invalidAppId: 'PEGASUS_INVALID_APP_ID',
  unknownApp: 'PEGASUS_REPLICA_UNKNOWN_APP',
  invalidBallot: 'PEGASUS_INVALID_BALLOT',
  rootNotEmpty: 'PEGASUS_ROOT_NOT_EMPTY',
  notInRecovery: 'PEGASUS_NOT_IN_RECOVERY',
  metaUnreachable: 'PEGASUS_META_UNREACHABLE',
  metaElsewhere: 'PEGASUS_META_ON_ANOTHER_ROOT',
  outsideNode: 'PEGASUS_NODE_OUTSIDE_LIST',
  duplicateNode: 'PEGASUS_DUPLICATE_NODE',
  primaryBehind: 'PEGASUS_PRIMARY_BEHIND',
  outcome: 'PEGASUS_RECOVERY_OUTCOME',
  envsRecovered: 'PEGASUS_APP_ENVS_RECOVERED',
  envsUnknown: 'PEGASUS_APP_ENVS_UNKNOWN',
} as const

// Pegasus's own words (server_state.cpp; shell recovery.cpp). Trailing newlines are not part of
// a finding: some of these end in std::endl upstream and some do not, depending on the version.

/** The hint for a node whose app or replica query failed. */
export function hintBadNode(node: string, err: string, skipBadNodes: boolean): string {
  return skipBadNodes
    ? `WARNING: collect app and replica info from node(${node}) failed with err(${err}), skip the bad node`
    : `ERROR: collect app and replica info from node(${node}) failed with err(${err}), you can skip it by set skip_bad_nodes option`
}

/** The hint for a renamed app. */
export function hintRenamed(appId: number, oldName: string, newName: string): string {
  return `WARNING: app(${appId})'s old name(${oldName}) is conflict with others, rename it to (${newName})`
}

/** The hint for a partition that collected fewer replicas than max_replica_count. */
export function hintUnderReplicated(appId: number, pidx: number, n: number, max: number): string {
  return `WARNING: partition(${appId}.${pidx}) only collects ${n}/${max} of replicas, may lost data`
}

/** The hint for a partition with no replica collected. */
export function hintLost(appId: number, pidx: number, skipLostPartitions: boolean): string {
  return skipLostPartitions
    ? `WARNING: partition(${appId}.${pidx}) has no replica collected, force recover the lost partition to empty`
    : `ERROR: partition(${appId}.${pidx}) has no replica collected, you can force recover it by set skip_lost_partitions option`
}

/**
 * Splits a start_recovery hint_message into its lines. Upstream versions differ in which
 * messages end in a newline (master builds some with fmt::format and no `\n`), so a message may
 * also start in the middle of a line: split before every `WARNING: ` / `ERROR: ` as well.
 */
export function splitHintMessage(message: string): string[] {
  return message
    .split('\n')
    .flatMap((line) => line.split(/(?=(?:WARNING|ERROR): )/))
    .map((l) => l.trim())
    .filter((l) => l !== '')
}

/** `k=v, k2=v2` of envs, keys sorted; `no envs` for none. */
export function describeEnvs(envs: Record<string, string>): string {
  const keys = Object.keys(envs).sort()
  return keys.length === 0 ? 'no envs' : keys.map((k) => `${k}=${envs[k]}`).join(', ')
}

/** Why a recovered table's envs may be incomplete: what replica servers report of them. */
export const ENVS_CAVEAT =
  'a replica server reports the envs its replicas were created with (after a restart only rocksdb.allow_ingest_behind, the one env .app-info keeps), so envs set with set_app_envs after that are not among them and, with the old metadata gone, cannot be known: they may be lost'
