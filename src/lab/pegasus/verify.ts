/**
 * `lab verify` for Pegasus: counts the rows a client could read now. It asks the meta (over THFT,
 * as a client would) for the tables and their partition configurations, then asks each primary's
 * replica server which rows its replica can serve. A row counts iff the partition has a primary
 * in the meta's configuration, that node answers, holds the replica as primary, and the row's
 * decree is within the replica's last committed decree. Dropped tables are not counted.
 */
import http from 'node:http'

import {AppStatus, parseGpid} from '../../engines/pegasus/wire/index.js'
import {callRpc} from './rpc-call.js'
import {rowsOfPartition, type LabTable} from './cluster.js'
import {mapLimit} from '../../util/map-limit.js'

/** The outcome of a verification. */
export interface VerifyResult {
  found: number
  total: number
  /** Per table: its id, name now, rows found / written. */
  tables: {app_id: number; name: string; found: number; total: number; note?: string}[]
  /** Why nothing could be read at all, when that is the case (e.g. the meta is in recovery). */
  note?: string
}

/** A replica server's `GET /lab/rows` report: per gpid, the replica's status and readable rows. */
type RowReport = Record<string, {status: string; readable: number}>

/** Fetches a replica server's lab row report, or undefined when it does not answer. */
function fetchRows(address: string, timeoutMs: number): Promise<RowReport | undefined> {
  return new Promise((resolve) => {
    const req = http.get(`http://${address}/lab/rows`, {timeout: timeoutMs}, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => (body += c))
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as RowReport) : undefined)
        } catch {
          resolve(undefined)
        }
      })
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
  })
}

/** Counts readable rows of the lab's live tables through the meta at `meta`. */
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
  const nodeRows = new Map<string, Promise<RowReport | undefined>>()
  const rowsOn = (node: string): Promise<RowReport | undefined> => {
    let p = nodeRows.get(node)
    if (!p) {
      p = fetchRows(node, timeoutMs)
      nodeRows.set(node, p)
    }
    return p
  }
  const perTable = await mapLimit(live, 16, async (t) => {
    const app = byId.get(t.app_id)
    if (!app || app.status !== AppStatus.AS_AVAILABLE) {
      return {
        app_id: t.app_id,
        name: app?.app_name ?? t.name,
        found: 0,
        total: t.rows,
        note: app ? 'the table is not available' : 'the meta does not know the table',
      }
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
    let found = 0
    for (const pc of cfg.response.partitions) {
      const primary = pc.hp_primary || pc.primary
      if (!primary) continue
      const rows = await rowsOn(primary)
      const r = rows?.[pc.pid]
      if (!r || r.status !== 'PS_PRIMARY') continue
      const p = parseGpid(pc.pid).partition_index
      found += Math.min(r.readable, rowsOfPartition(t.rows, t.partitions, p))
    }
    return {app_id: t.app_id, name: app.app_name, found, total: t.rows}
  })
  return {found: perTable.reduce((n, t) => n + t.found, 0), total, tables: perTable}
}
