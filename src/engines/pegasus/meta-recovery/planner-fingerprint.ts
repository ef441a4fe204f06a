/**
 * The observed fingerprint of a PegasusMetaRecovery plan: what the stale check compares. Pure.
 */
import {createHash} from 'node:crypto'

import {canonicalJson} from '../../../plan/canonical.js'
import {compareNatural} from '../../../plan/order.js'
import type {MetaRecoveryLive, MetaRecoveryNode} from './types.js'
import {PS_ERROR} from './planner-prediction.js'

/**
 * sha256 of every live fact apply depends on: where the meta runs (its ZooKeeper hosts and root)
 * and its level, what the prediction reads (node answers, app infos, each replica's gpid, ballot,
 * decrees and whether it is an error replica), never times or the statuses it ignores. Hashed incrementally: a canonical JSON string of 192,000 replicas would
 * cost more than the whole prediction.
 */
export function fingerprintOf(live: MetaRecoveryLive, nodes: string[]): string {
  const hash = createHash('sha256')
  hash.update(
    canonicalJson({
      // Where the meta runs and its level count as soon as the gather read them: a meta restarted
      // on another root would write the recovery there (absent in live states gathered before).
      meta: {
        recovering: live.meta.recovering,
        error: live.meta.error,
        ...(live.meta.zookeeper !== undefined ? {zookeeper: live.meta.zookeeper} : {}),
        ...(live.meta.level !== undefined ? {level: live.meta.level} : {}),
      },
      appsRoot: {
        path: live.appsRoot.path,
        exists: live.appsRoot.exists,
        data: live.appsRoot.data ?? null,
        children: live.appsRoot.children,
      },
      nodes,
    }),
  )
  const feed = (tag: string, list: MetaRecoveryNode[]) => {
    // By address, so that the order the gather happened to record them in does not count.
    for (const n of [...list].sort((a, b) => compareNatural(a.address, b.address))) {
      hash.update(`\n${tag} ${JSON.stringify([n.address, n.ip, n.ok, n.error ?? null])}\n`)
      let chunk = ''
      for (const a of n.apps) {
        // Every app_info field in IDL order; envs canonical (key order carries no meaning).
        chunk += `${JSON.stringify([
          a.status,
          a.app_type,
          a.app_name,
          a.app_id,
          a.partition_count,
          a.is_stateful,
          a.max_replica_count,
          a.expire_second,
          a.create_second,
          a.drop_second,
          a.duplicating ?? null,
          a.init_partition_count,
          a.is_bulk_loading ?? null,
          a.atomic_idempotent ?? null,
        ])}${canonicalJson(a.envs ?? {})};`
      }
      for (const r of n.replicas) {
        chunk += `${r.pid} ${r.ballot} ${r.last_committed_decree} ${r.last_prepared_decree} ${r.status === PS_ERROR ? 1 : 0};`
        if (chunk.length > 65536) {
          hash.update(chunk)
          chunk = ''
        }
      }
      hash.update(chunk)
    }
  }
  feed('node', live.nodes)
  feed('outside', live.outsideNodes ?? [])
  return hash.digest('hex')
}
