import net from 'node:net'
import zookeeper from 'node-zookeeper-client'
import {afterAll, beforeAll, describe, expect, inject, test} from 'vitest'
import {
  clusterInfoMap,
  getMetaApps,
  getMetaCluster,
  getMetaNodes,
  leaderFromLockNodes,
  leaderLockNode,
  mapLimit,
  mapLimitSettled,
  MetaClient,
  PegasusClientError,
  ReplicaClient,
  RpcPool,
} from '../../../src/engines/pegasus/client/index.js'
import {
  startRpcServer,
  type AppInfo,
  type RpcHandlers,
  type RpcServer,
} from '../../../src/engines/pegasus/wire/index.js'
import {toZkError} from '../../../src/zk/index.js'

const app: AppInfo = {
  status: 1,
  app_type: 'pegasus',
  app_name: 'temp',
  app_id: 2,
  partition_count: 2,
  envs: {},
  is_stateful: true,
  max_replica_count: 3,
  expire_second: 0,
  create_second: 1700000000,
  drop_second: 0,
  init_partition_count: 2,
}
const servers: RpcServer[] = []
async function serve(handlers: RpcHandlers, http?: Parameters<typeof startRpcServer>[0]['http']): Promise<RpcServer> {
  const s = await startRpcServer({handlers, http})
  servers.push(s)
  return s
}
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()))
})

/** A port nobody listens on: bind, note it, close. */
async function deadPort(): Promise<number> {
  const srv = net.createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()))
  const port = (srv.address() as net.AddressInfo).port
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}

function leaderHandlers(self: () => string): RpcHandlers {
  return {
    RPC_CM_START_RECOVERY: async (req) => ({
      err: 'ERR_OK',
      response: {
        err: 'ERR_OK',
        hint_message: `${self()} got ${req.recovery_nodes.join(',')} b=${req.skip_bad_nodes} l=${req.skip_lost_partitions} hp=${req.hp_recovery_nodes?.join(',')}`,
      },
    }),
    RPC_CM_DDD_DIAGNOSE: async (req) => ({
      err: 'ERR_OK',
      response: {
        err: 'ERR_OK',
        partitions: [
          {
            config: {
              pid: req.pid === '-1.-1' ? '2.1' : req.pid,
              ballot: 4,
              max_replica_count: 3,
              primary: '',
              secondaries: [],
              last_drops: ['127.0.0.1:34801', '127.0.0.1:34802'],
              last_committed_decree: 7,
              partition_flags: 0,
            },
            dropped: [],
            reason: 'r',
          },
        ],
      },
    }),
    RPC_CM_PROPOSE_BALANCER: async (req) => ({
      err: 'ERR_OK',
      response: {err: req.action_list[0].type === 1 && req.gpid === '2.1' ? 'ERR_OK' : 'ERR_INVALID_PARAMETERS'},
    }),
    RPC_CM_CONTROL_META: async (req) => ({
      err: 'ERR_OK',
      response: {err: 'ERR_OK', old_level: req.level === 10000 ? 400 : 500},
    }),
    RPC_CM_CLUSTER_INFO: async () => ({
      err: 'ERR_OK',
      response: {err: 'ERR_OK', keys: ['primary_meta_server', 'meta_function_level'], values: [self(), 'steady']},
    }),
    RPC_CM_LIST_APPS: async (req) => ({err: 'ERR_OK', response: {err: 'ERR_OK', infos: req.status === 0 ? [app] : []}}),
    RPC_CM_LIST_NODES: async () => ({
      err: 'ERR_OK',
      response: {err: 'ERR_OK', infos: [{status: 1, node: '127.0.0.1:34801', hp_node: 'localhost:34801'}]},
    }),
    RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX: async (req) => ({
      err: 'ERR_OK',
      response: {
        err: 'ERR_OK',
        app_id: 2,
        partition_count: 2,
        is_stateful: true,
        partitions: req.partition_indices.map((i) => ({
          pid: `2.${i}`,
          ballot: 1,
          max_replica_count: 3,
          primary: '127.0.0.1:34801',
          secondaries: [],
          last_drops: [],
          last_committed_decree: 0,
          partition_flags: 0,
        })),
      },
    }),
  }
}

