// Golden renderings of the fixture plans: test/fixtures/plans/<scenario>/plan.{txt,md,json}.
// Update them with `npx vitest run test/render -u` and review the diff by eye.
import {join} from 'node:path'

import {describe, expect, test} from 'vitest'

import {schemaValidator, describeSchemaErrors} from '../../src/plan/file.js'
import {renderPlanJson} from '../../src/render/json.js'
import {renderPlanMarkdown} from '../../src/render/markdown.js'
import {planSummaryLine} from '../../src/render/summary.js'
import {renderPlanText} from '../../src/render/text.js'
import {FIXTURES, SCENARIOS, fixturePlan} from '../plan/helpers.js'

const ALL = [...SCENARIOS, 'large'] as const

describe.each(ALL)('%s', (scenario) => {
  const plan = fixturePlan(scenario)
  const golden = (name: string) => join(FIXTURES, scenario, name)

  test('plan.json validates against the plan schema', async () => {
    const json = renderPlanJson(plan)
    const validate = schemaValidator('plan.schema.json')
    const ok = validate(JSON.parse(json))
    expect(ok, describeSchemaErrors(validate.errors)).toBe(true)
    await expect(json).toMatchFileSnapshot(golden('plan.json'))
  })

  test('plan.txt (no colour, 100 columns)', async () => {
    const text = renderPlanText(plan, {color: false, width: 100})
    expect(text).not.toContain('\u001b')
    expect(text.trimEnd().split('\n').at(-1)).toBe(planSummaryLine(plan))
    await expect(text).toMatchFileSnapshot(golden('plan.txt'))
  })

  test('plan.md', async () => {
    const chunks = renderPlanMarkdown(plan)
    expect(chunks).toHaveLength(1)
    await expect(chunks.join('')).toMatchFileSnapshot(golden('plan.md'))
  })

  test('every rendering is deterministic', () => {
    const again = fixturePlan(scenario)
    expect(renderPlanJson(again)).toBe(renderPlanJson(plan))
    expect(renderPlanText(again, {color: true, width: 100})).toBe(renderPlanText(plan, {color: true, width: 100}))
    expect(renderPlanMarkdown(again)).toEqual(renderPlanMarkdown(plan))
  })
})

describe('summary line', () => {
  test('names what each plan holds', () => {
    expect(planSummaryLine(fixturePlan('meta-recovery'))).toBe(
      'Plan: 1 table, 8 partitions to create, 1 to change; 2 warnings.',
    )
    expect(planSummaryLine(fixturePlan('ddd'))).toBe('Plan: 3 primaries to assign; 2 steps may lose data; 2 warnings.')
    expect(planSummaryLine(fixturePlan('no-change'))).toBe('No changes. The cluster matches the spec.')
    expect(planSummaryLine(fixturePlan('error-finding'))).toBe(
      'Plan: 1 step to run; 1 step may lose data; 1 error, 1 warning.',
    )
  })
})
