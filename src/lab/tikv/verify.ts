/**
 * `lab verify` for a TiKV lab, as a client would do it: PD's HTTP API for the region leaders (paging
 * `regions/key`), then each leader store's read path for the rows of the regions it leads. A region
 * without a leader, with a leader on a dead store, or whose leader cannot serve (no quorum, force
 * leader) contributes no rows.
 */
import {LifeboatError} from '../../errors.js'
import {parseJson} from '../../http/json.js'
import type {LabVerifyResult} from '../engine.js'
import {decodeBytes, decodeRowKey} from './keys.js'
import type {TikvLabLayout} from './cluster.js'

interface ApiPeer {
  id?: number
  store_id?: number
}
interface ApiRegion {
  id: number
  start_key: string
  end_key: string
  leader?: ApiPeer
}

async function getJson(url: string, init?: RequestInit, exact = true): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(url, {...init, signal: AbortSignal.timeout(30_000)})
  } catch (e) {
    throw new LifeboatError('LAB_UNREACHABLE', `cannot reach ${url}: ${e instanceof Error ? e.message : String(e)}`, {
      hints: ['Is the lab up? lifeboat lab status shows it.'],
    })
  }
  const text = await res.text()
  if (!res.ok)
    throw new LifeboatError('LAB_UNREACHABLE', `${url} answered ${res.status}: ${text.trim()}`, {
      hints: ['lifeboat lab status shows the lab; lifeboat lab down and up start a fresh one.'],
    })
  // Region pages are megabytes: JSON.parse there (the lab's ids and keys fit in a double); exact elsewhere.
  return exact ? parseJson(text) : JSON.parse(text)
}

/** Every region, paged through `regions/key` the way pd-ctl's `region scan` does. */
export async function scanRegions(pd: string, limit = 10240): Promise<ApiRegion[]> {
  const out: ApiRegion[] = []
  let key = ''
  for (;;) {
    const page = (await getJson(
      `http://${pd}/pd/api/v1/regions/key?format=hex&key=${key}&limit=${limit}`,
      undefined,
      false,
    )) as {regions?: ApiRegion[]}
    const regions = page.regions ?? []
    out.push(...regions)
    const last = regions.at(-1)
    if (!last || last.end_key === '' || regions.length < limit) break
    key = last.end_key
  }
  return out
}

export async function verifyTikvRows(layout: TikvLabLayout): Promise<LabVerifyResult> {
  const stores = (await getJson(`http://${layout.pd}/pd/api/v1/stores?state=0&state=1&state=2`)) as {
    stores?: {store: {id: number; status_address: string}}[]
  }
  const address = new Map((stores.stores ?? []).map((s) => [s.store.id, s.store.status_address]))
  const regions = await scanRegions(layout.pd)
  const byStore = new Map<number, number[]>()
  let leaderless = 0
  for (const r of regions) {
    const sid = r.leader?.store_id
    if (!r.leader?.id || sid === undefined) {
      leaderless++
      continue
    }
    const list = byStore.get(sid)
    if (list) list.push(r.id)
    else byStore.set(sid, [r.id])
  }
  const found = new Map<number, Set<number>>()
  let metaFound = 0
  let unreadable = 0
  for (const [sid, ids] of byStore) {
    const addr = address.get(sid)
    for (let i = 0; i < ids.length; i += 5000) {
      const batch = ids.slice(i, i + 5000)
      let answer: {regions?: {id: number; keys?: string[]; error?: string}[]}
      try {
        answer = (await getJson(
          `http://${addr}/lab/scan`,
          {method: 'POST', body: JSON.stringify({regions: batch})},
          false,
        )) as typeof answer
      } catch {
        unreadable += batch.length
        continue
      }
      for (const r of answer.regions ?? []) {
        if (!r.keys) {
          unreadable++
          continue
        }
        for (const hex of r.keys) {
          const key = Buffer.from(hex, 'hex')
          const row = decodeRowKey(key)
          if (row) {
            let set = found.get(row.tableId)
            if (!set) found.set(row.tableId, (set = new Set()))
            set.add(row.handle)
          } else if (decodeBytes(key)?.raw[0] === 0x6d) metaFound++
        }
      }
    }
  }
  const tables = layout.tables.map((t) => {
    const set = found.get(t.id)
    let n = 0
    if (set) for (const h of set) if (h >= 1 && h <= t.rows) n++
    return {name: `${t.name} (table ${t.id})`, found: n, total: t.rows}
  })
  tables.push({name: 'meta keys', found: Math.min(metaFound, layout.meta_rows), total: layout.meta_rows})
  const lost = layout.tables.filter((t, i) => tables[i].found < t.rows).map((t) => t.id)
  const total = tables.reduce((n, t) => n + t.total, 0)
  const foundAll = tables.reduce((n, t) => n + t.found, 0)
  const notes = [
    lost.length > 0 ? `table ids with lost rows: ${lost.join(', ')}` : 'no table lost rows',
    `${regions.length} regions in PD, ${leaderless} without a leader, ${unreadable} whose leader could not serve`,
  ]
  return {found: foundAll, total, tables, note: notes.join('; ')}
}
