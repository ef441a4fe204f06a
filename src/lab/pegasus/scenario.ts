/**
 * A Pegasus lab scenario: its vocabulary (tables, faults, meta and replica flags), validated
 * against `schemas/lab/pegasus.schema.json` and then against what a real cluster could be.
 */
import {basename, extname} from 'node:path'

import type {MetaLevelName} from '../../engines/pegasus/wire/meta-level.js'
import {LifeboatError} from '../../errors.js'
import {checkScenarioSchema} from '../scenario-schema.js'
import {invalidEnvHint} from './app-env-rules.js'
import type {LabTable} from './cluster.js'

/** A table of a Pegasus scenario. */
export interface ScenarioTable {
  name: string
  app_id?: number
  partitions: number
  replicas?: number
  rows?: number
  dropped?: boolean
  envs?: Record<string, string>
}

/** A meta function level by name (Pegasus's `fl_*` without the prefix). */
export type {MetaLevelName} from '../../engines/pegasus/wire/meta-level.js'

/** A fault, in a scenario's `faults:` list or from `lifeboat lab fault`. */
export type FaultSpec =
  | {type: 'zk-loss'; root?: string}
  | {type: 'kill-node' | 'start-node' | 'hang-node'; node: string}
  | {type: 'remove-replica'; gpid: string; node: string}
  | {type: 'lose-partition'; gpid: string}
  | {
      type: 'ddd'
      gpids: string[]
      drops?: string[]
      decrees?: string[]
      dead?: string[]
      missing?: string[]
      uncollected?: string[]
      config_lcd?: number
    }
  | {type: 'meta-level'; level: MetaLevelName}
  | {type: 'restart-meta'; zk?: string; root?: string; recover?: boolean}

/** A Pegasus scenario, as validated. */
export interface PegasusScenario {
  engine: 'pegasus'
  name: string
  description?: string
  meta_servers: number
  replica_servers: number
  tables: ScenarioTable[]
  faults: FaultSpec[]
  meta: {
    cluster_root?: string
    lb_interval_ms?: number
    fd_grace_ms?: number
    meta_function_level_on_start?: MetaLevelName
    min_live_node_count_for_unfreeze?: number
    node_live_percentage_threshold_for_update?: number
    max_reserved_dropped_replicas?: number
    mutation_2pc_min_replica_count?: number
    replica_assign_delay_ms_for_dropouts?: number
    recovery_rpc_timeout_ms?: number
  }
  replica: {beacon_interval_ms?: number; config_sync_interval_ms?: number}
  /** ZooKeepers the lab runs: 2 adds one for a ZooKeeper migration's target (see ./migration.ts). */
  zookeepers?: 1 | 2
  /** Keep what an earlier lab left in ZooKeeper (default false: lab up starts from an empty one). */
  keep_zookeeper?: boolean
  /** Where the PegasusZkMigration specs the lab writes move the metadata (implied by `zookeepers: 2`). */
  migration_target?: {root?: string}
}

/** Validates a scenario document whose `engine:` is pegasus; every problem is LAB_SCENARIO_INVALID. */
export function parsePegasusScenario(doc: unknown, path: string): PegasusScenario {
  checkScenarioSchema(doc, path, 'pegasus.schema.json', [
    'See schemas/lab/pegasus.schema.json and docs/pegasus-lab.md for the vocabulary.',
  ])
  const raw = doc as Partial<PegasusScenario> & {engine: 'pegasus'}
  const scenario: PegasusScenario = {
    engine: raw.engine,
    name: raw.name ?? basename(path, extname(path)),
    description: raw.description,
    meta_servers: raw.meta_servers ?? 1,
    replica_servers: raw.replica_servers as number,
    tables: raw.tables ?? [],
    faults: raw.faults ?? [],
    meta: raw.meta ?? {},
    replica: raw.replica ?? {},
    zookeepers: raw.zookeepers ?? 1,
    keep_zookeeper: raw.keep_zookeeper ?? false,
    ...(raw.migration_target ? {migration_target: raw.migration_target} : {}),
  }
  checkSemantics(scenario, path)
  return scenario
}