function follower(): RpcHandlers {
  const fwd = {err: 'ERR_OK'} as const
  return {
    RPC_CM_CONTROL_META: async () => ({...fwd, response: {err: 'ERR_FORWARD_TO_OTHERS', old_level: 10000}}),
    RPC_CM_CLUSTER_INFO: async () => ({...fwd, response: {err: 'ERR_FORWARD_TO_OTHERS', keys: [], values: []}}),
  }
}

describe('meta client', () => {
  let leader: RpcServer
  let meta: MetaClient
  beforeAll(async () => {
    leader = await serve(leaderHandlers(() => leader.address))
    meta = new MetaClient({metaServers: [leader.address], timeoutMs: 2000})
  })
  afterAll(() => meta.close())

  test('every meta RPC round-trips over loopback', async () => {
    const rec = await meta.startRecovery({
      recovery_nodes: ['127.0.0.1:34801', '127.0.0.1:34802'],
      skip_bad_nodes: true,
      skip_lost_partitions: false,
      hp_recovery_nodes: ['localhost:34801', 'localhost:34802'],
    })
    expect(rec).toEqual({
      err: 'ERR_OK',
      hint_message: `${leader.address} got 127.0.0.1:34801,127.0.0.1:34802 b=true l=false hp=localhost:34801,localhost:34802`,
    })
    const ddd = await meta.dddDiagnose()
    expect(ddd.partitions[0].config).toMatchObject({pid: '2.1', last_drops: ['127.0.0.1:34801', '127.0.0.1:34802']})
    expect((await meta.dddDiagnose('2.-1')).partitions[0].config.pid).toBe('2.-1')
    expect(
      await meta.proposeBalancer({
        gpid: '2.1',
        action_list: [
          {
            target: '127.0.0.1:34802',
            node: '127.0.0.1:34802',
            type: 1,
            hp_target: 'localhost:34802',
            hp_node: 'localhost:34802',
          },
        ],
        force: false,
      }),
    ).toEqual({err: 'ERR_OK'})
    expect(await meta.controlMeta(300)).toEqual({err: 'ERR_OK', old_level: 500})
    expect(await meta.getMetaLevel()).toBe(400)
    expect(await meta.setMetaLevel(200)).toBe(500)
    expect(clusterInfoMap(await meta.clusterInfo())).toEqual({
      primary_meta_server: leader.address,
      meta_function_level: 'steady',
    })
    expect((await meta.listApps()).infos).toEqual([app])
    expect((await meta.listApps({status: 6})).infos).toEqual([])
    expect((await meta.listNodes()).infos).toEqual([{status: 1, node: '127.0.0.1:34801', hp_node: 'localhost:34801'}])
    const cfg = await meta.queryPartitionConfigByIndex('temp', [0, 1])
    expect(cfg.partitions.map((p) => p.pid)).toEqual(['2.0', '2.1'])
    expect(meta.knownLeader).toBe(leader.address)
  })

  test('without ZooKeeper: skips a dead meta and a follower answering ERR_FORWARD_TO_OTHERS', async () => {
    const f = await serve(follower())
    const dead = `127.0.0.1:${await deadPort()}`
    const c = new MetaClient({metaServers: [dead, f.address, leader.address], timeoutMs: 2000})
    try {
      const {server, response} = await c.call('RPC_CM_CLUSTER_INFO', {})
      expect(server).toBe(leader.address)
      expect(response.err).toBe('ERR_OK')
      expect(await c.getMetaLevel()).toBe(400)
    } finally {
      c.close()
    }
  })

  test('follows the forward address of query_cfg', async () => {
    const f = await serve({
      RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX: async () => ({
        err: 'ERR_OK',
        response: {
          err: 'ERR_FORWARD_TO_OTHERS',
          app_id: 0,
          partition_count: 0,
          is_stateful: false,
          partitions: [
            {
              pid: '0.0',
              ballot: 0,
              max_replica_count: 0,
              primary: leader.address,
              secondaries: [],
              last_drops: [],
              last_committed_decree: 0,
              partition_flags: 0,
            },
          ],
        },
      }),
    })
    const c = new MetaClient({metaServers: [f.address]})
    try {
      const {server} = await c.call('RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', {
        app_name: 'temp',
        partition_indices: [1],
      })
      expect(server).toBe(leader.address)
    } finally {
      c.close()
    }
  })

  test('no leader among the metas: PEGASUS_NO_META_LEADER naming each', async () => {
    const f = await serve(follower())
    const c = new MetaClient({metaServers: [f.address]})
    try {
      const err = await c.clusterInfo().catch((e) => e)
      expect(err).toBeInstanceOf(PegasusClientError)
      expect(err.code).toBe('PEGASUS_NO_META_LEADER')
      expect(err.message).toContain(f.address)
      expect(err.detail).toContain('ERR_FORWARD_TO_OTHERS')
    } finally {
      c.close()
    }
  })

  test('the leader from the ZooKeeper lock node (lowest LOCKNODE sequence) is asked first', async () => {
    expect(leaderLockNode(['LOCKNODE0000000012', 'LOCKNODE0000000003', 'x'])).toBe('LOCKNODE0000000003')
    const zk = zookeeper.createClient(inject('zookeeper'), {sessionTimeout: 10000})
    await new Promise<void>((r) => zk.once('connected', () => r()).connect())
    const root = `/lifeboat-test/meta-client-${process.pid}-${Date.now()}`
    const f = await serve(follower())
    const calls: string[] = []
    const counting = await serve({
      RPC_CM_CLUSTER_INFO: async (_r, info) => {
        calls.push(info.remote)
        return {err: 'ERR_OK', response: {err: 'ERR_OK', keys: ['k'], values: ['v']}}
      },
    })
    const z = {
      // As src/zk's client does: the raw client's exceptions become typed ZkErrors where they arise.
      getChildren: (p: string) =>
        new Promise<string[]>((res, rej) =>
          zk.getChildren(p, (e, c) => (e ? rej(toZkError(e, {server: 'test', op: 'getChildren', path: p})) : res(c))),
        ),
      getData: (p: string) =>
        new Promise<Buffer | null>((res, rej) => zk.getData(p, (e, d) => (e ? rej(e) : res(d ?? null)))),
      create: (p: string, data: string, mode: number) =>
        new Promise<string>((res, rej) => zk.create(p, Buffer.from(data), mode, (e, path) => (e ? rej(e) : res(path)))),
      mkdirp: (p: string) => new Promise<void>((res, rej) => zk.mkdirp(p, (e) => (e ? rej(e) : res()))),
    }
    try {
      const lookup = leaderFromLockNodes(root, z)
      expect(await lookup()).toBeNull()
      await z.mkdirp(`${root}/dsn.meta.server.leader`)
      expect(await lookup()).toBeNull()
      const seq = zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL
      await z.create(`${root}/dsn.meta.server.leader/LOCKNODE`, counting.address, seq)
      await z.create(`${root}/dsn.meta.server.leader/LOCKNODE`, f.address, seq)
      expect(await lookup()).toBe(counting.address)
      // The follower is listed first, but the lock says who leads.
      const c = new MetaClient({metaServers: [f.address, counting.address], leaderFromZk: lookup})
      try {
        expect((await c.call('RPC_CM_CLUSTER_INFO', {})).server).toBe(counting.address)
        expect(calls).toHaveLength(1)
      } finally {
        c.close()
      }
    } finally {
      zk.close()
    }
  })
})

