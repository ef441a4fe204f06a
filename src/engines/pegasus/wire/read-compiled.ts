/**
 * Struct readers compiled from the IDL field tables, one JavaScript function per struct, made once
 * (as protobufjs and thrift's own code generator do): a switch on the field id, a store to a
 * property of a fixed name, primitives read straight from the buffer. A pegasus-scale gather reads
 * 192,000 replica_info and 68,000 app_info structs; the schema walk (readStruct in messages.ts)
 * spends most of its time dispatching on the field table and storing through computed keys.
 *
 * A compiled reader gives exactly what the walk gives (messages.ts keeps the walk, and the tests
 * compare the two): the required fields' keys first in IDL order, then the optional ones in the
 * order they arrive; unknown field ids and fields of an unexpected type skipped; a missing required
 * field set to its IDL default; the same errors with the same messages, from the same bytes.
 */
import thrift from 'thrift'

import {
  BufferReadTransport,
  TType,
  WireError,
  decodeUtf8,
  hostPortOf,
  i64NumOfWords,
  rpcAddressOfWords,
  truncatedError,
} from './protocol.js'
import {missingValueOf, ttypeOf, type FieldKind, type StructSchema} from './schema.js'

/** Reads one struct from a transport's buffer at its position, leaving the position after it. */
export type CompiledReader = (c: BufferReadTransport) => Record<string, unknown>

// ---- skipping, read at c.pos as the transport's reads do (the generated code inlines its own reads) ----

/** The offset of the `n` bytes to read next, moving past them; truncation as BufferReadTransport words it. */
function take(c: BufferReadTransport, n: number): number {
  const at = c.pos
  if (at + n > c.buf.length) throw truncatedError(n, at, c.buf.length)
  c.pos = at + n
  return at
}

function rByte(c: BufferReadTransport): number {
  const at = take(c, 1)
  return (c.buf[at]! << 24) >> 24
}

function rI16(c: BufferReadTransport): number {
  const at = take(c, 2)
  const b = c.buf
  return ((b[at]! << 24) >> 16) | b[at + 1]!
}

