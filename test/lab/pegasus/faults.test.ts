// Faults, the partition guardian (DDD, proposals, levels), the ZooKeeper JSON layout and the HTTP
// endpoints of the simulated meta, through the real wire protocol and a real ZooKeeper.
import {describe, expect, inject, it} from 'vitest'

import {ConfigType, MetaFunctionLevel, type DddPartitionInfo} from '../../../src/engines/pegasus/wire/index.js'
import {connectZk} from '../../../src/zk/index.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {labPerTest, waitFor} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

const meta = (l: PegasusLab): string => l.layout.meta_servers[0].address
const addr = (l: PegasusLab, i: number): string => l.layout.replica_servers[i - 1].address

async function ddd(l: PegasusLab, pid: string): Promise<DddPartitionInfo> {
  return waitFor(`DDD entry for ${pid}`, async () => {
    const r = await callRpc(meta(l), 'RPC_CM_DDD_DIAGNOSE', {pid: '-1.-1'}, 5000)
    return r.response?.partitions.find((p) => p.config.pid === pid)
  })
}

describe('ZooKeeper layout', () => {
  it('writes app and partition nodes in Pegasus JSON, field order and 0/1 bools included, and the leader lock', async () => {
    const l = await lab([
      {name: 'temp', partitions: 2, replicas: 3, rows: 10},
      {name: 'old', partitions: 1, replicas: 3, rows: 5, dropped: true},
    ])
    const c = await connectZk({hosts: zk})
    try {
      const root = l.layout.cluster_root
      const [r1, r2, r3] = [addr(l, 1), addr(l, 2), addr(l, 3)]
      expect((await c.get(`${root}/apps`)).data.toString()).toBe('unlock')
      const app = (await c.get(`${root}/apps/2`)).data.toString()
      expect(app).toMatch(
        /^\{"status":"app_status::AS_AVAILABLE","app_type":"pegasus","app_name":"temp","app_id":2,"partition_count":2,"envs":\{\},"is_stateful":1,"max_replica_count":3,"expire_second":0,"create_second":\d+,"drop_second":0,"duplicating":0,"init_partition_count":2,"is_bulk_loading":0,"atomic_idempotent":0\}$/,
      )
      expect((await c.get(`${root}/apps/2/0`)).data.toString()).toBe(
        // Table 1 took replica1..3 for its partition; table 2 starts one node further.
        `{"pid":"2.0","ballot":3,"max_replica_count":3,"primary":"${r2}","secondaries":["${r3}","${r1}"],"last_drops":[],"last_committed_decree":0,"partition_flags":0,` +
          `"hp_primary":"${r2}","hp_secondaries":["${r3}","${r1}"],"hp_last_drops":[]}`,
      )
      const dropped = JSON.parse((await c.get(`${root}/apps/1`)).data.toString())
      expect(dropped.status).toBe('app_status::AS_DROPPED')
      expect(dropped.expire_second).toBeGreaterThan(dropped.drop_second)
      expect((await c.get(`${root}/apps/1/0`)).data.toString()).toContain(
        '"primary":"invalid address","secondaries":[],',
      )
      expect((await c.get(`${root}/apps/1/0`)).data.toString()).toContain(
        '"partition_flags":1,"hp_primary":"invalid host_port"',
      )
      const locks = await c.getChildren(`${root}/dsn.meta.server.leader`)
      expect(locks).toHaveLength(1)
      expect(locks[0]).toMatch(/^LOCKNODE\d{10}$/)
      const lock = await c.get(`${root}/dsn.meta.server.leader/${locks[0]}`)
      expect(lock.data.toString()).toBe(meta(l))
      expect(lock.stat.ephemeralOwner).not.toBe(0n)
    } finally {
      await c.close()
    }
  })
})

