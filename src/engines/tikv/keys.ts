/**
 * TiKV keys as PD shows them: upper-case hex of the raw key, which for TiDB data is the
 * memcomparable encoding (groups of 8 bytes, each followed by a marker `0xFF - padding`) of
 * `t{table id}_r{handle}`, `t{table id}_i{index id}...` or `m...` for TiDB's meta keys.
 *
 * Upper-case hex of equal-width bytes sorts exactly like the bytes, so ranges are compared on the
 * hex strings directly. Pure.
 */

const GROUP = 8
const MARKER = 0xff
const SIGN_MASK = 0x8000000000000000n

/** Bytes of an upper- or lower-case hex string; undefined when it is not hex. */
export function hexToBytes(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9A-Fa-f]*$/.test(hex)) return undefined
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** Upper-case hex, as PD prints keys. */
export function bytesToHex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).toUpperCase().padStart(2, '0')
  return s
}

/** Undoes the memcomparable byte encoding; undefined when the key is not one (PD's DecodeBytes fails). */
export function decodeMemcomparable(key: Uint8Array): Uint8Array | undefined {
  const out: number[] = []
  let i = 0
  for (;;) {
    if (key.length - i < GROUP + 1) return undefined
    const pad = MARKER - key[i + GROUP]
    if (pad > GROUP) return undefined
    for (let j = 0; j < GROUP - pad; j++) out.push(key[i + j])
    for (let j = GROUP - pad; j < GROUP; j++) if (key[i + j] !== 0) return undefined
    i += GROUP + 1
    if (pad !== 0) return Uint8Array.from(out)
  }
}

/** A comparable-encoded int64 (sign bit flipped, big-endian) as a decimal string. */
function decodeInt64(b: Uint8Array, at: number): string | undefined {
  if (b.length - at < 8) return undefined
  let u = 0n
  for (let i = 0; i < 8; i++) u = (u << 8n) | BigInt(b[at + i])
  return BigInt.asIntN(64, u ^ SIGN_MASK).toString()
}

/** What a key names in TiDB's key space. */
export type KeyMeaning =
  {kind: 'infinity'} | {kind: 'meta'} | {kind: 'table'; table: string; row?: string; index?: string} | {kind: 'other'}

/** Decodes a region boundary (hex) the way PD's `codec.Key.MetaOrTable` and TiDB's tablecodec read it. */
export function keyMeaning(hex: string): KeyMeaning {
  if (hex === '') return {kind: 'infinity'}
  const raw = hexToBytes(hex)
  const key = raw && decodeMemcomparable(raw)
  if (!key || key.length === 0) return {kind: 'other'}
  if (key[0] === 0x6d /* m */) return {kind: 'meta'}
  if (key[0] !== 0x74 /* t */) return {kind: 'other'}
  // PD reads the table id even from a short key as 0, which it then ignores.
  const table = decodeInt64(key, 1)
  if (table === undefined || table === '0') return {kind: 'other'}
  const rest = key.subarray(9)
  if (rest.length >= 2 && rest[0] === 0x5f && rest[1] === 0x72 /* _r */)
    return {kind: 'table', table, row: decodeInt64(rest, 2)}
  if (rest.length >= 2 && rest[0] === 0x5f && rest[1] === 0x69 /* _i */)
    return {kind: 'table', table, index: decodeInt64(rest, 2)}
  return {kind: 'table', table}
}

/**
 * PD's `MetaOrTable` on a region's start key: `meta` for TiDB meta keys, the table id for table
 * keys, nothing otherwise (including the empty key and table id 0).
 */
export function metaOrTable(startHex: string): {meta: true} | {table: string} | undefined {
  const m = keyMeaning(startHex)
  if (m.kind === 'meta') return {meta: true}
  if (m.kind === 'table') return {table: m.table}
  return undefined
}

/** A key for a human: `-inf`, `+inf`, `meta`, `t64`, `t64_r100`, `t64_i1`, or the hex. */
export function describeKey(hex: string, end = false): string {
  const m = keyMeaning(hex)
  switch (m.kind) {
    case 'infinity':
      return end ? '+inf' : '-inf'
    case 'meta':
      return `meta(${hex})`
    case 'table':
      if (m.row !== undefined) return `t${m.table}_r${m.row}`
      if (m.index !== undefined) return `t${m.table}_i${m.index}`
      return `t${m.table}`
    default:
      return hex
  }
}

/** Table ids whose rows a range [start, end) may hold, decoded from its boundaries; sorted numerically. */
export function tablesInRange(startHex: string, endHex: string): string[] {
  const s = keyMeaning(startHex)
  const e = keyMeaning(endHex)
  const first = s.kind === 'table' ? BigInt(s.table) : undefined
  let last = e.kind === 'table' ? BigInt(e.table) : undefined
  // An end key that is exactly a table's prefix holds none of that table's rows.
  if (e.kind === 'table' && e.row === undefined && e.index === undefined && last !== undefined) last -= 1n
  if (first === undefined && last === undefined) return []
  if (first === undefined) return last !== undefined && last > 0n ? [String(last)] : []
  if (last === undefined || last < first) return [String(first)]
  // A wide range is listed by its ends: a region rarely spans more than a few tables.
  if (last - first > 16n) return [String(first), String(last)]
  const out: string[] = []
  for (let t = first; t <= last; t++) out.push(String(t))
  return out
}

/** Numeric order of decimal-string uint64 ids (no leading zeros). */
export function compareId(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
}

/** Start keys compare as hex strings; `""` is -inf. */
export function compareStart(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
