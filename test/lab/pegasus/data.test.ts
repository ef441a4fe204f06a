// The lab's data path through the wire: Pegasus's data RPCs served by the replica servers to a
// client built apart from the lab's codecs (./data-client.ts), the client's routing, upstream's
// errors for a non-primary or unknown partition, and `lab up` loading rows through put.
import {describe, expect, inject, it} from 'vitest'

import {crc64, encodeKey, partitionOf} from '../../../src/lab/pegasus/data/key.js'
import {rowLayout} from '../../../src/lab/pegasus/data/rows.js'
import {PEGASUS_EPOCH_BEGIN} from '../../../src/lab/pegasus/data/store.js'
import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import type {PartitionConfiguration} from '../../../src/engines/pegasus/wire/index.js'
import {TestDataClient, pegasusKey, type Arg, type Fields} from './data-client.js'
import {labPerTest} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

/** CRC-64 as Pegasus's Go client computes it (reflected 0x9a6c9329ac4bc9b5, ~0 in and out), bit by bit. */
function referenceCrc64(data: Buffer): bigint {
  const poly = 0x9a6c9329ac4bc9b5n
  let crc = 0xffffffffffffffffn
  for (const b of data) {
    crc ^= BigInt(b)
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n
  }
  return crc ^ 0xffffffffffffffffn
}

async function partitions(l: PegasusLab, table: string): Promise<PartitionConfiguration[]> {
  const cfg = await callRpc(
    l.leader()!.address,
    'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
    {app_name: table, partition_indices: []},
    5000,
  )
  expect(cfg.response?.err).toBe('ERR_OK')
  return cfg.response!.partitions
}

const blob = (id: number, s: string | Buffer) => ({id, blob: Buffer.isBuffer(s) ? s : Buffer.from(s)})
/** The request struct as field 1 of the args struct (put(1: update_request update), ...). */
const req = (...fields: Arg[]): Arg[] => [{id: 1, struct: fields}]
const str = (f: Fields | undefined, id: number) => (f?.get(id) as Buffer | undefined)?.toString()
const kvs = (f: Fields | undefined) =>
  ((f?.get(2) ?? []) as Fields[]).map((kv) => `${(kv.get(1) as Buffer).toString()}=${(kv.get(2) as Buffer).toString()}`)

describe('key schema and routing', () => {
  it('hashes hash keys as Pegasus clients do and encodes keys with the hash-key length prefix', () => {
    // go-client/pegasus/table_connector_test.go: hash key "a" goes to partition 4 of 8.
    expect(partitionOf(Buffer.from('a'), 8)).toBe(4)
    for (let i = 0; i < 300; i++) {
      const k = Buffer.from(`key-${i}-${'x'.repeat(i % 17)}`)
      expect(crc64(k)).toBe(referenceCrc64(k))
    }
    expect(encodeKey(Buffer.from('ab'), Buffer.from('cd'))).toEqual(Buffer.from([0, 2, 0x61, 0x62, 0x63, 0x64]))
    // The lab's rows spread exactly rowsOfPartition over the partitions, each where its hash sends it.
    const layout = rowLayout(7, 100)
    expect(layout.byPartition.map((r) => r.length)).toEqual([15, 15, 14, 14, 14, 14, 14])
    layout.byPartition.forEach((rows, p) => {
      for (const i of rows) expect(partitionOf(Buffer.from(`row${i}`), 7)).toBe(p)
    })
  })
})

