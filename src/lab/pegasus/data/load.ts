/**
 * `lab up` loads each live table's rows as a client would: the partition configuration from the
 * meta (query_cfg over THFT), then one put per row to its partition's primary, so every row is a
 * decree on the primary and its secondaries. Labs with more rows than {@link PUT_LOAD_LIMIT}
 * (the scale scenarios) have their logs written directly instead (see DataStore.generate).
 */
import {parseGpid} from '../../../engines/pegasus/wire/index.js'
import {LifeboatError} from '../../../errors.js'
import {mapLimit} from '../../../util/map-limit.js'
import {callRpc} from '../rpc-call.js'
import {DataClient} from './client.js'
import {partitionOf} from './key.js'
import {ROW_SORT_KEY, rowHashKey, rowLayout, rowValue} from './rows.js'

/** Above this many live rows in a lab, rows are written to the logs directly rather than put one by one. */
export const PUT_LOAD_LIMIT = 20_000

/** Puts in flight at once. */
const IN_FLIGHT = 256

/** A table to load. */
export interface TableToLoad {
  app_id: number
  name: string
  partitions: number
  rows: number
}

/** Puts the rows of `tables` through the meta at `meta`; throws LAB_LOAD_FAILED naming the first failure. */
export async function loadRows(meta: string, tables: TableToLoad[], timeoutMs = 10_000): Promise<number> {
  const client = new DataClient(timeoutMs)
  let written = 0
  try {
    for (const t of tables) {
      if (t.rows === 0) continue
      const cfg = await callRpc(
        meta,
        'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
        {app_name: t.name, partition_indices: []},
        timeoutMs,
      )
      const err = cfg.err !== 'ERR_OK' ? cfg.err : cfg.response?.err
      if (err !== 'ERR_OK' || !cfg.response) throw loadFailed(t, `query_cfg answered ${err}`)
      const {partitions, partition_count} = cfg.response
      // Rows in each partition's put order, so row k of a partition is its decree k + 1.
      const order = rowLayout(t.partitions, t.rows).byPartition.flatMap((rows) => [...rows])
      await mapLimit(order, IN_FLIGHT, async (i) => {
        const hashKey = rowHashKey(i)
        const pc = partitions[partitionOf(hashKey, partition_count)]
        const primary = pc.hp_primary || pc.primary
        if (!primary) throw loadFailed(t, `partition ${pc.pid} has no primary`)
        const r = await client.put(primary, parseGpid(pc.pid), hashKey, ROW_SORT_KEY, rowValue(i))
        if (r.err !== 'ERR_OK' || r.response?.error !== 0)
          throw loadFailed(
            t,
            `put of row${i} to ${primary} (partition ${pc.pid}) answered ${r.err !== 'ERR_OK' ? r.err : `error ${r.response?.error}`}`,
          )
        written++
      })
    }
  } finally {
    client.close()
  }
  return written
}

function loadFailed(t: TableToLoad, why: string): LifeboatError {
  return new LifeboatError('LAB_LOAD_FAILED', `loading the rows of table ${t.name} failed: ${why}`, {
    hints: ['See lab.log in the state directory; lab up again starts from nothing.'],
  })
}
