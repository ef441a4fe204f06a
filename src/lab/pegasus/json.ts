/**
 * The simulated meta server's ZooKeeper encodings, written the way Pegasus's rapidjson helpers
 * write them (reference pegasus.md §1.3): compact, fields in IDL declaration order, every field
 * always present (the `hp_*` ones too), bools as 0/1, enums by their `type::NAME`, invalid
 * addresses as `"invalid address"` / `"invalid host_port"`.
 *
 * This is the lab's own encoder on purpose: a plan that predicts these bytes and the tree this
 * simulator writes are compared in tests, so they must not share code.
 */
import {AppStatus, enumName, type AppInfo, type PartitionConfiguration} from '../../engines/pegasus/wire/index.js'

const INVALID_ADDRESS = 'invalid address'
const INVALID_HOST_PORT = 'invalid host_port'

const str = (s: string): string => JSON.stringify(s)
const bool = (b: boolean | undefined): string => (b ? '1' : '0')
const addr = (a: string): string => str(a === '' ? INVALID_ADDRESS : a)
const hp = (a: string): string => str(a === '' ? INVALID_HOST_PORT : a)

/** `app_info` JSON as `app_state::to_json(status)` writes it. */
export function encodeAppInfo(info: AppInfo, status: AppStatus = info.status): string {
  const envs = Object.keys(info.envs)
    .map((k) => `${str(k)}:${str(info.envs[k] ?? '')}`)
    .join(',')
  return (
    `{"status":${str(`app_status::${enumName(AppStatus, status)}`)},"app_type":${str(info.app_type)},"app_name":${str(info.app_name)},` +
    `"app_id":${info.app_id},"partition_count":${info.partition_count},"envs":{${envs}},"is_stateful":${bool(info.is_stateful)},` +
    `"max_replica_count":${info.max_replica_count},"expire_second":${info.expire_second},"create_second":${info.create_second},` +
    `"drop_second":${info.drop_second},"duplicating":${bool(info.duplicating)},"init_partition_count":${info.init_partition_count},` +
    `"is_bulk_loading":${bool(info.is_bulk_loading)},"atomic_idempotent":${bool(info.atomic_idempotent)}}`
  )
}

/** `partition_configuration` JSON as the meta writes a partition node. */
export function encodePartitionConfig(pc: PartitionConfiguration): string {
  const list = (xs: string[], f: (x: string) => string): string => `[${xs.map(f).join(',')}]`
  return (
    `{"pid":${str(pc.pid)},"ballot":${pc.ballot},"max_replica_count":${pc.max_replica_count},"primary":${addr(pc.primary)},` +
    `"secondaries":${list(pc.secondaries, addr)},"last_drops":${list(pc.last_drops, addr)},` +
    `"last_committed_decree":${pc.last_committed_decree},"partition_flags":${pc.partition_flags},` +
    `"hp_primary":${hp(pc.hp_primary ?? '')},"hp_secondaries":${list(pc.hp_secondaries ?? [], hp)},"hp_last_drops":${list(pc.hp_last_drops ?? [], hp)}}`
  )
}

/** Reads a bool written as 0/1 (or, tolerated on decode as by Pegasus, true/false). */
function toBool(v: unknown): boolean {
  return v === true || v === 1
}

function fromAddr(v: unknown, invalid: string): string {
  return typeof v === 'string' && v !== invalid ? v : ''
}

/**
 * Decodes an app node. Every member is optional (Pegasus's decoder tolerates old JSON with fewer
 * fields); absent members keep the IDL defaults.
 */
export function decodeAppInfo(text: string): AppInfo {
  const o = JSON.parse(text) as Record<string, unknown>
  const statusName = typeof o.status === 'string' ? o.status.replace(/^app_status::/, '') : 'AS_INVALID'
  const status = (AppStatus as Record<string, AppStatus>)[statusName] ?? AppStatus.AS_INVALID
  const num = (k: string, d: number): number => (typeof o[k] === 'number' ? (o[k] as number) : d)
  return {
    status,
    app_type: typeof o.app_type === 'string' ? o.app_type : '',
    app_name: typeof o.app_name === 'string' ? o.app_name : '',
    app_id: num('app_id', 0),
    partition_count: num('partition_count', 0),
    envs: typeof o.envs === 'object' && o.envs !== null ? (o.envs as Record<string, string>) : {},
    is_stateful: o.is_stateful === undefined ? true : toBool(o.is_stateful),
    max_replica_count: num('max_replica_count', 0),
    expire_second: num('expire_second', 0),
    create_second: num('create_second', 0),
    drop_second: num('drop_second', 0),
    duplicating: toBool(o.duplicating),
    init_partition_count: num('init_partition_count', -1),
    is_bulk_loading: toBool(o.is_bulk_loading),
    atomic_idempotent: toBool(o.atomic_idempotent),
  }
}

/** Decodes a partition node; the `hp_*` lists fall back to the address lists when absent (2.5.0 data). */
export function decodePartitionConfig(text: string): PartitionConfiguration {
  const o = JSON.parse(text) as Record<string, unknown>
  const addrs = (v: unknown, invalid: string): string[] => (Array.isArray(v) ? v.map((x) => fromAddr(x, invalid)) : [])
  const primary = fromAddr(o.primary, INVALID_ADDRESS)
  const secondaries = addrs(o.secondaries, INVALID_ADDRESS)
  const lastDrops = addrs(o.last_drops, INVALID_ADDRESS)
  return {
    pid: typeof o.pid === 'string' ? o.pid : '0.0',
    ballot: typeof o.ballot === 'number' ? o.ballot : 0,
    max_replica_count: typeof o.max_replica_count === 'number' ? o.max_replica_count : 0,
    primary,
    secondaries,
    last_drops: lastDrops,
    last_committed_decree: typeof o.last_committed_decree === 'number' ? o.last_committed_decree : 0,
    partition_flags: typeof o.partition_flags === 'number' ? o.partition_flags : 0,
    hp_primary: o.hp_primary === undefined ? primary : fromAddr(o.hp_primary, INVALID_HOST_PORT),
    hp_secondaries: o.hp_secondaries === undefined ? secondaries : addrs(o.hp_secondaries, INVALID_HOST_PORT),
    hp_last_drops: o.hp_last_drops === undefined ? lastDrops : addrs(o.hp_last_drops, INVALID_HOST_PORT),
  }
}
