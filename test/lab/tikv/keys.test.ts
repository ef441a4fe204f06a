import {describe, expect, test} from 'vitest'

import {
  decodeBytes,
  decodeRowKey,
  encodeBytes,
  encodeInt,
  hexKey,
  metaOrTable,
  metaStartKey,
  rowKey,
  tableStartKey,
} from '../../../src/lab/tikv/keys.js'

describe('TiDB keys, memcomparable-encoded as TiKV stores them', () => {
  test('table prefix, row key and meta key match the bytes TiDB writes', () => {
    expect(hexKey(tableStartKey(64))).toBe('7480000000000000FF4000000000000000F8')
    expect(hexKey(rowKey(64, 501))).toBe('7480000000000000FF405F728000000000FF0001F50000000000FA')
    expect(hexKey(metaStartKey())).toBe('6D00000000000000F8')
    expect(hexKey(encodeBytes(Buffer.alloc(0)))).toBe('0000000000000000F7')
    expect(hexKey(encodeBytes(Buffer.from('12345678')))).toBe('3132333435363738FF0000000000000000F7')
    expect(encodeInt(-1).toString('hex')).toBe('7fffffffffffffff')
  })

  test('decoding round-trips and MetaOrTable reads the start key as PD does', () => {
    expect(decodeBytes(rowKey(7, 9))?.raw.subarray(0, 1).toString()).toBe('t')
    expect(decodeRowKey(rowKey(64, 501))).toEqual({tableId: 64, handle: 501})
    expect(metaOrTable(tableStartKey(66))).toEqual({meta: false, tableId: 66})
    expect(metaOrTable(rowKey(67, 251))).toEqual({meta: false, tableId: 67})
    expect(metaOrTable(metaStartKey())).toEqual({meta: true, tableId: 0})
    expect(metaOrTable(Buffer.alloc(0))).toEqual({meta: false, tableId: 0})
    expect(metaOrTable(Buffer.from('not encoded'))).toEqual({meta: false, tableId: 0})
  })

  test('encoding keeps the order of the raw keys', () => {
    const keys = [tableStartKey(64), rowKey(64, 1), rowKey(64, 501), tableStartKey(65), metaStartKey()]
    const sorted = [...keys].sort(Buffer.compare).map(hexKey)
    expect(sorted).toEqual(
      [metaStartKey(), tableStartKey(64), rowKey(64, 1), rowKey(64, 501), tableStartKey(65)].map(hexKey),
    )
  })
})
