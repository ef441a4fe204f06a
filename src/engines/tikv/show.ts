/**
 * Reading PD's `remove-failed-stores/show`: a list of stage entries `{info, time, actions, details}`.
 * PD's wording drifted across versions (`finished`/`Finished`, `demote failed voter`/`demote Failed
 * voter`, `Affected table ids` in the docs, lower case in code), so everything is matched without
 * case and id lists are read as sets. Pure.
 */
import {compareId} from './keys.js'

/** One entry of `show`, as PD's StageOutput. */
export interface StageEntry {
  info: string
  time?: string
  /** `"store 4"` → action lines. */
  actions: Record<string, string[]>
  details: string[]
}

export type RecoveryState = 'idle' | 'running' | 'finished' | 'failed'

/** The `show` body (a JSON array) as stage entries; anything else is an empty list. */
export function toStageEntries(body: unknown): StageEntry[] {
  if (!Array.isArray(body)) return []
  return body.map((raw) => {
    const o = (raw ?? {}) as Record<string, unknown>
    const actions: Record<string, string[]> = {}
    if (o.actions && typeof o.actions === 'object') {
      for (const [k, v] of Object.entries(o.actions as Record<string, unknown>))
        actions[k] = Array.isArray(v) ? v.map(String) : []
    }
    return {
      info: typeof o.info === 'string' ? o.info : '',
      ...(typeof o.time === 'string' ? {time: o.time} : {}),
      actions,
      details: Array.isArray(o.details) ? o.details.map(String) : [],
    }
  })
}

/** Where the recovery stands, from the last entry. */
export function recoveryState(entries: StageEntry[]): RecoveryState {
  const last = entries[entries.length - 1]
  if (last === undefined || /no on-going recovery/i.test(last.info)) return 'idle'
  if (/^unsafe recovery finished/i.test(last.info)) return 'finished'
  if (/^unsafe recovery failed/i.test(last.info)) return 'failed'
  return 'running'
}

/** The stage an entry announces (`force leader`, `Finished`), or undefined for a status line. */
export function stageName(info: string): string | undefined {
  const m = /enters (.+?) stage/i.exec(info)
  if (m) return m[1].toLowerCase()
  if (/^unsafe recovery finished/i.test(info)) return 'finished'
  if (/^unsafe recovery failed/i.test(info)) return 'failed'
  return undefined
}

/** The stage entries of the current round: from the last `collect report` entry on. */
export function currentRound(entries: StageEntry[]): StageEntry[] {
  for (let i = entries.length - 1; i >= 0; i--)
    if (stageName(entries[i].info) === 'collect report') return entries.slice(i)
  return entries
}

const ids = (text: string): string[] => [...new Set(text.split(/[^0-9]+/).filter((s) => s !== ''))].sort(compareId)
const storeOf = (key: string): string | undefined => /store\s+(\d+)/i.exec(key)?.[1]

/** PD's digest (Finished / Failed details) and the per-store actions of one round, as sets. */
export interface RoundDigest {
  failedStores: string[]
  autoDetect: boolean
  affectedTableIds: string[]
  affectedMetaRegions: string[]
  newEmptyRegions: string[]
  /** region → store that was told to enter force leader. */
  forceLeaders: Map<string, string>
  /** region → {store, peer stores demoted}. */
  demotes: Map<string, {store: string; peerStores: string[]}>
  /** `region/store` of TiFlash learners (or stray peers) tombstoned. */
  tombstones: Set<string>
  /** region id → {start_key, end_key} (hex, upper case) from `create region` actions where readable. */
  created: Map<string, {store: string; start_key?: string; end_key?: string}>
  /** `triggered by error: ...` and the Failed line. */
  errors: string[]
}

/** Reads one round's entries into a {@link RoundDigest}. */
export function digestRound(round: StageEntry[]): RoundDigest {
  const d: RoundDigest = {
    failedStores: [],
    autoDetect: false,
    affectedTableIds: [],
    affectedMetaRegions: [],
    newEmptyRegions: [],
    forceLeaders: new Map(),
    demotes: new Map(),
    tombstones: new Set(),
    created: new Map(),
    errors: [],
  }
  for (const e of round) {
    const stage = stageName(e.info)
    if (stage === 'failed') d.errors.push(e.info.replace(/^unsafe recovery failed:\s*/i, ''))
    for (const line of e.details) {
      let m: RegExpExecArray | null
      if ((m = /^failed stores\s+(.*)$/i.exec(line))) d.failedStores = ids(m[1])
      else if (/auto detect mode/i.test(line)) d.autoDetect = true
      else if ((m = /affected table ids:\s*(.*)$/i.exec(line))) d.affectedTableIds = ids(m[1])
      else if ((m = /affected meta regions:\s*(.*)$/i.exec(line))) d.affectedMetaRegions = ids(m[1])
      else if ((m = /^newly created empty regions:\s*(.*)$/i.exec(line))) d.newEmptyRegions = ids(m[1])
      else if ((m = /triggered by error:\s*(.*)$/i.exec(line))) d.errors.push(m[1])
    }
    for (const [key, lines] of Object.entries(e.actions)) {
      const store = storeOf(key)
      if (store === undefined) continue
      for (const line of lines) {
        let m: RegExpExecArray | null
        if ((m = /force leader on regions:\s*(.*)$/i.exec(line)))
          for (const r of ids(m[1])) d.forceLeaders.set(r, store)
        else if ((m = /region\s+(\d+)\s+demotes peers\s*(.*)$/i.exec(line))) {
          const peerStores = [...m[2].matchAll(/store_id:\s*(\d+)/gi)].map((x) => x[1]).sort(compareId)
          d.demotes.set(m[1], {store, peerStores})
        } else if ((m = /tombstone the peer of region\s+(\d+)/i.exec(line))) d.tombstones.add(`${m[1]}/${store}`)
        else if ((m = /create region\s+(\d+):\s*(.*)$/i.exec(line))) {
          const start = /start_key:\s*"([0-9A-Fa-f]*)"/.exec(m[2])?.[1]
          const end = /end_key:\s*"([0-9A-Fa-f]*)"/.exec(m[2])?.[1]
          d.created.set(m[1], {
            store,
            ...(start !== undefined ? {start_key: start.toUpperCase()} : {}),
            ...(end !== undefined ? {end_key: end.toUpperCase()} : {}),
          })
        }
      }
    }
  }
  return d
}

/** One line for the operator about a stage entry: its info, the number of actions and details. */
export function describeEntry(e: StageEntry): string {
  const actions = Object.values(e.actions).reduce((n, l) => n + l.length, 0)
  const parts = [e.info]
  if (actions > 0) parts.push(`${actions} action${actions === 1 ? '' : 's'}`)
  if (e.details.length > 0 && stageName(e.info) !== undefined) parts.push(e.details.join('; '))
  return parts.join(' · ')
}
