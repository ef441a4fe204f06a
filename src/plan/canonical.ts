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
  const w: Writer = {text: '', hash: null}
  encode(value, [], w)
  return w.text
}

/**
 * Lower-case hex SHA-256 of `canonicalJson(value)`, streamed into the hash in chunks: a 64,000-
 * partition plan is never held as one string.
 */
export function canonicalSha256(value: unknown): string {
  const hash = createHash('sha256')
  const w: Writer = {text: '', hash}
  encode(value, [], w)
  hash.update(w.text)
  return hash.digest('hex')
}

/** Where encode writes: text collected so far, fed to `hash` (when hashing) once it passes FLUSH_CHARS. */
interface Writer {
  text: string
  hash: Hash | null
}

/** Characters collected before they are fed to the hash, when streaming. */
const FLUSH_CHARS = 1 << 20

/** A string JSON.stringify would write as it is, between quotes. */
// eslint-disable-next-line no-control-regex
const PLAIN_STRING = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/

function quoteString(s: string): string {
  return PLAIN_STRING.test(s) ? `"${s}"` : JSON.stringify(s)
}

/** Nesting past which a value is encoded piece by piece (where a cycle is caught) rather than checked whole. */
const MAX_NATIVE_DEPTH = 64

/**
 * Whether `JSON.stringify(value)` is already its canonical form: plain objects and arrays only
 * (no toJSON, no class instances), every object's keys in code-unit order, finite numbers, no
 * bigint, function or symbol. Then the native encoder writes it, which is several times faster
 * than walking it here; most of a plan's documents (sorted by buildPlan) qualify.
 */
function nativeIsCanonical(value: object, depth: number): boolean {
  if (depth > MAX_NATIVE_DEPTH) return false
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!nativeValue(value[i], depth, false)) return false
    return true
  }
  return isSortedRecord(value, nativeProperty, depth)
}

/**
 * Whether `value` is a plain object (its prototype Object.prototype or null) whose own keys are in
 * strictly ascending code-unit order and whose every value passes `valueOk(value, depth)`. Walks
 * without allocating: for-in on a plain object lists its own keys in Object.keys order (nothing is
 * inherited from Object.prototype or null).
 */
export function isSortedRecord(
  value: object,
  valueOk: (value: unknown, depth: number) => boolean,
  depth: number,
): boolean {
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  let previous: string | undefined
  for (const k in value) {
    if (previous !== undefined && !(previous < k)) return false
    previous = k
    if (!valueOk((value as Record<string, unknown>)[k], depth)) return false
  }
  return true
}

function nativeProperty(v: unknown, depth: number): boolean {
  return nativeValue(v, depth, true)
}

function nativeValue(v: unknown, depth: number, inObject: boolean): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(v)
    case 'undefined':
      // Both drop an undefined property; in an array JSON.stringify writes null, as encode does.
      return true
    case 'object':
      return v === null || nativeIsCanonical(v, depth + 1)
    default:
      // A function in an array is null to both; anywhere else encode refuses it, so let encode see it.
      return !inObject && typeof v === 'function'
  }
}

