/**
 * TiKV lab scenarios (`engine: tikv`): stores, tables with rows, the region layout (explicit, or
 * generated for scale), lagging peers, the faults applied at `lab up`, and timings. Checked here in
 * code: every problem names the file and the field.
 */
import {LifeboatError} from '../../errors.js'

/** Where a region starts: the key space's start, the meta keys, or a table (optionally at a handle). */
export type RegionStart = '' | 'meta' | {table: number; handle?: number}

export interface ScenarioRegion {
  start: RegionStart
  /** Stores of the voters, the first one leads. */
  voters: number[]
  /** Stores of (TiKV or TiFlash) learners. */
  learners?: number[]
}

export type TikvFault =
  | {type: 'kill-store'; store: number; down_for_seconds?: number}
  | {type: 'start-store'; store: number}
  | {type: 'lag-peer'; region: number; store: number; index: number}
  | {type: 'restart-pd'}
  | {type: 'split'; region: number; table: number; handle?: number}
  | {type: 'merge'; source: number; target: number}

export interface TikvScenario {
  engine: 'tikv'
  name: string
  description?: string
  /** TiKV stores, ids 1..stores. */
  stores: number
  /** TiFlash stores, ids after the TiKV ones (label engine=tiflash). */
  tiflash_stores: number
  replicas: number
  tables: {id: number; name: string; rows: number}[]
  /** Explicit layout, in key order; the first starts at "". */
  regions?: ScenarioRegion[]
  /** Generated layout: this many regions, split evenly over the tables, peers round-robin. */
  generate?: {regions: number}
  faults: TikvFault[]
  /** The failed stores the written spec names (default: the stores killed by the faults). */
  failed_stores?: number[]
  timing: {
    heartbeat_ms: number
    store_disconnect_seconds: number
    max_store_down_time: string
    peer_down_seconds: number
  }
}

const FAULT_TYPES = ['kill-store', 'start-store', 'lag-peer', 'restart-pd', 'split', 'merge']

