/**
 * `lab verify` for Pegasus: reads every row the lab wrote back as a client would. It asks the
 * meta (over THFT) for the tables and their partition configurations, routes each row's hash key
 * to its partition with the client's hash, and gets it from that partition's primary over THFT.
 * A row counts iff the get answers with the value the lab wrote. Missing rows are reported by
 * table and partition. Dropped tables are not counted. Labs too big for a get per row (the
 * scale scenarios) read each partition with a scanner from its primary instead.
 */
import {
  AppStatus,
  parseGpid,
  type PartitionConfiguration,
  type QueryCfgResponse,
} from '../../engines/pegasus/wire/index.js'
import {mapLimit} from '../../util/map-limit.js'
import type {LabTable} from './cluster.js'
import {DataClient} from './data/client.js'
import {partitionOf} from './data/key.js'
import {PUT_LOAD_LIMIT} from './data/load.js'
import {ROW_SORT_KEY, rowHashKey, rowKey, rowLayout, rowValue} from './data/rows.js'
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

/** Tables, partitions per table and gets per partition in flight at once. */
const TABLES_IN_FLIGHT = 8
const PARTITIONS_IN_FLIGHT = 8
const GETS_IN_FLIGHT = 32
/** Above this many rows in the lab, partitions are read with scanners (a get each would take minutes). */
export const SCAN_ABOVE_ROWS = PUT_LOAD_LIMIT
const SCAN_BATCH = 1000
/** Errors after which a partition is read again from the primary the meta names then. */
const RETRY_ON = new Set(['ERR_INVALID_STATE', 'ERR_OBJECT_NOT_FOUND'])
const ATTEMPTS = 3
const RETRY_DELAY_MS = 200
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
      const query = async (): Promise<QueryCfgResponse | string> => {
        const cfg = await callRpc(
          meta,
          'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
          {app_name: app.app_name, partition_indices: []},
          timeoutMs,
        )
        const cerr = cfg.err !== 'ERR_OK' ? cfg.err : cfg.response?.err
        return cerr === 'ERR_OK' && cfg.response ? cfg.response : `query_cfg answered ${cerr}`
      }
      const first = await query()
      if (typeof first === 'string') return {app_id: t.app_id, name: app.app_name, found: 0, total: t.rows, note: first}
      const {partitions, partition_count} = first
      const refresh = async () => {
        const again = await query()
        return typeof again === 'string' ? undefined : again.partitions
      }
      return countTable(client, t, app.app_name, partitions, partition_count, total > SCAN_ABOVE_ROWS, refresh)
    })
    return {found: perTable.reduce((n, t) => n + t.found, 0), total, tables: perTable}
  } finally {
    client.close()
  }
}

/**
 * Reads every row of one table from its partitions' primaries: a get per row, or, in a big lab,
 * a scanner per partition (the rows it returns are checked against the ones the lab wrote).
 */
async function countTable(
  client: DataClient,
  t: LabTable,
  name: string,
  pcs: PartitionConfiguration[],
  partitionCount: number,
  scan: boolean,
  refresh: () => Promise<PartitionConfiguration[] | undefined>,
): Promise<TableCount> {
  const groups = new Map<number, number[]>()
  for (const rows of rowLayout(t.partitions, t.rows).byPartition) {
    for (const i of rows) {
      const p = partitionOf(rowHashKey(i), partitionCount)
      const g = groups.get(p)
      if (g) g.push(i)
      else groups.set(p, [i])
    }
  }
  const counts = await mapLimit(
    [...groups],
    PARTITIONS_IN_FLIGHT,
    async ([p, rows]): Promise<MissingRows & {found: number}> => {
      let pc: PartitionConfiguration | undefined = pcs[p]
      const pid = pc?.pid ?? `${t.app_id}.${p}`
      const tally = {pid, found: 0, missing: 0, total: rows.length}
      for (let attempt = 1; ; attempt++) {
        const primary = pc?.hp_primary || pc?.primary
        if (!pc || !primary) return {...tally, missing: rows.length, why: 'no primary'}
        const got = scan ? await scanned(client, primary, pid, rows) : await gotten(client, primary, pid, rows)
        // A primary that stepped down or moved answers ERR_INVALID_STATE / ERR_OBJECT_NOT_FOUND:
        // a client asks the meta again and retries there.
        if (got.err && RETRY_ON.has(got.err) && attempt < ATTEMPTS) {
          await new Promise((r) => setTimeout(r, RETRY_DELAY_MS))
          pc = (await refresh())?.[p]
          continue
        }
        return {
          ...tally,
          found: got.found,
          missing: rows.length - got.found,
          ...(got.err && got.found === 0 ? {why: `${primary} answered ${got.err}`} : {}),
        }
      }
    },
  )
  const missing: MissingRows[] = counts
    .filter((c) => c.missing > 0)
    .sort((a, b) => parseGpid(a.pid).partition_index - parseGpid(b.pid).partition_index)
    .map(({found: _found, ...m}) => m)
  const found = counts.reduce((n, c) => n + c.found, 0)
  return {
    app_id: t.app_id,
    name,
    found,
    total: t.rows,
    ...(missing.length > 0 ? {missing, note: missingNote(missing)} : {}),
  }
}

/** Gets each row from the primary: how many answered with the value written, and the last call error. */
async function gotten(
  client: DataClient,
  primary: string,
  pid: string,
  rows: number[],
): Promise<{found: number; err?: string}> {
  let found = 0
  let err: string | undefined
  await mapLimit(rows, GETS_IN_FLIGHT, async (i) => {
    const r = await client.get(primary, parseGpid(pid), rowHashKey(i), ROW_SORT_KEY)
    if (r.err !== 'ERR_OK') err = r.err
    else if (r.response?.error === 0 && r.response.value.equals(rowValue(i))) found++
  })
  return {found, ...(err ? {err} : {})}
}

/** Scans the partition on its primary: how many of `rows` it returned with the value written. */
async function scanned(
  client: DataClient,
  primary: string,
  pid: string,
  rows: number[],
): Promise<{found: number; err?: string}> {
  const want = new Map(rows.map((i) => [rowKey(i).toString('latin1'), i]))
  let found = 0
  const err = await client.scanPartition(primary, parseGpid(pid), SCAN_BATCH, (kvs) => {
    for (const kv of kvs) {
      const i = want.get(kv.key.toString('latin1'))
      if (i !== undefined && kv.value.equals(rowValue(i))) found++
    }
  })
  return {found, ...(err ? {err} : {})}
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