/** Appends the canonical form of `value` to the writer (flushing into its hash when there is one). */
function encode(value: unknown, ancestors: object[], w: Writer): void {
  if (value === null) {
    w.text += 'null'
    return
  }
  switch (typeof value) {
    case 'string':
      w.text += quoteString(value)
      return
    case 'boolean':
      w.text += value ? 'true' : 'false'
      return
    case 'number':
      if (!Number.isFinite(value))
        throw new InternalError(`canonicalJson: ${String(value)} cannot be represented in JSON`)
      w.text += JSON.stringify(value)
      return
    case 'bigint':
      w.text += `"${value.toString()}"`
      return
    case 'object':
      break
    default:
      throw new InternalError(`canonicalJson: a ${typeof value} cannot be represented in JSON`)
  }
  const obj = value as object
  if (ancestors.includes(obj)) throw new InternalError('canonicalJson: the value contains a cycle')
  if (nativeIsCanonical(obj, ancestors.length)) {
    w.text += JSON.stringify(obj)
  } else {
    ancestors.push(obj)
    if (Array.isArray(obj)) {
      w.text += '['
      encodeItems(obj as unknown[], ancestors, w)
      w.text += ']'
    } else {
      const record = obj as Record<string, unknown>
      const keys = sortedKeys(record)
      w.text += '{'
      let first = true
      for (const k of keys) {
        const v = record[k]
        if (v === undefined) continue
        w.text += first ? `${quoteString(k)}:` : `,${quoteString(k)}:`
        first = false
        encode(v, ancestors, w)
      }
      w.text += '}'
    }
    ancestors.pop()
  }
  if (w.hash !== null && w.text.length >= FLUSH_CHARS) {
    w.hash.update(w.text)
    w.text = ''
  }
}

/**
 * Array items copied (as canonicalCopy) and handed to the native encoder at a time: about 100 KB
 * of JSON at 64,000 partitions, a string the young generation still holds (larger ones go to the
 * large-object space).
 */
const BATCH_ITEMS = 128

/**
 * The items of an array, comma-separated, without the brackets. Items are copied with their keys
 * in canonical order (canonicalCopy) a batch at a time and written by the native encoder, which at
 * 64,000 partitions is several times faster than walking each item here; an item the copy cannot
 * express (see canonicalCopy) is walked by encode.
 */
function encodeItems(items: readonly unknown[], ancestors: object[], w: Writer): void {
  let i = 0
  while (i < items.length) {
    const batch: unknown[] = []
    const start = i
    let walk = false
    for (; i < items.length && batch.length < BATCH_ITEMS; i++) {
      const item = items[i]
      if (item === undefined || typeof item === 'function') {
        batch.push(null)
        continue
      }
      const copy = canonicalCopy(item, ancestors)
      if (copy === NOT_COPIED) {
        walk = true
        break
      }
      batch.push(copy)
    }
    if (batch.length > 0) {
      if (start > 0) w.text += ','
      const json = JSON.stringify(batch).slice(1, -1)
      if (w.hash === null) w.text += json
      else {
        // Straight into the hash: a batch is already large, concatenating it first would copy it twice.
        w.hash.update(w.text)
        w.text = ''
        w.hash.update(json)
      }
    }
    if (walk) {
      if (i > 0) w.text += ','
      encode(items[i], ancestors, w)
      i++
    }
    if (w.hash !== null && w.text.length >= FLUSH_CHARS) {
      w.hash.update(w.text)
      w.text = ''
    }
  }
}

/** What canonicalCopy returns for a value whose canonical form a plain object cannot hold. */
const NOT_COPIED: unique symbol = Symbol('not copied')

/**
 * A value whose `JSON.stringify` is its canonical form (as encode writes it): the value itself
 * when it already is one (nativeIsCanonical), else a copy with plain objects whose keys are
 * inserted in code-unit order, undefined properties dropped, undefined and function array items
 * as null, bigints as decimal strings. Refuses what encode refuses, with the same errors.
 * NOT_COPIED when an object has a key JavaScript would not keep in insertion order (an array
 * index such as `"10"` is always listed first, in numeric order) or cannot set (`__proto__`):
 * encode walks that value instead.
 */
