// Recovery seen through the data path: rows written with put, replicas dropped and killed, a
// lossy DDD recovery, and gets over THFT returning exactly the rows the decrees say survive.
import {describe, expect, inject, it} from 'vitest'

import {ConfigType, MetaFunctionLevel, type PartitionConfiguration} from '../../../src/engines/pegasus/wire/index.js'
import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {crc64, partitionOf} from '../../../src/lab/pegasus/data/key.js'
import {rowLayout} from '../../../src/lab/pegasus/data/rows.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import {TestDataClient, pegasusKey, type Arg} from './data-client.js'
import {labPerTest, waitFor} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

const meta = (l: PegasusLab): string => l.leader()!.address
const addr = (l: PegasusLab, i: number): string => l.layout.replica_servers[i - 1].address

async function config(l: PegasusLab): Promise<PartitionConfiguration[]> {
  const cfg = await callRpc(
    meta(l),
    'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
    {app_name: 'temp', partition_indices: []},
    5000,
  )
  return cfg.response!.partitions
}

/** Gets the lab's row i from the primary the meta names now: its value, or the error. */
async function getRow(l: PegasusLab, i: number): Promise<string> {
  const hashKey = Buffer.from(`row${i}`)
  const p = partitionOf(hashKey, 8)
  const pc = (await config(l))[p]
  const c = new TestDataClient(pc.hp_primary!)
  try {
    const r = await c.call('RPC_RRDB_RRDB_GET', [1, p], [{id: 1, blob: pegasusKey(`row${i}`, 'c')}], crc64(hashKey))
    if (r.err !== 'ERR_OK') return r.err
    return r.fields?.get(1) === 0 ? (r.fields.get(2) as Buffer).toString() : `error ${String(r.fields?.get(1))}`
  } finally {
    c.close()
  }
}

async function put(l: PegasusLab, hashKey: string, value: string): Promise<{err: string; decree?: bigint}> {
  const p = partitionOf(Buffer.from(hashKey), 8)
  const pc = (await config(l))[p]
  const c = new TestDataClient(pc.hp_primary!)
  try {
    const args: Arg[] = [
      {
        id: 1,
        struct: [
          {id: 1, blob: pegasusKey(hashKey, 'c')},
          {id: 2, blob: Buffer.from(value)},
        ],
      },
    ]
    const r = await c.call('RPC_RRDB_RRDB_PUT', [1, p], args, crc64(Buffer.from(hashKey)))
    return {err: r.err, decree: r.fields?.get(4) as bigint | undefined}
  } finally {
    c.close()
  }
}

describe('recovery through the data path', () => {
  it('writes rows with put, drops and kills replicas, recovers, and gets exactly the predicted survivors', async () => {
    const l = await lab([{name: 'temp', partitions: 8, replicas: 3, rows: 800}], {
      replica_servers: 5,
      meta: {lb_interval_ms: 200, fd_grace_ms: 800},
    })
    const [r2, r4] = [2, 4].map((i) => addr(l, i))
    expect(await verifyRows(meta(l), l.layout.tables)).toMatchObject({found: 800, total: 800})

    // Partition 1.1 (replica2 primary, replica3 and replica4 secondaries) loses all three members;
    // replica3 holds every decree, replica4 carries the larger ballot but prepared only 70.
    await l.fault({
      type: 'ddd',
      gpids: ['1.1'],
      drops: ['replica2', 'replica3', 'replica4'],
      decrees: ['replica3=5:100:100', 'replica4=6:60:70'],
    })
    const inDdd = await verifyRows(meta(l), l.layout.tables)
    expect(inDdd).toMatchObject({found: 700})
    expect(inDdd.tables[0].note).toBe('missing in 1.1 (all 100: no primary)')

    // The lossy choice: replica4 as primary. It commits what it prepared, so decrees 1-70 survive.
    await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_freezed}, 5000)
    const proposed = await callRpc(
      meta(l),
      'RPC_CM_PROPOSE_BALANCER',
      {
        gpid: '1.1',
        action_list: [{target: r4, node: r4, type: ConfigType.CT_ASSIGN_PRIMARY, hp_target: r4, hp_node: r4}],
        force: false,
      },
      5000,
    )
    expect(proposed.response?.err).toBe('ERR_OK')
    await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_lively}, 5000)
    const recovered = await waitFor('1.1 readable again', async () => {
      const v = await verifyRows(meta(l), l.layout.tables)
      return v.found >= 770 ? v : undefined
    })
    expect(recovered).toMatchObject({found: 770, total: 800})
    expect(recovered.tables[0].note).toBe('missing in 1.1 (30 of 100)')
    const rows = [...rowLayout(8, 800).byPartition[1]]
    expect(await getRow(l, rows[69])).toBe(`value-${rows[69]}`)
    expect(await getRow(l, rows[70])).toBe('error 1')
    expect(await getRow(l, rows[99])).toBe('error 1')

    // The next write on the new primary is decree 71: the log is cut where replica4's ends, and
    // what replica3 held beyond it stays lost.
    // A primary alone refuses writes (mutation_2pc_min_replica_count 2): wait for the guardian to add
    // a secondary to 1.1 first, as a client's retries would.
    await waitFor('1.1 to get a secondary beside its new primary', async () =>
      ((await config(l))[1].hp_secondaries?.length ?? 0) >= 1 ? true : undefined,
    )
    let extra = 0
    while (partitionOf(Buffer.from(`extra${extra}`), 8) !== 1) extra++
    expect(await put(l, `extra${extra}`, 'after')).toEqual({err: 'ERR_OK', decree: 71n})
    expect(await getRow(l, rows[70])).toBe('error 1')

    // replica2 dies: the partitions it led fail over to secondaries that hold every put.
    await l.fault({type: 'kill-node', node: 'replica2'})
    await waitFor('replica2 replaced as primary', async () =>
      (await config(l)).every((pc) => pc.hp_primary && pc.hp_primary !== r2) ? true : undefined,
    )
    expect(await verifyRows(meta(l), l.layout.tables)).toMatchObject({found: 770, total: 800})
    // replica3 dies too: partition 1.0 (replica1, replica2, replica3) is left with its primary
    // alone, fewer than mutation_2pc_min_replica_count (2), and refuses writes as upstream does.
    await l.fault({type: 'kill-node', node: 'replica3'})
    await waitFor('1.0 down to its primary', async () =>
      (await config(l))[0].hp_secondaries?.length === 0 && (await config(l))[0].hp_primary ? true : undefined,
    )
    let k = 0
    while (partitionOf(Buffer.from(`more${k}`), 8) !== 0) k++
    expect((await put(l, `more${k}`, 'x')).err).toBe('ERR_NOT_ENOUGH_MEMBER')
  })
})