describe('meta RPCs and HTTP', () => {
  it('answers cluster_info, list_apps, list_nodes, query_cfg and /meta/{cluster,apps,nodes} with string values', async () => {
    const l = await lab([{name: 'temp', partitions: 4, replicas: 3, rows: 40}])
    const info = await callRpc(meta(l), 'RPC_CM_CLUSTER_INFO', {}, 5000)
    const kv = Object.fromEntries(info.response?.keys.map((k, i) => [k, info.response?.values[i]]) ?? [])
    expect(kv).toMatchObject({
      meta_servers: meta(l),
      primary_meta_server: meta(l),
      zookeeper_hosts: zk,
      zookeeper_root: l.layout.cluster_root,
      meta_function_level: 'steady',
      cluster_name: l.layout.cluster_name,
    })
    const nodes = await callRpc(meta(l), 'RPC_CM_LIST_NODES', {status: 0}, 5000)
    expect(nodes.response?.infos.map((n) => n.node).sort()).toEqual(
      l.layout.replica_servers.map((r) => r.address).sort(),
    )
    const cfg = await callRpc(
      meta(l),
      'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
      {app_name: 'temp', partition_indices: [2]},
      5000,
    )
    expect(cfg.response).toMatchObject({err: 'ERR_OK', app_id: 1, partition_count: 4})
    expect(cfg.response?.partitions.map((p) => p.pid)).toEqual(['1.2'])

    const get = async (path: string): Promise<Record<string, unknown>> =>
      (await fetch(`http://${meta(l)}${path}`)).json() as Promise<Record<string, unknown>>
    const cluster = await get('/meta/cluster')
    expect(Object.keys(cluster)).toEqual([
      'meta_servers',
      'primary_meta_server',
      'zookeeper_hosts',
      'zookeeper_root',
      'meta_function_level',
      'balance_operation_count',
      'primary_replica_count_stddev',
      'total_replica_count_stddev',
    ])
    expect(Object.values(cluster).every((v) => typeof v === 'string')).toBe(true)
    const apps = await get('/meta/apps?detail')
    expect(apps).toMatchObject({
      general_info: {
        '1': {
          app_id: '1',
          status: 'AVAILABLE',
          app_name: 'temp',
          partition_count: '4',
          replica_count: '3',
          is_stateful: 'true',
          envs_count: '0',
        },
      },
      healthy_info: {'1': {fully_healthy: '4', unhealthy: '0', write_unhealthy: '0', read_unhealthy: '0'}},
      summary: {total_app_count: '1', fully_healthy_app_count: '1'},
    })
    const n = await get('/meta/nodes?detail')
    expect(n.summary).toEqual({total_node_count: '3', alive_node_count: '3', unalive_node_count: '0'})
    expect((n.details as Record<string, Record<string, string>>)[addr(l, 1)]).toEqual({
      address: addr(l, 1),
      status: 'ALIVE',
      replica_count: '4',
      primary_count: '2',
      secondary_count: '2',
    })
  })

  it('meta levels: control_meta sets and queries; at freezed no cure runs, at steady it does', async () => {
    const l = await lab([{name: 'temp', partitions: 3, replicas: 3, rows: 30}])
    const set = await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_freezed}, 5000)
    expect(set.response).toEqual({err: 'ERR_OK', old_level: MetaFunctionLevel.fl_steady})
    const q = await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_invalid}, 5000)
    expect(q.response?.old_level).toBe(MetaFunctionLevel.fl_freezed)
    await l.fault({type: 'ddd', gpids: ['1.0']})
    const checks = l.leader()?.counters.checks ?? 0
    await new Promise((r) => setTimeout(r, 600))
    expect(l.leader()?.counters.checks).toBe(checks)
    expect(l.leader()?.partition('1.0')?.hp_primary).toBe('')
    await l.fault({type: 'meta-level', level: 'steady'})
    // Both last drops alive and consistent: the guardian assigns the latest (largest ballot) itself.
    const primary = await waitFor('an automatic primary', () => l.leader()?.partition('1.0')?.hp_primary || undefined)
    expect(primary).toBe(addr(l, 1))
    await waitFor('all rows', async () =>
      (await verifyRows(meta(l), l.layout.tables)).found === 30 ? true : undefined,
    )
  })
})

describe('node faults', () => {
  it('kill-node: the meta marks it dead and promotes a secondary; start-node: it comes back as secondary', async () => {
    // onebox's threshold: with upstream's 3, two alive nodes would freeze the meta (see the freeze test).
    const l = await lab([{name: 'temp', partitions: 3, replicas: 3, rows: 300}], {
      meta: {lb_interval_ms: 200, fd_grace_ms: 800, min_live_node_count_for_unfreeze: 1},
    })
    await l.fault({type: 'kill-node', node: 'replica1'})
    await waitFor('replica1 dead', () =>
      l
        .leader()
        ?.nodeStates()
        .find((n) => n.node === addr(l, 1))?.alive === false
        ? true
        : undefined,
    )
    const pc = await waitFor('1.0 promoted', () => {
      const p = l.leader()?.partition('1.0')
      return p?.hp_primary && p.hp_primary !== addr(l, 1) ? p : undefined
    })
    expect(pc.hp_last_drops).toEqual([addr(l, 1)])
    expect(pc.ballot).toBe(5) // downgrade, then upgrade
    await waitFor('all rows readable again', async () =>
      (await verifyRows(meta(l), l.layout.tables)).found === 300 ? true : undefined,
    )
    await l.fault({type: 'start-node', node: 'replica1'})
    const back = await waitFor('replica1 added back', () => {
      const p = l.leader()?.partition('1.0')
      return p?.hp_secondaries?.includes(addr(l, 1)) ? p : undefined
    })
    expect(back.hp_last_drops).toEqual([])
    expect(l.node('replica1').replica('1.0')).toMatchObject({ballot: back.ballot, rows: 100})
  })

  it('replicas persist across a restart of the node', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 20}])
    const before = l
      .node('replica2')
      .allReplicas()
      .map((r) => r.pid)
      .sort()
    await l.fault({type: 'kill-node', node: 'replica2'})
    l.node('replica2').load()
    expect(
      l
        .node('replica2')
        .allReplicas()
        .map((r) => r.pid)
        .sort(),
    ).toEqual(before)
  })
})

