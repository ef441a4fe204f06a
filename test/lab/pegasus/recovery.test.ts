// The simulated meta server's documented recovery outcomes (reference pegasus.md §2), driven
// through the real THFT wire protocol against real servers and a real ZooKeeper.
import {describe, expect, inject, it} from 'vitest'

import {AppStatus, type ConfigurationRecoveryResponse} from '../../../src/engines/pegasus/wire/index.js'
import {connectZk} from '../../../src/zk/index.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {labPerTest, waitFor} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

async function recover(
  l: PegasusLab,
  opts: {nodes?: string[]; skipBad?: boolean; skipLost?: boolean} = {},
): Promise<ConfigurationRecoveryResponse> {
  const meta = l.layout.meta_servers[0].address
  const nodes = opts.nodes ?? l.layout.replica_servers.map((r) => r.address)
  const res = await callRpc(
    meta,
    'RPC_CM_START_RECOVERY',
    {
      recovery_nodes: nodes,
      skip_bad_nodes: opts.skipBad ?? false,
      skip_lost_partitions: opts.skipLost ?? false,
      hp_recovery_nodes: nodes,
    },
    20000,
  )
  expect(res.err).toBe('ERR_OK')
  return res.response as ConfigurationRecoveryResponse
}

async function verified(l: PegasusLab): Promise<{found: number; total: number}> {
  // Replicas take their roles on the next config sync, and secondaries come back after it.
  return waitFor('rows readable', async () => {
    const v = await verifyRows(l.layout.meta_servers[0].address, l.layout.tables)
    return v.found === v.total ? v : undefined
  })
}

