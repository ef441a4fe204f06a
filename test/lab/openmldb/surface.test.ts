// The nameserver's brpc HTTP+JSON surface on a real ZooKeeper: election, brpc's refusals, the
// read RPCs with OpenMLDB's exact JSON, ConfSet/ConfGet, and a killed leader replaced.
import {execFileSync} from 'node:child_process'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {connectZk} from '../../../src/zk/index.js'
import type {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import {post, rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

describe('OpenMLDB lab: nameserver surface', () => {
  let lab: OpenMLDBLab
  let close: () => Promise<void>
  let leader: string
  let standby: string

  beforeAll(async () => {
    ;({lab, close} = await startLab(zkHosts, scenario()))
    leader = lab.leader()?.endpoint as string
    standby = lab.nameservers.find((n) => !n.leader)?.endpoint as string
  })
  afterAll(async () => close?.())

  it('elects the lowest lock_request node whose value is its endpoint', async () => {
    const zk = await connectZk({hosts: zkHosts})
    try {
      const root = lab.layout.zk_root
      const kids = (await zk.getChildren(`${root}/leader`)).sort()
      expect(kids).toHaveLength(2)
      expect(kids.every((k) => /^lock_request\d{10}$/.test(k))).toBe(true)
      expect((await zk.get(`${root}/leader/${kids[0]}`)).data.toString()).toBe(leader)
      const stat = await zk.exists(`${root}/leader/${kids[0]}`)
      expect(stat?.ephemeralOwner).not.toBe(0n)
      // Tablets: EPHEMERAL nodes/<endpoint> with startup_ on the first registration.
      const nodes = (await zk.getChildren(`${root}/nodes`)).sort()
      expect(nodes).toEqual(lab.layout.tablets.map((t) => t.endpoint).sort())
      expect((await zk.get(`${root}/nodes/${nodes[0]}`)).data.toString()).toBe(`startup_${nodes[0]}`)
      expect((await zk.get(`${root}/config/auto_failover`)).data.toString()).toBe('false')
    } finally {
      await zk.close()
    }
  })

  it('a standby answers 300 to every method', async () => {
    expect(await rpc(standby, 'NameServer', 'ShowTablet')).toEqual({code: 300, msg: 'nameserver is not leader'})
    expect(await rpc(standby, 'NameServer', 'ConfGet')).toEqual({code: 300, msg: 'nameserver is not leader'})
  })

  it('refuses what brpc refuses: no Authorization, unknown method, empty body or missing required fields', async () => {
    const noAuth = await post(leader, '/NameServer/ShowTablet', '{}', {})
    expect(noAuth.status).toBe(403)
    expect(noAuth.text).toBe('[1004]Fail to authenticate')
    const unknown = await post(leader, '/NameServer/NoSuchMethod', '{}')
    expect(unknown.status).toBe(404)
    expect(unknown.text).toBe("[E1002]Fail to find method on `/NameServer/NoSuchMethod'")
    const empty = await post(leader, '/NameServer/ConfSet', '')
    expect(empty.status).toBe(400)
    expect(empty.text).toBe(
      '[E1003]openmldb.nameserver.ConfSetRequest needs to be created from a non-empty json, it has required fields.',
    )
    const missing = await post(leader, '/NameServer/ChangeLeader', '{"name":"t1"}')
    expect(missing.status).toBe(400)
    expect(missing.text).toBe(
      '[E1003]Fail to parse http json body as openmldb.nameserver.ChangeLeaderRequest: Missing required field: openmldb.nameserver.ChangeLeaderRequest.pid',
    )
    const nested = await post(leader, '/NameServer/ConfSet', '{"conf":{"key":"auto_failover"}}')
    expect(nested.text).toBe(
      '[E1003]Fail to parse http json body as openmldb.nameserver.ConfSetRequest: Missing required field: openmldb.nameserver.Pair.value',
    )
    // An empty body is fine where no field is required; the full service name works too.
    const full = await post(leader, '/openmldb.nameserver.NameServer/ShowTablet', '')
    expect(full.status).toBe(200)
    expect(full.json?.code).toBe(0)
  })

  it('ShowTablet lists every tablet kHealthy with its age', async () => {
    const r = await rpc(leader, 'NameServer', 'ShowTablet')
    expect(r.code).toBe(0)
    expect(r.msg).toBe('ok')
    const tablets = r.tablets as {endpoint: string; state: string; age: number}[]
    expect(tablets.map((t) => t.endpoint)).toEqual(lab.layout.tablets.map((t) => t.endpoint).sort())
    expect(tablets.every((t) => t.state === 'kHealthy' && Number.isInteger(t.age) && t.age >= 0)).toBe(true)
  })

  it('ShowTable: the name filter quirk, db tables only with db or show_all, JSON as pb2json writes it', async () => {
    expect(await rpc(leader, 'NameServer', 'ShowTable', {})).toEqual({code: 0, msg: 'ok'})
    expect(await rpc(leader, 'NameServer', 'ShowTable', {show_all: true, name: ''})).toEqual({code: 0, msg: 'ok'})
    const all = await rpc(leader, 'NameServer', 'ShowTable', {show_all: true})
    const byDb = await rpc(leader, 'NameServer', 'ShowTable', {db: 'db1', name: 't1'})
    expect(byDb).toEqual(all)
    const t = (all.table_info as Record<string, unknown>[])[0]
    expect(t).toMatchObject({name: 't1', tid: 1, db: 'db1', partition_num: 4, replica_num: 3, storage_mode: 'kMemory'})
    const parts = t.table_partition as {
      pid: number
      partition_meta: Record<string, unknown>[]
      term_offset: unknown[]
    }[]
    expect(parts.map((p) => p.pid)).toEqual([0, 1, 2, 3])
    for (const p of parts) {
      expect(p.partition_meta).toHaveLength(3)
      expect(p.partition_meta.filter((m) => m.is_leader === true)).toHaveLength(1)
      expect(p.partition_meta.every((m) => m.is_alive === true)).toBe(true)
      expect(p.term_offset).toEqual([{term: 1, offset: 0}])
    }
    // Offsets arrive from the tablets' GetTableStatus within get_table_status_interval.
    await until('offsets', async () => {
      const r = await rpc(leader, 'NameServer', 'ShowTable', {show_all: true})
      const ps = (r.table_info as {table_partition: {partition_meta: {offset?: number}[]}[]}[])[0].table_partition
      const total = ps.reduce((n, p) => n + Number(p.partition_meta[0].offset ?? 0), 0)
      return total === 200 ? true : undefined
    })
  })

  it('ConfGet is map-shaped; ConfSet validates, writes ZooKeeper and flips the refusals', async () => {
    expect(await rpc(leader, 'NameServer', 'ConfGet')).toEqual({code: 0, msg: 'ok', conf: {auto_failover: 'false'}})
    expect(await rpc(leader, 'NameServer', 'ConfSet', {conf: {key: 'auto_failover', value: 'maybe'}})).toEqual({
      code: 307,
      msg: 'invalid parameter',
    })
    expect(await rpc(leader, 'NameServer', 'ConfSet', {conf: {key: 'other', value: 'true'}})).toEqual({
      code: 307,
      msg: 'invalid parameter',
    })
    expect(await rpc(leader, 'NameServer', 'ConfSet', {conf: {key: 'auto_failover', value: 'TRUE'}})).toEqual({
      code: 0,
      msg: 'ok',
    })
    expect(await rpc(leader, 'NameServer', 'ConfGet')).toEqual({code: 0, msg: 'ok', conf: {auto_failover: 'true'}})
    for (const [method, body] of [
      ['OfflineEndpoint', {endpoint: lab.layout.tablets[0].endpoint}],
      ['RecoverEndpoint', {endpoint: lab.layout.tablets[0].endpoint}],
      ['ChangeLeader', {name: 't1', pid: 0, db: 'db1'}],
      ['RecoverTable', {name: 't1', pid: 0, endpoint: lab.layout.tablets[0].endpoint, db: 'db1'}],
      ['UpdateTableAliveStatus', {name: 't1', endpoint: lab.layout.tablets[0].endpoint, is_alive: false, db: 'db1'}],
      ['CancelOP', {op_id: 1}],
    ] as const) {
      expect(await rpc(leader, 'NameServer', method, body)).toEqual({code: 301, msg: 'auto_failover is enabled'})
    }
    expect(await rpc(leader, 'NameServer', 'ConfSet', {conf: {key: 'auto_failover', value: 'false'}})).toEqual({
      code: 0,
      msg: 'ok',
    })
    const zk = await connectZk({hosts: zkHosts})
    try {
      expect((await zk.get(`${lab.layout.zk_root}/config/auto_failover`)).data.toString()).toBe('false')
    } finally {
      await zk.close()
    }
  })

  it('ShowOPStatus with no ops is just ok', async () => {
    expect(await rpc(leader, 'NameServer', 'ShowOPStatus', {})).toEqual({code: 0, msg: 'ok'})
  })

  it('protoc --decode reads a db_table_data node back as the table the nameserver serves', async () => {
    const zk = await connectZk({hosts: zkHosts})
    let bytes: Buffer
    try {
      bytes = (await zk.get(`${lab.layout.zk_root}/table/db_table_data/1`)).data
    } finally {
      await zk.close()
    }
    const text = execFileSync(
      'protoc',
      ['--decode=openmldb.nameserver.TableInfo', '-I', 'proto', 'proto/openmldb.proto'],
      {input: bytes},
    ).toString()
    expect(text).toContain('name: "t1"')
    expect(text).toContain('db: "db1"')
    expect(text).toContain('tid: 1')
    expect(text.match(/table_partition \{/g)).toHaveLength(4)
    expect(text.match(/partition_meta \{/g)).toHaveLength(12)
    expect(text.match(/is_leader: true/g)).toHaveLength(4)
    for (const t of lab.layout.tablets) expect(text).toContain(`endpoint: "${t.endpoint}"`)
  })

  it('a killed leader is replaced by the standby, which serves the same tables', async () => {
    const before = await rpc(leader, 'NameServer', 'ShowTable', {show_all: true})
    await lab.fault({type: 'kill-nameserver'})
    const next = lab.leader()?.endpoint as string
    expect(next).toBe(standby)
    const after = await rpc(next, 'NameServer', 'ShowTable', {show_all: true})
    const strip = (r: Record<string, unknown>) =>
      (
        r.table_info as {
          table_partition: {pid: number; partition_meta: {endpoint: string; is_leader: boolean; is_alive: boolean}[]}[]
        }[]
      ).map((t) =>
        t.table_partition.map((p) => ({
          pid: p.pid,
          metas: p.partition_meta.map((m) => [m.endpoint, m.is_leader, m.is_alive]),
        })),
      )
    expect(strip(after)).toEqual(strip(before))
    expect(((await rpc(next, 'NameServer', 'ShowTablet')).tablets as unknown[]).length).toBe(3)
  })
})
