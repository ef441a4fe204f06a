/**
 * `lab up` loads each live table's rows as a client would: the partition configuration from the
 * meta (query_cfg over THFT), then one put per row to its partition's primary, so every row is a
 * decree on the primary and its secondaries. Labs with more rows than {@link PUT_LOAD_LIMIT}
 * (the scale scenarios) have their logs written directly instead (see DataStore.generate).
 */
import {parseGpid, type QueryCfgResponse} from '../../../engines/pegasus/wire/index.js'
import {LifeboatError} from '../../../errors.js'
import {mapLimit} from '../../../util/map-limit.js'
import {callRpc} from '../rpc-call.js'
import {DataClient} from './client.js'
import {partitionOf} from './key.js'
import {ROW_SORT_KEY, rowHashKey, rowLayout, rowValue} from './rows.js'

/** Above this many live rows in a lab, rows are written to the logs directly rather than put one by one. */
export const PUT_LOAD_LIMIT = 20_000

/** Partitions loaded at once, and puts in flight per partition (a window, in row order). */
const PARTITIONS_IN_FLIGHT = 8
const WINDOW = 32
/** Answers after which a put is retried on the primary the meta names then, for up to RETRY_FOR_MS without progress. */
const RETRY_ON = new Set(['ERR_INVALID_STATE', 'ERR_OBJECT_NOT_FOUND', 'ERR_NOT_ENOUGH_MEMBER', 'no primary'])
const RETRY_FOR_MS = 30_000
const RETRY_DELAY_MS = 100

/** A table to load. */
export interface TableToLoad {
  app_id: number
  name: string
  partitions: number
  rows: number
}

/**
 * Puts the rows of `tables` through the meta at `meta`, each partition's rows in order, a window
 * at a time. A primary that stepped down or moved (ERR_INVALID_STATE, ERR_OBJECT_NOT_FOUND, no
 * primary yet) makes it ask the meta again and go on from the first row not written, as a client
 * retries; anything else, or no progress for {@link RETRY_FOR_MS}, is LAB_LOAD_FAILED.
 */
export async function loadRows(meta: string, tables: TableToLoad[], timeoutMs = 10_000): Promise<number> {
  const client = new DataClient(timeoutMs)
  let written = 0
  try {
    for (const t of tables) {
      if (t.rows === 0) continue
      let cfg = await queryCfg(meta, t, timeoutMs)
      const byPartition = rowLayout(t.partitions, t.rows).byPartition
      await mapLimit(byPartition, PARTITIONS_IN_FLIGHT, async (rows) => {
        let next = 0
        let stuckSince = Date.now()
        while (next < rows.length) {
          const window = [...rows.subarray(next, next + WINDOW)]
          const hashKey = rowHashKey(window[0])
          const pc = cfg.partitions[partitionOf(hashKey, cfg.partition_count)]
          const primary = pc.hp_primary || pc.primary
          const results = primary
            ? await Promise.all(
                window.map((i) => client.put(primary, parseGpid(pc.pid), rowHashKey(i), ROW_SORT_KEY, rowValue(i))),
              )
            : []
          let ok = 0
          while (ok < results.length && results[ok].err === 'ERR_OK' && results[ok].response?.error === 0) ok++
          next += ok
          written += ok
          if (ok === window.length) continue
          const r = results[ok]
          const why = !primary
            ? 'no primary'
            : r.err !== 'ERR_OK'
              ? r.err
              : `error ${r.response?.error ?? 'without a response'}`
          if (ok > 0) stuckSince = Date.now()
          if (!RETRY_ON.has(why) || Date.now() - stuckSince > RETRY_FOR_MS)
            throw loadFailed(
              t,
              `put of row${window[ok]} to ${primary || '(no primary)'} (partition ${pc.pid}) answered ${why}`,
            )
          await new Promise((res) => setTimeout(res, RETRY_DELAY_MS))
          cfg = await queryCfg(meta, t, timeoutMs)
        }
      })
    }
  } finally {
    client.close()
  }
  return written
}

async function queryCfg(meta: string, t: TableToLoad, timeoutMs: number): Promise<QueryCfgResponse> {
  const cfg = await callRpc(
    meta,
    'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
    {app_name: t.name, partition_indices: []},
    timeoutMs,
  )
  const err = cfg.err !== 'ERR_OK' ? cfg.err : cfg.response?.err
  if (err !== 'ERR_OK' || !cfg.response) throw loadFailed(t, `query_cfg answered ${err}`)
  return cfg.response
}

function loadFailed(t: TableToLoad, why: string): LifeboatError {
  return new LifeboatError('LAB_LOAD_FAILED', `loading the rows of table ${t.name} failed: ${why}`, {
    hints: ['See lab.log in the state directory; lab up again starts from nothing.'],
  })
}
