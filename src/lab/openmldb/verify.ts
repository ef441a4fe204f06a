/**
 * `lab verify` for OpenMLDB: finds the leader nameserver through ZooKeeper as `showns` does,
 * asks it for the tables (ShowTable), and reads every row the lab wrote with Get from the alive
 * leader replica of its partition, over HTTP+JSON: a client's count, not the lab's bookkeeping.
 */
import {LifeboatError} from '../../errors.js'
import {connectZk} from '../../zk/index.js'
import type {LabVerifyResult} from '../engine.js'
import {BrpcClient} from './brpc.js'
import {eachBounded, pidOfKey, rowKey, rowValue, type OpenMLDBLabLayout} from './cluster.js'

/** The leader nameserver's endpoint: the value of the lowest `<root>/leader/lock_request` child. */
export async function findLeaderNameserver(zkHosts: string, root: string): Promise<string | undefined> {
  const zk = await connectZk({hosts: zkHosts})
  try {
    const kids = (await zk.getChildren(`${root}/leader`)).filter((k) => k.startsWith('lock_request')).sort()
    if (kids.length === 0) return undefined
    return (await zk.get(`${root}/leader/${kids[0]}`)).data.toString('utf8')
  } finally {
    await zk.close()
  }
}

interface Meta {
  endpoint: string
  is_leader: boolean
  is_alive?: boolean
}

export async function verifyOpenMLDBRows(layout: OpenMLDBLabLayout): Promise<LabVerifyResult> {
  const client = new BrpcClient()
  try {
    const ns = await findLeaderNameserver(layout.zk_hosts, layout.zk_root)
    if (!ns) {
      const total = layout.tables.reduce((n, t) => n + t.rows, 0)
      return {
        found: 0,
        total,
        tables: layout.tables.map((t) => ({name: `${t.db}.${t.name}`, found: 0, total: t.rows, note: 'no nameserver'})),
        note: 'no nameserver holds the leader lock',
      }
    }
    let shown: Record<string, unknown>
    try {
      shown = await client.call(ns, 'NameServer', 'ShowTable', {show_all: true})
    } catch (err) {
      throw new LifeboatError('LAB_VERIFY_FAILED', `the leader nameserver ${ns} did not answer ShowTable`, {
        detail: err instanceof Error ? err.message : String(err),
        hints: [
          'lifeboat lab status shows which servers run; lifeboat lab fault start-nameserver starts a killed one.',
        ],
      })
    }
    if (shown.code !== 0) {
      throw new LifeboatError(
        'LAB_VERIFY_FAILED',
        `ShowTable on ${ns} answered ${String(shown.code)} ${String(shown.msg)}`,
        {hints: ['Run lifeboat lab verify again once a nameserver leads.']},
      )
    }
    const infos =
      (shown.table_info as
        {name: string; db: string; table_partition?: {pid: number; partition_meta?: Meta[]}[]}[] | undefined) ?? []
    const tables: LabVerifyResult['tables'] = []
    for (const t of layout.tables) {
      const info = infos.find((x) => x.name === t.name && x.db === t.db)
      const leaders = new Map<number, string>()
      for (const p of info?.table_partition ?? []) {
        // The serving leader is the replica flagged leader and alive (a missing is_alive is true).
        const m = (p.partition_meta ?? []).find((x) => x.is_leader && x.is_alive !== false)
        if (m) leaders.set(p.pid, m.endpoint)
      }
      let found = 0
      const rows = Array.from({length: t.rows}, (_, i) => i)
      await eachBounded(rows, 32, async (i) => {
        const key = rowKey(t.name, i)
        const pid = pidOfKey(key, t.partitions)
        const ep = leaders.get(pid)
        if (!ep) return
        try {
          const r = await client.call(ep, 'TabletServer', 'Get', {tid: t.tid, pid, key}, 5000)
          if (r.code === 0 && r.value === rowValue(t.name, i)) found++
        } catch {
          // A dead tablet: the row is not readable.
        }
      })
      const missingLeaders = t.partitions - leaders.size
      tables.push({
        name: `${t.db}.${t.name}`,
        found,
        total: t.rows,
        ...(missingLeaders > 0 ? {note: `${missingLeaders} partitions without an alive leader`} : {}),
      })
    }
    return {found: tables.reduce((n, t) => n + t.found, 0), total: tables.reduce((n, t) => n + t.total, 0), tables}
  } finally {
    client.close()
  }
}