/** What the schema cannot say: ids unique, replicas fit the nodes, live names unique. */
function checkSemantics(s: PegasusScenario, path: string): void {
  const problems: string[] = []
  const ids = new Map<number, number>()
  const liveNames = new Map<string, number>()
  s.tables.forEach((t, i) => {
    if (t.app_id !== undefined) {
      if (ids.has(t.app_id))
        problems.push(`/tables/${i}: app_id ${t.app_id} is also used by /tables/${ids.get(t.app_id)}`)
      ids.set(t.app_id, i)
    }
    if ((t.replicas ?? 3) > s.replica_servers)
      problems.push(
        `/tables/${i}: ${t.replicas ?? 3} replicas need at least as many replica servers (scenario has ${s.replica_servers})`,
      )
    // create_app validates its envs as set_app_envs does (app_env_validator).
    for (const [k, v] of Object.entries(t.envs ?? {})) {
      const hint = invalidEnvHint(k, v)
      if (hint) problems.push(`/tables/${i}/envs/${k}: ${hint}; Pegasus refuses the create`)
    }
    if (!t.dropped) {
      if (liveNames.has(t.name))
        problems.push(
          `/tables/${i}: a live table named "${t.name}" already exists (/tables/${liveNames.get(t.name)}); Pegasus refuses the second create`,
        )
      liveNames.set(t.name, i)
    }
  })
  // Pegasus creates a name only while no live table holds it, so a dropped table of a live
  // table's name was created (and dropped) first: its id must be the lower one.
  const assigned = assignTableIds(s.tables)
  assigned.forEach((t, i) => {
    if (!t.dropped) return
    const live = assigned.findIndex((x) => !x.dropped && x.name === t.name)
    if (live >= 0 && assigned[live].app_id < t.app_id) {
      problems.push(
        `/tables/${i}: the dropped table "${t.name}" (app_id ${t.app_id}) is newer than the live one (/tables/${live}, app_id ${assigned[live].app_id}); Pegasus refuses to create a name in use, so the dropped one must have the lower app_id`,
      )
    }
  })
  const target = s.migration_target?.root
  if (target !== undefined && (s.zookeepers ?? 1) === 1) {
    const source = s.meta.cluster_root ?? `/pegasus/${s.name}`
    const within = (a: string, b: string): boolean => a === b || a.startsWith(`${b.replace(/\/$/, '')}/`)
    if (within(target, source) || within(source, target))
      problems.push(
        `/migration_target/root: ${target} overlaps the cluster root ${source} on the same ZooKeeper (add zookeepers: 2, or choose a root outside it)`,
      )
  }
  if (problems.length > 0) {
    throw new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} is not a cluster Pegasus could have`, {
      detail: problems.join('\n'),
      hints: ['Fix the tables listed above.'],
    })
  }
}

/** Table ids: fixed ones first; then dropped tables (they predate any live table of the same name), then live ones. */
export function assignTableIds(tables: PegasusScenario['tables']): LabTable[] {
  const used = new Set(tables.filter((t) => t.app_id !== undefined).map((t) => t.app_id as number))
  let next = 1
  const take = (): number => {
    while (used.has(next)) next++
    used.add(next)
    return next
  }
  const ids = new Map<number, number>()
  tables.forEach((t, i) => t.app_id !== undefined && ids.set(i, t.app_id))
  tables.forEach((t, i) => t.app_id === undefined && t.dropped && ids.set(i, take()))
  tables.forEach((t, i) => t.app_id === undefined && !t.dropped && ids.set(i, take()))
  return tables.map((t, i) => ({
    app_id: ids.get(i) as number,
    name: t.name,
    partitions: t.partitions,
    replicas: t.replicas ?? 3,
    rows: t.rows ?? 0,
    dropped: t.dropped ?? false,
    ...(t.envs && Object.keys(t.envs).length > 0 ? {envs: sortedEnvs(t.envs)} : {}),
  }))
}

function sortedEnvs(envs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(envs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
