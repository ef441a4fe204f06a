import {describe, expect, it} from 'vitest'

import {planMetaRecovery} from '../../../src/engines/pegasus/meta-recovery/planner.js'
import type {ReplicaInfo} from '../../../src/engines/pegasus/meta-recovery/types.js'
import type {Finding} from '../../../src/plan/types.js'
import {NOW, appInfo, lastDropsOf, makeLive, makeSpec, okNode, replica} from './helpers.js'

/** Findings without the envs note every recovered table gets (planner.test.ts covers it). */
const notEnvs = (findings: Finding[]) => findings.filter((f) => !f.code.startsWith('PEGASUS_APP_ENVS'))

const nodes = ['10.0.0.1:34801', '10.0.0.2:34801', '10.0.0.3:34801', '10.0.0.4:34801', '10.0.0.5:34801']

/** Plans one partition 1.0 whose replicas are given per node (undefined = the node holds none). */
function choose(reps: (ReplicaInfo | undefined)[], max = 3, reserved?: number) {
  const used = nodes.slice(0, reps.length)
  const live = makeLive(
    used.map((n, i) =>
      okNode(n, reps[i] ? [appInfo(1, 't', 1, {max_replica_count: max})] : [], reps[i] ? [reps[i]!] : []),
    ),
  )
  const body = planMetaRecovery(makeSpec(used), live, {now: NOW, maxReservedDroppedReplicas: reserved})
  const p = body.primaries.find((x) => x.partition === '1.0')!
  return {primary: p.after, lastDrops: lastDropsOf(p), candidates: p.candidates.map((c) => c.node), body}
}
const r = (b: number, c: number, p: number) => replica('1.0', b, c, p)

describe('the selection rule (construct_replica, dropped_cmp)', () => {
  it('orders by ballot first, even against larger decrees', () => {
    expect(choose([r(3, 900, 900), r(4, 10, 10), r(2, 999, 999)])).toMatchObject({
      primary: nodes[1],
      lastDrops: [nodes[2], nodes[0]],
    })
  })
  it('breaks a ballot tie by last committed decree', () => {
    expect(choose([r(5, 10, 20), r(5, 11, 11), r(5, 9, 30)])).toMatchObject({
      primary: nodes[1],
      lastDrops: [nodes[2], nodes[0]],
    })
  })
  it('breaks a (ballot, lcd) tie by last prepared decree', () => {
    expect(choose([r(5, 10, 12), r(5, 10, 14), r(5, 10, 13)])).toMatchObject({
      primary: nodes[1],
      lastDrops: [nodes[0], nodes[2]],
    })
  })
  it('breaks a full tie by collection order: the earlier node in the request ranks higher', () => {
    expect(choose([r(5, 10, 10), r(5, 10, 10), r(5, 10, 10)])).toMatchObject({
      primary: nodes[0],
      lastDrops: [nodes[2], nodes[1]],
    })
    expect(choose([r(1, 1, 1), r(5, 10, 10), r(5, 10, 10)])).toMatchObject({
      primary: nodes[1],
      lastDrops: [nodes[0], nodes[2]],
    })
  })
  it('keeps max_replica_count - 1 last_drops and caps the list at max + max_reserved_dropped_replicas', () => {
    const five = [r(1, 1, 1), r(2, 2, 2), r(3, 3, 3), r(4, 4, 4), r(5, 5, 5)]
    const withDefault = choose(five)
    expect(withDefault).toMatchObject({primary: nodes[4], lastDrops: [nodes[2], nodes[3]]})
    expect(withDefault.candidates).toEqual([nodes[4], nodes[3], nodes[2], nodes[1]]) // 3 + 1 kept
    expect(choose(five, 3, 0).candidates).toEqual([nodes[4], nodes[3], nodes[2]])
    // The cap never changes the choice, only what the meta keeps.
    expect(choose(five, 3, 0)).toMatchObject({primary: nodes[4], lastDrops: [nodes[2], nodes[3]]})
  })
  it('handles other replication factors', () => {
    expect(choose([r(2, 1, 1), r(3, 1, 1)], 1)).toMatchObject({primary: nodes[1], lastDrops: []})
    const five = choose([r(1, 1, 1), r(2, 2, 2), r(3, 3, 3)], 5)
    expect(five).toMatchObject({primary: nodes[2], lastDrops: [nodes[0], nodes[1]]})
    expect(notEnvs(five.body.findings).map((f) => f.message)).toEqual([
      'WARNING: partition(1.0) only collects 3/5 of replicas, may lost data',
    ])
  })
  it('keeps the later report when one node reports a partition twice', () => {
    const live = makeLive([
      okNode(nodes[0]!, [appInfo(1, 't', 1)], [r(9, 9, 9), r(1, 1, 1)]),
      okNode(nodes[1]!, [appInfo(1, 't', 1)], [r(5, 5, 5)]),
    ])
    const p = planMetaRecovery(makeSpec(nodes.slice(0, 2)), live, {now: NOW}).primaries[0]!
    expect(p).toMatchObject({after: nodes[1]})
    expect(lastDropsOf(p)).toEqual([nodes[0]])
  })
  it('an invalid ballot on the best replica is an error: the meta would crash', () => {
    const {body} = {
      body: planMetaRecovery(
        makeSpec(nodes.slice(0, 1)),
        makeLive([okNode(nodes[0]!, [appInfo(1, 't', 1)], [r(-1, 5, 5)])]),
        {now: NOW},
      ),
    }
    expect(body.findings.map((f) => f.code)).toEqual(['PEGASUS_INVALID_BALLOT', 'PEGASUS_RECOVERY_OUTCOME'])
    expect(body.changes).toEqual([])
  })
  it('a replica no app info covers is an error', () => {
    const live = makeLive([
      okNode(nodes[0]!, [appInfo(1, 't', 1)], [r(1, 1, 1), replica('1.4', 1, 1, 1), replica('7.0', 1, 1, 1)]),
    ])
    const body = planMetaRecovery(makeSpec(nodes.slice(0, 1)), live, {now: NOW})
    expect(body.findings.filter((f) => f.severity === 'error').map((f) => f.subject)).toEqual([
      `1.4@${nodes[0]}`,
      `7.0@${nodes[0]}`,
    ])
  })
  it('a node outside the list holding a table the recovery will not know is an error', () => {
    const live = makeLive([okNode(nodes[0]!, [appInfo(1, 't', 1)], [r(1, 1, 1)])])
    live.outsideNodes = [
      okNode(nodes[4]!, [appInfo(2, 'u', 1)], [replica('2.0', 1, 1, 1)]),
      okNode(nodes[3]!, [appInfo(1, 't', 1)], [r(1, 1, 1)]),
    ]
    const body = planMetaRecovery(makeSpec(nodes.slice(0, 1)), live, {now: NOW})
    const errs = body.findings.filter((f) => f.severity === 'error')
    expect(errs.map((f) => f.message)).toEqual([
      `gpid(2.0) on node(${nodes[4]}) is not exist on meta server, administrator should check consistency of meta data`,
    ])
  })
  it("deduplicates the node list with the shell's words", () => {
    const live = makeLive([okNode(nodes[0]!, [appInfo(1, 't', 1, {max_replica_count: 1})], [r(1, 1, 1)])])
    const body = planMetaRecovery(makeSpec([nodes[0]!, nodes[0]!]), live, {now: NOW})
    expect(notEnvs(body.findings).map((f) => f.message)).toEqual([`duplicate replica node ${nodes[0]}, just ingore it`])
    expect(body.steps[1]!.params.recovery_nodes).toEqual([nodes[0]])
  })
})
