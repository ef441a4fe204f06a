import {describe, expect, test} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {comparePlans, renderPlanDifferences} from '../../src/plan/compare.js'
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
