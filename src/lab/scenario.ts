/**
 * Lab scenarios: YAML files validated against `schemas/lab-scenario.schema.json`, either a built-in
 * (`src/lab/scenarios/<name>.yaml`, by name) or any path.
 */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {basename, extname, join, resolve} from 'node:path'

import Ajv2020 from 'ajv/dist/2020.js'
import {parseDocument} from 'yaml'

import {LifeboatError} from '../errors.js'
import {packageRoot} from '../package-root.js'

// bench/*-apply.bench.ts find the binary through it here.

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
export type MetaLevelName = 'stopped' | 'blind' | 'freezed' | 'steady' | 'lively'

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
  /** ZooKeepers the lab runs: 2 adds one for a ZooKeeper migration's target (see ./pegasus/migration.ts). */
  zookeepers?: 1 | 2
  /** Where the PegasusZkMigration specs the lab writes move the metadata (implied by `zookeepers: 2`). */
  migration_target?: {root?: string}
}

/** A loaded scenario and where it came from. */
export interface LoadedScenario {
  scenario: PegasusScenario
  /** Absolute path of the file. */
  path: string
  /** The built-in name, when it is one. */
  builtin?: string
}

/** Where the built-in scenarios are. */
export function builtinScenarioDir(): string {
  return join(packageRoot(), 'src', 'lab', 'scenarios')
}

/** Names of the built-in scenarios. */
export function builtinScenarios(): string[] {
  try {
    return readdirSync(builtinScenarioDir())
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => basename(f, '.yaml'))
      .sort()
  } catch {
    return []
  }
}

let validator: ((data: unknown) => boolean) & {errors?: {instancePath: string; message?: string; params?: Record<string, unknown>}[] | null} | undefined

function validate(data: unknown): string[] {
  if (!validator) {
    const schema = JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'lab-scenario.schema.json'), 'utf8')) as object
    const Ajv = Ajv2020 as unknown as new (opts: object) => {compile(schema: object): typeof validator}
    validator = new Ajv({allErrors: true, strict: false}).compile(schema)
  }
  const v = validator as NonNullable<typeof validator>
  if (v(data)) return []
  const seen = new Set<string>()
  const out: string[] = []
  for (const e of v.errors ?? []) {
    // if/then wrappers repeat the real error: keep the informative ones.
    if (e.message === 'must match "then" schema') continue
    const extra = e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''
    const line = `${e.instancePath || '/'}: ${e.message ?? 'is invalid'}${extra}`
    if (!seen.has(line)) {
      seen.add(line)
      out.push(line)
    }
  }
  return out
}

/** Loads a scenario by built-in name or path; every problem is a LifeboatError with hints. */
export function loadScenario(nameOrPath: string, cwd = process.cwd()): LoadedScenario {
  const builtins = builtinScenarios()
  let path: string
  let builtin: string | undefined
  const asPath = resolve(cwd, nameOrPath)
  if (existsSync(asPath)) {
    path = asPath
  } else if (builtins.includes(nameOrPath)) {
    path = join(builtinScenarioDir(), `${nameOrPath}.yaml`)
    builtin = nameOrPath
  } else {
    throw new LifeboatError('LAB_SCENARIO_NOT_FOUND', `scenario "${nameOrPath}" is neither a file nor a built-in scenario`, {
      hints: [`Built-in scenarios: ${builtins.join(', ') || '(none found)'}.`, 'Or give the path of a scenario YAML file.'],
    })
  }
  const text = readFileSync(path, 'utf8')
  const doc = parseDocument(text)
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const where = e.linePos ? `${path}:${e.linePos[0].line}:${e.linePos[0].col}` : path
    throw new LifeboatError('LAB_SCENARIO_INVALID', `${where}: ${e.message.split('\n')[0]}`, {hints: ['Fix the YAML syntax of the scenario.']})
  }
  const data = doc.toJS() as unknown
  const problems = validate(data)
  if (problems.length > 0) {
    throw new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} does not match the lab scenario schema`, {
      detail: problems.join('\n'),
      hints: ['See schemas/lab-scenario.schema.json and docs/pegasus-lab.md for the vocabulary.'],
    })
  }
  const raw = data as Partial<PegasusScenario> & {engine: 'pegasus'}
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
    ...(raw.migration_target ? {migration_target: raw.migration_target} : {}),
  }
  checkSemantics(scenario, path)
  return {scenario, path, builtin}
}

/** What the schema cannot say: ids unique, replicas fit the nodes, live names unique. */
function checkSemantics(s: PegasusScenario, path: string): void {
  const problems: string[] = []
  const ids = new Map<number, number>()
  const liveNames = new Map<string, number>()
  s.tables.forEach((t, i) => {
    if (t.app_id !== undefined) {
      if (ids.has(t.app_id)) problems.push(`/tables/${i}: app_id ${t.app_id} is also used by /tables/${ids.get(t.app_id)}`)
      ids.set(t.app_id, i)
    }
    if ((t.replicas ?? 3) > s.replica_servers) problems.push(`/tables/${i}: ${t.replicas ?? 3} replicas need at least as many replica servers (scenario has ${s.replica_servers})`)
    if (!t.dropped) {
      if (liveNames.has(t.name)) problems.push(`/tables/${i}: a live table named "${t.name}" already exists (/tables/${liveNames.get(t.name)}); Pegasus refuses the second create`)
      liveNames.set(t.name, i)
    }
  })
  const target = s.migration_target?.root
  if (target !== undefined && (s.zookeepers ?? 1) === 1) {
    const source = s.meta.cluster_root ?? `/pegasus/${s.name}`
    const within = (a: string, b: string): boolean => a === b || a.startsWith(`${b.replace(/\/$/, '')}/`)
    if (within(target, source) || within(source, target)) problems.push(`/migration_target/root: ${target} overlaps the cluster root ${source} on the same ZooKeeper (add zookeepers: 2, or choose a root outside it)`)
  }
  if (problems.length > 0) {
    throw new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} is not a cluster Pegasus could have`, {
      detail: problems.join('\n'),
      hints: ['Fix the tables listed above.'],
    })
  }
}
