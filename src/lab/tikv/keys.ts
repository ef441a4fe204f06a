/**
 * TiDB's key layout as TiKV and PD see it: row keys `t{table}_r{handle}` and meta keys `m...`, each
 * memcomparable-encoded the way TiDB writes them to TiKV (`codec.EncodeBytes`: groups of 8 bytes, each
 * followed by a marker 0xFF minus the padding). PD shows these raw keys as upper-case hex.
 */

const GROUP = 8
const MARKER = 0xff
const PAD = 0x00
const SIGN_MASK = 0x8000000000000000n

/** `codec.EncodeBytes`: memcomparable form of `raw`. */
export function encodeBytes(raw: Uint8Array): Buffer {
  const groups = Math.floor(raw.length / GROUP) + 1
  const out = Buffer.alloc(groups * (GROUP + 1), PAD)
  for (let g = 0; g < groups; g++) {
    const from = g * GROUP
    const take = Math.min(GROUP, raw.length - from)
    out.set(raw.subarray(from, from + take), g * (GROUP + 1))
    out[g * (GROUP + 1) + GROUP] = MARKER - (GROUP - take)
  }
  return out
}

/** `codec.DecodeBytes`: the raw key and what follows it, or undefined when `key` is not memcomparable. */
export function decodeBytes(key: Uint8Array): {raw: Buffer; rest: Buffer} | undefined {
  const parts: Buffer[] = []
  let off = 0
  for (;;) {
    if (key.length - off < GROUP + 1) return undefined
    const marker = key[off + GROUP]
    const pad = MARKER - marker
    if (pad > GROUP) return undefined
    const real = GROUP - pad
    parts.push(Buffer.from(key.subarray(off, off + real)))
    for (let i = real; i < GROUP; i++) if (key[off + i] !== PAD) return undefined
    off += GROUP + 1
    if (pad !== 0) break
  }
  return {raw: Buffer.concat(parts), rest: Buffer.from(key.subarray(off))}
}

/** `codec.EncodeInt`: an int64 as 8 big-endian bytes with the sign bit flipped. */
export function encodeInt(v: number | bigint): Buffer {
  const b = Buffer.alloc(8)
  b.writeBigUInt64BE(BigInt.asUintN(64, BigInt(v)) ^ SIGN_MASK)
  return b
}

/** `codec.DecodeInt` of the first 8 bytes. */
export function decodeInt(b: Uint8Array): bigint | undefined {
  if (b.length < 8) return undefined
  return BigInt.asIntN(64, Buffer.from(b.subarray(0, 8)).readBigUInt64BE() ^ SIGN_MASK)
}

/** The raw (unencoded) key of a table's row. */
export function rawRowKey(tableId: number, handle: number): Buffer {
  return Buffer.concat([Buffer.from('t'), encodeInt(tableId), Buffer.from('_r'), encodeInt(handle)])
}

/** The key TiKV stores for a row: memcomparable-encoded `t{table}_r{handle}`. */
export function rowKey(tableId: number, handle: number): Buffer {
  return encodeBytes(rawRowKey(tableId, handle))
}

/** The first key of a table (where TiDB splits a new table's region): encoded `t{table}`. */
export function tableStartKey(tableId: number): Buffer {
  return encodeBytes(Buffer.concat([Buffer.from('t'), encodeInt(tableId)]))
}

/** The first meta key: encoded `m`. */
export function metaStartKey(): Buffer {
  return encodeBytes(Buffer.from('m'))
}

/** A meta key of TiDB's schema store: encoded `m` + suffix. */
export function metaKey(suffix: string): Buffer {
  return encodeBytes(Buffer.from(`m${suffix}`))
}

/** PD's `codec.Key.MetaOrTable`: whether the key is a meta key, else its table id (0 when neither). */
export function metaOrTable(key: Uint8Array): {meta: boolean; tableId: number} {
  const d = decodeBytes(key)
  if (!d) return {meta: false, tableId: 0}
  if (d.raw[0] === 0x6d) return {meta: true, tableId: 0}
  if (d.raw[0] === 0x74) {
    const id = decodeInt(d.raw.subarray(1))
    return {meta: false, tableId: id === undefined ? 0 : Number(id)}
  }
  return {meta: false, tableId: 0}
}

/** The table id and handle of a row key, when it is one. */
export function decodeRowKey(key: Uint8Array): {tableId: number; handle: number} | undefined {
  const d = decodeBytes(key)
  if (!d || d.raw.length !== 19 || d.raw[0] !== 0x74 || d.raw[9] !== 0x5f || d.raw[10] !== 0x72) return undefined
  return {tableId: Number(decodeInt(d.raw.subarray(1))), handle: Number(decodeInt(d.raw.subarray(11)))}
}

/** PD's `HexRegionKeyStr`: upper-case hex; the empty key is "". */
export function hexKey(key: Uint8Array): string {
  return Buffer.from(key).toString('hex').toUpperCase()
}

/** Compares two keys where an empty end key means +infinity. */
export function compareEnd(a: Uint8Array, b: Uint8Array): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1
  if (b.length === 0) return -1
  return Buffer.compare(a, b)
}

/** Whether `key` is in [start, end) with an empty end meaning +infinity. */
export function inRange(key: Uint8Array, start: Uint8Array, end: Uint8Array): boolean {
  return Buffer.compare(key, start) >= 0 && (end.length === 0 || Buffer.compare(key, end) < 0)
}

const SORT_KEYS = new WeakMap<Uint8Array, string>()

/**
 * A string that sorts like the key's bytes (latin1: one code unit per byte), cached per buffer:
 * comparing these with < is much cheaper than Buffer.compare in sorts of 100,000 regions.
 */
export function sortKey(key: Buffer): string {
  let s = SORT_KEYS.get(key)
  if (s === undefined) {
    s = key.toString('latin1')
    SORT_KEYS.set(key, s)
  }
  return s
}

/** Orders two keys by their bytes through sortKey. */
export function compareKeys(a: Buffer, b: Buffer): number {
  const x = sortKey(a)
  const y = sortKey(b)
  return x < y ? -1 : x > y ? 1 : 0
}
