/**
 * `lab verify` for Pegasus: reads every row the lab wrote back as a client would. It asks the
 * meta (over THFT) for the tables and their partition configurations, routes each row's hash key
 * to its partition with the client's hash, and gets it from that partition's primary over THFT.
 * A row counts iff the get answers with the value the lab wrote. Missing rows are reported by
 * table and partition. Dropped tables are not counted.
 */
import {AppStatus, parseGpid, type PartitionConfiguration} from '../../engines/pegasus/wire/index.js'
import {mapLimit} from '../../util/map-limit.js'
import type {LabTable} from './cluster.js'
import {DataClient} from './data/client.js'
import {partitionOf} from './data/key.js'
import {ROW_SORT_KEY, rowHashKey, rowLayout, rowValue} from './data/rows.js'
import {callRpc} from './rpc-call.js'

/** Rows of one partition that a verification did not find. */
export interface MissingRows {
  pid: string
  missing: number
  total: number
  /** Why, when the whole partition could not be read (no primary, the primary's error). */
  why?: string
}

/** One table's count. */
export interface TableCount {
  app_id: number
  name: string
  found: number
  total: number
  note?: string
  /** Partitions with missing rows, by partition index. */
  missing?: MissingRows[]
}

/** The outcome of a verification. */
export interface VerifyResult {
  found: number
  total: number
  tables: TableCount[]
  /** Why nothing could be read at all, when that is the case (e.g. the meta is in recovery). */
  note?: string
}

/** Tables counted at once, and gets in flight at once per table. */
const TABLES_IN_FLIGHT = 8
const IN_FLIGHT = 256
/** Partitions named in a table's note before "and N more". */
const NOTE_PARTITIONS = 8

/** Counts the rows of the lab's live tables that gets through the meta at `meta` return. */
export async function verifyRows(meta: string, tables: LabTable[], timeoutMs = 5000): Promise<VerifyResult> {
  const live = tables.filter((t) => !t.dropped)
  const total = live.reduce((n, t) => n + t.rows, 0)
  const listed = await callRpc(meta, 'RPC_CM_LIST_APPS', {status: AppStatus.AS_INVALID}, timeoutMs)
  const err = listed.err !== 'ERR_OK' ? listed.err : listed.response?.err
  if (err !== 'ERR_OK' || !listed.response) {
    const note = `the meta server ${meta} answered list_apps with ${err}`
    return {
      found: 0,
      total,
      note,
      tables: live.map((t) => ({app_id: t.app_id, name: t.name, found: 0, total: t.rows, note})),
    }
  }
  const byId = new Map(listed.response.infos.map((a) => [a.app_id, a]))
  const client = new DataClient(timeoutMs)
  try {
    const perTable = await mapLimit(live, TABLES_IN_FLIGHT, async (t): Promise<TableCount> => {
      const app = byId.get(t.app_id)
      if (!app || app.status !== AppStatus.AS_AVAILABLE) {
        const note = app ? 'the table is not available' : 'the meta does not know the table'
        return {app_id: t.app_id, name: app?.app_name ?? t.name, found: 0, total: t.rows, note}
      }
      const cfg = await callRpc(
        meta,
        'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
        {app_name: app.app_name, partition_indices: []},
        timeoutMs,
      )
      const cerr = cfg.err !== 'ERR_OK' ? cfg.err : cfg.response?.err
      if (cerr !== 'ERR_OK' || !cfg.response)
        return {app_id: t.app_id, name: app.app_name, found: 0, total: t.rows, note: `query_cfg answered ${cerr}`}
      return countTable(client, t, app.app_name, cfg.response.partitions, cfg.response.partition_count)
    })
    return {found: perTable.reduce((n, t) => n + t.found, 0), total, tables: perTable}
  } finally {
    client.close()
  }
}

/** Gets every row of one table from its partitions' primaries. */
async function countTable(
  client: DataClient,
  t: LabTable,
  name: string,
  pcs: PartitionConfiguration[],
  partitionCount: number,
): Promise<TableCount> {
  const rows = rowLayout(t.partitions, t.rows).byPartition.flatMap((r) => [...r])
  const tally = new Map<number, {found: number; total: number; why?: string}>()
  await mapLimit(rows, IN_FLIGHT, async (i) => {
    const hashKey = rowHashKey(i)
    const p = partitionOf(hashKey, partitionCount)
    let c = tally.get(p)
    if (!c) {
      c = {found: 0, total: 0}
      tally.set(p, c)
    }
    c.total++
    const pc = pcs[p]
    const primary = pc?.hp_primary || pc?.primary
    if (!pc || !primary) {
      c.why = 'no primary'
      return
    }
    const r = await client.get(primary, parseGpid(pc.pid), hashKey, ROW_SORT_KEY)
    if (r.err !== 'ERR_OK') c.why = `${primary} answered ${r.err}`
    else if (r.response?.error === 0 && r.response.value.equals(rowValue(i))) c.found++
  })
  const missing: MissingRows[] = [...tally.entries()]
    .filter(([, c]) => c.found < c.total)
    .sort(([a], [b]) => a - b)
    .map(([p, c]) => ({
      pid: `${t.app_id}.${p}`,
      missing: c.total - c.found,
      total: c.total,
      ...(c.why && c.found === 0 ? {why: c.why} : {}),
    }))
  const found = [...tally.values()].reduce((n, c) => n + c.found, 0)
  return {
    app_id: t.app_id,
    name,
    found,
    total: t.rows,
    ...(missing.length > 0 ? {missing, note: missingNote(missing)} : {}),
  }
}

/** "missing in 1.3 (120 of 1000), 1.5 (all 1000: no primary)". */
function missingNote(missing: MissingRows[]): string {
  const parts = missing
    .slice(0, NOTE_PARTITIONS)
    .map((m) =>
      m.missing === m.total
        ? `${m.pid} (all ${m.total}${m.why ? `: ${m.why}` : ''})`
        : `${m.pid} (${m.missing} of ${m.total})`,
    )
  const more = missing.length - NOTE_PARTITIONS
  return `missing in ${parts.join(', ')}${more > 0 ? ` and ${more} more partitions` : ''}`
}
