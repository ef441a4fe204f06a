/**
 * The meta server's in-memory model, as Pegasus's server_state keeps it: apps with their partition
 * configurations, a config context per partition (the dropped-replica list ordered by
 * `dropped_cmp`, the preferred drop, the proposal queue), and the rules that maintain them
 * (`maintain_drops`, `record_drop_history`, `collect_drop_replica`, `check_size`,
 * `construct_replica`). Pure data and functions: the meta server does the I/O.
 */
import {
  ConfigType,
  PartitionStatus,
  type AppInfo,
  type ConfigurationProposalAction,
  type PartitionConfiguration,
  type ReplicaInfo,
} from '../../engines/pegasus/wire/index.js'

/** A replica the meta knows was dropped from a partition, or collected from a report. */
export interface DroppedReplica {
  node: string
  /** When the meta recorded the drop (ms); 0 when it only learnt of it from a report. */
  time: number
  ballot: number
  last_committed_decree: number
  last_prepared_decree: number
}

/** The meta's per-partition working state (Pegasus `config_context`). */
export interface ConfigContext {
  dropped: DroppedReplica[]
  prefered_dropped: number
  /** Proposals waiting for the next check; the first one is the current. */
  lb_actions: ConfigurationProposalAction[]
  from_balancer: boolean
}

/** An app and its partitions, as the meta holds them. */
export interface AppState {
  info: AppInfo
  pcs: PartitionConfiguration[]
  ccs: ConfigContext[]
}

/** Tunables that change these rules (all `[meta_server]` / `[replication]` flags in Pegasus). */
export interface StateRules {
  /** `max_reserved_dropped_replicas` (default 1). */
  maxReservedDroppedReplicas: number
}

export const INVALID_BALLOT = -1

/** An empty partition configuration of an app, as `app_state`'s constructor makes it. */
function emptyPartition(appId: number, pidx: number, maxReplicaCount: number): PartitionConfiguration {
  return {
    pid: `${appId}.${pidx}`,
    ballot: 0,
    max_replica_count: maxReplicaCount,
    primary: '',
    secondaries: [],
    last_drops: [],
    last_committed_decree: 0,
    partition_flags: 0,
    hp_primary: '',
    hp_secondaries: [],
    hp_last_drops: [],
  }
}

/** A fresh config context. */
export function emptyContext(): ConfigContext {
  return {dropped: [], prefered_dropped: -1, lb_actions: [], from_balancer: false}
}

/** `app_state::create`: the app with default partitions. */
export function createAppState(info: AppInfo): AppState {
  const pcs: PartitionConfiguration[] = []
  const ccs: ConfigContext[] = []
  for (let i = 0; i < info.partition_count; i++) {
    pcs.push(emptyPartition(info.app_id, i, info.max_replica_count))
    ccs.push(emptyContext())
  }
  return {info: {...info, envs: {...info.envs}}, pcs, ccs}
}

/** A deep copy of a partition configuration. */
export function clonePc(pc: PartitionConfiguration): PartitionConfiguration {
  return {
    ...pc,
    secondaries: [...pc.secondaries],
    last_drops: [...pc.last_drops],
    hp_secondaries: [...(pc.hp_secondaries ?? pc.secondaries)],
    hp_last_drops: [...(pc.hp_last_drops ?? pc.last_drops)],
  }
}

/** Number of serving members (primary and secondaries). */
export function replicaCount(pc: PartitionConfiguration): number {
  return (pc.hp_primary ? 1 : 0) + (pc.hp_secondaries ?? []).length
}

/** The serving members: the primary (when there is one), then the secondaries. */
export function members(pc: PartitionConfiguration): string[] {
  return [pc.hp_primary ?? '', ...(pc.hp_secondaries ?? [])].filter((m) => m !== '')
}

export function isMember(pc: PartitionConfiguration, node: string): boolean {
  return pc.hp_primary === node || (pc.hp_secondaries ?? []).includes(node)
}

