// The meta's freeze (issue 11 item 2): with upstream's min_live_node_count_for_unfreeze (3), a
// 3-node lab with one node dead reports `freezed` in cluster_info while control_meta keeps the
// stored level; the DDD engine reads the freeze-adjusted level and refuses to plan with the remedy.
import {describe, expect, inject, it} from 'vitest'

import {API_VERSION} from '../../../src/spec/types.js'
import {createDddRecoveryEngine} from '../../../src/engines/pegasus/ddd/engine.js'
import type {DddRecoverySpec} from '../../../src/engines/pegasus/ddd/types.js'
import {MetaFunctionLevel} from '../../../src/engines/pegasus/wire/index.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {labPerTest, waitFor} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

const meta = (l: PegasusLab): string => l.layout.meta_servers[0].address

async function clusterLevel(l: PegasusLab): Promise<string | undefined> {
  const info = await callRpc(meta(l), 'RPC_CM_CLUSTER_INFO', {}, 5000)
  const r = info.response
  return r ? r.values[r.keys.indexOf('meta_function_level')] : undefined
}

function spec(l: PegasusLab): DddRecoverySpec {
  return {
    apiVersion: API_VERSION,
    kind: 'PegasusDddRecovery',
    metadata: {name: 'freeze'},
    cluster: {name: l.layout.cluster_name, meta_servers: [meta(l)]},
    recovery: {gpids: 'all', auto_diagnose: true, primaries: {}, undecided: 'skip', wait_seconds: 30},
  } as DddRecoverySpec
}

describe('the freeze', () => {
  it('one of three nodes dead: cluster_info says freezed, control_meta the stored level, no new primary; the DDD plan refuses with the remedy until the node is back', async () => {
    const l = await lab([{name: 'temp', partitions: 3, replicas: 3, rows: 300}])
    await waitFor('steady once every node beacons', async () =>
      (await clusterLevel(l)) === 'steady' ? true : undefined,
    )
    // The node to kill is 1.0's primary now: round-robin placement makes it replica1, but a beacon
    // late on a busy machine has the meta move the primary before the test gets here.
    const dead = l.leader()!.partition('1.0')!.hp_primary!
    const victim = l.layout.replica_servers.find((r) => r.address === dead)!.name
    await l.fault({type: 'kill-node', node: victim})
    await waitFor('freezed', async () => ((await clusterLevel(l)) === 'freezed' ? true : undefined))
    const raw = await callRpc(meta(l), 'RPC_CM_CONTROL_META', {level: MetaFunctionLevel.fl_invalid}, 5000)
    expect(raw.response?.old_level).toBe(MetaFunctionLevel.fl_steady)
    // A freezed meta runs no partition check: 1.0 lost its primary with the dead node and gets none.
    expect(l.leader()?.partition('1.0')?.hp_primary).toBe('')

    const engine = createDddRecoveryEngine({timeoutMs: 3000})
    const io = {env: {}, progress: () => {}}
    const frozen = await engine.gather(spec(l), io as never)
    expect(frozen).toMatchObject({meta_level: 'fl_freezed', stored_meta_level: 'fl_steady', diagnosed: false})
    expect(frozen.nodes.find((n) => n.node === dead)?.alive).toBe(false)
    const refused = engine.plan(spec(l), frozen, {now: '2026-12-02T00:00:00Z'})
    const finding = refused.findings.find((f) => f.code === 'PEGASUS_META_FROZEN')
    expect(finding).toMatchObject({severity: 'error'})
    expect(finding?.message).toContain('only 2 of 3 replica servers are alive')
    expect(finding?.hint).toContain(`Start the dead replica servers (${dead})`)
    expect(finding?.hint).toContain('min_live_node_count_for_unfreeze')

    await l.fault({type: 'start-node', node: victim})
    await waitFor('steady again', async () => ((await clusterLevel(l)) === 'steady' ? true : undefined))
    await waitFor('1.0 has a primary again', () => (l.leader()?.partition('1.0')?.hp_primary ? true : undefined))
    const back = await engine.gather(spec(l), io as never)
    expect(back.meta_level).toBe('fl_steady')
    expect(back.stored_meta_level).toBeUndefined()
    const planned = engine.plan(spec(l), back, {now: '2026-12-02T00:00:00Z'})
    expect(planned.findings.filter((f) => f.severity === 'error')).toEqual([])
  })

  it('a scenario may lower the threshold as onebox does: then two alive nodes keep the meta steady', async () => {
    const l = await lab([{name: 'temp', partitions: 3, replicas: 3, rows: 300}], {
      meta: {lb_interval_ms: 200, fd_grace_ms: 800, min_live_node_count_for_unfreeze: 1},
    })
    await waitFor('steady', async () => ((await clusterLevel(l)) === 'steady' ? true : undefined))
    await l.fault({type: 'kill-node', node: 'replica1'})
    await waitFor('replica1 dead', () =>
      l
        .leader()
        ?.nodeStates()
        .find((n) => n.node === l.layout.replica_servers[0].address)?.alive === false
        ? true
        : undefined,
    )
    expect(await clusterLevel(l)).toBe('steady')
  })
})
