/**
 * The orderings every plan list follows. Pure and locale-independent: the same lists sort the
 * same way on every machine, which keeps plan files and goldens byte-stable.
 */
import type {Finding, Severity} from './types.js'
import {compareCodeUnits} from './canonical.js'

const CHUNK = /(\d+)|(\D+)/g

/** A string cut into digit and non-digit runs, digit runs without leading zeros: what natural order compares. */
interface NaturalKey {
  text: string
  runs: string[]
  digits: boolean[]
}

function naturalKey(text: string): NaturalKey {
  const runs = text.match(CHUNK) ?? []
  const digits = runs.map((r) => r.charCodeAt(0) >= 48 && r.charCodeAt(0) <= 57)
  // Compare digit runs without Number() so that ids longer than 2^53 still order correctly.
  // Only a run that starts with 0 and is longer than one digit has zeros to drop (the regex is the cost here).
  for (let i = 0; i < runs.length; i++) {
    const run = runs[i]!
    if (digits[i] && run.length > 1 && run.charCodeAt(0) === 48) runs[i] = run.replace(/^0+(?=\d)/, '')
  }
  return {text, runs, digits}
}

function compareKeys(a: NaturalKey, b: NaturalKey): number {
  if (a.text === b.text) return 0
  const n = Math.min(a.runs.length, b.runs.length)
  for (let i = 0; i < n; i++) {
    const x = a.runs[i]!
    const y = b.runs[i]!
    if (a.digits[i] && b.digits[i] && x.length !== y.length) return x.length - y.length
    const c = compareCodeUnits(x, y)
    if (c !== 0) return c
  }
  if (a.runs.length !== b.runs.length) return a.runs.length - b.runs.length
  return compareCodeUnits(a.text, b.text)
}

/**
 * Natural order for addresses and partitions: digit runs compare as numbers, so `1.2` sorts
 * before `1.10` and `apps/9` before `apps/10`, as an operator reads them. Ties (`01` against `1`)
 * fall back to code-unit order, so the order is total and never depends on input order.
 */
export function compareNatural(a: string, b: string): number {
  if (a === b) return 0
  return compareKeys(naturalKey(a), naturalKey(b))
}

/**
 * `items` sorted by `key` in natural order (a new array). Each key is cut into runs once, not at
 * every comparison: plans of 64,000 partitions sort in milliseconds.
 */
export function sortByNatural<T>(items: readonly T[], key: (item: T) => string): T[] {
  const keyed = items.map((item) => ({item, key: naturalKey(key(item))}))
  keyed.sort((x, y) => compareKeys(x.key, y.key))
  return keyed.map((k) => k.item)
}

/** Errors first, then warnings, then information. */
export const SEVERITY_ORDER: readonly Severity[] = ['error', 'warning', 'info']

/** Findings by severity (errors first), then code, then subject (none first), then message. */
export function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
    compareCodeUnits(a.code, b.code) ||
    compareNatural(a.subject ?? '', b.subject ?? '') ||
    compareCodeUnits(a.message, b.message)
  )
}
