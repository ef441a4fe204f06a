/**
 * The etcd v3 JSON gateway subset on PD's client port: what a lease-bound lock needs, in the
 * gateway's own format (base64 keys and values, int64 as strings, zero values omitted).
 */
import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {type TestLab, upLab, waitFor} from './helpers.js'

let t: TestLab
const b64 = (s: string): string => Buffer.from(s).toString('base64')
const KEY = b64('/lifeboat/locks/tikv/lab')

beforeAll(async () => {
  t = await upLab({
    engine: 'tikv',
    name: 'etcd',
    stores: 1,
    replicas: 1,
    tables: [{id: 1, rows: 1}],
    regions: [{start: '', voters: [1]}],
    timing: {heartbeat_ms: 100},
  })
})
afterAll(async () => t?.close())

type Header = {cluster_id: string; member_id: string; revision: string; raft_term: string}

async function acquire(
  holder: string,
  lease: string,
): Promise<{
  succeeded?: boolean
  responses: Record<string, {kvs?: {value: string; lease?: string; create_revision: string}[]}>[]
}> {
  const r = await t.post('/v3/kv/txn', {
    compare: [{key: KEY, target: 'CREATE', result: 'EQUAL', create_revision: '0'}],
    success: [{request_put: {key: KEY, value: b64(holder), lease}}],
    failure: [{request_range: {key: KEY}}],
  })
  expect(r.status).toBe(200)
  return r.json as never
}

describe('etcd v3 gateway on the PD port', () => {
  test('a lease-bound lock: grant, create-revision txn, contention shows the holder, keepalive, revoke frees it', async () => {
    const g = await t.post('/v3/lease/grant', {TTL: 30})
    const grant = g.json as {header: Header; ID: string; TTL: string}
    expect(grant.TTL).toBe('30')
    expect(grant.ID).toMatch(/^\d+$/)
    expect(BigInt(grant.ID)).toBeGreaterThan(BigInt(Number.MAX_SAFE_INTEGER))
    expect(grant.header.cluster_id).toBe('7412345678901234567')

    const first = await acquire('alice', grant.ID)
    expect(first.succeeded).toBe(true)
    expect(Object.keys(first.responses[0])).toEqual(['response_put'])

    const g2 = (await t.post('/v3/lease/grant', {TTL: 30})).json as {ID: string}
    const second = await acquire('bob', g2.ID)
    expect(second.succeeded).toBeUndefined()
    const held = second.responses[0].response_range.kvs?.[0]
    expect(Buffer.from(held?.value ?? '', 'base64').toString()).toBe('alice')
    expect(held?.lease).toBe(grant.ID)

    const ka = (await t.post('/v3/lease/keepalive', {ID: grant.ID})).json as {result: {ID: string; TTL: string}}
    expect(ka.result).toMatchObject({ID: grant.ID, TTL: '30'})
    // A number beyond 2^53 in the request is read exactly.
    const kaNum = (await t.post('/v3/lease/keepalive', `{"ID":${grant.ID}}`)).json as {
      result: {ID: string; TTL: string}
    }
    expect(kaNum.result.TTL).toBe('30')

    const rev = await t.post('/v3/lease/revoke', {ID: grant.ID})
    expect(rev.status).toBe(200)
    const gone = (await t.post('/v3/kv/range', {key: KEY})).json as {header: Header; kvs?: unknown; count?: string}
    expect([gone.kvs, gone.count]).toEqual([undefined, undefined])
    expect((await acquire('bob', g2.ID)).succeeded).toBe(true)
    await t.post('/v3/lease/revoke', {ID: g2.ID})
  })

  test('an expired lease deletes its keys; keepalive on it answers without TTL', async () => {
    const g = (await t.post('/v3/lease/grant', {TTL: 1})).json as {ID: string}
    expect((await acquire('carol', g.ID)).succeeded).toBe(true)
    await waitFor(
      'the lease to expire',
      async () =>
        ((await t.post('/v3/kv/range', {key: KEY})).json as {kvs?: unknown}).kvs === undefined ? true : undefined,
      10_000,
    )
    const ka = (await t.post('/v3/lease/keepalive', {ID: g.ID})).json as {result: {ID: string; TTL?: string}}
    expect(ka.result).toEqual({header: expect.any(Object), ID: g.ID})
  })

  test('errors as the gateway writes them; range over a prefix; deleterange', async () => {
    const bad = await t.post('/v3/lease/revoke', {ID: '12345'})
    expect(bad.status).toBe(404)
    expect(bad.json).toEqual({
      error: 'etcdserver: requested lease not found',
      code: 5,
      message: 'etcdserver: requested lease not found',
    })
    const put = await t.post('/v3/kv/txn', {
      success: [{request_put: {key: b64('/a/1'), value: b64('x'), lease: '999'}}],
    })
    expect(put.status).toBe(404)
    for (const k of ['/a/1', '/a/2', '/b/1'])
      expect((await t.post('/v3/kv/put', {key: b64(k), value: b64('v')})).status).toBe(200)
    const range = (await t.post('/v3/kv/range', {key: b64('/a/'), range_end: b64('/a0')})).json as {
      kvs: {key: string; version: string; create_revision: string; mod_revision: string}[]
      count: string
    }
    expect(range.kvs.map((k) => Buffer.from(k.key, 'base64').toString())).toEqual(['/a/1', '/a/2'])
    expect(range.count).toBe('2')
    expect(range.kvs[0].version).toBe('1')
    const del = (await t.post('/v3/kv/deleterange', {key: b64('/'), range_end: b64('\0')})).json as {deleted: string}
    expect(del.deleted).toBe('3')
    expect((await t.post('/v3/kv/range', {key: 'not base64!'})).status).toBe(400)
    const stale = await t.post('/v3/kv/txn', {
      compare: [{key: b64('/none'), target: 'VALUE', value: b64('x')}],
      success: [],
      failure: [],
    })
    expect((stale.json as {succeeded?: boolean}).succeeded).toBeUndefined()
  })
})
