/**
 * Durations on the command line, as Terraform writes them: `0`, `500ms`, `30s`, `2m`, `1h`.
 */
import {LifeboatError} from '../errors.js'

const UNITS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

/** Milliseconds of a duration such as `30s`; a bare number is seconds. Throws USAGE on anything else. */
export function parseDuration(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text)
  if (!m) {
    throw new LifeboatError('USAGE', `${flag} ${JSON.stringify(text)} is not a duration`, {
      hints: [`Write it like 30s, 2m or 500ms, e.g. ${flag} 60s.`],
    })
  }
  return Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!)
}
