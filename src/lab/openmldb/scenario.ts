/**
 * OpenMLDB lab scenarios (`engine: openmldb`), checked in code: servers, timings, tables and the
 * faults applied once the lab is up.
 */
import {basename} from 'node:path'

import {LifeboatError} from '../../errors.js'

export interface OpenMLDBScenarioTable {
  name: string
  db: string
  partitions: number
  replicas: number
  rows: number
}

/** A fault, from a scenario's `faults:` or `lab fault`. Tablets and nameservers by name or endpoint. */
export type OpenMLDBFault =
  | {type: 'kill-tablet' | 'start-tablet' | 'restart-tablet' | 'hang-tablet' | 'resume-tablet'; tablet: string}
  | {type: 'kill-nameserver' | 'start-nameserver'; nameserver?: string}
  | {type: 'lag'; replica: string; offset: number}
  | {type: 'snapshot'; replica: string; offset?: number; binlog_start?: number}
  | {type: 'auto-failover'; on: boolean}
  | {type: 'restart-all'}
  /** Scenario only: waits until the leader nameserver has no op queued and no failover pending. */
  | {type: 'settle'}

export interface OpenMLDBScenario {
  engine: 'openmldb'
  name: string
  description?: string
  nameservers: number
  tablets: number
  /** The cluster's ZooKeeper root; unset: each lab picks its own (`/openmldb/<name>-<random>`). */
  zk_root?: string
  auto_failover: boolean
  settings: {
    task_ms: number
    load_ms: number
    tablet_heartbeat_timeout_ms: number
    table_status_interval_ms: number
    task_concurrency: number
  }
  tables: OpenMLDBScenarioTable[]
  faults: OpenMLDBFault[]
}

const DEFAULT_SETTINGS: OpenMLDBScenario['settings'] = {
  task_ms: 20,
  load_ms: 100,
  tablet_heartbeat_timeout_ms: 1000,
  table_status_interval_ms: 300,
  task_concurrency: 2,
}

const TOP_KEYS = new Set([
  'engine',
  'name',
  'description',
  'nameservers',
  'tablets',
  'zk_root',
  'auto_failover',
  'settings',
  'tables',
  'faults',
])
const FAULTS = new Set([
  'kill-tablet',
  'start-tablet',
  'restart-tablet',
  'hang-tablet',
  'resume-tablet',
  'kill-nameserver',
  'start-nameserver',
  'lag',
  'snapshot',
  'auto-failover',
  'restart-all',
  'settle',
])

