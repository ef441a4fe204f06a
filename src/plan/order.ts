/**
 * The orderings every plan list follows. Pure and locale-independent: the same lists sort the
 * same way on every machine, which keeps plan files and goldens byte-stable.
 */
import type {Finding, Severity} from './types.js'
import {compareCodeUnits} from './canonical.js'

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/** The end (exclusive) of the digit or non-digit run of `s` that starts at `at`. */
function runEnd(s: string, at: number, digits: boolean): number {
  let end = at + 1
  while (end < s.length && isDigit(s.charCodeAt(end)) === digits) end++
  return end
}

/**
 * Natural order for addresses and partitions: digit runs compare as numbers, so `1.2` sorts
 * before `1.10` and `apps/9` before `apps/10`, as an operator reads them. Ties (`01` against `1`)
 * fall back to code-unit order, so the order is total and never depends on input order.
 *
 * Both strings are cut into digit and non-digit runs and compared run by run: two digit runs
 * without their leading zeros by length, then (any two runs) by code units; when every common run
 * is equal, fewer runs first, then the whole strings by code units. Digit runs are never turned
 * into numbers, so ids longer than 2^53 still order correctly. It walks the strings in place,
 * allocating nothing: plans of 64,000 partitions sort and check their order with it.
 */
export function compareNatural(a: string, b: string): number {
  if (a === b) return 0
  // Runs wholly inside the common prefix are equal in both strings: start at the run holding the
  // prefix's last character (addresses share long prefixes such as `zk:/pegasus/c1/apps/`).
  let i = 0
  const shorter = Math.min(a.length, b.length)
  while (i < shorter && a.charCodeAt(i) === b.charCodeAt(i)) i++
  if (i > 0) {
    const digits = isDigit(a.charCodeAt(i - 1))
    i--
    while (i > 0 && isDigit(a.charCodeAt(i - 1)) === digits) i--
  }
  let j = i
  while (i < a.length && j < b.length) {
    const da = isDigit(a.charCodeAt(i))
    const db = isDigit(b.charCodeAt(j))
    const ie = runEnd(a, i, da)
    const je = runEnd(b, j, db)
    // A digit run without its leading zeros, keeping its last digit ("000" is "0").
    if (da) while (i < ie - 1 && a.charCodeAt(i) === 48) i++
    if (db) while (j < je - 1 && b.charCodeAt(j) === 48) j++
    const la = ie - i
    const lb = je - j
    if (da && db && la !== lb) return la - lb
    const n = Math.min(la, lb)
    for (let k = 0; k < n; k++) {
      const d = a.charCodeAt(i + k) - b.charCodeAt(j + k)
      if (d !== 0) return d < 0 ? -1 : 1
    }
    if (la !== lb) return la < lb ? -1 : 1
    i = ie
    j = je
  }
  // Every common run is equal: the string with fewer runs first.
  if (i < a.length) return 1
  if (j < b.length) return -1
  return compareCodeUnits(a, b)
}

/**
 * `items` sorted by `key` in natural order (a new array). Lists that are already in order (what
 * planners emit) are only checked, one comparison per item; others are sorted (stably).
 */
export function sortByNatural<T>(items: readonly T[], key: (item: T) => string): T[] {
  if (items.length < 2) return [...items]
  const keys = items.map(key)
  let sorted = true
  for (let i = 1; i < keys.length; i++) {
    if (compareNatural(keys[i - 1]!, keys[i]!) > 0) {
      sorted = false
      break
    }
  }
  if (sorted) return [...items]
  const order = keys.map((_, i) => i)
  order.sort((x, y) => compareNatural(keys[x]!, keys[y]!) || x - y)
  return order.map((i) => items[i]!)
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
