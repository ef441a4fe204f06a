/**
 * OpenMLDB's protobuf messages as the lab stores them in ZooKeeper, from the lab's own schema
 * (`proto/openmldb.proto`, OpenMLDB's field numbers) loaded with protobufjs. uint64 fields are
 * read back as bigint, so terms, offsets and op ids stay exact.
 */
import {join} from 'node:path'

import protobuf from 'protobufjs'

import {packageRoot} from '../../package-root.js'

let root: protobuf.Root | undefined

/** The loaded schema (cached). */
export function protoRoot(): protobuf.Root {
  if (root) return root
  const r = new protobuf.Root()
  const dir = join(packageRoot(), 'proto')
  r.resolvePath = (_origin, target) => join(dir, target.replace(/^.*\//, ''))
  r.loadSync('openmldb.proto', {keepCase: true})
  r.resolveAll()
  return (root = r)
}

/** A message type by full name, e.g. `openmldb.nameserver.TableInfo`. */
export function protoType(name: string): protobuf.Type {
  return protoRoot().lookupType(name)
}

/** An enum by full name, e.g. `openmldb.api.OPType`. */
export function protoEnum(name: string): protobuf.Enum {
  return protoRoot().lookupEnum(name)
}

const OBJECT_OPTIONS: protobuf.IConversionOptions = {longs: String, enums: String, defaults: false}

/** Encodes a plain object (enums by name or number, uint64 as bigint, number or string). */
export function encodeMessage(type: string, value: Record<string, unknown>): Buffer {
  const t = protoType(type)
  const msg = t.fromObject(toLongs(value) as Record<string, unknown>)
  return Buffer.from(t.encode(msg).finish())
}

/** Decodes bytes into a plain object: enums by name, uint64 as bigint, unset fields absent. */
export function decodeMessage<T = Record<string, unknown>>(type: string, bytes: Uint8Array): T {
  const t = protoType(type)
  const obj = t.toObject(t.decode(bytes), OBJECT_OPTIONS)
  return fromLongs(t, obj) as T
}

/** protobufjs takes 64-bit values as decimal strings; bigints become those. */
function toLongs(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString()
  if (Array.isArray(v)) return v.map(toLongs)
  if (v instanceof Uint8Array) return v
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toLongs(x)
    return out
  }
  return v
}

const LONG_TYPES = new Set(['uint64', 'int64', 'fixed64', 'sint64', 'sfixed64'])

/** Turns the decimal strings protobufjs wrote for 64-bit fields into bigints, by the schema. */
function fromLongs(t: protobuf.Type, obj: Record<string, unknown>): Record<string, unknown> {
  for (const f of t.fieldsArray) {
    const v = obj[f.name]
    if (v === undefined) continue
    const conv = (x: unknown): unknown => {
      if (LONG_TYPES.has(f.type)) return BigInt(x as string)
      if (f.resolvedType instanceof protobuf.Type) return fromLongs(f.resolvedType, x as Record<string, unknown>)
      return x
    }
    obj[f.name] = f.repeated ? (v as unknown[]).map(conv) : conv(v)
  }
  return obj
}
