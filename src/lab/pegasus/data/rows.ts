/**
 * The rows a lab table is loaded with, and which partition holds each: row i has hash key
 * `row<i>`, sort key `c` and value `value-<i>`. Hash keys are taken in order and each goes to
 * the partition the client's hash sends it to, skipping those whose partition already has its
 * share, so partition p holds exactly `rowsOfPartition(rows, partitions, p)` rows (the lab's
 * model: a partition's rows are its first decrees, one put each). `lab up` puts them and
 * `lab verify` gets them back with nothing but this list and the client's routing.
 */
import {decodeKey, encodeKey, partitionOf} from './key.js'

/** The sort key of every lab row. */
export const ROW_SORT_KEY = Buffer.from('c')

/** Rows of partition `p` when `rows` are spread over `n` partitions (evenly, the first ones get the rest). */
export function rowsOfPartition(rows: number, n: number, p: number): number {
  return Math.floor(rows / n) + (p < rows % n ? 1 : 0)
}

/** The hash key of row i. */
export function rowHashKey(i: number): Buffer {
  return Buffer.from(`row${i}`)
}

/** The value of row i. */
export function rowValue(i: number): Buffer {
  return Buffer.from(`value-${i}`)
}

/** Which rows a table of `partitions` x `rows` holds where. */
export interface RowLayout {
  partitions: number
  rows: number
  /** Row numbers by partition, in put (decree) order. */
  byPartition: Int32Array[]
  /** Row number -> its rank within its partition, -1 for a hash key that was skipped. */
  rank: Int32Array
}

const layouts = new Map<string, RowLayout>()

/** The layout of a table (computed once per shape). */
export function rowLayout(partitions: number, rows: number): RowLayout {
  const id = `${partitions}x${rows}`
  const cached = layouts.get(id)
  if (cached) return cached
  const want = Array.from({length: partitions}, (_, p) => rowsOfPartition(rows, partitions, p))
  const byPartition = want.map((n) => new Int32Array(n))
  const filled = new Array<number>(partitions).fill(0)
  const ranks: number[] = []
  let left = rows
  for (let i = 0; left > 0; i++) {
    const p = partitionOf(rowHashKey(i), partitions)
    if (filled[p] < want[p]) {
      byPartition[p][filled[p]] = i
      ranks.push(filled[p]++)
      left--
    } else ranks.push(-1)
  }
  const layout = {partitions, rows, byPartition, rank: Int32Array.from(ranks)}
  layouts.set(id, layout)
  return layout
}

/** The stored key of row i. */
export function rowKey(i: number): Buffer {
  return encodeKey(rowHashKey(i), ROW_SORT_KEY)
}

/** The row number of a stored key, when it is one of the lab's rows. */
export function rowNumberOf(key: Buffer): number | undefined {
  const k = decodeKey(key)
  if (!k || !k.sortKey.equals(ROW_SORT_KEY)) return undefined
  const m = /^row(0|[1-9]\d{0,9})$/.exec(k.hashKey.toString('latin1'))
  return m ? Number(m[1]) : undefined
}
