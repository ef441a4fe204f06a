/**
 * JSON as PD and etcd write it: uint64 ids as plain digits (bigint where they pass 2^53), byte sizes
 * as go-units strings, durations as Go strings. Request bodies are parsed without losing uint64s.
 */
import {parseJson} from '../../http/json.js'

/** A JSON value that may hold bigints (written as plain digits). */
export type JsonValue = string | number | bigint | boolean | null | undefined | JsonValue[] | {[k: string]: JsonValue}

/** JSON.stringify that writes bigints as digits and drops undefined members. */
export function toJson(v: JsonValue): string {
  if (v === null || v === undefined) return 'null'
  switch (typeof v) {
    case 'bigint':
      return v.toString()
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null'
    case 'string':
    case 'boolean':
      return JSON.stringify(v)
  }
  if (Array.isArray(v)) return `[${v.map((x) => toJson(x)).join(',')}]`
  const parts: string[] = []
  for (const [k, x] of Object.entries(v)) if (x !== undefined) parts.push(`${JSON.stringify(k)}:${toJson(x)}`)
  return `{${parts.join(',')}}`
}

/** Parses a request body: integers beyond 2^53 become bigints, everything else plain JSON. */
export function parseBody(text: string): unknown {
  return parseJson(text)
}

const BINARY_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB', 'ZiB', 'YiB']

/** Go's `%.4g`. */
function g4(x: number): string {
  if (x === 0) return '0'
  const exp = Math.floor(Math.log10(Math.abs(x)))
  if (exp < -4 || exp >= 4) {
    const [m, e] = x.toExponential(3).split('e')
    const mant = m.includes('.') ? m.replace(/0+$/, '').replace(/\.$/, '') : m
    const n = Number(e)
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`
  }
  const s = x.toPrecision(4)
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s
}

/** PD's `typeutil.ByteSize` JSON: go-units `BytesSize`, e.g. `"10GiB"`, `"31.99MiB"`. */
export function byteSize(bytes: number): string {
  let size = bytes
  let i = 0
  while (size >= 1024 && i < BINARY_UNITS.length - 1) {
    size /= 1024
    i++
  }
  return `${g4(size)}${BINARY_UNITS[i]}`
}

/** Go's `time.Duration.String()` for whole milliseconds and up, e.g. `30m0s`, `1h2m3s`, `1.5s`, `10ms`. */
export function goDuration(ms: number): string {
  if (ms === 0) return '0s'
  if (ms < 1000) return `${ms}ms`
  const totalSec = ms / 1000
  const h = Math.floor(totalSec / 3600)
  const m = Math.floor((totalSec - h * 3600) / 60)
  const s = totalSec - h * 3600 - m * 60
  const sec = `${Number.isInteger(s) ? s : Number(s.toFixed(3))}s`
  if (h > 0) return `${h}h${m}m${sec}`
  if (m > 0) return `${m}m${sec}`
  return sec
}

/** Parses a Go duration string (`30m`, `1h0m0s`, `1.5s`, `500ms`) to milliseconds; undefined if invalid. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy
  const unit: Record<string, number> = {ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000}
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(s)) !== null) {
    total += Number(m[1]) * unit[m[2]]
    matched = re.lastIndex
  }
  return matched === s.length && s.length > 0 ? total : undefined
}

/** Go's `time.Time` RFC 3339 with nanoseconds and the local offset as PD marshals it (UTC here: `Z`). */
export function rfc3339(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/\.(\d{3})Z$/, (_, f: string) => (f === '000' ? 'Z' : `.${f.replace(/0+$/, '')}Z`))
}

/** PD's show timestamp layout `2006-01-02 15:04:05.000` (PD's local time; the lab runs in UTC). */
export function showTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}
