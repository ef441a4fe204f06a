// Snapshots apart from the binlog: LoadTable recovers a replica from its snapshot and replays the
// binlog after it; a snapshot older than the binlog's start loses the rows in between (OpenMLDB's
// "missing log entry") while the offset still reaches the binlog's end. GetTermPair of a tablet
// without the table and GetManifest read the snapshot's manifest; DeleteBinlog keeps the snapshot.
import {describe, expect, inject, it} from 'vitest'

import {pidOfKey, rowKey} from '../../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBFault} from '../../../src/lab/openmldb/faults.js'
import type {LogEntry} from '../../../src/lab/openmldb/tablet.js'
import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type Status = {offset?: number; record_cnt?: number; state: string}

describe('OpenMLDB lab: snapshot and binlog', () => {
  it('LoadTable: snapshot + binlog replay, a gap loses exactly its rows, DeleteBinlog keeps the snapshot', async () => {
    const {lab, close} = await startLab(zkHosts, scenario())
    try {
      const [, t2, t3] = lab.layout.tablets.map((t) => t.endpoint)
      // pid 0: tablet1 leads, tablet2 and tablet3 follow; the leader's log says which key is at which offset.
      const log = lab.tablets[0].mem.get('1_0')?.stored.entries as LogEntry[]
      const n = log.length
      expect(n).toBeGreaterThan(30)
      expect(await lab.fault({type: 'snapshot', replica: 't1/0@tablet2', offset: 20})).toBe(
        't1 pid 0 on tablet2: snapshot at offset 20, binlog from offset 20',
      )
      expect(await lab.fault({type: 'snapshot', replica: 'db1.t1/0@tablet3', offset: 10, binlog_start: 30})).toBe(
        't1 pid 0 on tablet3: snapshot at offset 10, binlog from offset 30',
      )
      await expect(lab.fault({type: 'snapshot', replica: 't1/0@tablet2', offset: n + 1})).rejects.toThrow(
        `the replica's offset is ${n}: ${n + 1} is beyond it`,
      )
      // Memory is untouched until the process restarts.
      expect(
        ((await rpc(t3, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as Status[])[0],
      ).toMatchObject({offset: n, record_cnt: n})
      for (const t of ['tablet2', 'tablet3']) await lab.fault({type: 'restart-tablet', tablet: t})
      expect(await rpc(t2, 'TabletServer', 'GetTermPair', {tid: 1, pid: 0})).toMatchObject({
        code: 0,
        has_table: false,
        term: 1,
        offset: 20,
      })
      expect(await rpc(t3, 'TabletServer', 'GetTermPair', {tid: 1, pid: 0})).toMatchObject({
        code: 0,
        has_table: false,
        term: 1,
        offset: 10,
      })
      expect(await rpc(t2, 'TabletServer', 'GetManifest', {tid: 1, pid: 0})).toMatchObject({
        code: 0,
        manifest: {offset: 20, count: 20, term: 1},
      })

      const load = async (ep: string): Promise<Status> => {
        const meta = {
          table_meta: {name: 't1', db: 'db1', tid: 1, pid: 0, mode: 'kTableFollower', storage_mode: 'kMemory'},
        }
        expect(await rpc(ep, 'TabletServer', 'LoadTable', meta)).toEqual({code: 0, msg: 'ok'})
        return until('kTableNormal', async () => {
          const s = (
            (await rpc(ep, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as Status[]
          )[0]
          return s.state === 'kTableNormal' ? s : undefined
        })
      }
      const get = async (ep: string, at: number) =>
        (await rpc(ep, 'TabletServer', 'Get', {tid: 1, pid: 0, key: log[at].key})).code
      // Snapshot to 20, binlog from 20: every row back.
      expect(await load(t2)).toMatchObject({offset: n, record_cnt: n})
      // Snapshot to 10, binlog from 30: log indexes 11..30 are on neither, the offset still reaches n.
      expect(await load(t3)).toMatchObject({offset: n, record_cnt: n - 20})
      expect(await get(t3, 9)).toBe(0)
      expect(await get(t3, 10)).toBe(109)
      expect(await get(t3, 29)).toBe(109)
      expect(await get(t3, 30)).toBe(0)
      expect(await get(t2, 15)).toBe(0)

      // DeleteBinlog on a tablet without the table leaves the snapshot: LoadTable gives its rows only.
      await lab.fault({type: 'restart-tablet', tablet: 'tablet3'})
      expect(await rpc(t3, 'TabletServer', 'DeleteBinlog', {tid: 1, pid: 0})).toEqual({code: 0, msg: 'ok'})
      expect(await load(t3)).toMatchObject({offset: 10, record_cnt: 10})
      // lab verify reads the leaders: tablet1's partitions (0 and 3) answer, tablet2's and tablet3's are not loaded.
      const onTablet1 = Array.from({length: 200}, (_, i) => pidOfKey(rowKey('t1', i), 4)).filter(
        (pid) => pid === 0 || pid === 3,
      ).length
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: onTablet1, total: 200})
    } finally {
      await close()
    }
  })

  it('the snapshot fault on the command line', () => {
    expect(parseOpenMLDBFault('snapshot', ['t1/0@tablet2'])).toEqual({type: 'snapshot', replica: 't1/0@tablet2'})
    expect(parseOpenMLDBFault('snapshot', ['db1.t1/0@tablet2', '10', '30'])).toEqual({
      type: 'snapshot',
      replica: 'db1.t1/0@tablet2',
      offset: 10,
      binlog_start: 30,
    })
    expect(() => parseOpenMLDBFault('snapshot', ['t1/0@tablet2', 'x'])).toThrow('offset "x" is not a whole number')
    expect(() => parseOpenMLDBFault('snapshot', ['t1@tablet2'])).toThrow(
      'replica "t1@tablet2" is not [DB.]TABLE/PID@TABLET',
    )
  })
})
