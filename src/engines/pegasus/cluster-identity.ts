/**
 * Which Pegasus cluster a spec is about, and where its apply lock lives: one definition for every
 * Pegasus engine, since a plan is refused against any cluster whose identity differs.
 */
import {hostLocalLock, zookeeperLock} from '../../apply/lock.js'
import type {ClusterIdentity} from '../../plan/types.js'
import type {PegasusCluster} from '../../spec/types.js'
import type {LockIo, LockProvider} from '../types.js'

/** A host list as one comparable string: trimmed, de-duplicated, sorted. */
function hostSet(hosts: string[]): string {
  return [...new Set(hosts.map((h) => h.trim()).filter(Boolean))].sort().join(',')
}

/** Name, ZooKeeper (hosts and root, when the spec has one) and meta servers (sorted). */
export function pegasusClusterIdentity(cluster: PegasusCluster): ClusterIdentity {
  const facts: ClusterIdentity['facts'] = []
  if (cluster.zookeeper)
    facts.push({
      name: 'zookeeper',
      label: 'ZooKeeper',
      value: `${hostSet(cluster.zookeeper.hosts.split(','))}${cluster.zookeeper.root}`,
    })
  if (cluster.meta_servers.length > 0)
    facts.push({name: 'meta_servers', label: 'endpoints', value: hostSet(cluster.meta_servers).replaceAll(',', ' ')})
  return {name: cluster.name, facts}
}

/** The lock file of a cluster without a ZooKeeper in its spec. */
export function pegasusLockFile(cluster: PegasusCluster): string {
  return `.lifeboat/locks/pegasus-${cluster.name.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`
}

/** The cluster's ZooKeeper (an ephemeral lock node), or a host-local lock file when the spec names none. */
export function pegasusLock(cluster: PegasusCluster, io: LockIo): LockProvider {
  if (cluster.zookeeper)
    return zookeeperLock(
      {hosts: cluster.zookeeper.hosts, root: cluster.zookeeper.root, auth: cluster.zookeeper.auth},
      cluster.name,
      io,
    )
  return hostLocalLock(pegasusLockFile(cluster))
}