export function isSecondary(pc: PartitionConfiguration, node: string): boolean {
  return (pc.hp_secondaries ?? []).includes(node)
}

/** `dropped_cmp`: by (time, ballot, last committed, last prepared). */
function droppedCmp(a: DroppedReplica, b: DroppedReplica): number {
  if (a.time !== b.time) return a.time < b.time ? -1 : 1
  if (a.ballot !== b.ballot) return a.ballot < b.ballot ? -1 : 1
  if (a.last_committed_decree !== b.last_committed_decree)
    return a.last_committed_decree < b.last_committed_decree ? -1 : 1
  if (a.last_prepared_decree !== b.last_prepared_decree) return a.last_prepared_decree < b.last_prepared_decree ? -1 : 1
  return 0
}

/** Whether a config change adds the node (true), removes it (false), or neither (undefined). */
function isAdding(type: ConfigType): boolean | undefined {
  switch (type) {
    case ConfigType.CT_ASSIGN_PRIMARY:
    case ConfigType.CT_UPGRADE_TO_PRIMARY:
    case ConfigType.CT_UPGRADE_TO_SECONDARY:
      return true
    case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
    case ConfigType.CT_REMOVE:
    case ConfigType.CT_DROP_PARTITION:
      return false
    default:
      return undefined
  }
}

/** `maintain_drops`: an added node leaves last_drops; a removed one is appended, keeping at most 3. */
export function maintainDrops(drops: string[], node: string, type: ConfigType): void {
  const adding = isAdding(type)
  if (adding === undefined) return
  const i = drops.indexOf(node)
  if (adding) {
    if (i >= 0) drops.splice(i, 1)
  } else {
    if (i >= 0) drops.splice(i, 1) // Pegasus CHECKs this never happens; the lab stays consistent instead.
    drops.push(node)
    if (drops.length > 3) drops.shift()
  }
}

/** `config_context::check_size`: forget the oldest drops beyond what the group may keep. */
export function checkSize(pc: PartitionConfiguration, cc: ConfigContext, rules: StateRules): void {
  while (
    replicaCount(pc) + cc.dropped.length > pc.max_replica_count + rules.maxReservedDroppedReplicas &&
    cc.dropped.length > 0
  ) {
    cc.dropped.shift()
    cc.prefered_dropped = cc.dropped.length - 1
  }
}

/** `record_drop_history`: a member left the group at `now`; false if it was already recorded. */
export function recordDropHistory(
  pc: PartitionConfiguration,
  cc: ConfigContext,
  node: string,
  now: number,
  rules: StateRules,
): boolean {
  if (cc.dropped.some((d) => d.node === node)) return false
  cc.dropped.push({node, time: now, ballot: INVALID_BALLOT, last_committed_decree: -1, last_prepared_decree: -1})
  cc.prefered_dropped = cc.dropped.length - 1
  checkSize(pc, cc, rules)
  return true
}

/** `remove_from_dropped`. */
export function removeFromDropped(cc: ConfigContext, node: string): void {
  const i = cc.dropped.findIndex((d) => d.node === node)
  if (i >= 0) {
    cc.dropped.splice(i, 1)
    cc.prefered_dropped = cc.dropped.length - 1
  }
}

/**
 * `collect_drop_replica`: merge a reported replica into the ordered drop list (keeping the drop
 * time already recorded). Returns 1 if the node was there, 0 if newly added, -1 if trimmed away.
 */
