/**
 * What the OpenMLDBRecovery schema cannot express, checked on the document as written (before defaults);
 * quiet where the schema already complained. Run by the spec loader through the engine's `checkSpec`.
 */
import {type Obj, type SpecCheckResult, type SpecChecks, arr, obj} from '../../spec/semantic.js'

export async function checkOpenMLDBRecoverySpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, keyAt, skip, endpointList, oneEndpoint, zookeeper} = c
  const cluster = obj(c.data.cluster)
  const recovery = obj(c.data.recovery)
  zookeeper('/cluster/zookeeper', cluster?.zookeeper)
  endpointList('/cluster/nameservers', cluster?.nameservers)
  if (!recovery) return {}
  endpointList('/recovery/offline_endpoints', recovery.offline_endpoints)
  const recovering = endpointList('/recovery/recover_endpoints', recovery.recover_endpoints)
  const partitionKey = (o: Obj) => `${String(o.db)}\u0000${String(o.table)}\u0000${String(o.pid)}`
  const seenLeaders = new Map<string, string>()
  arr(recovery.change_leaders)?.forEach((item, i) => {
    const o = obj(item)
    const p = `/recovery/change_leaders/${i}`
    if (!o || skip(p)) return
    if (typeof o.candidate === 'string' && o.candidate !== 'auto') oneEndpoint(`${p}/candidate`, o.candidate)
    const k = partitionKey(o)
    const first = seenLeaders.get(k)
    if (first) add('DUPLICATE_ENTRY', p, at(p), `partition ${String(o.db)}.${String(o.table)} pid ${String(o.pid)} has two leader changes`, `first on line ${at(first).line}; keep one`)
    else seenLeaders.set(k, p)
  })
  const seenTables = new Map<string, string>()
  arr(recovery.recover_tables)?.forEach((item, i) => {
    const o = obj(item)
    const p = `/recovery/recover_tables/${i}`
    if (!o || skip(p)) return
    const ep = oneEndpoint(`${p}/endpoint`, o.endpoint)
    const k = `${partitionKey(o)}\u0000${ep ?? String(o.endpoint)}`
    const first = seenTables.get(k)
    if (first) add('DUPLICATE_ENTRY', p, at(p), `replica ${String(o.db)}.${String(o.table)} pid ${String(o.pid)} on ${String(o.endpoint)} is listed twice`, `first on line ${at(first).line}; keep one`)
    else seenTables.set(k, p)
  })
  if (recovery.need_restore === true && recovering.size === 0) {
    add('CONTRADICTORY_OPTIONS', '/recovery/need_restore', keyAt('/recovery/need_restore'), 'need_restore is set but recover_endpoints is empty',
      'need_restore only affects recover_endpoints', 'warning')
  }
  return {}
}
