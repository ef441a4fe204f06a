// Replica servers encode their collect replies once per state change: every change shows in the next reply.
import {afterEach, describe, expect, inject, it} from 'vitest'

import {ReplicaClient} from '../../../src/engines/pegasus/client/replica-client.js'
import {PartitionStatus} from '../../../src/engines/pegasus/wire/index.js'
import {labPerTest, waitFor} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)
let client = new ReplicaClient({timeoutMs: 5000})
afterEach(() => {
  client.close()
  client = new ReplicaClient({timeoutMs: 5000})
})

async function collect(node: string): Promise<{apps: number[]; replicas: Map<string, {lcd: number; status: number}>}> {
  const c = await client.collect(node)
  if (!c.ok) throw new Error(`collect ${node}: ${c.pegasusError}`)
  return {
    apps: c.apps.map((a) => a.app_id),
    replicas: new Map(c.replicas.map((r) => [r.pid, {lcd: r.last_committed_decree, status: r.status}])),
  }
}

describe('replica server reply cache', () => {
  it('answers the state after each change, never an earlier one', async () => {
    const l = await lab([
      {name: 'a', partitions: 2, replicas: 3, rows: 10},
      {name: 'b', partitions: 2, replicas: 3, rows: 10},
    ])
    const node = l.replicas[0]
    const first = await collect(node.address)
    expect(first.apps).toEqual([1, 2])
    const lcd = first.replicas.get('1.0')?.lcd ?? 0
    expect(lcd).toBeGreaterThan(1)
    // Asked twice with no change in between: the same answer.
    expect(await collect(node.address)).toEqual(first)

    node.updateReplica('1.0', {last_committed_decree: lcd - 1, last_prepared_decree: lcd - 1})
    expect((await collect(node.address)).replicas.get('1.0')?.lcd).toBe(lcd - 1)

    // Losing the last replica of app 2 drops its app_info too.
    node.removeReplica('2.0')
    node.removeReplica('2.1')
    const after = await collect(node.address)
    expect(after.apps).toEqual([1])
    expect([...after.replicas.keys()].sort()).toEqual(['1.0', '1.1'])
  })

  it('answers the roles the meta gives after a node dies', async () => {
    const l = await lab([{name: 'a', partitions: 4, replicas: 3, rows: 10}], {replica_servers: 4})
    const [victim, ...rest] = l.replicas
    const led = victim.allReplicas().filter((r) => r.status === PartitionStatus.PS_PRIMARY)
    expect(led.length).toBeGreaterThan(0)
    // The others' replies are encoded now, with the victim still leading those partitions.
    for (const r of rest) {
      const reply = await collect(r.address)
      for (const {pid} of led) expect(reply.replicas.get(pid)?.status).not.toBe(PartitionStatus.PS_PRIMARY)
    }
    await victim.stop()
    // Each partition the victim led gets a new primary among the others, and their replies say so.
    for (const {pid} of led) {
      await waitFor(`a new primary of ${pid} in a replica reply`, async () => {
        for (const r of rest) {
          if ((await collect(r.address)).replicas.get(pid)?.status === PartitionStatus.PS_PRIMARY) return r.address
        }
        return undefined
      })
    }
  })
})
