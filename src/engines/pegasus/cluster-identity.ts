/**
 * Which Pegasus cluster a spec is about, and where its apply lock lives: one definition for every
 * Pegasus engine, since a plan is refused against any cluster whose identity differs.
 */
import type {ClusterIdentity} from '../../plan/types.js'
import type {PegasusCluster} from '../../spec/types.js'
import type {Engine} from '../types.js'

/** Name, ZooKeeper (hosts and root, when the spec has one) and meta servers (sorted). */
export function pegasusClusterIdentity(cluster: PegasusCluster): ClusterIdentity {
  const id: ClusterIdentity = {name: cluster.name, endpoints: [...cluster.meta_servers].sort()}
  if (cluster.zookeeper) id.zookeeper = {hosts: cluster.zookeeper.hosts, root: cluster.zookeeper.root}
  return id
}

/** The cluster's ZooKeeper (an ephemeral lock node), or a lock file named after the cluster when it has none. */
export function pegasusLockTarget(cluster: PegasusCluster): ReturnType<Engine['lockTarget']> {
  if (cluster.zookeeper) return {zookeeper: {hosts: cluster.zookeeper.hosts, root: cluster.zookeeper.root, auth: cluster.zookeeper.auth}}
  return {file: `.lifeboat/locks/pegasus-${cluster.name.replace(/[^A-Za-z0-9._-]/g, '_')}.lock`}
}