function canonicalCopy(value: unknown, ancestors: object[]): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value))
        throw new InternalError(`canonicalJson: ${String(value)} cannot be represented in JSON`)
      return value
    case 'bigint':
      return value.toString()
    case 'object':
      break
    default:
      throw new InternalError(`canonicalJson: a ${typeof value} cannot be represented in JSON`)
  }
  if (value === null) return null
  const obj = value as object
  if (ancestors.includes(obj)) throw new InternalError('canonicalJson: the value contains a cycle')
  if (nativeIsCanonical(obj, ancestors.length)) return obj
  ancestors.push(obj)
  let out: unknown = NOT_COPIED
  if (Array.isArray(obj)) {
    const items = obj as unknown[]
    const copy: unknown[] = new Array<unknown>(items.length)
    let i = 0
    for (; i < items.length; i++) {
      const item = items[i]
      const c = item === undefined || typeof item === 'function' ? null : canonicalCopy(item, ancestors)
      if (c === NOT_COPIED) break
      copy[i] = c
    }
    if (i === items.length) out = copy
  } else {
    const copier = shapeOf(obj as Record<string, unknown>).copier()
    if (copier !== null) out = copier(obj, canonicalCopy, ancestors, NOT_COPIED)
  }
  ancestors.pop()
  return out
}

/**
 * Builds canonicalCopy's copy of an object of one shape: its values copied (canonicalCopy, passed
 * in with the ancestors and NOT_COPIED), undefined ones kept as undefined (JSON.stringify drops
 * them, as encode does), into an object literal whose keys are in code-unit order. NOT_COPIED
 * when a value is.
 */
type Copier = (
  record: object,
  copy: (value: unknown, ancestors: object[]) => unknown,
  ancestors: object[],
  notCopied: symbol,
) => unknown

/**
 * A key list seen lately, its sorted copy, and the Copier for objects with those keys, made on
 * first use. null when a key cannot be written in an object literal and come out in insertion
 * order: an array index such as `"10"` is always listed first, and `__proto__` sets the
 * prototype.
 */
class Shape {
  private compiledCopier: Copier | null | undefined
  private compiledSorter: Sorter | null | undefined

  constructor(
    readonly keys: string[],
    readonly sorted: string[],
  ) {}

  copier(): Copier | null {
    if (this.compiledCopier === undefined) this.compiledCopier = compileCopier(this.sorted)
    return this.compiledCopier
  }

  sorter(): Sorter | null {
    if (this.compiledSorter === undefined) this.compiledSorter = compileSorter(this.sorted)
    return this.compiledSorter
  }
}

/** sortKeysShallow's copy of an object of one shape; undefined when a value is undefined. */
type Sorter = (record: object) => object | undefined

/** Whether an object literal with key `k` keeps it in insertion order and as an own property. */
function literalKey(k: string): boolean {
  return !/^[0-9]/.test(k) && k !== '__proto__'
}

/** The Sorter of objects with `sorted` keys, generated as compileCopier's Copier is. */
function compileSorter(sorted: string[]): Sorter | null {
  if (!sorted.every(literalKey)) return null
  const keys = sorted.map((k) => JSON.stringify(k))
  const read = keys.map((key, i) => `const x${i} = record[${key}]`)
  const check = keys.map((_, i) => `x${i} === undefined`).join(' || ')
  const body = [
    ...read,
    `if (${check || 'false'}) return undefined`,
    `return {${keys.map((key, i) => `${key}: x${i}`).join(', ')}}`,
  ]
  return generated<Sorter>(['record'], body)
}

/**
 * The Copier of objects with `sorted` keys, as generated code (as protobufjs and ajv generate
 * theirs): an object literal with a fixed key list is built from one template, where setting the
 * keys one by one goes through the engine's generic keyed store. At 64,000 partitions the digest
 * copies about 330,000 changes, primaries and candidates; this takes about half the time.
 * Keys are embedded as JSON string literals, which are JavaScript string literals.
 */
function compileCopier(sorted: string[]): Copier | null {
  if (!sorted.every(literalKey)) return null
  const lines: string[] = []
  const fields: string[] = []
  sorted.forEach((k, i) => {
    const key = JSON.stringify(k)
    lines.push(
      `const x${i} = record[${key}]`,
      `const v${i} = x${i} === undefined || typeof x${i} === 'string' ? x${i} : copy(x${i}, ancestors)`,
      `if (v${i} === notCopied) return notCopied`,
    )
    fields.push(`${key}: v${i}`)
  })
  lines.push(`return {${fields.join(', ')}}`)
  return generated<Copier>(['record', 'copy', 'ancestors', 'notCopied'], lines)
}

