/**
 * `lab up` loads each live table's rows as a client would: the partition configuration from the
 * meta (query_cfg over THFT), then one put per row to its partition's primary, so every row is a
 * decree on the primary and its secondaries. Labs with more rows than {@link PUT_LOAD_LIMIT}
 * (the scale scenarios) have their logs written directly instead (see DataStore.generate).
 *
 * Like Pegasus's own clients (the Java client's operation timeout, the Go client's
 * `retryFailOver` until its context deadline), a put that meets a partition between primaries
 * asks the meta again and retries, with a short backoff, until the partition has made no
 * progress for the load's deadline: no primary in the meta's configuration, a replica that is
 * not (or no longer) the primary, a node that does not serve the partition, a primary short of
 * secondaries, a connection refused or reset, a call that timed out.
 */
import {parseGpid, type PartitionConfiguration, type QueryCfgResponse} from '../../../engines/pegasus/wire/index.js'
import {LifeboatError} from '../../../errors.js'
import {mapLimit} from '../../../util/map-limit.js'
import {callRpc} from '../rpc-call.js'
import {DataClient} from './client.js'
import {partitionOf} from './key.js'
import {ROW_SORT_KEY, rowHashKey, rowLayout, rowValue} from './rows.js'

/** Above this many live rows in a lab, rows are written to the logs directly rather than put one by one. */
export const PUT_LOAD_LIMIT = 20_000

/** How long a partition may go without a row written before the load gives up on it. */
export const LOAD_DEADLINE_MS = 60_000

/** Partitions loaded at once, and puts in flight per partition (a window, in row order). */
const PARTITIONS_IN_FLIGHT = 8
const WINDOW = 32

/** Answers of a put after which the loader asks the meta again and retries (until the deadline). */
const RETRY_ON = new Set([
  'no primary',
  'ERR_INVALID_STATE',
  'ERR_OBJECT_NOT_FOUND',
  'ERR_NOT_ENOUGH_MEMBER',
  'ERR_NETWORK_FAILURE',
  'ERR_TIMEOUT',
  'ERR_SESSION_RESET',
  'ERR_BUSY',
])
/** Of those, the answers after which the put may have been applied (the reply was lost, not a refusal). */
const UNCERTAIN = new Set(['ERR_NETWORK_FAILURE', 'ERR_TIMEOUT', 'ERR_SESSION_RESET'])
/** Answers of query_cfg after which the loader asks again (the meta is busy, starting, or not the leader). */
const CFG_RETRY_ON = new Set(['ERR_NETWORK_FAILURE', 'ERR_TIMEOUT', 'ERR_SERVICE_NOT_ACTIVE', 'ERR_FORWARD_TO_OTHERS'])
/** Backoff between retries: doubles from the first to the last, back to the first after progress. */
const BACKOFF_FIRST_MS = 50
const BACKOFF_LAST_MS = 1000

/** A table to load. */
export interface TableToLoad {
  app_id: number
  name: string
  partitions: number
  rows: number
}

/** How a load talks to the cluster. */
export interface LoadOptions {
  /** Per-call timeout of a put or a query_cfg (ms). */
  timeoutMs?: number
  /** How long a partition may make no progress before the load fails (ms); {@link LOAD_DEADLINE_MS}. */
  deadlineMs?: number
  /** Told of each retry that follows a failed put (for the lab log). */
  log?: (line: string) => void
}

/**
 * Puts the rows of `tables` through the meta at `meta`, each partition's rows in order, a window
 * at a time. A put that meets a partition between primaries makes it ask the meta again and go
 * on from the first row not written (after checking, when the answer was lost rather than a
 * refusal, which of the rows the new primary already holds: a partition's rows are its first
 * decrees, one put each). Any other answer, or a partition without progress for the deadline,
 * is LAB_LOAD_FAILED naming the partition and what it met last. Returns the rows written.
 */