function rI32(c: BufferReadTransport): number {
  const at = take(c, 4)
  const b = c.buf
  return (b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!
}

/** The error TBinaryProtocol.readString throws for a negative length. */
function negativeStringSize(): Error {
  const T = thrift.Thrift as unknown as {
    TProtocolException: new (type: number, message: string) => Error
  }
  // TProtocolExceptionType.NEGATIVE_SIZE
  return new T.TProtocolException(2, 'Negative string size')
}

/** TBinaryProtocol.readString over BufferReadTransport.readString. */
function rString(c: BufferReadTransport): string {
  const len = rI32(c)
  if (len === 0) return ''
  if (len < 0) throw negativeStringSize()
  const at = take(c, len)
  return decodeUtf8(c.buf, at, at + len)
}

/** The thrift types the binary protocol has, STOP aside (what skipValue accepts). */
const SKIPPABLE: boolean[] = []
for (const t of Object.values(TType)) if (t !== TType.STOP) SKIPPABLE[t] = true

/** messages.ts's skipValue: an unknown type is a WireError, else the value is skipped. */
function skipField(c: BufferReadTransport, ftype: number): void {
  if (ftype < 0 || SKIPPABLE[ftype] !== true) throw new WireError(`unknown thrift type ${ftype}`)
  skip(c, ftype)
}

/** TBinaryProtocol.skip, read for read (the element types of lists and maps are checked only there). */
function skip(c: BufferReadTransport, type: number): void {
  switch (type) {
    case TType.BOOL:
    case TType.BYTE:
      rByte(c)
      return
    case TType.I16:
      rI16(c)
      return
    case TType.I32:
      rI32(c)
      return
    case TType.I64:
    case TType.DOUBLE:
      take(c, 8)
      return
    case TType.STRING:
      rString(c)
      return
    case TType.STRUCT:
      for (;;) {
        const ftype = rByte(c)
        if (ftype === TType.STOP) return
        rI16(c)
        skip(c, ftype)
      }
    case TType.MAP: {
      const ktype = rByte(c)
      const vtype = rByte(c)
      const size = rI32(c)
      for (let i = 0; i < size; i++) {
        skip(c, ktype)
        skip(c, vtype)
      }
      return
    }
    case TType.SET:
    case TType.LIST: {
      const etype = rByte(c)
      const size = rI32(c)
      for (let i = 0; i < size; i++) skip(c, etype)
      return
    }
    default:
      throw new Error(`Invalid type: ${type}`)
  }
}

function negativeListSize(): WireError {
  return new WireError('negative list size')
}

function negativeMapSize(): WireError {
  return new WireError('negative map size')
}

/** What the generated code calls, by the name it calls it. */
const HELPERS = {
  truncatedError,
  negativeStringSize,
  negativeListSize,
  negativeMapSize,
  skipField,
  decodeUtf8,
  i64NumOfWords,
  rpcAddressOfWords,
  hostPortOf,
}

const compiled = new WeakMap<StructSchema, CompiledReader>()
const compiling = new Set<StructSchema>()

/**
 * Whether this process may make functions from source (`node --disallow-code-generation-from-strings`
 * forbids it); where it may not, the codecs read through the schema walk.
 */
export const CODE_GENERATION: boolean = (() => {
  try {
    return new Function('return true')() === true
  } catch {
    return false
  }
})()

/** The compiled reader of a schema, made on first use. */
export function compiledReaderOf(schema: StructSchema): CompiledReader {
  let reader = compiled.get(schema)
  if (!reader) {
    compiling.add(schema)
    try {
      reader = compile(schema)
    } finally {
      compiling.delete(schema)
    }
    compiled.set(schema, reader)
  }
  return reader
}

/** A JavaScript string literal of `s`. */
const lit = (s: string): string => JSON.stringify(s)

type PlainObjectMaker = new () => Record<string, unknown>

/**
 * A constructor of plain objects (prototype Object.prototype, no own property but these) that sets
 * `names` to undefined in this order, as the walk's stores into `{}` do (`__proto__` included).
 * Made by `new` rather than as an object literal: V8 tracks a literal's allocation site, and with
 * a literal the optimised read_replica_info was thrown away twice while a pegasus-scale gather kept
 * its 192,000 replicas (`node --trace-deopt`: "code dependencies"), each recompile ~25 ms of CPU;
 * with `new` it is compiled once (gather CPU ~0.85 s -> ~0.7 s against the lab).
 */
function plainObjectMaker(names: readonly string[]): PlainObjectMaker {
  const make = new Function(names.map((n) => `this[${lit(n)}] = undefined\n`).join('')) as PlainObjectMaker
  make.prototype = Object.prototype
  return make
}

/**
 * The generated code keeps the buffer in `b`, its length in `n` and the position in `p`, and
 * stores `p` back into `c.pos` around what it calls with the transport (nested structs, skips).
 * Every read checks its bytes as BufferReadTransport.take does, with the same error.
 */
const need = (k: string): string => `if (p + ${k} > n) throw truncatedError(${k}, p, n)\n`
const I32 = '((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3])'
const I16 = '(((b[p] << 24) >> 16) | b[p + 1])'
const BYTE = '((b[p] << 24) >> 24)'

function compile(schema: StructSchema): CompiledReader {
  // Values the code refers to (nested readers, default makers), passed in as e0, e1, ...
  const env: unknown[] = []
  const ref = (v: unknown): string => {
    env.push(v)
    return `e${env.length - 1}`
  }
  let temps = 0
  const temp = (base: string): string => `${base}${temps++}`

  /** Statements reading a value of `kind` into `target` (an assignable expression). */
  const read = (kind: FieldKind, target: string): string => {
    if (typeof kind === 'object') {
      if ('list' in kind) {
        // readListBegin: the element type (not checked, as the walk does not check it), the size.
        const size = temp('size')
        const arr = temp('list')
        const i = temp('i')
        return (
          need('1') +
          `p += 1\n` +
          need('4') +
          `const ${size} = ${I32}\n` +
          `p += 4\n` +
          `if (${size} < 0) throw negativeListSize()\n` +
          // Every element takes a byte at least: no more room than the bytes left (see readValue).
          `const ${arr} = new Array(${size} <= n - p ? ${size} : n - p)\n` +
          `for (let ${i} = 0; ${i} < ${size}; ${i}++) {\n${read(kind.list, `${arr}[${i}]`)}}\n` +
          `${target} = ${arr}\n`
        )
      }
      if ('map' in kind) {
        // readMapBegin: key type, value type, size; keys as String() makes them, as the walk does.
        const size = temp('size')
        const map = temp('map')
        const i = temp('i')
        const k = temp('k')
        const v = temp('v')
        return (
          need('1') +
          `p += 1\n` +
          need('1') +
          `p += 1\n` +
          need('4') +
          `const ${size} = ${I32}\n` +
          `p += 4\n` +
          `if (${size} < 0) throw negativeMapSize()\n` +
          `const ${map} = {}\n` +
          `for (let ${i} = 0; ${i} < ${size}; ${i}++) {\n` +
          `let ${k}, ${v}\n` +
          read(kind.map[0], k) +
          read(kind.map[1], v) +
          `${map}[String(${k})] = ${v}\n` +
          `}\n` +
          `${target} = ${map}\n`
        )
      }
      const nested = kind.struct
      // A struct that contains itself (none in the IDL) reaches its reader once it is made.
      const reader = compiling.has(nested)
        ? (c: BufferReadTransport) => compiledReaderOf(nested)(c)
        : compiledReaderOf(nested)
      return `c.pos = p\n${target} = ${ref(reader)}(c)\np = c.pos\n`
    }
    switch (kind) {
      case 'bool':
        // TBinaryProtocol.readBool: any byte but 0 is true.
        return need('1') + `${target} = b[p] !== 0\np += 1\n`
      case 'i32':
        return need('4') + `${target} = ${I32}\np += 4\n`
      case 'i64':
      case 'address':
      case 'gpid': {
        // Two words read one after the other, as readI64Num, readRpcAddress and readGpid read them.
        const hi = temp('hi')
        const lo = temp('lo')
        const value = {
          i64: `i64NumOfWords(${hi}, ${lo} >>> 0)`,
          address: `rpcAddressOfWords(${hi}, ${lo})`,
          // The high word is partition_index, the low one app_id (formatGpid's text).
          gpid: `\`\${${lo}}.\${${hi}}\``,
        }[kind]
        return (
          need('4') +
          `const ${hi} = ${I32}\n` +
          `p += 4\n` +
          need('4') +
          `const ${lo} = ${I32}\n` +
          `p += 4\n` +
          `${target} = ${value}\n`
        )
      }
      case 'i64big':
        // TBinaryProtocol.readI64 takes the 8 bytes at once.
        return need('8') + `${target} = b.readBigInt64BE(p)\np += 8\n`
      case 'string':
      case 'error_code': {
        // TBinaryProtocol.readString over BufferReadTransport.readString.
        const len = temp('len')
        return (
          need('4') +
          `const ${len} = ${I32}\n` +
          `p += 4\n` +
          `if (${len} === 0) ${target} = ''\n` +
          `else {\n` +
          `if (${len} < 0) throw negativeStringSize()\n` +
          need(len) +
          `${target} = decodeUtf8(b, p, p + ${len})\n` +
          `p += ${len}\n` +
          `}\n`
        )
      }
      case 'host_port': {
        // readHostPort: the host string, the port as i16, the type byte.
        const host = temp('host')
        const port = temp('port')
        return (
          `let ${host}\n` +
          read('string', host) +
          need('2') +
          `const ${port} = ${I16} & 0xffff\n` +
          `p += 2\n` +
          need('1') +
          `${target} = hostPortOf(${host}, ${port}, ${BYTE})\n` +
          `p += 1\n`
        )
      }
    }
  }

  const required = schema.fields.filter((f) => !f.optional)
  const seen = new Set<number>()
  const cases: string[] = []
  for (const f of schema.fields) {
    // The first declaration of an id is the one read, as the walk's field table has it (and the
    // walk never looks a negative id up).
    if (seen.has(f.id) || f.id < 0) continue
    seen.add(f.id)
    cases.push(
      `case ${f.id}:\n` +
        `if (ftype === ${ttypeOf(f.kind)}) {\n` +
        read(f.kind, `out[${lit(f.name)}]`) +
        `continue\n` +
        `}\n` +
        `break\n`,
    )
  }
  // The required keys first, in IDL order, set by a constructor made for the struct (see
  // plainObjectMaker): `out` is a plain object, as the walk's `{}` with the same keys.
  const start = `const out = new ${ref(plainObjectMaker(required.map((f) => f.name)))}()\n`
  const fill = required
    .map((f) => `if (out[${lit(f.name)}] === undefined) out[${lit(f.name)}] = ${ref(() => missingValueOf(f))}()\n`)
    .join('')
  const body =
    `return function read_${schema.name.replace(/\W/g, '_')}(c) {\n` +
    `const b = c.buf\n` +
    `const n = b.length\n` +
    `let p = c.pos\n` +
    start +
    `for (;;) {\n` +
    need('1') +
    `const ftype = ${BYTE}\n` +
    `p += 1\n` +
    `if (ftype === ${TType.STOP}) break\n` +
    need('2') +
    `const fid = ${I16}\n` +
    `p += 2\n` +
    `switch (fid) {\n` +
    cases.join('') +
    `}\n` +
    `c.pos = p\n` +
    `skipField(c, ftype)\n` +
    `p = c.pos\n` +
    `}\n` +
    `c.pos = p\n` +
    fill +
    `return out\n` +
    `}\n`
  const names = [...Object.keys(HELPERS), ...env.map((_, i) => `e${i}`)]
  const make = new Function(...names, body) as (...args: unknown[]) => CompiledReader
  return make(...Object.values(HELPERS), ...env)
}

/** The source of a schema's compiled reader, for reading and debugging. */
export function compiledSourceOf(schema: StructSchema): string {
  return compiledReaderOf(schema).toString()
}