describe('DDD: the partition guardian cases (pegasus.md 3.1)', () => {
  it('produces each DDD reason, and ASSIGN_PRIMARY proposals are validated then executed on the next check', async () => {
    const l = await lab([{name: 'temp', partitions: 8, replicas: 3, rows: 8000}], {
      replica_servers: 5,
      meta: {lb_interval_ms: 200, fd_grace_ms: 800},
    })
    const [r1, r2, r3, r4, r5] = [1, 2, 3, 4, 5].map((i) => addr(l, i))
    await l.fault({type: 'ddd', gpids: ['1.0'], config_lcd: 5000})
    await l.fault({
      type: 'ddd',
      gpids: ['1.1'],
      drops: ['replica2', 'replica3', 'replica4'],
      decrees: ['replica3=5:1000:1000', 'replica4=6:900:950'],
    })
    await l.fault({
      type: 'ddd',
      gpids: ['1.3'],
      drops: ['replica5', 'replica4', 'replica1'],
      missing: ['replica4', 'replica1'],
    })
    await l.fault({type: 'ddd', gpids: ['1.4'], drops: ['replica5', 'replica1', 'replica2'], uncollected: ['replica2']})
    await l.fault({type: 'ddd', gpids: ['1.2'], drops: ['replica3', 'replica4', 'replica5'], dead: ['replica5']})

    const d0 = await ddd(l, '1.0')
    expect(d0.reason).toBe('')
    expect(d0.config).toMatchObject({last_committed_decree: 5000, hp_primary: '', hp_last_drops: [r2, r3, r1]})
    const d1 = await ddd(l, '1.1')
    expect(d1.reason).toBe('for the last two drops, the node with larger ballot has smaller last committed decree')
    expect(d1.dropped.find((d) => d.node === r4)).toMatchObject({
      is_alive: true,
      is_collected: true,
      ballot: 6,
      last_committed_decree: 900,
      last_prepared_decree: 950,
    })
    const d2 = await ddd(l, '1.2')
    expect(d2.reason).toBe(`the last dropped node(${r5}) hasn't come back yet`)
    expect(d2.dropped.find((d) => d.node === r5)).toMatchObject({is_alive: false, is_collected: false, ballot: -1})
    const d3 = await ddd(l, '1.3')
    expect(d3.reason).toBe('no replica info collected from the last two drops')
    const d4 = await ddd(l, '1.4')
    expect(d4.reason).toBe(
      `the last dropped node(${r2}) is unavailable because replica info has not been collected from the node`,
    )

    // Proposals are registered while no check runs (freezed), then judged on the next check:
    // the one for a dead node is cleared, the valid one is executed.
    await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_freezed}, 5000)
    const propose = (pid: string, node: string) =>
      callRpc(
        meta(l),
        'RPC_CM_PROPOSE_BALANCER',
        {
          gpid: pid,
          action_list: [{target: node, node, type: ConfigType.CT_ASSIGN_PRIMARY, hp_target: node, hp_node: node}],
          force: false,
        },
        5000,
      )
    expect((await propose('1.2', r5)).response?.err).toBe('ERR_OK')
    expect((await propose('1.2', r4)).response?.err).toBe('ERR_INVALID_PARAMETERS') // one proposal at a time
    expect((await propose('9.0', r4)).response?.err).toBe('ERR_APP_NOT_EXIST') // meta_service checks the app id first
    expect((await propose('1.1', r3)).response?.err).toBe('ERR_OK')
    await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_lively}, 5000)
    const pc = await waitFor('1.1 assigned', () => l.leader()?.partition('1.1')?.hp_primary || undefined)
    expect(pc).toBe(r3)
    await new Promise((r) => setTimeout(r, 500))
    expect(l.leader()?.partition('1.2')?.hp_primary).toBe('')
    expect(l.node('replica3').replica('1.1')).toMatchObject({last_committed_decree: 1000, rows: 1000})
    // 1.1 serves all its rows again through r3; the other DDD partitions (0, 2, 3, 4) still miss theirs.
    const v = await waitFor('1.1 readable', async () => {
      const r = await verifyRows(meta(l), l.layout.tables)
      return r.found === 4000 ? r : undefined
    })
    expect(v.total).toBe(8000)
  })
})
