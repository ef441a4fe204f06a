// Op bookkeeping: a failed op stays in ZooKeeper as kFailed (protoc reads it), CancelOP on a
// queued op, and op ids past 2^53 exact on the wire (uint64 as plain JSON numbers).
import {execFileSync} from 'node:child_process'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import type {OpenMLDBLab} from '../../../src/lab/openmldb/cluster.js'
import {connectZk} from '../../../src/zk/index.js'
import {post, rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type OpStatus = {op_id: number; op_type: string; status: string; task_type: string; pid: number}

describe('OpenMLDB lab: op bookkeeping', () => {
  let lab: OpenMLDBLab
  let close: () => Promise<void>
  let ep: string[]

  beforeAll(async () => {
    ;({lab, close} = await startLab(
      zkHosts,
      scenario({tables: [{name: 't1', db: 'db1', partitions: 4, replicas: 3, rows: 40}], settings: {task_ms: 150}}),
    ))
    ep = lab.layout.tablets.map((t) => t.endpoint)
  })
  afterAll(async () => close?.())

  it('op ids beyond 2^53 are exact on the wire and in ZooKeeper', async () => {
    // A new leader takes op_index from ZooKeeper.
    const zk = await connectZk({hosts: zkHosts})
    try {
      await zk.set(`${lab.layout.zk_root}/op/op_index`, Buffer.from('9007199254740993'), -1)
    } finally {
      await zk.close()
    }
    await lab.fault({type: 'kill-nameserver'})
    await lab.fault({type: 'start-nameserver'})
    await lab.fault({type: 'kill-tablet', tablet: 'tablet3'})
    const ns = lab.leader()?.endpoint as string
    await until('tablet3 offline', () => (lab.leader()?.tablets.get(ep[2])?.state === 'kOffline' ? true : undefined))
    expect(await rpc(ns, 'NameServer', 'OfflineEndpoint', {endpoint: ep[2]})).toEqual({code: 0, msg: 'ok'})
    const raw = await post(ns, '/NameServer/ShowOPStatus', '{"op_id":9007199254740995}')
    expect(raw.text).toMatch(
      /^\{"code":0,"msg":"ok","op_status":\[\{"op_id":9007199254740995,"op_type":"k\w+OP","status":"k\w+","start_time":\d+,"end_time":\d+,"task_type":"[\w-]+","name":"t1","pid":\d,"for_replica_cluster":0,"db":"db1"\}\]\}$/,
    )
    const zk2 = await connectZk({hosts: zkHosts})
    try {
      const ids = await zk2.getChildren(`${lab.layout.zk_root}/op/op_data`)
      expect(ids.length).toBeGreaterThan(0)
      expect(ids.every((id) => /^900719925474099\d$/.test(id))).toBe(true)
    } finally {
      await zk2.close()
    }
    await until('offline ops done', async () => {
      const l = (await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[]
      return l.every((o) => o.status === 'kDone') ? true : undefined
    })
  })

  it('CancelOP cancels a queued op; a second cancel is refused', async () => {
    const ns = lab.leader()?.endpoint as string
    await lab.fault({type: 'start-tablet', tablet: 'tablet3'})
    await until('tablet3 healthy', () => (lab.leader()?.tablets.get(ep[2])?.state === 'kHealthy' ? true : undefined))
    const before = ((await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[]).length
    // Four kRecoverTableOP in two queues (pid % 2): the second of a queue waits kInited.
    expect(await rpc(ns, 'NameServer', 'RecoverEndpoint', {endpoint: ep[2], concurrency: 1})).toEqual({
      code: 0,
      msg: 'ok',
    })
    const queued = ((await rpc(ns, 'NameServer', 'ShowOPStatus', {})).op_status as OpStatus[]).slice(before)
    const last = queued[queued.length - 1]
    expect(last.status).toBe('kInited')
    const body = `{"op_id":${last.op_id}}`
    expect((await post(ns, '/NameServer/CancelOP', body)).json).toEqual({code: 0, msg: 'ok'})
    await until('canceled', async () => {
      const l = (await rpc(ns, 'NameServer', 'ShowOPStatus', {op_id: last.op_id})).op_status as OpStatus[]
      return l[0].status === 'kCanceled' ? true : undefined
    })
    expect((await post(ns, '/NameServer/CancelOP', body)).json).toEqual({
      code: 312,
      msg: 'op status is not kDoing or kInited',
    })
    await lab.settle()
  })

  it('a failed op stays in ZooKeeper as kFailed with its task; protoc decodes the OPInfo', async () => {
    const ns = lab.leader()?.endpoint as string
    // tablet1 leads pid 0; kill it while the metadata still calls it the alive leader, then ask
    // to recover a follower: the op's DelReplica on that leader cannot reach it.
    await lab.fault({type: 'kill-tablet', tablet: 'tablet1'})
    expect(
      await rpc(ns, 'NameServer', 'UpdateTableAliveStatus', {
        name: 't1',
        db: 'db1',
        pid: 0,
        endpoint: ep[1],
        is_alive: false,
      }),
    ).toEqual({code: 0, msg: 'ok'})
    expect(await rpc(ns, 'NameServer', 'RecoverTable', {name: 't1', db: 'db1', pid: 0, endpoint: ep[1]})).toEqual({
      code: 0,
      msg: 'ok',
    })
    const failed = await until('kFailed', async () => {
      const l = (await rpc(ns, 'NameServer', 'ShowOPStatus', {name: 't1', pid: 0})).op_status as OpStatus[]
      const f = l.find((o) => o.status === 'kFailed')
      return f
    })
    expect(failed).toMatchObject({op_type: 'kRecoverTableOP', task_type: 'kDelReplica', pid: 0})
    const zk = await connectZk({hosts: zkHosts})
    let bytes: Buffer
    try {
      bytes = (await zk.get(`${lab.layout.zk_root}/op/op_data/${failed.op_id}`)).data
    } finally {
      await zk.close()
    }
    const text = execFileSync('protoc', ['--decode=openmldb.api.OPInfo', '-I', 'proto', 'proto/openmldb_api.proto'], {
      input: bytes,
    }).toString()
    expect(text).toContain(`op_id: ${failed.op_id}`)
    expect(text).toContain('op_type: kRecoverTableOP')
    expect(text).toContain('task_status: kFailed')
    expect(text).toContain('name: "t1"')
    expect(text).toContain('task_index: 0')
  })
})
