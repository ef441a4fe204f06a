/**
 * What the text and markdown renderers share: symbols, phrases, the engine's declared nouns and facts, JSON diffs
 * and the collapsing of long runs of same-shape items. Pure; holds no UI state.
 */
import {structuredPatch} from 'diff'

import {sortKeysDeep} from '../plan/canonical.js'
import {countOf, groupDigits} from '../plan/numbers.js'
import type {
  Candidate,
  Change,
  ChangeAction,
  FactColumn,
  FactValue,
  Finding,
  Noun,
  Plan,
  PrimaryChange,
  Step,
  Vocabulary,
} from '../plan/types.js'

/** Terraform's symbols: the plan model holds no UI, so they live here. */
export const ACTION_SYMBOL: Record<ChangeAction, string> = {create: '+', update: '~', delete: '-', 'no-op': ' '}

/** Legend lines, in Terraform's order. */
export const LEGEND: readonly [ChangeAction, string][] = [
  ['create', 'create'],
  ['update', 'update in-place'],
  ['delete', 'destroy'],
]

/** `# <address> will be created` and friends. */
export const ACTION_PHRASE: Record<ChangeAction, string> = {
  create: 'will be created',
  update: 'will be updated in-place',
  delete: 'will be destroyed',
  'no-op': 'is unchanged',
}

/** How many items of a same-shape run are shown before the rest is counted. */
export const COLLAPSE_KEEP = 3
/** Runs up to this long are shown whole: collapsing two items would save nothing. */
export const COLLAPSE_MIN_RUN = 6

/** What a change without a declared noun counts as. */
const DEFAULT_NOUN: Noun = {one: 'setting', many: 'settings'}

/** The noun a change counts as: the one its engine declared for it, else `setting`. */
export function changeNoun(change: Change, vocabulary: Vocabulary): Noun {
  return (change.noun !== undefined ? vocabulary.nouns[change.noun] : undefined) ?? DEFAULT_NOUN
}

/** Counts by declared noun, in order of first appearance: `1 table, 8 partitions`. */
export function countByNoun(changes: readonly Change[], vocabulary: Vocabulary): string {
  const counts = new Map<string, {n: number; noun: Noun}>()
  for (const c of changes) {
    const noun = changeNoun(c, vocabulary)
    const entry = counts.get(noun.one)
    if (entry) entry.n++
    else counts.set(noun.one, {n: 1, noun})
  }
  return [...counts.values()].map(({n, noun}) => countOf(n, noun.one, noun.many)).join(', ')
}

/** A fact for a human: yes/no for booleans, numbers and exact decimal strings as they are. */
export function factText(value: FactValue | undefined): string {
  if (value === undefined) return ''
  if (typeof value === 'boolean') return value ? 'yes' : 'no'
  return String(value)
}

/** True when a fact reads as a number (a number or an exact decimal string): tables right-align it. */
export function isNumericFact(value: FactValue | undefined): boolean {
  return typeof value === 'number' || typeof value === 'bigint' || (typeof value === 'string' && /^-?\d+$/.test(value))
}

/** The declared candidate columns that some candidate has a value for, in declared order. */
export function presentColumns(columns: readonly FactColumn[], candidates: readonly Candidate[]): FactColumn[] {
  return columns.filter((col) => candidates.some((c) => c.facts[col.name] !== undefined))
}

/** The leadership section's words; a plan with primaries always declares them (buildPlan checks). */
export function leadershipOf(plan: Plan): NonNullable<Vocabulary['leadership']> {
  return (
    plan.vocabulary.leadership ?? {
      heading: 'Leadership changes',
      item: {one: 'item', many: 'items'},
      role: {one: 'change', many: 'changes'},
      candidateFacts: [],
    }
  )
}

/** The cluster line: the name, then each identity fact as `label value`. */
export function clusterFacts(plan: Plan): Array<[label: string, value: string]> {
  return plan.cluster.facts.map((f) => [f.label, f.value])
}

/** Pretty JSON with sorted keys: the form before/after documents are diffed in. */
export function prettyJson(value: unknown): string {
  if (value === undefined) return 'null'
  return JSON.stringify(sortKeysDeep(value), null, 2)
}

/** A line of a change's diff: `marker` is `+`, `-`, ` ` (context) or `@` (a gap between hunks). */
export interface DiffLine {
  marker: '+' | '-' | ' ' | '@'
  text: string
}

/**
 * The unified diff of a change's JSON documents (pretty, sorted keys), without file headers.
 * A create is all `+`, a delete all `-`; an update keeps 3 lines of context and marks the gaps
 * between hunks with `@`. A no-op has no lines.
 */
export function changeDiff(change: Change): DiffLine[] {
  switch (change.action) {
    case 'create':
      return prettyJson(change.after)
        .split('\n')
        .map((text) => ({marker: '+', text}))
    case 'delete':
      return prettyJson(change.before)
        .split('\n')
        .map((text) => ({marker: '-', text}))
    case 'no-op':
      return []
    case 'update': {
      const before = `${prettyJson(change.before)}\n`
      const after = `${prettyJson(change.after)}\n`
      const patch = structuredPatch('before', 'after', before, after, undefined, undefined, {context: 3})
      const out: DiffLine[] = []
      const total = before.split('\n').length - 1
      patch.hunks.forEach((hunk, i) => {
        if (i > 0 || hunk.oldStart > 1)
          out.push({
            marker: '@',
            text: `… (${hunk.oldStart > 1 && i === 0 ? `lines 1-${hunk.oldStart - 1}` : 'unchanged lines'} not shown)`,
          })
        for (const line of hunk.lines) {
          if (line.startsWith('\\')) continue // "\ No newline at end of file": both sides end with one
          const marker = line[0] as '+' | '-' | ' '
          out.push({marker, text: line.slice(1)})
        }
        if (i === patch.hunks.length - 1 && hunk.oldStart + hunk.oldLines - 1 < total)
          out.push({marker: '@', text: '… (unchanged lines not shown)'})
      })
      return out
    }
  }
}

