import {describe, expect, test} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {renderPlanText} from '../../src/render/text.js'
import {fixtureInput, fixturePlan} from '../plan/helpers.js'

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g

describe('renderPlanText', () => {
  test('colour only when asked: + green, - red, lossy red', () => {
    const coloured = renderPlanText(fixturePlan('ddd'), {color: true, width: 100})
    expect(coloured).toContain('\u001b[31m')
    expect(coloured).toContain('\u001b[31m\u001b[1m[lossy]')
    const meta = renderPlanText(fixturePlan('meta-recovery'), {color: true, width: 100})
    expect(meta).toContain('\u001b[32m  + {')
    expect(renderPlanText(fixturePlan('ddd'), {color: false, width: 100})).not.toMatch(ANSI)
    expect(coloured.replace(ANSI, '')).toBe(renderPlanText(fixturePlan('ddd'), {color: false, width: 100}))
  })

  test('fits the width: prose wraps, diff lines are cut with a marker, never wrapped', () => {
    const input = fixtureInput('meta-recovery')
    const long = 'x'.repeat(200)
    const body = structuredClone(input.body)
    body.changes.push({
      address: 'zk:/pegasus/onebox/apps/1/long',
      action: 'create',
      before: null,
      after: {long_note: long},
    })
    for (const width of [50, 72, 120]) {
      const text = renderPlanText(buildPlan({...input, body}), {color: true, width})
      for (const line of text.split('\n'))
        expect(line.replace(ANSI, ''), `width ${width}`).toHaveLength(Math.min(width, line.replace(ANSI, '').length))
      const cutLine = text
        .replace(ANSI, '')
        .split('\n')
        .find((l) => l.includes('"long_note"'))!
      expect(cutLine.endsWith('…')).toBe(true)
      expect(cutLine.startsWith('  +   "long_note": "xxx')).toBe(true)
    }
  })

  test('legend lists only the symbols in use', () => {
    const meta = renderPlanText(fixturePlan('meta-recovery'), {color: false, width: 100})
    expect(meta).toContain('  + create\n  ~ update in-place\n')
    expect(meta).not.toContain('  - destroy')
    const input = fixtureInput('meta-recovery')
    const body = {
      ...input.body,
      changes: [{address: 'zk:/pegasus/onebox/apps/9', action: 'delete' as const, before: {app_id: 9}, after: null}],
    }
    const del = renderPlanText(buildPlan({...input, body}), {color: false, width: 100})
    expect(del).toContain('  - destroy')
    expect(del).not.toContain('  + create')
    expect(del).toContain('  # zk:/pegasus/onebox/apps/9 will be destroyed\n  - {\n  -   "app_id": 9\n  - }')
  })

  test('an update shows only the hunks that changed, with the gaps marked', () => {
    const input = fixtureInput('meta-recovery')
    const before = Object.fromEntries(Array.from({length: 30}, (_, i) => [`k${String(i).padStart(2, '0')}`, i]))
    const after = {...before, k02: 'two', k25: 'twenty-five'}
    const body = {...input.body, changes: [{address: 'zk:/x', action: 'update' as const, before, after}]}
    const text = renderPlanText(buildPlan({...input, body}), {color: false, width: 100})
    expect(text).toContain('  -   "k02": 2,\n  +   "k02": "two",')
    expect(text).toContain('  -   "k25": 25,\n  +   "k25": "twenty-five",')
    expect(text).toContain('… (unchanged lines not shown)')
    expect(text).not.toContain('"k14"')
  })

  test('no changes, and not applyable', () => {
    expect(renderPlanText(fixturePlan('no-change'), {color: false, width: 80})).toMatch(
      /No changes\. The cluster matches the spec\.\n$/,
    )
    expect(renderPlanText(fixturePlan('error-finding'), {color: false, width: 80})).toMatch(
      /This plan cannot be applied: 1 error must be resolved first\.\n\nPlan: .*\n$/,
    )
  })
})
