/**
 * Pegasus's metadata layout in ZooKeeper (reference/pegasus.md section 1): the paths of the apps
 * root, app and partition nodes and the meta leader's lock nodes, and the JSON the meta server
 * writes into them.
 *
 * Pure. The encoders build objects whose key order is Pegasus's declaration order, so
 * `JSON.stringify` of them gives the bytes rapidjson writes (compact, bools as 0/1, enums as
 * `"app_status::AS_AVAILABLE"`, `envs` as an object in std::map order). The layout is that of
 * Pegasus master (2.6): partition nodes carry `hp_*` fields and app nodes `atomic_idempotent`;
 * pass layout '2.5' for the older field sets.
 */
import type {AppInfo, PartitionConfiguration} from './wire/types.js'

/** Which Pegasus field set to write: '2.6' (master, with `hp_*` and `atomic_idempotent`) or '2.5'. */
export type ZkLayout = '2.5' | '2.6'

/** The default layout: Pegasus master. */
export const DEFAULT_ZK_LAYOUT: ZkLayout = '2.6'

/** The apps root's data once a transaction (initialisation or recovery) is complete. */
export const APPS_ROOT_UNLOCKED = 'unlock'
/** The apps root's data while the meta writes the app and partition nodes. */
export const APPS_ROOT_LOCKED = 'lock'

/** How rpc_address and host_port print when invalid. */
export const INVALID_ADDRESS = 'invalid address'
export const INVALID_HOST_PORT = 'invalid host_port'

/** `dsn.layer2.app_status` names by value. */
const APP_STATUS_NAMES = [
  'AS_INVALID',
  'AS_AVAILABLE',
  'AS_CREATING',
  'AS_CREATE_FAILED',
  'AS_DROPPING',
  'AS_DROP_FAILED',
  'AS_DROPPED',
  'AS_RECALLING',
] as const
export type AppStatusName = (typeof APP_STATUS_NAMES)[number]

/** `"app_status::AS_AVAILABLE"` for 1: the ENUM_REG name rapidjson writes. */
export function appStatusJson(status: number): string {
  const name = APP_STATUS_NAMES[status]
  return `app_status::${name ?? 'AS_INVALID'}`
}

/** The numeric app_status of a JSON name (`app_status::AS_DROPPED` or `AS_DROPPED`), or undefined. */
export function appStatusFromJson(text: string): number | undefined {
  const name = text.startsWith('app_status::') ? text.slice('app_status::'.length) : text
  const i = (APP_STATUS_NAMES as readonly string[]).indexOf(name)
  return i < 0 ? undefined : i
}

/** `concat_path_unix_style(root, "apps")`: the root `/` gives `/apps`. */
export function appsRootPath(clusterRoot: string): string {
  const base = clusterRoot.endsWith('/') ? clusterRoot.slice(0, -1) : clusterRoot
  return `${base}/apps`
}

/** The directory of the meta leader's lock nodes (`LOCKNODE<seq>`) under a lock root. */
export const META_LEADER_LOCK_DIR = 'dsn.meta.server.leader'

/**
 * Where the meta leader's lock nodes may live under a cluster root: `<root>/dsn.meta.server.leader`
 * (onebox, lock root = cluster root) and `<root>/lock/dsn.meta.server.leader` (config.ini).
 */
export function metaLeaderLockDirs(clusterRoot: string): string[] {
  const base = clusterRoot.replace(/\/+$/, '')
  return [`${base}/${META_LEADER_LOCK_DIR}`, `${base}/lock/${META_LEADER_LOCK_DIR}`]
}

/** `<apps_root>/<app_id>` (server_state get_app_path). */
export function appPath(appsRoot: string, appId: number): string {
  return `${appsRoot}/${appId}`
}

/** `<apps_root>/<app_id>/<pidx>` (server_state get_partition_path). */
export function partitionPath(appsRoot: string, appId: number, pidx: number): string {
  return `${appsRoot}/${appId}/${pidx}`
}

/** The plan address of a ZooKeeper node. */
export function zkAddress(path: string): string {
  return `zk:${path}`
}

/** An app node as Pegasus writes it, keys in declaration order. */
export interface AppNodeJson {
  status: string
  app_type: string
  app_name: string
  app_id: number
  partition_count: number
  envs: Record<string, string>
  is_stateful: number
  max_replica_count: number
  expire_second: number
  create_second: number
  drop_second: number
  duplicating: number
  init_partition_count: number
  is_bulk_loading: number
  atomic_idempotent?: number
}

