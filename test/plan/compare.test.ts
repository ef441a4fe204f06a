import {describe, expect, test} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {comparePlans, comparePlansItemByItem, planSectionHashes, renderPlanDifferences} from '../../src/plan/compare.js'
import {sha256Hex} from '../../src/plan/canonical.js'
import {fixtureInput} from './helpers.js'

describe('comparePlans', () => {
  test('two plans from the same input agree, even made at different times', () => {
    const input = fixtureInput('ddd')
    expect(comparePlans(buildPlan(input), buildPlan({...input, createdAt: '2030-01-01T00:00:00.000Z'}))).toEqual([])
    expect(renderPlanDifferences([])).toMatch(/agree/)
  })

  test('names what differs: fingerprint, a step param, a removed primary, a new finding', () => {
    const input = fixtureInput('ddd')
    const body = structuredClone(input.body)
    body.observed.fingerprint = sha256Hex('moved on')
    body.steps[1]!.params.node = '127.0.0.1:34801'
    body.primaries = body.primaries.filter((p) => p.partition !== '2.10')
    body.findings.push({
      code: 'PEGASUS_NODE_DOWN',
      severity: 'warning',
      subject: '127.0.0.1:34803',
      message: 'node down',
    })
    const diffs = comparePlans(buildPlan(input), buildPlan({...input, body}))
    expect(diffs.map((d) => `${d.kind} ${d.path}`)).toEqual([
      'changed observed.fingerprint',
      'changed steps[02-assign-1.0].params.node',
      'removed primaries[2.10]',
      'added findings[warning PEGASUS_NODE_DOWN 127.0.0.1:34803]',
    ])
    const text = renderPlanDifferences(diffs)
    expect(text).toContain('~ steps[02-assign-1.0].params.node: "127.0.0.1:34803" → "127.0.0.1:34801"')
    expect(text).toContain('- primaries[2.10]')
  })

  test('display-only text never makes a plan stale; actions and documents do', () => {
    const input = fixtureInput('meta-recovery')
    const body = structuredClone(input.body)
    body.changes[0]!.reason = 'reworded'
    body.steps[0]!.description = 'reworded'
    expect(comparePlans(buildPlan(input), buildPlan({...input, body}))).toEqual([])
    ;(body.changes[0]!.before as {locked: boolean}).locked = false
    body.steps.reverse()
    const paths = comparePlans(buildPlan(input), buildPlan({...input, body})).map((d) => d.path)
    expect(paths).toEqual(['steps.order', 'changes[zk:/pegasus/onebox/apps].before.locked'])
  })

  test('lists at most 40 differences and counts the rest', () => {
    const input = fixtureInput('meta-recovery')
    const body = structuredClone(input.body)
    body.changes = body.changes.map((c) => ({...c, address: `${c.address}-moved`}))
    const diffs = comparePlans(buildPlan(input), buildPlan({...input, body}))
    expect(diffs).toHaveLength(20)
    body.steps = Array.from({length: 50}, (_, i) => ({
      id: `s${i}`,
      kind: 'k',
      params: {},
      risk: 'read' as const,
      description: 'd',
      expect: 'e',
    }))
    const many = comparePlans(buildPlan(input), buildPlan({...input, body}))
    expect(renderPlanDifferences(many)).toMatch(/\.\.\. and \d+ more differences$/)
  })
})

describe('comparePlans by digest and section hashes (issue 17)', () => {
  test('two plans with the same digest agree without being walked', () => {
    const input = fixtureInput('meta-recovery')
    const saved = buildPlan(input)
    const fresh = buildPlan(input)
    expect(fresh.digest).toBe(saved.digest)
    expect(comparePlans(saved, fresh)).toEqual([])
  })

  test('agrees with the item-by-item comparison on every test case above', () => {
    for (const name of ['ddd', 'meta-recovery']) {
      const input = fixtureInput(name)
      const body = structuredClone(input.body)
      body.changes = body.changes.map((c) => ({...c, address: `${c.address}-moved`}))
      body.observed.fingerprint = sha256Hex('moved on')
      const saved = buildPlan(input)
      const fresh = buildPlan({...input, body})
      expect(comparePlans(saved, fresh)).toEqual(comparePlansItemByItem(saved, fresh))
      expect(comparePlans(saved, saved)).toEqual(comparePlansItemByItem(saved, saved))
    }
  })

  test('a section hash moves only with what comparePlans compares in that section', () => {
    const input = fixtureInput('meta-recovery')
    const base = planSectionHashes(buildPlan(input))
    const reworded = structuredClone(input.body)
    reworded.changes[0]!.reason = 'reworded'
    reworded.steps[0]!.description = 'reworded'
    expect(planSectionHashes(buildPlan({...input, body: reworded}))).toEqual(base)
    const moved = structuredClone(input.body)
    ;(moved.changes[0]!.before as {locked: boolean}).locked = false
    const hashes = planSectionHashes(buildPlan({...input, body: moved}))
    expect(hashes.changes).not.toBe(base.changes)
    expect({...hashes, changes: base.changes}).toEqual(base)
  })

  test('finds the same differences section by section as item by item, in every section at once', () => {
    const input = fixtureInput('ddd')
    const body = structuredClone(input.body)
    body.steps[1]!.params.node = '127.0.0.1:34801'
    body.primaries = body.primaries.filter((p) => p.partition !== '2.10')
    body.findings.push({code: 'PEGASUS_NODE_DOWN', severity: 'warning', subject: '127.0.0.1:34803', message: 'down'})
    const saved = buildPlan(input)
    const fresh = buildPlan({...input, body})
    const whole = comparePlansItemByItem(saved, fresh)
    expect(comparePlans(saved, fresh)).toEqual(whole)
    expect(whole.map((d) => `${d.kind} ${d.path}`)).toEqual([
      'changed steps[02-assign-1.0].params.node',
      'removed primaries[2.10]',
      'added findings[warning PEGASUS_NODE_DOWN 127.0.0.1:34803]',
    ])
  })
})
