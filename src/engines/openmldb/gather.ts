/**
 * Gathers the live state of an OpenMLDB cluster, read-only: the leader nameserver's ShowTablet,
 * ShowTable (show_all), ConfGet and ShowOPStatus, then GetTableStatus from every healthy tablet in
 * parallel, each call with its deadline (`rpc_timeout_seconds`): a tablet that hangs costs one
 * deadline and is reported as timed out, so the whole gather ends in bounded time. uint64 values (offsets, op ids) stay exact as decimal
 * strings.
 */
import {describeError} from '../../errors.js'
import {HttpError} from '../../http/index.js'
import {compareCodeUnits} from '../../plan/canonical.js'
import type {OpenMLDBClient, Reply} from './client.js'
import {mapLimit} from '../../util/map-limit.js'
import type {
  OpFacts,
  OpenMLDBLiveState,
  PartitionMetaFacts,
  TableFacts,
  TabletFacts,
  TabletTableStatus,
} from './types.js'

/** Op statuses that are still running: the nameserver will act on them. */
export const RUNNING_OP_STATUSES = new Set(['kInited', 'kDoing'])

/** A JSON integer (number or bigint) or numeric string as exact decimal; `dflt` when absent. */
export function decimal(v: unknown, dflt = '0'): string {
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number' && Number.isFinite(v)) return BigInt(Math.trunc(v)).toString()
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v).toString()
  return dflt
}

function int(v: unknown, dflt = 0): number {
  if (typeof v === 'number') return v
  if (typeof v === 'bigint') return Number(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v)
  return dflt
}

function str(v: unknown, dflt = ''): string {
  return typeof v === 'string' ? v : dflt
}

function list(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => x !== null && typeof x === 'object') : []
}

/** proto2 bool with a default: absent means `dflt` (json2pb omits defaults). */
function bool(v: unknown, dflt: boolean): boolean {
  return typeof v === 'boolean' ? v : dflt
}

/** ShowTable's `table_info` as {@link TableFacts}, sorted by db and name, partitions by pid. */
export function tablesOf(reply: Reply): TableFacts[] {
  const out: TableFacts[] = list(reply.table_info).map((t) => ({
    db: str(t.db),
    name: str(t.name),
    tid: int(t.tid),
    storage_mode: str(t.storage_mode, 'kMemory'),
    partitions: list(t.table_partition)
      .map((p): PartitionMetaFacts => ({
        pid: int(p.pid),
        replicas: list(p.partition_meta).map((m) => ({
          endpoint: str(m.endpoint),
          is_leader: bool(m.is_leader, false),
          is_alive: bool(m.is_alive, true),
          offset: decimal(m.offset),
        })),
      }))
      .sort((a, b) => a.pid - b.pid),
  }))
  return out.sort((a, b) => compareCodeUnits(a.db, b.db) || compareCodeUnits(a.name, b.name))
}

/** GetTableStatus's `all_table_status` (absent when the tablet holds nothing), sorted by tid and pid. */
export function tableStatusOf(reply: Reply): TabletTableStatus[] {
  return list(reply.all_table_status)
    .map((s) => ({
      tid: int(s.tid),
      pid: int(s.pid),
      offset: decimal(s.offset),
      mode: str(s.mode, 'kTableLeader'),
      state: str(s.state, 'kTableUndefined'),
    }))
    .sort((a, b) => a.tid - b.tid || a.pid - b.pid)
}

/** ShowOPStatus's `op_status`, sorted by op id. */
export function opsOf(reply: Reply): OpFacts[] {
  return list(reply.op_status)
    .map((o) => ({
      op_id: decimal(o.op_id),
      op_type: str(o.op_type),
      status: str(o.status),
      db: str(o.db),
      name: str(o.name),
      pid: int(o.pid),
      task_type: str(o.task_type, '-'),
    }))
    .sort((a, b) => compareDecimal(a.op_id, b.op_id))
}

/** Compares two non-negative decimal strings as numbers. */
export function compareDecimal(a: string, b: string): number {
  return a.length - b.length || compareCodeUnits(a, b)
}

/** ConfGet's `conf`: a JSON object (brpc maps a repeated key/value pair) or a list of `{key, value}`. */
export function confOf(reply: Reply): Record<string, string> {
  const conf = reply.conf
  const out: Record<string, string> = {}
  if (Array.isArray(conf)) {
    for (const p of list(conf)) out[str(p.key)] = str(p.value)
  } else if (conf !== null && typeof conf === 'object') {
    for (const [k, v] of Object.entries(conf as Record<string, unknown>)) out[k] = String(v)
  }
  return out
}

/** ShowTablet's `tablets`, as endpoint → state. */
export function tabletStatesOf(reply: Reply): Map<string, string> {
  const out = new Map<string, string>()
  for (const t of list(reply.tablets)) out.set(str(t.endpoint), str(t.state, 'kOffline'))
  return out
}

export interface GatherOptions {
  /** Tablets asked at once. */
  concurrency: number
  progress?: (message: string, count?: {done: number; total?: number; unit?: string}) => void
}

/** Reads everything the planner needs. */
export async function gatherOpenMLDB(client: OpenMLDBClient, opts: GatherOptions): Promise<OpenMLDBLiveState> {
  const [tabletReply, tableReply, confReply, opReply] = await Promise.all([
    client.ns('ShowTablet', {}),
    client.ns('ShowTable', {show_all: true}),
    client.ns('ConfGet', {}),
    client.ns('ShowOPStatus', {}),
  ])
  const states = tabletStatesOf(tabletReply)
  const tables = tablesOf(tableReply)
  const conf = confOf(confReply)
  const ops = opsOf(opReply)

  const endpoints = new Set(states.keys())
  for (const t of tables) for (const p of t.partitions) for (const r of p.replicas) endpoints.add(r.endpoint)
  const sorted = [...endpoints].sort(compareCodeUnits)
  const asking = `asking ${sorted.length} tablets for their table status`
  opts.progress?.(asking)
  let answered = 0
  const tick = (): void => opts.progress?.(asking, {done: ++answered, total: sorted.length, unit: 'tablets'})
  const factsOf = async (endpoint: string): Promise<TabletFacts> => {
    const state = states.get(endpoint) ?? 'unknown'
    if (state !== 'kHealthy') {
      return {
        endpoint,
        state,
        reachable: false,
        error: state === 'unknown' ? 'not listed by ShowTablet' : `ShowTablet says ${state}`,
        tables: [],
      }
    }
    try {
      return {
        endpoint,
        state,
        reachable: true,
        tables: tableStatusOf(await client.tablet(endpoint, 'GetTableStatus', {})),
      }
    } catch (err) {
      const timedOut = err instanceof HttpError && err.code === 'HTTP_TIMEOUT'
      return {
        endpoint,
        state,
        reachable: false,
        error: describeError(err).split('\n')[0],
        ...(timedOut ? {timed_out: true} : {}),
        tables: [],
      }
    }
  }
  const tablets = await mapLimit(sorted, opts.concurrency, (endpoint) => factsOf(endpoint).finally(tick))
  const lastOp = ops.length > 0 ? ops[ops.length - 1].op_id : '0'
  return {
    nameserver: client.nameserver ?? '',
    auto_failover: conf.auto_failover === 'true',
    tablets,
    tables,
    running_ops: ops.filter((o) => RUNNING_OP_STATUSES.has(o.status)),
    last_op_id: lastOp,
  }
}
