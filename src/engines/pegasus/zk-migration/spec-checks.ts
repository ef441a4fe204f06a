/**
 * What the PegasusZkMigration schema cannot express, checked on the document as written (before defaults);
 * quiet where the schema already complained. Run by the spec loader through the engine's `checkSpec`.
 */
import {type SpecCheckResult, type SpecChecks, obj} from '../../../spec/semantic.js'

export async function checkZkMigrationSpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, keyAt, endpointList, zookeeper} = c
  const cluster = obj(c.data.cluster)
  endpointList('/cluster/meta_servers', cluster?.meta_servers)
  const source = zookeeper('/cluster/zookeeper', cluster?.zookeeper)
  const migration = obj(c.data.migration)
  if (!migration) return {}
  const target = zookeeper('/migration/target', migration.target)
  if (source && target) {
    const sameEnsemble = source.hosts.some((h) => target.hosts.includes(h))
    const inside = (a: string, b: string) => a === '/' || b === a || b.startsWith(`${a}/`)
    if (sameEnsemble && source.root === target.root) {
      add(
        'CONTRADICTORY_OPTIONS',
        '/migration/target',
        keyAt('/migration/target'),
        'the migration target is the source itself (same ZooKeeper and root)',
        'point migration.target at another ZooKeeper, or at another root',
      )
    } else if (sameEnsemble && (inside(source.root, target.root) || inside(target.root, source.root))) {
      add(
        'CONTRADICTORY_OPTIONS',
        '/migration/target/root',
        at('/migration/target/root'),
        `on the same ZooKeeper, target root ${target.root} and source root ${source.root} contain one another`,
        'a tree cannot be copied into itself; choose roots that do not nest',
      )
    }
  }
  if (migration.method === 'recovery' && migration.ignore_ephemeral !== undefined) {
    add(
      'CONTRADICTORY_OPTIONS',
      '/migration/ignore_ephemeral',
      keyAt('/migration/ignore_ephemeral'),
      'ignore_ephemeral applies to the copy method only',
      'remove it, or use method: copy',
      'warning',
    )
  }
  if (migration.method === 'copy' && migration.wait_seconds !== undefined) {
    add(
      'CONTRADICTORY_OPTIONS',
      '/migration/wait_seconds',
      keyAt('/migration/wait_seconds'),
      'wait_seconds applies to the recovery method only',
      'remove it, or use method: recovery',
      'warning',
    )
  }
  return {}
}