describe('replica client and deadlines', () => {
  test('queryAppInfo, queryReplicaInfo and collectAll over many servers', async () => {
    const nodes = await Promise.all(
      Array.from({length: 120}, (_, i) =>
        serve({
          RPC_QUERY_APP_INFO: async (req) => ({
            err: 'ERR_OK',
            response: {err: 'ERR_OK', apps: req.meta_server === '' ? [{...app, app_id: i + 1}] : []},
          }),
          RPC_QUERY_REPLICA_INFO: async (req) => ({
            err: 'ERR_OK',
            response: {
              err: 'ERR_OK',
              replicas: [
                {
                  pid: `${i + 1}.0`,
                  ballot: 3,
                  status: 3,
                  last_committed_decree: i,
                  last_prepared_decree: i + 1,
                  last_durable_decree: 0,
                  app_type: 'pegasus',
                  disk_tag: req.hp_node1 ?? '',
                },
              ],
            },
          }),
        }),
      ),
    )
    const down = `127.0.0.1:${await deadPort()}`
    const pool = new RpcPool({timeoutMs: 3000})
    const rc = new ReplicaClient({pool})
    try {
      const one = await rc.queryReplicaInfo(nodes[0].address)
      expect(one.replicas[0]).toMatchObject({pid: '1.0', disk_tag: nodes[0].address})
      expect((await rc.queryAppInfo(nodes[1].address)).apps[0].app_id).toBe(2)
      const all = await rc.collectAll([...nodes.map((n) => n.address), down], {concurrency: 16})
      expect(all.filter((r) => r.ok)).toHaveLength(120)
      const bad = all[120]
      expect(bad.ok).toBe(false)
      if (!bad.ok) {
        expect(bad.pegasusError).toBe('ERR_NETWORK_FAILURE')
        expect(bad.error.code).toBe('PEGASUS_UNREACHABLE')
        expect(bad.error.message).toContain(down)
      }
      expect(pool.connectionCount).toBe(120)
    } finally {
      pool.close()
    }
  })

  test('a server that never answers: PEGASUS_TIMEOUT / ERR_TIMEOUT naming server and RPC', async () => {
    const silent = await serve({RPC_QUERY_APP_INFO: () => new Promise(() => {})})
    const rc = new ReplicaClient({timeoutMs: 300})
    try {
      const err = await rc.queryAppInfo(silent.address).catch((e) => e)
      expect(err).toBeInstanceOf(PegasusClientError)
      expect([err.code, err.pegasusError, err.server, err.rpc]).toEqual([
        'PEGASUS_TIMEOUT',
        'ERR_TIMEOUT',
        silent.address,
        'RPC_QUERY_APP_INFO',
      ])
      expect(err.message).toContain(silent.address)
      expect(err.hints.length).toBeGreaterThan(0)
    } finally {
      rc.close()
    }
  })

  test('a port nobody listens on: PEGASUS_UNREACHABLE / ERR_NETWORK_FAILURE', async () => {
    const addr = `127.0.0.1:${await deadPort()}`
    const rc = new ReplicaClient({timeoutMs: 2000})
    try {
      const err = await rc.queryReplicaInfo(addr).catch((e) => e)
      expect([err.code, err.pegasusError]).toEqual(['PEGASUS_UNREACHABLE', 'ERR_NETWORK_FAILURE'])
      expect(err.message).toMatch(new RegExp(`${addr}.*RPC_QUERY_REPLICA_INFO.*ECONNREFUSED`))
    } finally {
      rc.close()
    }
  })

  test('a server without the handler: PEGASUS_RPC_ERROR carrying ERR_HANDLER_NOT_FOUND', async () => {
    const meta = await serve({RPC_CM_LIST_NODES: async () => ({err: 'ERR_OK', response: {err: 'ERR_OK', infos: []}})})
    const rc = new ReplicaClient()
    try {
      const err = await rc.queryAppInfo(meta.address).catch((e) => e)
      expect([err.code, err.pegasusError]).toEqual(['PEGASUS_RPC_ERROR', 'ERR_HANDLER_NOT_FOUND'])
      const c = await rc.collect(meta.address)
      expect(c.ok ? '' : c.pegasusError).toBe('ERR_HANDLER_NOT_FOUND')
    } finally {
      rc.close()
    }
  })

  test('a reply arriving after its deadline is dropped and the connection keeps working', async () => {
    let n = 0
    const slow = await serve({
      RPC_CM_CONTROL_META: async (req) => {
        if (n++ === 0) await new Promise((r) => setTimeout(r, 400))
        return {err: 'ERR_OK', response: {err: 'ERR_OK', old_level: req.level}}
      },
    })
    const pool = new RpcPool()
    try {
      const late = await pool.call(slow.address, 'RPC_CM_CONTROL_META', {level: 100}, {timeoutMs: 100}).catch((e) => e)
      expect(late.code).toBe('PEGASUS_TIMEOUT')
      await new Promise((r) => setTimeout(r, 500))
      expect(await pool.call(slow.address, 'RPC_CM_CONTROL_META', {level: 200})).toEqual({
        err: 'ERR_OK',
        old_level: 200,
      })
    } finally {
      pool.close()
    }
  })
})