/** The shape of a JSON value: its key structure and types, not its values. */
export function valueShape(value: unknown): string {
  if (value === null || value === undefined) return 'z'
  if (Array.isArray(value)) {
    // The distinct item shapes in first-seen order (written with loops: this runs for both
    // documents of every change, 130,000 at 64,000 partitions).
    const shapes = new Set<string>()
    for (let i = 0; i < value.length; i++) shapes.add(valueShape(value[i]))
    let out = '['
    let first = true
    for (const s of shapes) {
      out += first ? s : `|${s}`
      first = false
    }
    return `${out}]`
  }
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort()
    let out = '{'
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!
      out += `${i > 0 ? ',' : ''}${k}:${valueShape((value as Record<string, unknown>)[k])}`
    }
    return `${out}}`
  }
  return (typeof value)[0]!
}

/** Digits replaced by `#`: `zk:/a/apps/1/17` and `zk:/a/apps/1/3` share the template `zk:/a/apps/#/#`. */
export function digitTemplate(text: string): string {
  return text.replace(/\d+/g, '#')
}

/**
 * Only the last run of digits replaced by `#`: `zk:/a/apps/2/17` gives `zk:/a/apps/2/#`, so items of
 * different tables (`apps/1/…`, `apps/2/…`; `1.3`, `2.3`) never share a template.
 */
export function lastDigitTemplate(text: string): string {
  return text.replace(/\d+(?=\D*$)/, '#')
}

/**
 * Collapses within one table: the template keeps every number but the last. A change whose address
 * is the parent of another change (a table's own node) is never collapsed, so no table is hidden.
 */
export function changeShape(c: Change, parents?: ReadonlySet<string>): string {
  if (parents?.has(c.address)) return `\u0001${c.address}`
  return `${c.action}\u0000${lastDigitTemplate(c.address)}\u0000${valueShape(c.before)}\u0000${valueShape(c.after)}`
}

/** The addresses that are the parent (`a/b` of `a/b/c`) of another change's address. */
export function parentAddresses(changes: readonly Change[]): Set<string> {
  const out = new Set<string>()
  for (const c of changes) {
    const slash = c.address.lastIndexOf('/')
    if (slash > 0) out.add(c.address.slice(0, slash))
  }
  return out
}

export function primaryShape(p: PrimaryChange): string {
  return [
    p.table ?? '',
    lastDigitTemplate(p.partition),
    p.risk,
    p.before === null,
    p.after === null,
    digitTemplate(p.reason),
    p.candidates.length,
    digitTemplate(p.atStake ?? ''),
  ].join('\u0000')
}

export function stepShape(s: Step): string {
  return [s.kind, s.risk, digitTemplate(s.description), Boolean(s.manual), valueShape(s.params)].join('\u0000')
}

export function findingShape(f: Finding): string {
  return `${f.severity}\u0000${f.code}`
}

/** An item to show, or a count of the same-shape items not shown after it. */
export type Collapsed<T> = {item: T; index: number} | {more: number; like: T}

/**
 * Collapses what repeats: for every shape that occurs at least COLLAPSE_MIN_RUN times in the list
 * (in one run or scattered), the first COLLAPSE_KEEP items are shown and a count of the others
 * follows the last one shown. Shapes that occur less often are shown in full. The order of what is
 * shown is the order of the list. Linear in the number of items. `full` (`--full`) shows everything.
 */
export function collapseRuns<T>(items: readonly T[], shape: (t: T) => string, full = false): Collapsed<T>[] {
  if (full) return items.map((item, index) => ({item, index}))
  const shapes = items.map(shape)
  const total = new Map<string, number>()
  for (const s of shapes) total.set(s, (total.get(s) ?? 0) + 1)
  const shown = new Map<string, number>()
  const out: Collapsed<T>[] = []
  for (let i = 0; i < items.length; i++) {
    const s = shapes[i]!
    const count = total.get(s)!
    if (count < COLLAPSE_MIN_RUN) {
      out.push({item: items[i]!, index: i})
      continue
    }
    const seen = shown.get(s) ?? 0
    if (seen >= COLLAPSE_KEEP) continue
    out.push({item: items[i]!, index: i})
    shown.set(s, seen + 1)
    if (seen + 1 === COLLAPSE_KEEP) out.push({more: count - COLLAPSE_KEEP, like: items[i]!})
  }
  return out
}

/** `(none)` for a missing node. */
export function nodeOrNone(node: string | null): string {
  return node ?? '(none)'
}

/** The observed summary as `key value` pairs in the order the plan holds them (sorted keys). */
export function observedPairs(summary: Record<string, number | string>): string[] {
  return Object.entries(summary).map(
    ([k, v]) => `${k.replace(/_/g, ' ')}: ${typeof v === 'number' && Number.isInteger(v) ? groupDigits(v) : String(v)}`,
  )
}
