/**
 * The shape of the IDL field tables (messages.ts declares them): what a field holds, its thrift type
 * on the wire, and the value a required field takes when it does not arrive. Shared by the schema
 * walk (messages.ts) and the compiled readers (read-compiled.ts).
 */
import {TType} from './protocol.js'

/** What a field holds. `address`, `host_port`, `gpid` and `error_code` are Pegasus's raw encodings. */
export type FieldKind =
  | 'bool'
  | 'i32'
  | 'i64'
  | 'i64big'
  | 'string'
  | 'address'
  | 'host_port'
  | 'gpid'
  | 'error_code'
  | {list: FieldKind}
  | {map: [FieldKind, FieldKind]}
  | {struct: StructSchema}

/** One IDL field. */
export interface FieldSpec {
  id: number
  name: string
  kind: FieldKind
  /** IDL `optional`: written only when present. */
  optional?: boolean
  /** The IDL default for a required field missing on the wire (else the type's zero value). */
  default?: unknown
}

/** One IDL struct. */
export interface StructSchema {
  name: string
  fields: FieldSpec[]
}

/** Thrift type id of a field of this kind, as Pegasus's generated code writes it. */
export function ttypeOf(kind: FieldKind): number {
  if (typeof kind === 'object') {
    if ('list' in kind) return TType.LIST
    if ('map' in kind) return TType.MAP
    return TType.STRUCT
  }
  switch (kind) {
    case 'bool':
      return TType.BOOL
    case 'i32':
      return TType.I32
    case 'i64':
    case 'i64big':
      return TType.I64
    case 'string':
      return TType.STRING
    default:
      // rpc_address, host_port, gpid and error_code are declared as structs in dsn.thrift,
      // so their field and element type is T_STRUCT although the payload is raw.
      return TType.STRUCT
  }
}

/** The zero value of a kind (a fresh list, map or struct each time). */
export function zeroOf(kind: FieldKind): unknown {
  if (typeof kind === 'object') {
    if ('list' in kind) return []
    if ('map' in kind) return {}
    return readStructDefaults(kind.struct)
  }
  switch (kind) {
    case 'bool':
      return false
    case 'i32':
    case 'i64':
      return 0
    case 'i64big':
      return 0n
    case 'error_code':
      // dsn::error_code() is ERR_OK.
      return 'ERR_OK'
    default:
      return ''
  }
}

/** What a required field that did not arrive reads as: its IDL default, else its type's zero value. */
export function missingValueOf(f: FieldSpec): unknown {
  return f.default ?? zeroOf(f.kind)
}

function readStructDefaults(schema: StructSchema): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of schema.fields) if (!f.optional) out[f.name] = missingValueOf(f)
  return out
}
