/**
 * The lab's side of a ZooKeeper migration (issue 7): a scenario that declares `zookeepers: 2` (or a
 * `migration_target`) gets a second, empty ZooKeeper (or root) as the place its metadata can move
 * to, and two ready PegasusZkMigration specs, one per method, with the real endpoints. The lab's
 * meta plays the operator's part with `lab fault restart-meta --zk ... --root ... [--recover]`.
 */
import {rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {stringify} from 'yaml'

import type {PegasusScenario} from './scenario.js'
import {startZooKeeper, type RunningZooKeeper} from '../zookeeper/server.js'
import type {PegasusLabLayout} from './cluster.js'
import {currentTarget, type LabMigration} from './migration-place.js'
import {specCluster, specDir} from './specs.js'

/** Spec names (files `<state-dir>/specs/<name>.yaml`). */
export const MIGRATION_SPECS = {copy: 'pegasus-zk-migration-copy', recovery: 'pegasus-zk-migration-recovery'} as const

/** Whether the scenario asks for a migration target. */
export function wantsMigration(s: PegasusScenario): boolean {
  return (s.zookeepers ?? 1) === 2 || s.migration_target !== undefined
}

/** The target root: as declared, else `/pegasus/<name>` on a second ZooKeeper or `/pegasus/<name>_target` on the same one. */
export function migrationTargetRoot(s: PegasusScenario): string {
  return s.migration_target?.root ?? ((s.zookeepers ?? 1) === 2 ? `/pegasus/${s.name}` : `/pegasus/${s.name}_target`)
}

/**
 * Starts the second ZooKeeper in `<stateDir>/zookeeper-target`, emptied first: a lab brought up
 * again in the same state directory must not find the tree an earlier migration copied there.
 */
export async function startTargetZooKeeper(stateDir: string, heap = '256m'): Promise<RunningZooKeeper> {
  const dir = join(stateDir, 'zookeeper-target')
  rmSync(dir, {recursive: true, force: true})
  return startZooKeeper({dir, heap})
}

/** Writes the two PegasusZkMigration specs for the lab's current endpoints; returns {spec name: path}. */
export function writeMigrationSpecs(
  stateDir: string,
  layout: PegasusLabLayout,
  m: LabMigration,
): Record<string, string> {
  const dir = specDir(stateDir)
  const target = currentTarget(layout, m)
  const cluster = specCluster(layout)
  const out: Record<string, string> = {}
  for (const method of ['copy', 'recovery'] as const) {
    const spec = {
      apiVersion: 'lifeboat/v1',
      kind: 'PegasusZkMigration',
      metadata: {name: `${layout.cluster_name}-zk-migration-${method}`, ticket: 'LAB'},
      cluster,
      migration: {
        method,
        target,
        ...(method === 'copy' ? {ignore_ephemeral: true} : {}),
        remove_source_after: false,
        ...(method === 'recovery' ? {wait_seconds: 100} : {}),
      },
    }
    const path = join(dir, `${MIGRATION_SPECS[method]}.yaml`)
    writeFileSync(
      path,
      `# Written by lifeboat lab for the lab's current endpoints: move the metadata from ${cluster.zookeeper.hosts} ${cluster.zookeeper.root}\n` +
        `# to ${target.hosts} ${target.root} (${method} method). The lab plays the operator's part at the manual steps:\n` +
        `#   lifeboat lab fault restart-meta --zk ${target.hosts} --root ${target.root}${method === 'recovery' ? ' --recover   (then --no-recover)' : ''}\n` +
        stringify(spec),
    )
    out[MIGRATION_SPECS[method]] = path
  }
  return out
}