/**
 * A function made from source, or null where the process may not make one (`node
 * --disallow-code-generation-from-strings`): callers then take the plain path.
 */
function generated<F>(params: string[], lines: string[]): F | null {
  try {
    return new Function(...params, lines.join('\n')) as F
  } catch (err) {
    if (err instanceof EvalError) return null
    throw err
  }
}

/** Recently seen shapes (see shapeOf). */
const shapes: Shape[] = []
const SHAPES = 8
let nextShape = 0

/**
 * The shape of a record: its keys (`Object.keys`) and them in code-unit order. The arrays of a
 * plan hold thousands of objects with the same keys in the same order (every change, every
 * candidate): a shape seen lately is reused instead of sorting its keys again.
 */
function shapeOf(record: Record<string, unknown>): Shape {
  const proto = Object.getPrototypeOf(record) as unknown
  if (proto === Object.prototype || proto === null) {
    // A plain object's own keys, in Object.keys order, walked without making the array (for-in
    // sees nothing inherited from Object.prototype or null).
    for (let s = 0; s < shapes.length; s++) {
      const shape = shapes[s]!
      const seen = shape.keys
      let i = 0
      let same = true
      for (const k in record) {
        if (seen[i] !== k) {
          same = false
          break
        }
        i++
      }
      if (same && i === seen.length) return shape
    }
  }
  const keys = Object.keys(record)
  for (let s = 0; s < shapes.length; s++) {
    const shape = shapes[s]!
    const seen = shape.keys
    if (seen.length !== keys.length) continue
    let same = true
    for (let i = 0; i < keys.length; i++) {
      if (seen[i] !== keys[i]) {
        same = false
        break
      }
    }
    if (same) return shape
  }
  // Array.prototype.sort without a comparator orders strings by UTF-16 code units, as compareCodeUnits does.
  const shape = new Shape(keys, [...keys].sort())
  if (shapes.length < SHAPES) shapes.push(shape)
  else shapes[nextShape] = shape
  nextShape = (nextShape + 1) % SHAPES
  return shape
}

/** `Object.keys(record)` in code-unit order (see shapeOf). Callers must not change the returned array. */
function sortedKeys(record: Record<string, unknown>): string[] {
  return shapeOf(record).sorted
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
    for (const k of sortedKeys(record)) {
      if (record[k] !== undefined) setOwn(out, k, sortKeysDeep(record[k]))
    }
    return out as T
  }
  return value
}

/**
 * A copy of a plain object with its own keys in sorted order and undefined properties dropped; its
 * values are kept as they are (not copied, not sorted). For a document whose values are fresh and
 * flat, where sortKeysDeep would copy each array once more.
 */
export function sortKeysShallow<T extends object>(value: T): T {
  const record = value as Record<string, unknown>
  const shape = shapeOf(record)
  // Through the shape's generated literal, unless a value is undefined (dropped here) or a key
  // cannot be written in one.
  const sorted = shape.sorter()?.(record)
  if (sorted !== undefined) return sorted as T
  const out: Record<string, unknown> = {}
  for (const k of shape.sorted) {
    if (record[k] !== undefined) setOwn(out, k, record[k])
  }
  return out as T
}

/** `out[k] = value` as an own property also for `__proto__` (a key JSON.parse makes, which `=` would take as the prototype). */
function setOwn(out: Record<string, unknown>, k: string, value: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, {value, enumerable: true, writable: true, configurable: true})
  else out[k] = value
}

/**
 * `JSON.stringify` with exact integers: a bigint is written as its decimal string. For the plan
 * file, `--json` output and audit records.
 */
export function jsonStringify(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent)
}
