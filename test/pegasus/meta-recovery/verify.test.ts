import {describe, expect, it} from 'vitest'

import {planMetaRecovery} from '../../../src/engines/pegasus/meta-recovery/planner.js'
import type {MetaReadParams} from '../../../src/engines/pegasus/meta-recovery/types.js'
import {
  compareHints,
  compareRecoveredTree,
  recoveredTreeCheck,
} from '../../../src/engines/pegasus/meta-recovery/verify.js'
import type {PlanBody} from '../../../src/plan/types.js'
import {NOW, ROOT, loadFixture} from './helpers.js'

const appsRoot = `${ROOT}/apps`

/** The tree a meta that did exactly what the plan says would leave. */
function treeOf(body: PlanBody): Map<string, string> {
  return new Map(
    body.changes.map((c) => [c.address.slice(3), typeof c.after === 'string' ? c.after : JSON.stringify(c.after)]),
  )
}
function planned(name: string) {
  const {spec, live} = loadFixture(name)
  const body = planMetaRecovery(spec, live, {now: NOW})
  const volatile = (body.steps.find((s) => s.id === '04-verify-metadata')!.params as unknown as MetaReadParams).volatile
  return {body, volatile}
}

describe('compareRecoveredTree', () => {
  it('finds nothing when the tree is the plan', () => {
    const {body, volatile} = planned('drop-holder')
    expect(compareRecoveredTree(body.changes, treeOf(body), volatile, appsRoot)).toEqual([])
  })
  it('ignores volatile fields only where the plan marks them', () => {
    const {body, volatile} = planned('drop-holder')
    const tree = treeOf(body)
    const holder = JSON.parse(tree.get(`${appsRoot}/2`)!)
    tree.set(`${appsRoot}/2`, JSON.stringify({...holder, expire_second: 1_800_000_123}))
    expect(compareRecoveredTree(body.changes, tree, volatile, appsRoot)).toEqual([])
    const app = JSON.parse(tree.get(`${appsRoot}/1`)!)
    tree.set(`${appsRoot}/1`, JSON.stringify({...app, expire_second: 5, app_name: 'other'}))
    const f = compareRecoveredTree(body.changes, tree, volatile, appsRoot)
    expect(f).toEqual([
      {
        code: 'PEGASUS_VERIFY_NODE_DIFFERS',
        severity: 'error',
        subject: `${appsRoot}/1`,
        message: `${appsRoot}/1 differs from the plan: app_name is "other", planned "temp"; expire_second is 5, planned 0`,
      },
    ])
  })
  it('counts partitions the meta already reconfigured, and flags any other difference', () => {
    const {body, volatile} = planned('all-good')
    const tree = treeOf(body)
    const pc0 = JSON.parse(tree.get(`${appsRoot}/1/0`)!)
    tree.set(
      `${appsRoot}/1/0`,
      JSON.stringify({...pc0, ballot: pc0.ballot + 1, secondaries: ['127.0.0.1:34802'], last_drops: []}),
    )
    const pc1 = JSON.parse(tree.get(`${appsRoot}/1/1`)!)
    tree.set(`${appsRoot}/1/1`, JSON.stringify({...pc1, primary: '127.0.0.1:34801'}))
    tree.delete(`${appsRoot}/1/2`)
    tree.set(`${appsRoot}/9`, '{}')
    const f = compareRecoveredTree(body.changes, tree, volatile, appsRoot)
    expect(f.map((x) => `${x.severity} ${x.code} ${x.subject}`)).toEqual([
      `error PEGASUS_VERIFY_NODE_DIFFERS ${appsRoot}/1/1`,
      `error PEGASUS_VERIFY_MISSING_NODE ${appsRoot}/1/2`,
      `error PEGASUS_VERIFY_UNEXPECTED_NODE ${appsRoot}/9`,
      `info PEGASUS_VERIFY_RECONFIGURED ${appsRoot}`,
    ])
    expect(f.find((x) => x.code === 'PEGASUS_VERIFY_RECONFIGURED')!.message).toMatch(
      /^1 partition node\(s\) were already reconfigured/,
    )
  })
  it('flags a locked apps root', () => {
    const {body, volatile} = planned('all-good')
    const tree = treeOf(body)
    tree.set(appsRoot, 'lock')
    expect(compareRecoveredTree(body.changes, tree, volatile, appsRoot).map((f) => f.message)).toEqual([
      `${appsRoot} differs from the plan: (value) is "lock", planned "unlock"`,
    ])
  })
})

describe('recoveredTreeCheck (issue 17: node by node as the tree is read)', () => {
  it('finds what compareRecoveredTree finds, whatever order the nodes arrive in', () => {
    const {body, volatile} = planned('all-good')
    const tree = treeOf(body)
    const pc1 = JSON.parse(tree.get(`${appsRoot}/1/1`)!)
    tree.set(`${appsRoot}/1/1`, JSON.stringify({...pc1, primary: '127.0.0.1:34801'}))
    tree.delete(`${appsRoot}/1/2`)
    tree.set(`${appsRoot}/9`, '{}')
    tree.set(`${appsRoot}/10`, '{}')
    const whole = compareRecoveredTree(body.changes, tree, volatile, appsRoot)
    expect(whole.map((f) => f.code)).toEqual([
      'PEGASUS_VERIFY_NODE_DIFFERS',
      'PEGASUS_VERIFY_MISSING_NODE',
      'PEGASUS_VERIFY_UNEXPECTED_NODE',
      'PEGASUS_VERIFY_UNEXPECTED_NODE',
    ])
    const check = recoveredTreeCheck(body.changes, volatile, appsRoot)
    for (const [path, data] of [...tree].reverse()) check.node(path, data)
    expect(check.finish()).toEqual(whole)
  })
})

describe('compareHints', () => {
  it('reports lines on either side only', () => {
    expect(compareHints(['a', 'b'], ['b', 'a'])).toEqual([])
    expect(compareHints(['a', 'b'], ['a', 'c']).map((f) => f.message)).toEqual([
      'the meta server said what the plan did not predict: c',
      'the plan predicted a hint the meta server did not give: b',
    ])
  })
})
