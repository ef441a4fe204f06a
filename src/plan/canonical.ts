/**
 * Canonical JSON and hashing: the one byte form every digest in lifeboat is computed over.
 *
 * Plan digests and audit-record hashes must not depend on key order or whitespace, so they are
 * computed over `canonicalJson`, never over a file's bytes. Pure: no I/O, no clock.
 */
import {createHash} from 'node:crypto'

import {InternalError} from '../errors.js'

/**
 * JSON with object keys sorted by code unit and no whitespace, for hashing. It follows
 * `JSON.stringify`'s treatment of values (undefined properties are dropped, undefined array
 * items become null) so that a document hashes the same before and after a JSON round trip.
 * It refuses what JSON cannot carry faithfully (non-finite numbers, bigint, functions, cycles):
 * a digest over a value that would change on reading it back would be a lie.
 */
export function canonicalJson(value: unknown): string {
  return encode(value, new Set())
}

function encode(value: unknown, seen: Set<object>): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) throw new InternalError(`canonicalJson: ${String(value)} cannot be represented in JSON`)
      return JSON.stringify(value)
    case 'object':
      break
    default:
      throw new InternalError(`canonicalJson: a ${typeof value} cannot be represented in JSON`)
  }
  const obj = value as object
  if (seen.has(obj)) throw new InternalError('canonicalJson: the value contains a cycle')
  seen.add(obj)
  try {
    if (Array.isArray(obj)) {
      return `[${obj.map((item) => (item === undefined || typeof item === 'function' ? 'null' : encode(item, seen))).join(',')}]`
    }
    const record = obj as Record<string, unknown>
    const keys = Object.keys(record).filter((k) => record[k] !== undefined).sort(compareCodeUnits)
    return `{${keys.map((k) => `${JSON.stringify(k)}:${encode(record[k], seen)}`).join(',')}}`
  } finally {
    seen.delete(obj)
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
 */
export function sortKeysDeep<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => sortKeysDeep(v)) as T
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(record).sort(compareCodeUnits)) {
      if (record[k] !== undefined) out[k] = sortKeysDeep(record[k])
    }
    return out as T
  }
  return value
}