export function collectDropReplica(
  pc: PartitionConfiguration,
  cc: ConfigContext,
  node: string,
  info: ReplicaInfo,
  rules: StateRules,
): number {
  let time = 0
  let inDropped = false
  const at = cc.dropped.findIndex((d) => d.node === node)
  if (at >= 0) {
    inDropped = true
    time = cc.dropped[at].time
    cc.dropped.splice(at, 1)
  }
  const current: DroppedReplica = {
    node,
    time,
    ballot: info.ballot,
    last_committed_decree: info.last_committed_decree,
    last_prepared_decree: info.last_prepared_decree,
  }
  // std::lower_bound: before the first element that is not less than `current`.
  let pos = 0
  while (pos < cc.dropped.length && droppedCmp(cc.dropped[pos], current) < 0) pos++
  cc.dropped.splice(pos, 0, current)
  cc.prefered_dropped = cc.dropped.length - 1
  checkSize(pc, cc, rules)
  if (!cc.dropped.some((d) => d.node === node)) return -1
  return inDropped ? 1 : 0
}

/**
 * `collect_replica`: a node reported a replica. Members are serving; others join the drop list.
 * Returns whether the replica is useful (false: garbage the meta may collect above steady).
 */
export function collectReplica(
  pc: PartitionConfiguration,
  cc: ConfigContext,
  node: string,
  info: ReplicaInfo,
  rules: StateRules,
): boolean {
  if (pc.ballot === INVALID_BALLOT) return false
  if (isMember(pc, node)) return true
  const ans = collectDropReplica(pc, cc, node, info, rules)
  return info.status === PartitionStatus.PS_POTENTIAL_SECONDARY || ans !== -1
}

/**
 * `construct_replica`: during recovery, the best collected replica becomes the primary and the next
 * best ones (up to max_replica_count - 1) fill last_drops, oldest first. Secondaries stay empty and
 * the partition's last committed decree stays 0. False when nothing was collected.
 */
export function constructReplica(pc: PartitionConfiguration, cc: ConfigContext, maxReplicaCount: number): boolean {
  if (cc.dropped.length === 0) return false
  const server = cc.dropped[cc.dropped.length - 1]
  pc.primary = server.node
  pc.hp_primary = server.node
  pc.ballot = server.ballot
  pc.partition_flags = 0
  pc.max_replica_count = maxReplicaCount
  cc.dropped.pop()
  const drops: string[] = []
  for (let i = cc.dropped.length - 1; i >= 0; i--) {
    if (drops.length + 1 >= maxReplicaCount) break
    drops.unshift(cc.dropped[i].node)
  }
  pc.last_drops = [...drops]
  pc.hp_last_drops = [...drops]
  cc.prefered_dropped = cc.dropped.length - 1
  return true
}

/** Every field of two app infos agrees (`app_info::operator==`). */
export function appInfoEqual(a: AppInfo, b: AppInfo): boolean {
  return (
    appInfoCompatibleEqual(a, b) &&
    JSON.stringify(a.envs) === JSON.stringify(b.envs) &&
    Boolean(a.duplicating) === Boolean(b.duplicating) &&
    a.init_partition_count === b.init_partition_count &&
    Boolean(a.is_bulk_loading) === Boolean(b.is_bulk_loading)
  )
}

/** The fields `app_info_compatible_equal` compares (§2.4). */
export function appInfoCompatibleEqual(a: AppInfo, b: AppInfo): boolean {
  return (
    a.status === b.status &&
    a.app_type === b.app_type &&
    a.app_name === b.app_name &&
    a.app_id === b.app_id &&
    a.partition_count === b.partition_count &&
    a.is_stateful === b.is_stateful &&
    a.max_replica_count === b.max_replica_count &&
    a.expire_second === b.expire_second &&
    a.create_second === b.create_second &&
    a.drop_second === b.drop_second &&
    Boolean(a.atomic_idempotent) === Boolean(b.atomic_idempotent)
  )
}

/** `app_mutation_2pc_min_replica_count`: the flag, or a majority when it is <= 0. */
export function min2pcCount(flag: number, maxReplicaCount: number): number {
  if (flag > 0) return flag
  return maxReplicaCount <= 2 ? 1 : Math.floor(maxReplicaCount / 2) + 1
}
