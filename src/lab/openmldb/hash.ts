/**
 * How OpenMLDB routes a key to a partition: `pid = hash64(key) % partition_num`, where hash64 is
 * MurmurHash64A over the key's bytes with seed 0xe17a1465, read as a signed 64-bit integer and
 * made non-negative "as the Java client does" (`src/base/hash.h`; the SDK's put path and the
 * distributed iterators use it). Computed here in BigInt, 64-bit wrapping as C++ does.
 */

const M = 0xc6a4a7935bd1e995n
const SEED = 0xe17a1465n
const R = 47n
const mul = (a: bigint, b: bigint): bigint => BigInt.asUintN(64, a * b)

/** MurmurHash64A (Austin Appleby's 64-bit MurmurHash2 for 64-bit platforms), little-endian blocks. */
export function murmurHash64A(data: Uint8Array, seed: bigint = SEED): bigint {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  let h = BigInt.asUintN(64, seed ^ mul(BigInt(bytes.length), M))
  const whole = bytes.length - (bytes.length & 7)
  for (let i = 0; i < whole; i += 8) {
    let k = mul(bytes.readBigUInt64LE(i), M)
    k ^= k >> R
    k = mul(k, M)
    h = mul(h ^ k, M)
  }
  if (bytes.length & 7) {
    for (let j = bytes.length - whole - 1; j >= 0; j--) h ^= BigInt(bytes[whole + j]) << BigInt(8 * j)
    h = mul(h, M)
  }
  h ^= h >> R
  h = mul(h, M)
  h ^= h >> R
  return h
}

/** OpenMLDB's `base::hash64`: the hash as int64, negated when negative (INT64_MIN stays, as in C++). */
export function hash64(key: string): bigint {
  const v = BigInt.asIntN(64, murmurHash64A(Buffer.from(key, 'utf8')))
  return v < 0n ? BigInt.asIntN(64, -v) : v
}

/** The partition of a key: `(uint32_t)(hash64(key) % partition_num)`. */
export function partitionOfKey(key: string, partitions: number): number {
  return Number(BigInt.asUintN(32, hash64(key) % BigInt(partitions)))
}