/** Validates an `engine: openmldb` scenario document. */
export function parseOpenMLDBScenario(doc: unknown, path: string): OpenMLDBScenario {
  const problems: string[] = []
  const bad = (where: string, what: string) => problems.push(`${where}: ${what}`)
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalid(path, ['/: must be a mapping'])
  const d = doc as Record<string, unknown>
  for (const k of Object.keys(d)) if (!TOP_KEYS.has(k)) bad(`/${k}`, 'is not a scenario key')
  const int = (v: unknown, where: string, min: number, max: number, dflt?: number): number => {
    if (v === undefined && dflt !== undefined) return dflt
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      bad(where, `must be an integer from ${min} to ${max}`)
      return dflt ?? min
    }
    return v
  }
  const str = (v: unknown, where: string, pattern = /^[A-Za-z0-9_.-]+$/): string => {
    if (typeof v !== 'string' || !pattern.test(v)) {
      bad(where, `must be a name (${pattern.source})`)
      return ''
    }
    return v
  }
  if (d.engine !== 'openmldb') bad('/engine', 'must be openmldb')
  // The name defaults to the scenario file's name.
  const name = d.name === undefined ? str(basename(path).replace(/\.ya?ml$/, ''), '/name') : str(d.name, '/name')
  const tablets = int(d.tablets, '/tablets', 1, 200, 3)
  const nameservers = int(d.nameservers, '/nameservers', 1, 9, 2)
  const zkRoot = d.zk_root === undefined ? undefined : str(d.zk_root, '/zk_root', /^\/[A-Za-z0-9_./-]*[A-Za-z0-9_-]$/)
  if (d.auto_failover !== undefined && typeof d.auto_failover !== 'boolean')
    bad('/auto_failover', 'must be true or false')
  const settings = {...DEFAULT_SETTINGS}
  if (d.settings !== undefined) {
    if (!d.settings || typeof d.settings !== 'object') bad('/settings', 'must be a mapping')
    else {
      for (const [k, v] of Object.entries(d.settings)) {
        if (!(k in DEFAULT_SETTINGS))
          bad(`/settings/${k}`, `is not a setting (${Object.keys(DEFAULT_SETTINGS).join(', ')})`)
        else
          settings[k as keyof typeof settings] = int(
            v,
            `/settings/${k}`,
            k === 'task_concurrency' ? 1 : 0,
            k === 'task_concurrency' ? 8 : 600_000,
          )
      }
    }
  }
  const tables: OpenMLDBScenarioTable[] = []
  if (!Array.isArray(d.tables) || d.tables.length === 0) bad('/tables', 'must list at least one table')
  else {
    const seen = new Set<string>()
    d.tables.forEach((t: unknown, k: number) => {
      const w = `/tables/${k}`
      if (!t || typeof t !== 'object') return bad(w, 'must be a mapping')
      const x = t as Record<string, unknown>
      for (const key of Object.keys(x))
        if (!['name', 'db', 'partitions', 'replicas', 'rows'].includes(key)) bad(`${w}/${key}`, 'is not a table key')
      const table = {
        name: str(x.name, `${w}/name`, /^[A-Za-z_][A-Za-z0-9_]*$/),
        db: x.db === undefined ? 'demo_db' : str(x.db, `${w}/db`, /^[A-Za-z_][A-Za-z0-9_]*$/),
        partitions: int(x.partitions, `${w}/partitions`, 1, 4096, 8),
        replicas: int(x.replicas, `${w}/replicas`, 1, 10, Math.min(3, tablets)),
        rows: int(x.rows, `${w}/rows`, 0, 1_000_000, 100),
      }
      if (table.replicas > tablets) bad(`${w}/replicas`, `is more than the ${tablets} tablets`)
      if (seen.has(`${table.db}.${table.name}`)) bad(`${w}/name`, `${table.db}.${table.name} is listed twice`)
      seen.add(`${table.db}.${table.name}`)
      tables.push(table)
    })
  }
  const faults: OpenMLDBFault[] = []
  if (d.faults !== undefined && !Array.isArray(d.faults)) bad('/faults', 'must be a list')
  for (const [k, f] of ((d.faults as unknown[] | undefined) ?? []).entries()) {
    const w = `/faults/${k}`
    const x = f as Record<string, unknown>
    if (!x || typeof x !== 'object' || typeof x.fault !== 'string' || !FAULTS.has(x.fault)) {
      bad(`${w}/fault`, `must be one of ${[...FAULTS].join(', ')}`)
      continue
    }
    try {
      faults.push(faultFromObject(x))
    } catch (err) {
      bad(w, err instanceof Error ? err.message : String(err))
    }
  }
  if (problems.length > 0) throw invalid(path, problems)
  return {
    engine: 'openmldb',
    name,
    ...(typeof d.description === 'string' ? {description: d.description} : {}),
    nameservers,
    tablets,
    ...(zkRoot === undefined ? {} : {zk_root: zkRoot}),
    auto_failover: d.auto_failover === true,
    settings,
    tables,
    faults,
  }
}

function faultFromObject(x: Record<string, unknown>): OpenMLDBFault {
  switch (x.fault) {
    case 'kill-tablet':
    case 'start-tablet':
    case 'restart-tablet':
    case 'hang-tablet':
    case 'resume-tablet':
      if (typeof x.tablet !== 'string') throw new Error('needs tablet: NAME')
      return {type: x.fault, tablet: x.tablet}
    case 'kill-nameserver':
    case 'start-nameserver':
      return {type: x.fault, ...(typeof x.nameserver === 'string' ? {nameserver: x.nameserver} : {})}
    case 'lag':
      if (typeof x.replica !== 'string' || typeof x.offset !== 'number')
        throw new Error('needs replica: TABLE/PID@TABLET and offset: N')
      return {type: 'lag', replica: x.replica, offset: x.offset}
    case 'snapshot':
      if (
        typeof x.replica !== 'string' ||
        (x.offset !== undefined && typeof x.offset !== 'number') ||
        (x.binlog_start !== undefined && typeof x.binlog_start !== 'number')
      )
        throw new Error('needs replica: TABLE/PID@TABLET, and takes offset: N and binlog_start: N')
      return {
        type: 'snapshot',
        replica: x.replica,
        ...(x.offset === undefined ? {} : {offset: x.offset as number}),
        ...(x.binlog_start === undefined ? {} : {binlog_start: x.binlog_start as number}),
      }
    case 'auto-failover':
      if (typeof x.on !== 'boolean') throw new Error('needs on: true|false')
      return {type: 'auto-failover', on: x.on}
    case 'restart-all':
      return {type: 'restart-all'}
    default:
      return {type: 'settle'}
  }
}

function invalid(path: string, problems: string[]): LifeboatError {
  return new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} is not a valid OpenMLDB lab scenario`, {
    detail: problems.join('\n'),
    hints: [
      'See docs/openmldb-lab.md for the keys of an OpenMLDB scenario and src/lab/scenarios/openmldb-*.yaml for examples.',
    ],
  })
}