export async function loadRows(meta: string, tables: TableToLoad[], opts: LoadOptions = {}): Promise<number> {
  const timeoutMs = opts.timeoutMs ?? 10_000
  const deadlineMs = opts.deadlineMs ?? LOAD_DEADLINE_MS
  const client = new DataClient(timeoutMs)
  const metaAt = {address: meta}
  let written = 0
  try {
    for (const t of tables) {
      if (t.rows === 0) continue
      const first = await queryCfg(metaAt, t, timeoutMs, Date.now() + deadlineMs)
      if (typeof first === 'string') throw loadFailed(t, first)
      let cfg = first
      const byPartition = rowLayout(t.partitions, t.rows).byPartition
      // The first partition that fails stops the others (at their next step), and the load waits
      // for them before it fails: nothing goes on writing after loadRows has returned.
      let failure: unknown
      await mapLimit(byPartition, PARTITIONS_IN_FLIGHT, async (rows, p) => {
        try {
          await loadPartition(rows, p)
        } catch (err) {
          failure ??= err
        }
      })
      if (failure !== undefined) throw failure

      async function loadPartition(rows: Int32Array, p: number): Promise<void> {
        let next = 0
        let lastProgress = Date.now()
        let backoff = BACKOFF_FIRST_MS
        /** Rows from `next` whose put may have been applied though its answer was lost. */
        let unsure = 0
        let lastMet = ''
        while (next < rows.length && failure === undefined) {
          const pc = cfg.partitions[partitionOf(rowHashKey(rows[next]), cfg.partition_count)]
          const primary = pc.hp_primary || pc.primary
          let met: string
          if (!primary) met = 'no primary'
          else if (unsure > 0) {
            // A put whose answer was lost may have been applied: the primary (new or not) says which were.
            const held = await heldPrefix(client, primary, pc, rows, next, unsure)
            if (held.count > 0) {
              next += held.count
              written += held.count
              lastProgress = Date.now()
              backoff = BACKOFF_FIRST_MS
              lastMet = ''
            }
            unsure = held.err === undefined ? 0 : unsure - held.count
            if (held.err === undefined) continue
            met = held.err
            if (!RETRY_ON.has(met))
              throw loadFailed(t, `get of row${rows[next]} from ${primary} (partition ${pc.pid}) answered ${met}`)
          } else {
            const window = [...rows.subarray(next, next + WINDOW)]
            const results = await Promise.all(
              window.map((i) => client.put(primary, parseGpid(pc.pid), rowHashKey(i), ROW_SORT_KEY, rowValue(i))),
            )
            let ok = 0
            while (ok < results.length && results[ok].err === 'ERR_OK' && results[ok].response?.error === 0) ok++
            next += ok
            written += ok
            if (ok > 0) {
              lastProgress = Date.now()
              backoff = BACKOFF_FIRST_MS
              lastMet = ''
            }
            if (ok === window.length) continue
            const r = results[ok]
            met = r.err !== 'ERR_OK' ? r.err : `error ${r.response?.error ?? 'without a response'}`
            if (!RETRY_ON.has(met))
              throw loadFailed(t, `put of row${rows[next]} to ${primary} (partition ${pc.pid}) answered ${met}`)
            // Puts after the first failure may have been applied when an answer was lost (or one succeeded).
            if (results.slice(ok).some((x) => UNCERTAIN.has(x.err) || x.err === 'ERR_OK')) unsure = window.length - ok
          }
          if (Date.now() - lastProgress > deadlineMs)
            throw loadFailed(t, stuck(t, p, pc, rows, next, met, deadlineMs), [
              'The lab log (lab.log in the state directory) says what the meta did with the partition meanwhile; lab up again starts from nothing.',
            ])
          if (met !== lastMet)
            opts.log?.(`load of ${t.name} partition ${pc.pid}: row${rows[next]} met ${met}; retrying via the meta`)
          lastMet = met
          await new Promise((res) => setTimeout(res, backoff))
          backoff = Math.min(backoff * 2, BACKOFF_LAST_MS)
          const fresh = await queryCfg(metaAt, t, timeoutMs, lastProgress + deadlineMs)
          if (typeof fresh === 'string') throw loadFailed(t, fresh)
          cfg = fresh
        }
      }
    }
  } finally {
    client.close()
  }
  return written
}

/**
 * How many of the `count` rows from `rows[from]` the primary at `address` already holds, in
 * order (it holds a prefix of its partition's log); `err` when a get failed before the end.
 */
async function heldPrefix(
  client: DataClient,
  address: string,
  pc: PartitionConfiguration,
  rows: Int32Array,
  from: number,
  count: number,
): Promise<{count: number; err?: string}> {
  let n = 0
  for (; n < count && from + n < rows.length; n++) {
    const i = rows[from + n]
    const r = await client.get(address, parseGpid(pc.pid), rowHashKey(i), ROW_SORT_KEY)
    if (r.err !== 'ERR_OK') return {count: n, err: r.err}
    if (!r.response || r.response.error !== 0 || !r.response.value.equals(rowValue(i))) return {count: n}
  }
  return {count: n}
}

/** The deadline's message: which partition, what its last put met, what the meta said of it then, what is written. */
function stuck(
  t: TableToLoad,
  p: number,
  pc: PartitionConfiguration,
  rows: Int32Array,
  next: number,
  met: string,
  deadlineMs: number,
): string {
  const secondaries = pc.hp_secondaries ?? pc.secondaries
  const primary = pc.hp_primary || pc.primary
  const seen =
    `ballot ${pc.ballot}, primary ${primary || 'none'}, ` +
    `secondaries ${secondaries.length > 0 ? secondaries.join(', ') : 'none'}`
  return (
    `partition ${t.app_id}.${p} wrote no row for ${deadlineMs / 1000} s: its next row, row${rows[next]}, ` +
    `last met ${met}${primary ? ` at ${primary}` : ''}; the meta's configuration of ${t.app_id}.${p} was then ` +
    `${seen}; ${next} of its ${rows.length} rows are written`
  )
}

/**
 * The table's configuration from the meta; the meta's refusal as a message when it is final.
 * A meta that is not the leader names the leader, and the loader asks it from then on.
 */
async function queryCfg(
  metaAt: {address: string},
  t: TableToLoad,
  timeoutMs: number,
  deadline: number,
): Promise<QueryCfgResponse | string> {
  let backoff = BACKOFF_FIRST_MS
  for (;;) {
    const cfg = await callRpc(
      metaAt.address,
      'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
      {app_name: t.name, partition_indices: []},
      timeoutMs,
    )
    const err = cfg.err !== 'ERR_OK' ? cfg.err : cfg.response?.err
    if (err === 'ERR_OK' && cfg.response) return cfg.response
    const leader = err === 'ERR_FORWARD_TO_OTHERS' ? cfg.response?.partitions[0]?.hp_primary : undefined
    if (leader) metaAt.address = leader
    if (!CFG_RETRY_ON.has(err ?? '')) return `query_cfg of table ${t.name} to ${metaAt.address} answered ${err}`
    if (Date.now() > deadline)
      return `query_cfg of table ${t.name} to ${metaAt.address} answered ${err} until the deadline passed`
    await new Promise((res) => setTimeout(res, backoff))
    backoff = Math.min(backoff * 2, BACKOFF_LAST_MS)
  }
}

function loadFailed(t: TableToLoad, why: string, hints?: string[]): LifeboatError {
  return new LifeboatError('LAB_LOAD_FAILED', `loading the rows of table ${t.name} failed: ${why}`, {
    hints: hints ?? ['See lab.log in the state directory; lab up again starts from nothing.'],
  })
}