/**
 * A partition node as Pegasus writes it: the fields of `partition_configuration` in declaration
 * order, addresses as strings (the wire type's shape).
 */
export type PartitionNodeJson = PartitionConfiguration

/** A partition configuration to encode; addresses as `ip:port`, host_ports as `host:port`, '' = invalid. */
export interface PartitionConfigInput {
  appId: number
  pidx: number
  ballot: number
  maxReplicaCount: number
  primary: string
  hpPrimary: string
  secondaries: string[]
  hpSecondaries: string[]
  lastDrops: string[]
  hpLastDrops: string[]
  lastCommittedDecree: number
  partitionFlags: number
}

/** "for compatibility, we treat bool as integers" (json_helper.h). */
function bool01(v: boolean | undefined): number {
  return v ? 1 : 0
}

/** envs as rapidjson writes a std::map: keys in byte order. */
function sortedEnvs(envs: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const k of Object.keys(envs ?? {}).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) out[k] = envs![k]!
  return out
}

/** The JSON object of an app node for `info` written with `status` (the meta writes AS_AVAILABLE or AS_DROPPED). */
export function encodeAppInfo(info: AppInfo, status: number, layout: ZkLayout = DEFAULT_ZK_LAYOUT): AppNodeJson {
  const node: AppNodeJson = {
    status: appStatusJson(status),
    app_type: info.app_type,
    app_name: info.app_name,
    app_id: info.app_id,
    partition_count: info.partition_count,
    envs: sortedEnvs(info.envs),
    is_stateful: bool01(info.is_stateful),
    max_replica_count: info.max_replica_count,
    expire_second: info.expire_second,
    create_second: info.create_second,
    drop_second: info.drop_second,
    duplicating: bool01(info.duplicating),
    init_partition_count: info.init_partition_count,
    is_bulk_loading: bool01(info.is_bulk_loading),
  }
  if (layout === '2.6') node.atomic_idempotent = bool01(info.atomic_idempotent)
  return node
}

/**
 * The JSON object of a partition node. It holds `pc`'s lists themselves, not copies (at 64,000
 * partitions a plan would make 320,000 more arrays): pass lists nothing else changes later.
 */
export function encodePartitionConfig(
  pc: PartitionConfigInput,
  layout: ZkLayout = DEFAULT_ZK_LAYOUT,
): PartitionNodeJson {
  const node: PartitionNodeJson = {
    pid: `${pc.appId}.${pc.pidx}`,
    ballot: pc.ballot,
    max_replica_count: pc.maxReplicaCount,
    primary: pc.primary === '' ? INVALID_ADDRESS : pc.primary,
    secondaries: pc.secondaries,
    last_drops: pc.lastDrops,
    last_committed_decree: pc.lastCommittedDecree,
    partition_flags: pc.partitionFlags,
  }
  if (layout === '2.6') {
    node.hp_primary = pc.hpPrimary === '' ? INVALID_HOST_PORT : pc.hpPrimary
    node.hp_secondaries = pc.hpSecondaries
    node.hp_last_drops = pc.hpLastDrops
  }
  return node
}

/** The partition configuration of `app_state`'s constructor: ballot 0, no members (what a partition with no replica keeps). */
export function emptyPartitionConfig(appId: number, pidx: number, maxReplicaCount: number): PartitionConfigInput {
  return {
    appId,
    pidx,
    ballot: 0,
    maxReplicaCount,
    primary: '',
    hpPrimary: '',
    secondaries: [],
    hpSecondaries: [],
    lastDrops: [],
    hpLastDrops: [],
    lastCommittedDecree: 0,
    partitionFlags: 0,
  }
}

/** The bytes Pegasus stores for a node's JSON object (compact, keys in the object's order). */
export function serializeNodeJson(node: AppNodeJson | PartitionNodeJson): string {
  return JSON.stringify(node)
}

/**
 * Parses a node's data as JSON for comparison, or returns the text itself when it is not JSON
 * (the apps root holds `lock`/`unlock`). Never throws: verification reports, it does not crash.
 */
export function parseNodeData(data: string): unknown {
  try {
    return JSON.parse(data) as unknown
  } catch {
    return data
  }
}
