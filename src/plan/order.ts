/**
 * The orderings every plan list follows. Pure and locale-independent: the same lists sort the
 * same way on every machine, which keeps plan files and goldens byte-stable.
 */
import type {Finding, Severity} from './types.js'
import {compareCodeUnits} from './canonical.js'

const CHUNK = /(\d+)|(\D+)/g

/**
 * Natural order for addresses and partitions: digit runs compare as numbers, so `1.2` sorts
 * before `1.10` and `apps/9` before `apps/10`, as an operator reads them. Ties (`01` against `1`)
 * fall back to code-unit order, so the order is total and never depends on input order.
 */
export function compareNatural(a: string, b: string): number {
  if (a === b) return 0
  const ca = a.match(CHUNK) ?? []
  const cb = b.match(CHUNK) ?? []
  const n = Math.min(ca.length, cb.length)
  for (let i = 0; i < n; i++) {
    const x = ca[i]!
    const y = cb[i]!
    const xd = x.charCodeAt(0) >= 48 && x.charCodeAt(0) <= 57
    const yd = y.charCodeAt(0) >= 48 && y.charCodeAt(0) <= 57
    if (xd && yd) {
      // Compare digit runs without Number() so that ids longer than 2^53 still order correctly.
      const xs = x.replace(/^0+(?=\d)/, '')
      const ys = y.replace(/^0+(?=\d)/, '')
      if (xs.length !== ys.length) return xs.length - ys.length
      const c = compareCodeUnits(xs, ys)
      if (c !== 0) return c
    } else {
      const c = compareCodeUnits(x, y)
      if (c !== 0) return c
    }
  }
  if (ca.length !== cb.length) return ca.length - cb.length
  return compareCodeUnits(a, b)
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
