/**
 * Canonical JSON and hashing: the one byte form every digest in lifeboat is computed over.
 *
 * Plan digests and audit-record hashes must not depend on key order or whitespace, so they are
 * computed over `canonicalJson`, never over a file's bytes. Pure: no I/O, no clock.
 */
import {createHash, type Hash} from 'node:crypto'

import {InternalError} from '../errors.js'

/**
 * JSON with object keys sorted by code unit and no whitespace, for hashing. It follows
 * `JSON.stringify`'s treatment of values (undefined properties are dropped, undefined array
 * items become null) so that a document hashes the same before and after a JSON round trip.
 * A bigint is written as its decimal string, the form a plan and an audit record keep it in, so a
 * value hashes the same as a bigint in code and as the string read back from a file. It refuses
 * what JSON cannot carry faithfully (non-finite numbers, functions, cycles): a digest over a value
 * that would change on reading it back would be a lie.
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = []
  encode(value, new Set(), out, null)
  return out.join('')
}

/**
 * Lower-case hex SHA-256 of `canonicalJson(value)`, streamed into the hash in chunks: a 64,000-
 * partition plan is never held as one string.
 */
export function canonicalSha256(value: unknown): string {
  const hash = createHash('sha256')
  const out: string[] = []
  encode(value, new Set(), out, hash)
  hash.update(out.join(''))
  return hash.digest('hex')
}

/** Parts collected before they are joined and fed to the hash, when streaming. */
const FLUSH_PARTS = 16_384

/** Appends the canonical form of `value` to `out` (flushing into `hash` when one is given). */
function encode(value: unknown, seen: Set<object>, out: string[], hash: Hash | null): void {
  if (value === null) {
    out.push('null')
    return
  }
  switch (typeof value) {
    case 'string':
      out.push(JSON.stringify(value))
      return
    case 'boolean':
      out.push(value ? 'true' : 'false')
      return
    case 'number':
      if (!Number.isFinite(value))
        throw new InternalError(`canonicalJson: ${String(value)} cannot be represented in JSON`)
      out.push(JSON.stringify(value))
      return
    case 'bigint':
      out.push(`"${value.toString()}"`)
      return
    case 'object':
      break
    default:
      throw new InternalError(`canonicalJson: a ${typeof value} cannot be represented in JSON`)
  }
  const obj = value as object
  if (seen.has(obj)) throw new InternalError('canonicalJson: the value contains a cycle')
  seen.add(obj)
  if (Array.isArray(obj)) {
    out.push('[')
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out.push(',')
      const item: unknown = obj[i]
      if (item === undefined || typeof item === 'function') out.push('null')
      else encode(item, seen, out, hash)
    }
    out.push(']')
  } else {
    const record = obj as Record<string, unknown>
    // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as compareCodeUnits does.
    const keys = Object.keys(record).sort()
    out.push('{')
    let first = true
    for (const k of keys) {
      const v = record[k]
      if (v === undefined) continue
      if (!first) out.push(',')
      first = false
      out.push(JSON.stringify(k), ':')
      encode(v, seen, out, hash)
    }
    out.push('}')
  }
  seen.delete(obj)
  if (hash !== null && out.length >= FLUSH_PARTS) {
    hash.update(out.join(''))
    out.length = 0
  }
}

/** Plain code-unit order: locale-independent, so every machine sorts the same way. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Lower-case hex SHA-256 of a string (as UTF-8) or of bytes. */
export function sha256Hex(input: string | Uint8Array): string {
  return createHash('sha256').update(input).digest('hex')
}

/**
 * A deep copy with every object's keys in sorted order, for documents whose key order carries no
 * meaning (JSON before/after values, step params). Pretty-printing the copy gives stable bytes.
 * Every bigint becomes its decimal string (the JSON form of an exact integer).
 */
export function sortKeysDeep<T>(value: T): T {
  if (typeof value === 'bigint') return value.toString() as T
  if (Array.isArray(value)) return value.map((v) => sortKeysDeep(v)) as T
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(record).sort()) {
      if (record[k] !== undefined) out[k] = sortKeysDeep(record[k])
    }
    return out as T
  }
  return value
}

/**
 * `JSON.stringify` with exact integers: a bigint is written as its decimal string. For the plan
 * file, `--json` output and audit records.
 */
export function jsonStringify(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent)
}
