/**
 * Pegasus's key schema and the client's partition routing, as upstream defines them
 * (src/base/pegasus_key_schema.h, go-client/pegasus/util.go):
 *
 * - a stored key is `u16 big-endian hash-key length, hash key, sort key`;
 * - a key routes to partition `crc64(hash key) % partition_count`, where crc64 is the reflected
 *   CRC-64 with polynomial 0x9a6c9329ac4bc9b5 (Go's `crc64.MakeTable(0x9a6c9329ac4bc9b5)`,
 *   rDSN's `crc64_calc(..., 0)`); a key with an empty hash key hashes its sort key instead.
 */

/** The longest hash key Pegasus stores (the length prefix is a u16, and upstream checks `< UINT16_MAX`). */
export const MAX_HASH_KEY_BYTES = 0xfffe

/** The reflected polynomial, split into 32-bit halves so the table loop stays in small integers. */
const POLY_HI = 0x9a6c9329
const POLY_LO = 0xac4bc9b5

const TABLE_HI = new Uint32Array(256)
const TABLE_LO = new Uint32Array(256)
for (let i = 0; i < 256; i++) {
  let hi = 0
  let lo = i
  for (let k = 0; k < 8; k++) {
    const carry = lo & 1
    lo = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0
    hi = hi >>> 1
    if (carry) {
      hi = (hi ^ POLY_HI) >>> 0
      lo = (lo ^ POLY_LO) >>> 0
    }
  }
  TABLE_HI[i] = hi
  TABLE_LO[i] = lo
}

/** CRC-64 of `data` (initial value 0, as Pegasus clients and servers call it). */
export function crc64(data: Uint8Array): bigint {
  let hi = 0xffffffff
  let lo = 0xffffffff
  for (const b of data) {
    const j = (lo ^ b) & 0xff
    lo = (((lo >>> 8) | ((hi & 0xff) << 24)) ^ TABLE_LO[j]) >>> 0
    hi = ((hi >>> 8) ^ TABLE_HI[j]) >>> 0
  }
  return (BigInt((hi ^ 0xffffffff) >>> 0) << 32n) | BigInt((lo ^ 0xffffffff) >>> 0)
}

/** The partition a client sends a hash key to. */
export function partitionOf(hashKey: Uint8Array, partitionCount: number): number {
  return Number(crc64(hashKey) % BigInt(partitionCount))
}

/** Encodes hash key and sort key as Pegasus stores them (and as put/get/remove carry them). */
export function encodeKey(hashKey: Uint8Array, sortKey: Uint8Array): Buffer {
  if (hashKey.length > MAX_HASH_KEY_BYTES)
    throw new RangeError(`a hash key holds at most ${MAX_HASH_KEY_BYTES} bytes (got ${hashKey.length})`)
  const out = Buffer.alloc(2 + hashKey.length + sortKey.length)
  out.writeUInt16BE(hashKey.length, 0)
  out.set(hashKey, 2)
  out.set(sortKey, 2 + hashKey.length)
  return out
}

/** Splits a stored key into hash key and sort key; undefined when the length prefix does not fit. */
export function decodeKey(key: Uint8Array): {hashKey: Buffer; sortKey: Buffer} | undefined {
  if (key.length < 2) return undefined
  const b = Buffer.from(key.buffer, key.byteOffset, key.length)
  const n = b.readUInt16BE(0)
  if (b.length < 2 + n) return undefined
  return {hashKey: b.subarray(2, 2 + n), sortKey: b.subarray(2 + n)}
}