describe('mapLimit', () => {
  test('bounds concurrency and keeps order', async () => {
    let inFlight = 0
    let peak = 0
    const out = await mapLimit(
      Array.from({length: 50}, (_, i) => i),
      7,
      async (x) => {
        inFlight++
        peak = Math.max(peak, inFlight)
        await new Promise((r) => setImmediate(r))
        inFlight--
        return x * 2
      },
    )
    expect(out).toEqual(Array.from({length: 50}, (_, i) => i * 2))
    expect(peak).toBe(7)
  })

  test('fails fast; the settled form reports each outcome', async () => {
    let started = 0
    await expect(
      mapLimit([1, 2, 3, 4, 5, 6], 1, async (x) => {
        started++
        if (x === 2) throw new Error('boom')
        return x
      }),
    ).rejects.toThrow('boom')
    expect(started).toBe(2)
    const s = await mapLimitSettled([1, 2, 3], 2, async (x) => {
      if (x === 2) throw new Error('two')
      return x
    })
    expect(s.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
  })
})

describe('meta HTTP', () => {
  test('/meta/cluster, /meta/apps, /meta/nodes on the RPC port; errors name the server', async () => {
    const docs: Record<string, unknown> = {
      '/meta/cluster': {
        meta_servers: '127.0.0.1:34601',
        primary_meta_server: '127.0.0.1:34601',
        meta_function_level: 'steady',
      },
      '/meta/apps?detail': {general_info: {}, healthy_info: {}, summary: {total_app_count: '0'}},
      '/meta/nodes': {
        details: {'127.0.0.1:34801': {address: '127.0.0.1:34801', status: 'ALIVE'}},
        summary: {total_node_count: '1'},
      },
    }
    const s = await serve({}, (req, res) => {
      const doc = docs[req.url ?? '']
      res.writeHead(doc ? 200 : 404)
      res.end(doc ? JSON.stringify(doc) : 'not found')
    })
    expect((await getMetaCluster(s.address)).meta_function_level).toBe('steady')
    expect((await getMetaApps(s.address, {detail: true})).summary.total_app_count).toBe('0')
    expect((await getMetaNodes(s.address)).details['127.0.0.1:34801'].status).toBe('ALIVE')
    const err = await getMetaApps(s.address).catch((e) => e)
    expect([err.code, err.server]).toEqual(['PEGASUS_HTTP_ERROR', s.address])
    const dead = `127.0.0.1:${await deadPort()}`
    expect((await getMetaCluster(dead).catch((e) => e)).code).toBe('PEGASUS_UNREACHABLE')
  })

  test("a non-leader meta's 307 is followed to the leader", async () => {
    const leader = await serve({}, (_req, res) => {
      res.writeHead(200)
      res.end('{"meta_function_level":"lively","primary_meta_server":"leader"}')
    })
    const follower = await serve({}, (req, res) => {
      res.writeHead(307, {location: `http://${leader.address}${req.url}`})
      res.end()
    })
    expect((await getMetaCluster(follower.address)).meta_function_level).toBe('lively')
  })
})
