/**
 * What the TiKVUnsafeRecovery schema cannot express, checked on the document as written (before
 * defaults); quiet where the schema already complained. Run by the spec loader through the
 * engine's `checkSpec`.
 */
import {parseEndpoint} from '../../spec/host-port.js'
import {type SpecCheckResult, type SpecChecks, arr, obj} from '../../spec/semantic.js'
import {storeIdOf} from './spec.js'

/** Largest TiKV id: ids are uint64. */
const MAX_U64 = 18446744073709551615n

export async function checkTiKVUnsafeRecoverySpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, keyAt, skip, endpointList} = c
  const cluster = obj(c.data.cluster)
  const recovery = obj(c.data.recovery)
  endpointList('/cluster/pd', cluster?.pd, (s) => parseEndpoint(s))
  if (!recovery) return {}
  const stores = arr(recovery.failed_stores) ?? []
  const seen = new Map<string, string>()
  stores.forEach((raw, i) => {
    const p = `/recovery/failed_stores/${i}`
    if (skip(p)) return
    if (typeof raw === 'string' && /^[0-9]+$/.test(raw) && BigInt(raw) > MAX_U64) {
      add(
        'SCHEMA_RANGE',
        p,
        at(p),
        `store id ${raw} is larger than the largest uint64 id (${MAX_U64})`,
        'copy the id from `pd-ctl store`',
      )
      return
    }
    const id = storeIdOf(raw)
    if (id === undefined) return
    const first = seen.get(id)
    if (first !== undefined)
      add(
        'DUPLICATE_ENTRY',
        p,
        at(p),
        `store ${id} is listed twice`,
        `first listed on line ${at(first).line}; remove one`,
      )
    else seen.set(id, p)
  })
  const auto = recovery.auto_detect === true
  if (auto && stores.length > 0) {
    add(
      'CONTRADICTORY_OPTIONS',
      '/recovery/auto_detect',
      keyAt('/recovery/auto_detect'),
      'auto_detect is true and failed_stores is given',
      'give the failed store ids, or auto_detect: true (every store PD does not list as alive counts as failed), not both',
    )
  } else if (!auto && stores.length === 0 && !skip('/recovery/failed_stores')) {
    add(
      'SCHEMA_REQUIRED',
      '/recovery/failed_stores',
      keyAt('/recovery'),
      'recovery names no failed store',
      'list failed_stores: [4, 5] (ids from `pd-ctl store`), or set auto_detect: true',
    )
  }
  return {}
}
