/**
 * What the PegasusDddRecovery schema cannot express, checked on the document as written (before defaults);
 * quiet where the schema already complained. Run by the spec loader through the engine's `checkSpec`.
 */
import {isMap, isPair, isScalar} from 'yaml'

import {type SpecCheckResult, type SpecChecks, obj} from '../../../spec/semantic.js'
import {joinPointer, locate} from '../../../spec/positions.js'

export async function checkDddRecoverySpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, keyAt, skip, endpointList, oneEndpoint, zookeeper, doc, lc} = c
  const cluster = obj(c.data.cluster)
  const recovery = obj(c.data.recovery)
  endpointList('/cluster/meta_servers', cluster?.meta_servers)
  zookeeper('/cluster/zookeeper', cluster?.zookeeper)
  if (!recovery) return {}
  const primaries = obj(recovery.primaries)
  const mapNode = locate(doc, '/recovery/primaries').node
  if (isMap(mapNode)) {
    for (const pair of mapNode.items) {
      if (isPair(pair) && isScalar(pair.key) && typeof pair.key.value === 'number' && pair.key.range) {
        const written = pair.key.source ?? String(pair.key.value)
        const p = `/recovery/primaries${joinPointer([String(pair.key.value)])}`
        add(
          'SCHEMA_TYPE',
          p,
          lc.linePos(pair.key.range[0]),
          `partition ${written} must be quoted`,
          `write "${written}": unquoted, YAML reads it as the number ${String(pair.key.value)}`,
        )
        c.markReported(p)
      }
    }
  }
  const gpids = recovery.gpids
  for (const [gpid, node] of Object.entries(primaries ?? {})) {
    const p = `/recovery/primaries${joinPointer([gpid])}`
    if (skip(p)) continue
    oneEndpoint(p, node)
    const appId = Number(gpid.split('.')[0])
    if (Array.isArray(gpids) && gpids.every((g) => typeof g === 'string') && !gpids.includes(gpid)) {
      add(
        'CONTRADICTORY_OPTIONS',
        p,
        keyAt(p),
        `primaries overrides partition ${gpid}, which gpids does not include`,
        `add "${gpid}" to recovery.gpids, or remove the override`,
      )
    } else if (typeof gpids === 'number' && Number.isInteger(gpids) && appId !== gpids) {
      add(
        'CONTRADICTORY_OPTIONS',
        p,
        keyAt(p),
        `primaries overrides partition ${gpid}, outside table ${gpids} named by gpids`,
        'gpids restricts the recovery to one table; the override would never apply',
      )
    }
  }
  if (
    recovery.auto_diagnose === false &&
    (recovery.undecided ?? 'skip') === 'skip' &&
    Object.keys(primaries ?? {}).length === 0
  ) {
    add(
      'NO_EFFECT',
      '/recovery/auto_diagnose',
      at('/recovery/auto_diagnose'),
      'with auto_diagnose false, no primaries and undecided "skip", the recovery assigns no primary',
      'set auto_diagnose: true, or name primaries, or set undecided: max_last_prepared',
      'warning',
    )
  }
  return {}
}
