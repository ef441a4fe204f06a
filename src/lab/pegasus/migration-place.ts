/**
 * Where a lab's metadata can move (issue 7), apart from the code that moves it (./migration.ts):
 * `lab status` formats this without loading the spec writer or the ZooKeeper starter.
 */
import type {PegasusLabLayout} from './cluster.js'

/** A ZooKeeper ensemble and a root in it. */
export interface ZkPlace {
  hosts: string
  root: string
}

/** What `lab.json` keeps about the migration (under `migration`). */
export interface LabMigration {
  /** Where the cluster's metadata was when the lab came up. */
  source: ZkPlace
  /** Where the specs move it. */
  target: ZkPlace
  /** The second ZooKeeper, when the scenario asked for one (always started by the lab). */
  zookeeper?: {hosts: string; pid: number; started_by_lab: true}
}

/**
 * Where the specs move the metadata now: to the target, or back to the source once the meta runs
 * at the target (so that a rewritten spec never points at the place the cluster already is).
 */
export function currentTarget(layout: Pick<PegasusLabLayout, 'zk_hosts' | 'cluster_root'>, m: LabMigration): ZkPlace {
  const atTarget = layout.zk_hosts === m.target.hosts && layout.cluster_root === m.target.root
  return atTarget ? m.source : m.target
}
