/**
 * What the TiKVUnsafeRecovery schema cannot express, checked on the document as written (before defaults);
 * quiet where the schema already complained. Run by the spec loader through the engine's `checkSpec`.
 */
import {type SpecCheckResult, type SpecChecks, arr, obj} from '../../spec/semantic.js'
import {parseEndpoint} from '../../spec/host-port.js'

/** Largest TiKV id: ids are uint64. */
const MAX_U64 = 18446744073709551615n

export async function checkTiKVUnsafeRecoverySpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, keyAt, skip, endpointList} = c
  const cluster = obj(c.data.cluster)
  const recovery = obj(c.data.recovery)
  endpointList('/cluster/pd_endpoints', cluster?.pd_endpoints, parseEndpoint)
  if (!recovery) return {}
  const stores = arr(recovery.failed_stores) ?? []
  stores.forEach((id, i) => {
    const p = `/recovery/failed_stores/${i}`
    if (typeof id === 'string' && /^[0-9]+$/.test(id) && !skip(p) && BigInt(id) > MAX_U64) {
      add('SCHEMA_RANGE', p, at(p), `store id ${id} is larger than the largest uint64 id (${MAX_U64})`, 'copy the id from `pd-ctl store`')
    }
  })
  const auto = recovery.auto_detect === true
  if (auto && stores.length > 0) {
    add('CONTRADICTORY_OPTIONS', '/recovery/auto_detect', keyAt('/recovery/auto_detect'), 'auto_detect is true and failed_stores is given',
      'give the failed store ids, or auto_detect: true (every store PD does not see as alive counts as failed), not both')
  } else if (!auto && stores.length === 0 && !skip('/recovery/failed_stores')) {
    add('SCHEMA_REQUIRED', '/recovery/failed_stores', keyAt('/recovery'), 'recovery names no failed store',
      'list failed_stores: ["4", "5"] (ids from `pd-ctl store`), or set auto_detect: true')
  }
  return {}
}