function fail(path: string, problems: string[]): never {
  throw new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} is not a TiKV cluster the lab can build`, {
    detail: problems.join('\n'),
    hints: [
      'See docs/tikv-lab.md for the TiKV scenario vocabulary, and src/lab/scenarios/tikv-unsafe-recovery.yaml for an example.',
    ],
  })
}

const isInt = (v: unknown, min = 0): v is number => typeof v === 'number' && Number.isInteger(v) && v >= min

/** Validates a parsed YAML document whose `engine:` is tikv. */
export function parseTikvScenario(doc: unknown, path: string): TikvScenario {
  const p: string[] = []
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail(path, ['/: must be a mapping'])
  const d = doc as Record<string, unknown>
  const known = [
    'engine',
    'name',
    'description',
    'stores',
    'tiflash_stores',
    'replicas',
    'tables',
    'regions',
    'generate',
    'faults',
    'failed_stores',
    'timing',
  ]
  for (const k of Object.keys(d)) if (!known.includes(k)) p.push(`/${k}: unknown field (known: ${known.join(', ')})`)
  if (d.engine !== 'tikv') p.push('/engine: must be tikv')
  if (!isInt(d.stores, 1)) p.push('/stores: must be an integer >= 1')
  if (d.tiflash_stores !== undefined && !isInt(d.tiflash_stores)) p.push('/tiflash_stores: must be an integer >= 0')
  if (d.replicas !== undefined && !isInt(d.replicas, 1)) p.push('/replicas: must be an integer >= 1')
  const stores = isInt(d.stores, 1) ? d.stores : 0
  const tiflash = isInt(d.tiflash_stores) ? d.tiflash_stores : 0
  const replicas = isInt(d.replicas, 1) ? d.replicas : 3
  const allStores = stores + tiflash
  const storeOk = (s: unknown): boolean => isInt(s, 1) && s <= allStores
  const tables: TikvScenario['tables'] = []
  if (!Array.isArray(d.tables) || d.tables.length === 0) p.push('/tables: must be a non-empty list')
  else {
    const ids = new Set<number>()
    d.tables.forEach((t: unknown, i) => {
      const x = (t ?? {}) as Record<string, unknown>
      if (!isInt(x.id, 1)) p.push(`/tables/${i}/id: must be a table id >= 1`)
      else if (ids.has(x.id)) p.push(`/tables/${i}/id: table ${x.id} appears twice`)
      else ids.add(x.id)
      if (x.rows !== undefined && !isInt(x.rows)) p.push(`/tables/${i}/rows: must be an integer >= 0`)
      tables.push({
        id: x.id as number,
        name: typeof x.name === 'string' ? x.name : `t${String(x.id)}`,
        rows: (x.rows as number | undefined) ?? 0,
      })
    })
    for (let i = 1; i < tables.length; i++)
      if (tables[i].id <= tables[i - 1].id) p.push(`/tables/${i}/id: tables must be listed in ascending id order`)
  }
  let regions: ScenarioRegion[] | undefined
  if (d.regions !== undefined && d.generate !== undefined)
    p.push('/generate: give either regions or generate, not both')
  if (d.regions !== undefined) {
    if (!Array.isArray(d.regions) || d.regions.length === 0) p.push('/regions: must be a non-empty list')
    else {
      regions = []
      d.regions.forEach((r: unknown, i) => {
        const x = (r ?? {}) as Record<string, unknown>
        let start: RegionStart = ''
        if (x.start === '' || x.start === undefined || x.start === null) start = ''
        else if (x.start === 'meta') start = 'meta'
        else if (typeof x.start === 'object' && isInt((x.start as Record<string, unknown>).table, 1)) {
          const s = x.start as {table: number; handle?: number}
          if (s.handle !== undefined && !isInt(s.handle, 1))
            p.push(`/regions/${i}/start/handle: must be an integer >= 1`)
          start = {table: s.table, ...(s.handle !== undefined ? {handle: s.handle} : {})}
        } else p.push(`/regions/${i}/start: must be "", meta, or {table: ID, handle: N}`)
        if (i === 0 && start !== '')
          p.push('/regions/0/start: the first region starts at "" (the start of the key space)')
        if (i > 0 && start === '') p.push(`/regions/${i}/start: only the first region starts at ""`)
        const voters = Array.isArray(x.voters) ? x.voters : []
        if (voters.length === 0 || !voters.every(storeOk))
          p.push(`/regions/${i}/voters: must list stores 1..${allStores}`)
        const learners = Array.isArray(x.learners) ? x.learners : []
        if (!learners.every(storeOk)) p.push(`/regions/${i}/learners: must list stores 1..${allStores}`)
        for (const v of voters)
          if (isInt(v) && v > stores)
            p.push(`/regions/${i}/voters: store ${v} is a TiFlash store; TiFlash only holds learners`)
        const all = [...voters, ...learners]
        if (new Set(all).size !== all.length) p.push(`/regions/${i}: a store holds at most one peer of a region`)
        regions?.push({
          start,
          voters: voters as number[],
          ...(learners.length > 0 ? {learners: learners as number[]} : {}),
        })
      })
      const order = (s: RegionStart): [number, number] =>
        s === '' ? [-2, 0] : s === 'meta' ? [-1, 0] : [s.table, s.handle ?? 0]
      for (let i = 1; i < regions.length; i++) {
        const [a1, a2] = order(regions[i - 1].start)
        const [b1, b2] = order(regions[i].start)
        if (b1 < a1 || (b1 === a1 && b2 <= a2))
          p.push(`/regions/${i}/start: regions must be listed in ascending key order`)
      }
    }
  }
  let generate: TikvScenario['generate']
  if (d.generate !== undefined) {
    const g = (d.generate ?? {}) as Record<string, unknown>
    if (!isInt(g.regions, 1)) p.push('/generate/regions: must be an integer >= 1')
    else generate = {regions: g.regions}
    if (replicas > stores) p.push(`/replicas: ${replicas} replicas need at least ${replicas} TiKV stores`)
  }
  if (regions === undefined && generate === undefined)
    p.push('/regions: give the region layout (regions) or generate: {regions: N}')
  const faults: TikvFault[] = []
  if (d.faults !== undefined && !Array.isArray(d.faults)) p.push('/faults: must be a list')
  for (const [i, f] of ((Array.isArray(d.faults) ? d.faults : []) as Record<string, unknown>[]).entries()) {
    if (!FAULT_TYPES.includes(f?.type as string)) {
      p.push(`/faults/${i}/type: must be one of ${FAULT_TYPES.join(', ')}`)
      continue
    }
    if ((f.type === 'kill-store' || f.type === 'start-store') && !storeOk(f.store))
      p.push(`/faults/${i}/store: must be a store 1..${allStores}`)
    if (f.type === 'lag-peer' && (!isInt(f.region, 1) || !storeOk(f.store) || !isInt(f.index, 0)))
      p.push(`/faults/${i}: lag-peer needs region, store and index`)
    faults.push(f as unknown as TikvFault)
  }
  const t = (d.timing ?? {}) as Record<string, unknown>
  const timing = {
    heartbeat_ms: isInt(t.heartbeat_ms, 10) ? t.heartbeat_ms : 1000,
    store_disconnect_seconds:
      typeof t.store_disconnect_seconds === 'number' && t.store_disconnect_seconds > 0
        ? t.store_disconnect_seconds
        : 20,
    max_store_down_time: typeof t.max_store_down_time === 'string' ? t.max_store_down_time : '30m0s',
    peer_down_seconds: typeof t.peer_down_seconds === 'number' && t.peer_down_seconds >= 0 ? t.peer_down_seconds : 600,
  }
  if (Array.isArray(d.failed_stores) && !d.failed_stores.every(storeOk))
    p.push(`/failed_stores: must list stores 1..${allStores}`)
  if (p.length > 0) fail(path, p)
  return {
    engine: 'tikv',
    name: typeof d.name === 'string' ? d.name : 'tikv',
    ...(typeof d.description === 'string' ? {description: d.description} : {}),
    stores,
    tiflash_stores: tiflash,
    replicas,
    tables,
    ...(regions ? {regions} : {}),
    ...(generate ? {generate} : {}),
    faults,
    ...(Array.isArray(d.failed_stores) ? {failed_stores: d.failed_stores as number[]} : {}),
    timing,
  }
}
