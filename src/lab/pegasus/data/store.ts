/**
 * The data of the lab's partitions. Each partition has one mutation log (decree 1, 2, ...); a
 * replica holds a prefix of it (its `rows` decrees) and serves what it has committed, so a
 * replica's readable data is the log up to min(rows, last committed decree). A write on a primary
 * that holds fewer decrees than the log has (a lagging replica made primary) cuts the log there
 * first: what the other replicas held beyond it is lost, as in Pegasus.
 *
 * A log may start with a generated prefix: the lab's own rows (./rows.ts) written without a put
 * each, for scenarios too big to load through the wire in reasonable time.
 */
import {rowKey, rowLayout, rowNumberOf, rowValue, type RowLayout} from './rows.js'

/** Seconds between the Unix epoch and Pegasus's (2016-01-01T00:00:00Z), in which expiry is kept. */
export const PEGASUS_EPOCH_BEGIN = 1451606400

/** Now, in Pegasus's epoch seconds. */
export function pegasusNow(): number {
  return Math.floor(Date.now() / 1000) - PEGASUS_EPOCH_BEGIN
}

/** One change of a mutation: a put (value) or a remove (value null). */
export interface Op {
  key: Buffer
  value: Buffer | null
  /** Expiry in Pegasus epoch seconds, 0 for none. */
  expire: number
}

/** A live record. */
export interface KvRecord {
  key: Buffer
  value: Buffer
  expire: number
}

interface Version {
  decree: number
  value: Buffer | null
  expire: number
}

/** Whether a record has expired at `now` (Pegasus epoch seconds). */
export function expired(expire: number, now: number): boolean {
  return expire > 0 && expire <= now
}

/** One partition's mutation log with a per-key index of versions. */
export class PartitionLog {
  /** Decrees 1..generated are the lab's rows of this partition (see ./rows.ts). */
  private generated = 0
  private layout: RowLayout | undefined
  private partition = 0
  /** Mutations after the generated prefix: muts[k] has decree generated + k + 1. */
  private readonly muts: Op[][] = []
  private readonly index = new Map<string, Version[]>()
  /** Every key in byte order, with its generated row number (-1: written only); cached until a key is added. */
  private sorted: {keys: string[]; rows: Int32Array} | undefined

  /** The last decree written. */
  get lastDecree(): number {
    return this.generated + this.muts.length
  }

  /** Starts the log with the lab's rows of `partition` in a table of that shape, written directly. */
  generate(partitions: number, rows: number, partition: number): void {
    this.truncate(0)
    this.layout = rowLayout(partitions, rows)
    this.partition = partition
    this.generated = this.layout.byPartition[partition].length
    this.sorted = undefined
  }

  /**
   * Appends a mutation written by a primary that holds `held` decrees, and returns its decree.
   * Decrees beyond `held` (held by replicas that are not the writer's past) are cut first.
   */
  append(ops: Op[], held: number): number {
    this.truncate(held)
    this.muts.push(ops)
    const decree = this.lastDecree
    for (const op of ops) {
      const k = op.key.toString('latin1')
      let vs = this.index.get(k)
      if (!vs) {
        vs = []
        this.index.set(k, vs)
        this.sorted = undefined
      }
      vs.push({decree, value: op.value, expire: op.expire})
    }
    return decree
  }

  private truncate(held: number): void {
    while (this.lastDecree > held && this.muts.length > 0) {
      const decree = this.lastDecree
      for (const op of this.muts.pop() as Op[]) {
        const k = op.key.toString('latin1')
        const vs = this.index.get(k)
        while (vs && vs.length > 0 && vs[vs.length - 1].decree === decree) vs.pop()
        if (vs && vs.length === 0) {
          this.index.delete(k)
          this.sorted = undefined
        }
      }
    }
    if (this.generated > held) {
      this.generated = held
      this.sorted = undefined
    }
  }

  /** The record of `key` as a replica that has applied decrees 1..upTo sees it at `now`. */
  get(key: Buffer, upTo: number, now: number): KvRecord | undefined {
    const k = key.toString('latin1')
    return this.lookup(k, key, upTo, now, () => this.generatedRow(key))
  }

  private lookup(
    k: string,
    key: Buffer | undefined,
    upTo: number,
    now: number,
    row: () => number,
  ): KvRecord | undefined {
    const vs = this.index.get(k)
    if (vs) {
      for (let i = vs.length - 1; i >= 0; i--) {
        const v = vs[i]
        if (v.decree > upTo) continue
        if (v.value === null || expired(v.expire, now)) return undefined
        return {key: key ?? Buffer.from(k, 'latin1'), value: v.value, expire: v.expire}
      }
    }
    if (!this.layout || this.generated === 0) return undefined
    const i = row()
    if (i < 0 || this.layout.rank[i] >= Math.min(upTo, this.generated)) return undefined
    return {key: key ?? Buffer.from(k, 'latin1'), value: rowValue(i), expire: 0}
  }

  /** The generated row a key is, or -1. */
  private generatedRow(key: Buffer): number {
    if (!this.layout || this.generated === 0) return -1
    const i = rowNumberOf(key)
    if (i === undefined || i >= this.layout.rank.length) return -1
    const rank = this.layout.rank[i]
    return rank >= 0 && rank < this.generated && this.layout.byPartition[this.partition][rank] === i ? i : -1
  }

  private allKeys(): {keys: string[]; rows: Int32Array} {
    if (!this.sorted) {
      const rowOf = new Map<string, number>()
      for (const k of this.index.keys()) rowOf.set(k, -1)
      if (this.layout)
        for (const i of this.layout.byPartition[this.partition].subarray(0, this.generated))
          rowOf.set(rowKey(i).toString('latin1'), i)
      const keys = [...rowOf.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
      this.sorted = {keys, rows: Int32Array.from(keys, (k) => rowOf.get(k) as number)}
    }
    return this.sorted
  }

  /**
   * Live records with keys in [start, stop) in byte order (stop empty: no end; the inclusive flags
   * adjust both ends), as a replica at `upTo` sees them at `now`, produced as they are read.
   */
  *records(
    upTo: number,
    now: number,
    start: Buffer,
    stop: Buffer,
    startInclusive = true,
    stopInclusive = false,
  ): Generator<KvRecord> {
    const s = start.toString('latin1')
    const e = stop.length > 0 ? stop.toString('latin1') : undefined
    const {keys, rows} = this.allKeys()
    let lo = 0
    let hi = keys.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (keys[mid] < s) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < keys.length; i++) {
      const k = keys[i]
      if (k === s && !startInclusive) continue
      if (e !== undefined && (k > e || (k === e && !stopInclusive))) return
      const r = this.lookup(k, undefined, upTo, now, () => rows[i])
      if (r) yield r
    }
  }

  /** {@link records}, all at once. */
  range(...args: Parameters<PartitionLog['records']>): KvRecord[] {
    return [...this.records(...args)]
  }
}

/** The logs of every partition in the lab, by gpid. */
export class DataStore {
  private readonly logs = new Map<string, PartitionLog>()

  /** The log of `pid` (created empty on first use). */
  log(pid: string): PartitionLog {
    let l = this.logs.get(pid)
    if (!l) {
      l = new PartitionLog()
      this.logs.set(pid, l)
    }
    return l
  }
}
