// describeDrift (issue 16 item 6): the head of a stale refusal, a few lines in the cluster's terms.
// Pure; built from the plan fixtures' inputs with one fact changed at a time.
import {describe, expect, test} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {describeDrift} from '../../src/plan/compare.js'
import {sha256Hex} from '../../src/plan/canonical.js'
import {fixtureInput} from '../plan/helpers.js'

describe('describeDrift', () => {
  test('nothing changed: no line', () => {
    const input = fixtureInput('ddd')
    expect(describeDrift(buildPlan(input), buildPlan(input))).toEqual([])
  })

  test('a node that no longer answers, a count that moved, another primary, a step expecting otherwise', () => {
    const input = fixtureInput('ddd')
    const body = structuredClone(input.body)
    body.findings.push({
      code: 'PEGASUS_NODE_DOWN',
      severity: 'error',
      subject: 'n3',
      message: 'node n3 no longer answers',
    })
    const first = Object.keys(body.observed.summary)[0]!
    body.observed.summary[first] = 'moved'
    body.primaries[0]!.after = 'elsewhere:1'
    body.steps[1]!.params.node = '127.0.0.1:34801'
    const lines = describeDrift(buildPlan(input), buildPlan({...input, body}))
    expect(lines[0]).toBe('node n3 no longer answers')
    expect(lines).toContain(`${first.replaceAll('_', ' ')}: ${String(input.body.observed.summary[first])} → moved`)
    expect(
      lines.some(
        (l) => l.startsWith(`${input.body.primaries[0]!.partition}: the `) && l.includes('would now be elsewhere:1'),
      ),
    ).toBe(true)
    expect(lines.some((l) => l.startsWith('step ') && l.includes('would now expect node "127.0.0.1:34801"'))).toBe(true)
  })

  test('changes counted by noun (the 10 of the fixture once more); only the fingerprint moved: said so; long lists are cut', () => {
    const input = fixtureInput('meta-recovery')
    const body = structuredClone(input.body)
    const extra = structuredClone(body.changes.slice(0, 10)).map((c, i) => ({...c, address: `${c.address}/x${i}`}))
    body.changes.push(...extra)
    const lines = describeDrift(buildPlan(input), buildPlan({...input, body}))
    // Counted per noun (tables, partitions), each with its first addresses.
    const more = lines.filter((l) => l.includes('more to change than the plan has'))
    expect(more.reduce((n, l) => n + Number(l.split(' ')[0]), 0)).toBe(extra.length)
    for (const l of more) expect(l).toMatch(/^\d+ .+ more to change than the plan has \(zk:\//)

    const moved = structuredClone(input.body)
    moved.observed.fingerprint = sha256Hex('moved on')
    expect(describeDrift(buildPlan(input), buildPlan({...input, body: moved}))).toEqual([
      expect.stringMatching(
        /^the live facts the plan rests on changed \(fingerprint \w{12} → \w{12}\), though a new plan would list the same actions$/,
      ),
    ])

    const many = structuredClone(input.body)
    for (let i = 0; i < 12; i++) many.findings.push({code: `X${i}`, severity: 'warning', message: `warning ${i}`})
    const cut = describeDrift(buildPlan(input), buildPlan({...input, body: many}))
    expect(cut).toHaveLength(9)
    expect(cut[8]).toBe('... and 4 more (below)')
  })
})