describe('meta recovery outcomes', () => {
  it('all nodes good: ERR_OK, no hint, every row readable, soft-deleted table renamed, tree unlocked', async () => {
    const l = await lab([
      {name: 'temp', partitions: 8, replicas: 3, rows: 10000},
      {name: 'temp', partitions: 4, replicas: 3, rows: 100, dropped: true},
    ])
    expect((await verifyRows(l.layout.meta_servers[0].address, l.layout.tables)).found).toBe(10000)
    await l.fault({type: 'zk-loss'})
    // Under recovery every RPC but start_recovery is refused.
    const listed = await callRpc(
      l.layout.meta_servers[0].address,
      'RPC_CM_LIST_APPS',
      {status: AppStatus.AS_INVALID},
      5000,
    )
    expect(listed.response?.err).toBe('ERR_UNDER_RECOVERY')
    const v0 = await verifyRows(l.layout.meta_servers[0].address, l.layout.tables)
    expect(v0).toMatchObject({found: 0, total: 10000})

    const res = await recover(l)
    expect(res.err).toBe('ERR_OK')
    // The dropped table (id 1) comes back AVAILABLE; the live one (id 2) keeps the name.
    expect(res.hint_message).toBe("WARNING: app(1)'s old name(temp) is conflict with others, rename it to (temp__1)\n")
    expect(await verified(l)).toMatchObject({found: 10000, total: 10000})

    const client = await connectZk({hosts: zk})
    try {
      const root = l.layout.cluster_root
      expect((await client.get(`${root}/apps`)).data.toString()).toBe('unlock')
      expect((await client.getChildren(`${root}/apps`)).sort()).toEqual(['1', '2'])
      const app2 = JSON.parse((await client.get(`${root}/apps/2`)).data.toString())
      expect(app2).toMatchObject({status: 'app_status::AS_AVAILABLE', app_name: 'temp', app_id: 2, partition_count: 8})
      const app1 = JSON.parse((await client.get(`${root}/apps/1`)).data.toString())
      expect(app1).toMatchObject({status: 'app_status::AS_AVAILABLE', app_name: 'temp__1'})
    } finally {
      await client.close()
    }
    // A second recovery is refused.
    expect((await recover(l)).err).toBe('ERR_SERVICE_ALREADY_RUNNING')
  })

  it('a node down without skip_bad_nodes: ERR_TRY_AGAIN with the error hint, nothing written', async () => {
    const l = await lab([{name: 'temp', partitions: 4, replicas: 3, rows: 400}], {replica_servers: 4})
    await l.fault({type: 'zk-loss'})
    await l.fault({type: 'kill-node', node: 'replica4'})
    const dead = l.layout.replica_servers[3].address
    const res = await recover(l)
    expect(res.err).toBe('ERR_TRY_AGAIN')
    expect(res.hint_message).toBe(
      `ERROR: collect app and replica info from node(${dead}) failed with err(ERR_NETWORK_FAILURE), you can skip it by set skip_bad_nodes option`,
    )
    const client = await connectZk({hosts: zk})
    try {
      expect(await client.exists(`${l.layout.cluster_root}/apps`)).toBeNull()
    } finally {
      await client.close()
    }
    // The request can be retried: with skip_bad_nodes it succeeds and warns.
    const again = await recover(l, {skipBad: true})
    expect(again.err).toBe('ERR_OK')
    expect(
      again.hint_message.startsWith(
        `WARNING: collect app and replica info from node(${dead}) failed with err(ERR_NETWORK_FAILURE), skip the bad node`,
      ),
    ).toBe(true)
    expect(await verified(l)).toMatchObject({found: 400, total: 400})
  })

  it('a hung node times out per node (ERR_TIMEOUT)', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 2, rows: 20}], {meta: {recovery_rpc_timeout_ms: 300}})
    await l.fault({type: 'zk-loss'})
    await l.fault({type: 'hang-node', node: 'replica3'})
    const res = await recover(l, {skipBad: true})
    expect(res.err).toBe('ERR_OK')
    expect(res.hint_message).toContain(
      `node(${l.layout.replica_servers[2].address}) failed with err(ERR_TIMEOUT), skip the bad node`,
    )
  })

  it('partitions with 2/3 and 1/3 replicas: ERR_OK with the may-lost-data warnings', async () => {
    const l = await lab([{name: 'temp', partitions: 4, replicas: 3, rows: 400}])
    await l.fault({type: 'remove-replica', gpid: '1.1', node: 'replica2'})
    await l.fault({type: 'remove-replica', gpid: '1.2', node: 'replica3'})
    await l.fault({type: 'remove-replica', gpid: '1.2', node: 'replica1'})
    await l.fault({type: 'zk-loss'})
    const res = await recover(l)
    expect(res.err).toBe('ERR_OK')
    expect(res.hint_message).toBe(
      'WARNING: partition(1.1) only collects 2/3 of replicas, may lost data\n' +
        'WARNING: partition(1.2) only collects 1/3 of replicas, may lost data\n',
    )
    expect(await verified(l)).toMatchObject({found: 400})
  })

  it('a partition with no replica: ERR_TRY_AGAIN, or an empty partition with skip_lost_partitions', async () => {
    const l = await lab([{name: 'temp', partitions: 4, replicas: 3, rows: 400}])
    await l.fault({type: 'lose-partition', gpid: '1.3'})
    await l.fault({type: 'zk-loss'})
    const res = await recover(l)
    expect(res.err).toBe('ERR_TRY_AGAIN')
    expect(res.hint_message).toBe(
      'ERROR: partition(1.3) has no replica collected, you can force recover it by set skip_lost_partitions option\n',
    )
    const ok = await recover(l, {skipLost: true})
    expect(ok.err).toBe('ERR_OK')
    expect(ok.hint_message).toBe(
      'WARNING: partition(1.3) has no replica collected, force recover the lost partition to empty\n',
    )
    // The lost partition is cured to an empty primary: its 100 rows are gone, the rest serve.
    const v = await waitFor('300 rows', async () => {
      const r = await verifyRows(l.layout.meta_servers[0].address, l.layout.tables)
      return r.found === 300 ? r : undefined
    })
    expect(v.total).toBe(400)
    // The guardian assigns the lost partition to the node with the fewest primaries: an empty replica.
    const primary = await waitFor('a primary for 1.3', () => l.leader()?.partition('1.3')?.hp_primary || undefined)
    expect(l.node(primary).replica('1.3')).toMatchObject({rows: 0, last_committed_decree: 0})
  })

  it('a missing table id becomes a drop holder and duplicate names take name__id, highest id keeps the name', async () => {
    const l = await lab([
      {name: 'a', app_id: 2, partitions: 1, replicas: 3, rows: 1},
      {name: 'a', app_id: 4, partitions: 1, replicas: 3, rows: 1, dropped: true},
      {name: 'a', app_id: 5, partitions: 1, replicas: 3, rows: 1, dropped: true},
    ])
    await l.fault({type: 'zk-loss'})
    const res = await recover(l)
    expect(res.err).toBe('ERR_OK')
    expect(res.hint_message).toBe(
      "WARNING: app(4)'s old name(a) is conflict with others, rename it to (a__4)\n" +
        "WARNING: app(2)'s old name(a) is conflict with others, rename it to (a__2)\n",
    )
    const client = await connectZk({hosts: zk})
    try {
      const holder = JSON.parse((await client.get(`${l.layout.cluster_root}/apps/1`)).data.toString())
      expect(holder).toMatchObject({
        status: 'app_status::AS_DROPPED',
        app_name: '__drop_holder__1',
        partition_count: 1,
        max_replica_count: 3,
        is_stateful: 1,
      })
      expect(await client.getChildren(`${l.layout.cluster_root}/apps/1`)).toEqual(['0'])
      expect((await client.getChildren(`${l.layout.cluster_root}/apps`)).sort()).toEqual(['1', '2', '3', '4', '5'])
    } finally {
      await client.close()
    }
  })

  it('a non-empty apps root: a meta started in recovery mode crashes as the real one does', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    await l.restartMeta({recover: true})
    const meta = l.metas[0]
    expect(meta.phase).toBe('crashed')
    expect(meta.crashReason).toBe('find apps from remote storage, but [meta_server].recover_from_replica_server = true')
    const res = await callRpc(
      meta.address,
      'RPC_CM_START_RECOVERY',
      {recovery_nodes: [], skip_bad_nodes: false, skip_lost_partitions: false},
      2000,
    )
    expect(res.err).toBe('ERR_NETWORK_FAILURE')
  })
})