describe('data RPCs over THFT', () => {
  it('put, multi_put, get, multi_get, sortkey_count, ttl, remove and scanners, for a client from the IDL', async () => {
    const l = await lab([{name: 'temp', partitions: 4, replicas: 3, rows: 40}])
    const pcs = await partitions(l, 'temp')
    const p = partitionOf(Buffer.from('alice'), 4)
    const pc = pcs[p]
    const gpid: [number, number] = [1, p]
    const hash = crc64(Buffer.from('alice'))
    const c = new TestDataClient(pc.hp_primary!)
    try {
      const put = await c.call(
        'RPC_RRDB_RRDB_PUT',
        gpid,
        req(blob(1, pegasusKey('alice', 'name')), blob(2, 'Alice')),
        hash,
      )
      expect(put.err).toBe('ERR_OK')
      // update_response: error, app_id, partition_index, decree (the 10 loaded rows were decrees 1-10), server.
      expect([put.fields?.get(1), put.fields?.get(2), put.fields?.get(3), put.fields?.get(4)]).toEqual([0, 1, p, 11n])
      expect(str(put.fields, 5)).toBe(pc.hp_primary)
      const got = await c.call('RPC_RRDB_RRDB_GET', gpid, [blob(1, pegasusKey('alice', 'name'))], hash)
      expect([got.fields?.get(1), str(got.fields, 2)]).toEqual([0, 'Alice'])

      const mput = await c.call(
        'RPC_RRDB_RRDB_MULTI_PUT',
        gpid,
        req(
          blob(1, 'alice'),
          {
            id: 2,
            structs: [
              [blob(1, 'city'), blob(2, 'Oslo')],
              [blob(1, 'age'), blob(2, '30')],
            ],
          },
          {id: 3, i32: 0},
        ),
        hash,
      )
      expect(mput.fields?.get(4)).toBe(12n) // one decree for the whole multi_put
      const all = await c.call('RPC_RRDB_RRDB_MULTI_GET', gpid, req(blob(1, 'alice')), hash)
      expect([all.fields?.get(1), kvs(all.fields)]).toEqual([0, ['age=30', 'city=Oslo', 'name=Alice']])
      const some = await c.call(
        'RPC_RRDB_RRDB_MULTI_GET',
        gpid,
        req(blob(1, 'alice'), {id: 2, blobs: [Buffer.from('name'), Buffer.from('zip')]}),
        hash,
      )
      expect(kvs(some.fields)).toEqual(['name=Alice'])
      const limited = await c.call(
        'RPC_RRDB_RRDB_MULTI_GET',
        gpid,
        req(blob(1, 'alice'), {id: 3, i32: 2}, {id: 12, bool: true}),
        hash,
      )
      expect([limited.fields?.get(1), kvs(limited.fields)]).toEqual([7, ['name=Alice', 'city=Oslo']]) // kIncomplete, reversed
      const count = await c.call('RPC_RRDB_RRDB_SORTKEY_COUNT', gpid, [blob(1, 'alice')], hash)
      expect(count.fields?.get(2)).toBe(3n)

      const noTtl = await c.call('RPC_RRDB_RRDB_TTL', gpid, [blob(1, pegasusKey('alice', 'name'))], hash)
      expect([noTtl.fields?.get(1), noTtl.fields?.get(2)]).toEqual([0, -1])
      const expireAt = Math.floor(Date.now() / 1000) - PEGASUS_EPOCH_BEGIN + 100
      await c.call(
        'RPC_RRDB_RRDB_PUT',
        gpid,
        req(blob(1, pegasusKey('alice', 'tmp')), blob(2, 'x'), {id: 3, i32: expireAt}),
        hash,
      )
      const ttl = await c.call('RPC_RRDB_RRDB_TTL', gpid, [blob(1, pegasusKey('alice', 'tmp'))], hash)
      expect(ttl.fields?.get(2)).toBeGreaterThan(90)
      expect(ttl.fields?.get(2)).toBeLessThanOrEqual(100)
      const gone = await c.call(
        'RPC_RRDB_RRDB_PUT',
        gpid,
        req(blob(1, pegasusKey('alice', 'old')), blob(2, 'x'), {id: 3, i32: 1}),
        hash,
      )
      expect(gone.fields?.get(1)).toBe(0)
      expect(
        (await c.call('RPC_RRDB_RRDB_GET', gpid, [blob(1, pegasusKey('alice', 'old'))], hash)).fields?.get(1),
      ).toBe(1)

      const removed = await c.call('RPC_RRDB_RRDB_REMOVE', gpid, [blob(1, pegasusKey('alice', 'age'))], hash)
      expect(removed.fields?.get(1)).toBe(0)
      const after = await c.call('RPC_RRDB_RRDB_GET', gpid, [blob(1, pegasusKey('alice', 'age'))], hash)
      expect([after.err, after.fields?.get(1)]).toEqual(['ERR_OK', 1]) // kNotFound

      // A partition scan in batches of 3: the 10 loaded rows and alice's 3 live sort keys.
      const keys: string[] = []
      let r = await c.call('RPC_RRDB_RRDB_GET_SCANNER', gpid, req({id: 5, i32: 3}, {id: 11, bool: true}))
      for (;;) {
        expect(r.fields?.get(1)).toBe(0)
        for (const kv of (r.fields?.get(2) ?? []) as Fields[]) keys.push((kv.get(1) as Buffer).toString('latin1'))
        const ctx = r.fields?.get(3) as bigint
        if (ctx === -1n) break
        r = await c.call('RPC_RRDB_RRDB_SCAN', gpid, req({id: 1, i64: ctx}))
      }
      expect(keys).toHaveLength(13)
      expect(keys).toEqual([...keys].sort())
      expect(keys.filter((k) => k.includes('alice'))).toEqual(['\0\x05alicecity', '\0\x05alicename', '\0\x05alicetmp'])
      // clear_scanner is one-way; the context is gone afterwards.
      const open = await c.call('RPC_RRDB_RRDB_GET_SCANNER', gpid, req({id: 5, i32: 1}))
      const ctx = open.fields?.get(3) as bigint
      expect(ctx).toBeGreaterThanOrEqual(0n)
      c.send('RPC_RRDB_RRDB_CLEAR_SCANNER', gpid, [{id: 1, i64: ctx}])
      expect((await c.call('RPC_RRDB_RRDB_SCAN', gpid, req({id: 1, i64: ctx}))).fields?.get(1)).toBe(1)
    } finally {
      c.close()
    }

    // Upstream's errors: a secondary refuses reads and writes, a node without the replica says so.
    const s = new TestDataClient(pc.hp_secondaries![0])
    try {
      expect((await s.call('RPC_RRDB_RRDB_GET', gpid, [blob(1, pegasusKey('alice', 'name'))], hash)).err).toBe(
        'ERR_INVALID_STATE',
      )
      expect(
        (await s.call('RPC_RRDB_RRDB_PUT', gpid, req(blob(1, pegasusKey('alice', 'x')), blob(2, 'y')), hash)).err,
      ).toBe('ERR_INVALID_STATE')
      expect((await s.call('RPC_RRDB_RRDB_GET', [9, 0], [blob(1, pegasusKey('alice', 'name'))])).err).toBe(
        'ERR_OBJECT_NOT_FOUND',
      )
    } finally {
      s.close()
    }
  })
})

