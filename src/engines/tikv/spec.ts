/**
 * The TiKVUnsafeRecovery spec as the engine reads it: the loaded document normalised (defaults,
 * store ids as decimal strings, PD endpoints as `host:port`), plus the engine's own semantic checks.
 *
 * Store ids may be written as YAML integers (`[4, 5]`, as pd-ctl takes them) or, past 2^53, as
 * quoted decimal strings; both become exact decimal strings here.
 */
import {LifeboatError} from '../../errors.js'
import type {ClusterIdentity} from '../../plan/types.js'
import {compareId} from './keys.js'
import {DEFAULT_TIMEOUT_SECONDS, TIKV_KIND, type TiKVSpec} from './types.js'

const MAX_U64 = 18446744073709551615n

/** `http://10.0.0.1:2379/` → `10.0.0.1:2379`; undefined when no host:port is left. */
export function pdEndpoint(raw: string): string | undefined {
  const s = raw
    .trim()
    .replace(/^https?:\/\//, '')
    .replace(/\/+$/, '')
  return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s) ? s : undefined
}

/** A store id as written in the spec, as a decimal string; undefined when it is not a uint64 above 0. */
export function storeIdOf(raw: unknown): string | undefined {
  let s: string | undefined
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) s = String(raw)
  else if (typeof raw === 'bigint') s = raw.toString()
  else if (typeof raw === 'string' && /^[0-9]+$/.test(raw.trim())) s = raw.trim()
  if (s === undefined) return undefined
  const n = BigInt(s)
  return n > 0n && n <= MAX_U64 ? n.toString() : undefined
}

function bad(message: string, hint: string): LifeboatError {
  return new LifeboatError('SPEC_INVALID', `TiKVUnsafeRecovery spec: ${message}`, {hints: [hint]})
}

/** The loaded spec document as a {@link TiKVSpec}. Throws SPEC_INVALID on what the schema cannot catch. */
export function toTiKVSpec(doc: unknown): TiKVSpec {
  const d = (doc ?? {}) as Record<string, unknown>
  const cluster = (d.cluster ?? {}) as Record<string, unknown>
  const recovery = (d.recovery ?? {}) as Record<string, unknown>
  const meta = (d.metadata ?? {}) as Record<string, unknown>
  const rawPd = (Array.isArray(cluster.pd) ? cluster.pd : []) as unknown[]
  const pd: string[] = []
  for (const e of rawPd) {
    const ep = typeof e === 'string' ? pdEndpoint(e) : undefined
    if (ep === undefined)
      throw bad(
        `PD endpoint ${JSON.stringify(e)} is not host:port`,
        'Write cluster.pd as a list of PD client addresses, e.g. [10.0.0.1:2379].',
      )
    if (!pd.includes(ep)) pd.push(ep)
  }
  if (pd.length === 0)
    throw bad(
      'cluster.pd lists no PD endpoint',
      'Write cluster.pd as a list of PD client addresses, e.g. [10.0.0.1:2379].',
    )
  const stores: string[] = []
  for (const raw of (Array.isArray(recovery.failed_stores) ? recovery.failed_stores : []) as unknown[]) {
    const id = storeIdOf(raw)
    if (id === undefined)
      throw bad(
        `failed store ${JSON.stringify(raw)} is not a store id`,
        'Store ids are positive integers up to 2^64-1, as `pd-ctl store` lists them.',
      )
    if (!stores.includes(id)) stores.push(id)
  }
  stores.sort(compareId)
  const auto = recovery.auto_detect === true
  if (auto && stores.length > 0) {
    throw bad(
      'auto_detect is true and failed_stores is given',
      'Give the failed store ids, or auto_detect: true, not both.',
    )
  }
  if (!auto && stores.length === 0) {
    throw bad(
      'recovery names no failed store',
      'List failed_stores: [4, 5] (ids from `pd-ctl store`), or set auto_detect: true.',
    )
  }
  const spec: TiKVSpec = {
    apiVersion: typeof d.apiVersion === 'string' ? d.apiVersion : 'lifeboat/v1',
    kind: TIKV_KIND,
    metadata: {name: String(meta.name ?? ''), ...(typeof meta.ticket === 'string' ? {ticket: meta.ticket} : {})},
    cluster: {name: String(cluster.name ?? ''), pd},
    recovery: {
      failed_stores: stores,
      auto_detect: auto,
      timeout_seconds:
        typeof recovery.timeout_seconds === 'number' ? recovery.timeout_seconds : DEFAULT_TIMEOUT_SECONDS,
      skip_lost_partitions: recovery.skip_lost_partitions === true,
    },
  }
  if (typeof recovery.plan_execution_timeout_seconds === 'number')
    spec.recovery.plan_execution_timeout_seconds = recovery.plan_execution_timeout_seconds
  if (d.approval !== undefined) spec.approval = d.approval as TiKVSpec['approval']
  return spec
}

/** The cluster a plan is for: its name and its PD endpoints (sorted). */
export function tikvClusterIdentity(spec: TiKVSpec): ClusterIdentity {
  return {name: spec.cluster.name, facts: [{name: 'pd', label: 'PD', value: [...spec.cluster.pd].sort().join(',')}]}
}
