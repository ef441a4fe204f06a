/**
 * What the OpenMLDBRecovery schema cannot express, checked on the document as written (before
 * defaults); quiet where the schema already complained. Run by the spec loader through the
 * engine's `checkSpec`.
 */
import {type SpecCheckResult, type SpecChecks, obj} from '../../spec/semantic.js'

/** A JSON pointer segment (RFC 6901): `~` and `/` escaped. */
function segment(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

export async function checkOpenMLDBRecoverySpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, skip, endpointList, oneEndpoint, zookeeper} = c
  const cluster = obj(c.data.cluster)
  const recovery = obj(c.data.recovery)
  zookeeper('/cluster/zookeeper', cluster?.zookeeper)
  endpointList('/cluster/nameservers', cluster?.nameservers)
  if (!recovery) return {}
  const offline = endpointList('/recovery/offline_endpoints', recovery.offline_endpoints)
  const recovering = endpointList('/recovery/recover_endpoints', recovery.recover_endpoints)
  for (const [key, p] of recovering) {
    const first = offline.get(key)
    if (first === undefined || skip(p)) continue
    add(
      'CONTRADICTORY_OPTIONS',
      p,
      at(p),
      `${key} is both taken out (offline_endpoints, line ${at(first).line}) and recovered`,
      'a tablet is either taken out or brought back in one run: remove it from one list, and run the other operation in a second spec',
    )
  }
  const leaders = obj(recovery.leaders)
  for (const [key, value] of Object.entries(leaders ?? {})) {
    const p = `/recovery/leaders/${segment(key)}`
    if (typeof value === 'string' && value !== 'auto' && !skip(p)) oneEndpoint(p, value)
  }
  return {}
}