describe('lab up and lab verify through the data path', () => {
  it('loads every row through put (a decree each, on the primary and its secondaries) and reads them back with get', async () => {
    const l = await lab([{name: 'temp', partitions: 4, replicas: 3, rows: 400}])
    for (const r of l.replicas)
      for (const rep of r.allReplicas()) expect([rep.rows, rep.last_committed_decree]).toEqual([100, 100])
    expect(await verifyRows(l.leader()!.address, l.layout.tables)).toMatchObject({found: 400, total: 400})
    // A row removed through the wire is missing, reported by table and partition.
    const i = rowLayout(4, 400).byPartition[2][5]
    const pc = (await partitions(l, 'temp'))[2]
    const c = new TestDataClient(pc.hp_primary!)
    try {
      const rm = await c.call('RPC_RRDB_RRDB_REMOVE', [1, 2], [blob(1, pegasusKey(`row${i}`, 'c'))])
      expect(rm.fields?.get(4)).toBe(101n)
    } finally {
      c.close()
    }
    const v = await verifyRows(l.leader()!.address, l.layout.tables)
    expect(v).toMatchObject({found: 399, total: 400})
    expect(v.tables[0].note).toBe('missing in 1.2 (1 of 100)')
  })
})

describe('a lab too big to load through put', () => {
  it('writes the logs directly and verifies with a scanner per partition; gets read the same rows', async () => {
    const l = await lab([{name: 'big', partitions: 4, replicas: 3, rows: 24000}])
    expect(await verifyRows(l.leader()!.address, l.layout.tables)).toMatchObject({found: 24000, total: 24000})
    const i = rowLayout(4, 24000).byPartition[3][5999]
    const pc = (await partitions(l, 'big'))[3]
    const c = new TestDataClient(pc.hp_primary!)
    try {
      const got = await c.call('RPC_RRDB_RRDB_GET', [1, 3], [blob(1, pegasusKey(`row${i}`, 'c'))])
      expect(str(got.fields, 2)).toBe(`value-${i}`)
      // A write after the generated rows is the next decree.
      const put = await c.call(
        'RPC_RRDB_RRDB_PUT',
        [1, 3],
        req(blob(1, pegasusKey(`row${i}`, 'c')), blob(2, 'changed')),
      )
      expect(put.fields?.get(4)).toBe(6001n)
    } finally {
      c.close()
    }
    await l.fault({type: 'lose-partition', gpid: '1.1'})
    const v = await verifyRows(l.leader()!.address, l.layout.tables)
    expect(v).toMatchObject({found: 24000 - 6000 - 1, total: 24000})
    expect(v.tables[0].note).toBe('missing in 1.1 (all 6000: no primary), 1.3 (1 of 6000)')
  })
})
