// Partition routing as OpenMLDB's clients do it: MurmurHash64A with seed 0xe17a1465 (src/base/hash.h),
// checked against the values of OpenMLDB's own hash_test.cc, made non-negative, modulo the partitions.
import {describe, expect, it} from 'vitest'

import {hash64, murmurHash64A, partitionOfKey} from '../../../src/lab/openmldb/hash.js'

describe('OpenMLDB lab: key to partition', () => {
  it('MurmurHash64A gives the values of OpenMLDB hash_test.cc', () => {
    expect(BigInt.asIntN(64, murmurHash64A(Buffer.from('hello')))).toBe(-4155090522938856779n)
    // int32_t -1 as its four bytes.
    expect(BigInt.asIntN(64, murmurHash64A(Buffer.from([0xff, 0xff, 0xff, 0xff])))).toBe(-2087233940855511134n)
  })

  it('hash64 is the absolute value; the partition is its remainder', () => {
    expect(hash64('hello')).toBe(4155090522938856779n)
    expect(partitionOfKey('hello', 8)).toBe(Number(4155090522938856779n % 8n))
    // Keys of every length class (0 to 7 tail bytes, several blocks) stay within the partitions.
    const counts = new Array<number>(8).fill(0)
    for (let i = 0; i < 4000; i++) counts[partitionOfKey(`k${'x'.repeat(i % 17)}${i}`, 8)]++
    expect(counts.every((n) => n > 400)).toBe(true)
  })
})
