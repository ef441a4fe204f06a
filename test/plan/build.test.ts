import {describe, expect, test} from 'vitest'

import {buildPlan, isNormalDocument, planDigest, planHasChanges} from '../../src/plan/build.js'
import {canonicalJson, sha256Hex, sortKeysDeep} from '../../src/plan/canonical.js'
import {compareNatural} from '../../src/plan/order.js'
import {serializePlan} from '../../src/plan/serialize.js'
import {fixtureInput, largeInput} from './helpers.js'

/** A deterministic shuffle (no Math.random: a failing order must be reproducible). */
function shuffled<T>(items: T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648
    const j = s % (i + 1)
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

describe('canonicalJson', () => {
  test('sorts keys at every depth, drops undefined, keeps array order', () => {
    expect(canonicalJson({b: 1, a: {d: [3, {z: 1, y: undefined}], c: 'x'}})).toBe(
      '{"a":{"c":"x","d":[3,{"z":1}]},"b":1}',
    )
  })
  test('hashes the same before and after a JSON round trip', () => {
    const v = {k: [1, undefined, 'é'], n: null, o: {q: undefined}}
    expect(canonicalJson(JSON.parse(JSON.stringify(v)))).toBe(canonicalJson(v))
  })
  test('refuses values JSON cannot carry; a bigint is its exact decimal string', () => {
    expect(() => canonicalJson({x: Number.NaN})).toThrow(/cannot be represented/)
    expect(canonicalJson({x: 18446744073709551615n})).toBe('{"x":"18446744073709551615"}')
    expect(canonicalJson({x: 2n ** 53n + 1n})).toBe(canonicalJson({x: '9007199254740993'}))
  })
  test('sha256Hex of a known vector', () => {
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })
})

describe('compareNatural', () => {
  test('orders digit runs as numbers, also beyond 2^53', () => {
    const items = [
      '1.10',
      '1.2',
      '1.0',
      '10.0',
      '2.1',
      'zk:/a/apps/9',
      'zk:/a/apps/10',
      '18446744073709551615',
      '18446744073709551614',
    ]
    expect([...items].sort(compareNatural)).toEqual([
      '1.0',
      '1.2',
      '1.10',
      '2.1',
      '10.0',
      '18446744073709551614',
      '18446744073709551615',
      'zk:/a/apps/9',
      'zk:/a/apps/10',
    ])
  })
  test('is a total order: equal-looking numbers still order by text', () => {
    expect(compareNatural('a01', 'a1')).not.toBe(0)
    expect(Math.sign(compareNatural('a01', 'a1'))).toBe(-Math.sign(compareNatural('a1', 'a01')))
  })
})

describe('buildPlan', () => {
  test('sorts changes, primaries and findings; keeps steps in order; digests', () => {
    const plan = buildPlan(fixtureInput('ddd'))
    expect(plan.primaries.map((p) => p.partition)).toEqual(['1.0', '1.3', '2.10'])
    expect(plan.steps.map((s) => s.id)).toEqual([
      '01-diagnose',
      '02-assign-1.0',
      '03-assign-1.3',
      '04-assign-2.10',
      '05-verify',
    ])
    expect(plan.digest).toBe(planDigest(plan))
    expect(plan.approvals).toEqual([])
    expect(plan.applyable).toBe(true)
    const meta = buildPlan(fixtureInput('meta-recovery'))
    expect(meta.changes.map((c) => c.address).slice(0, 4)).toEqual([
      'zk:/pegasus/onebox/apps',
      'zk:/pegasus/onebox/apps/1',
      'zk:/pegasus/onebox/apps/1/0',
      'zk:/pegasus/onebox/apps/1/1',
    ])
    expect(meta.findings.map((f) => `${f.severity} ${f.subject}`)).toEqual([
      'warning 1.2',
      'warning 1.5',
      'info 127.0.0.1:34803',
    ])
  })

  test('an error finding makes the plan not applyable, and errors sort first', () => {
    const plan = buildPlan(fixtureInput('error-finding'))
    expect(plan.applyable).toBe(false)
    expect(plan.findings[0]!.severity).toBe('error')
  })

  test('shuffled input lists and reordered keys give a byte-identical plan', () => {
    const input = fixtureInput('meta-recovery')
    const reference = serializePlan(buildPlan(input))
    for (const seed of [1, 2, 3]) {
      const body = input.body
      const shuffledInput = {
        ...input,
        body: {
          ...body,
          changes: shuffled(body.changes, seed).map((c) => ({
            after: c.after,
            before: c.before,
            action: c.action,
            ...(c.noun ? {noun: c.noun} : {}),
            address: c.address,
            ...(c.reason ? {reason: c.reason} : {}),
          })),
          findings: shuffled(body.findings, seed),
        },
      }
      expect(serializePlan(buildPlan(shuffledInput))).toBe(reference)
    }
    const ddd = fixtureInput('ddd')
    expect(serializePlan(buildPlan({...ddd, body: {...ddd.body, primaries: shuffled(ddd.body.primaries, 7)}}))).toBe(
      serializePlan(buildPlan(ddd)),
    )
  })

  test('documents, facts and candidates in any key order give a byte-identical plan', () => {
    /** The same JSON value with every object's keys in reverse order (not normal). */
    const reversed = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(reversed)
        : v !== null && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .reverse()
                .map(([k, x]) => [k, reversed(x)]),
            )
          : v
    for (const name of ['meta-recovery', 'ddd'] as const) {
      const input = fixtureInput(name)
      const normal = sortKeysDeep(input.body)
      const reference = serializePlan(buildPlan({...input, body: input.body}))
      expect(serializePlan(buildPlan({...input, body: normal}))).toBe(reference)
      const body = {
        ...input.body,
        changes: input.body.changes.map((c) => ({...c, after: reversed(c.after), before: reversed(c.before)})),
        primaries: input.body.primaries.map((p) => ({
          ...p,
          candidates: p.candidates.map((c) => reversed(c) as typeof c),
        })),
      }
      expect(serializePlan(buildPlan({...input, body}))).toBe(reference)
      // What a planner that builds normal documents emits: buildPlan keeps those objects.
      const kept = {
        ...input.body,
        changes: input.body.changes.map((c) => ({...c, after: sortKeysDeep(c.after), before: sortKeysDeep(c.before)})),
        primaries: input.body.primaries.map((p) => ({
          ...p,
          candidates: p.candidates.map((c) => ({
            node: c.node,
            facts: sortKeysDeep(c.facts),
            ...(c.marks ? {marks: c.marks} : {}),
          })),
        })),
      }
      const keptPlan = buildPlan({...input, body: kept})
      expect(serializePlan(keptPlan)).toBe(reference)
      for (const p of kept.primaries) {
        const built = keptPlan.primaries.find((b) => b.partition === p.partition)!
        p.candidates.forEach((c, i) => expect(built.candidates[i]).toBe(c))
      }
    }
  })

  test('the digest covers every decision-relevant field', () => {
    const plan = buildPlan(fixtureInput('ddd'))
    const edited = structuredClone(plan)
    edited.steps[1]!.params.node = '127.0.0.1:34801'
    expect(planDigest(edited)).not.toBe(plan.digest)
    const approved = {...plan, approvals: [{name: 'bob', at: '2025-03-02T09:00:00.000Z', digest: plan.digest}]}
    expect(planDigest(approved)).toBe(plan.digest)
  })

  test('planHasChanges', () => {
    expect(planHasChanges(buildPlan(fixtureInput('no-change')))).toBe(false)
    expect(planHasChanges(buildPlan(fixtureInput('meta-recovery')))).toBe(true)
    expect(planHasChanges(buildPlan(fixtureInput('ddd')))).toBe(true)
    expect(planHasChanges(buildPlan(fixtureInput('error-finding')))).toBe(true)
  })

  test('integers past 2^53 stay exact: bigint facts and params become decimal strings, digested as such', () => {
    const input = fixtureInput('ddd')
    const big = 18446744073709551615n
    const withBig = (value: bigint | string) => ({
      ...input,
      body: {
        ...input.body,
        primaries: input.body.primaries.map((p, i) =>
          i === 0
            ? {
                ...p,
                facts: {...p.facts, last_drops: 'x'},
                candidates: p.candidates.map((c) => ({...c, facts: {...c.facts, ballot: value}})),
              }
            : p,
        ),
        steps: input.body.steps.map((st, i) => (i === 0 ? {...st, params: {...st.params, index: value}} : st)),
      },
    })
    const plan = buildPlan(withBig(big))
    const first = plan.primaries.find((p) => p.partition === input.body.primaries[0]!.partition)!
    expect(first.candidates[0]!.facts.ballot).toBe('18446744073709551615')
    expect(plan.steps[0]!.params.index).toBe('18446744073709551615')
    expect(serializePlan(plan)).toContain('"ballot": "18446744073709551615"')
    // The same plan with the decimal string written by hand: the same bytes and digest.
    const asString = buildPlan(withBig('18446744073709551615'))
    expect(asString.digest).toBe(plan.digest)
    expect(serializePlan(asString)).toBe(serializePlan(plan))
  })

  test('a plan with primaries needs the engine leadership words; nouns must be declared', () => {
    const ddd = fixtureInput('ddd')
    expect(() => buildPlan({...ddd, body: {...ddd.body, vocabulary: {nouns: {}}}})).toThrow(
      /declares no leadership section/,
    )
    const mr = fixtureInput('meta-recovery')
    expect(() => buildPlan({...mr, body: {...mr.body, vocabulary: {nouns: {}}}})).toThrow(/noun .* is not declared/)
  })

  test('refuses bodies that break the invariants apply relies on', () => {
    const input = fixtureInput('ddd')
    const dupStep = {...input, body: {...input.body, steps: [...input.body.steps, input.body.steps[0]!]}}
    expect(() => buildPlan(dupStep)).toThrow(/duplicate step id/)
    const noReason = {
      ...input,
      body: {...input.body, steps: input.body.steps.map((s) => ({...s, riskReason: undefined}))},
    }
    expect(() => buildPlan(noReason)).toThrow(/riskReason/)
    const meta = fixtureInput('meta-recovery')
    const badCreate = {
      ...meta,
      body: {...meta.body, changes: [{address: 'x', action: 'create' as const, before: 1, after: 2}]},
    }
    expect(() => buildPlan(badCreate)).toThrow(/before = null/)
    // Duplicates far apart in the body still meet once sorted.
    const changes = meta.body.changes
    const dupChange = {...meta, body: {...meta.body, changes: [changes.at(-1)!, ...changes.slice(1), changes.at(-1)!]}}
    expect(changes.length).toBeGreaterThan(2)
    expect(() => buildPlan(dupChange)).toThrow(/duplicate change address/)
    const primaries = input.body.primaries
    const dupPrimary = {...input, body: {...input.body, primaries: [primaries[0]!, ...primaries, {...primaries[0]!}]}}
    expect(() => buildPlan(dupPrimary)).toThrow(/duplicate primary partition/)
  })

  test('changes and primaries already in their normal form are kept, others copied in that form', () => {
    const input = fixtureInput('meta-recovery')
    const plan = buildPlan(input)
    // The plan's own changes and primaries are normal: built again, every one is kept as it is.
    const again = buildPlan({...input, body: {...input.body, changes: plan.changes, primaries: plan.primaries}})
    expect(again.changes.length).toBeGreaterThan(0)
    again.changes.forEach((c, i) => expect(c).toBe(plan.changes[i]))
    const ddd = buildPlan(fixtureInput('ddd'))
    const dddAgain = buildPlan({...fixtureInput('ddd'), body: {...fixtureInput('ddd').body, primaries: ddd.primaries}})
    expect(ddd.primaries.length).toBeGreaterThan(0)
    dddAgain.primaries.forEach((p, i) => expect(p).toBe(ddd.primaries[i]))
    // Out of order, an undefined key, or a document out of order: a copy, in the normal order.
    const c = plan.changes.find((x) => x.reason !== undefined && x.noun !== undefined)!
    for (const variant of [
      {after: c.after, address: c.address, noun: c.noun, action: c.action, reason: c.reason, before: c.before},
      {...c, reason: undefined},
      {...c, after: Object.fromEntries(Object.entries(c.after as object).reverse())},
    ]) {
      const built = buildPlan({...input, body: {...input.body, changes: [variant as typeof c]}}).changes[0]!
      expect(built).not.toBe(variant)
      expect(Object.keys(built)).toEqual(Object.keys(c).filter((k) => k !== 'reason' || variant.reason !== undefined))
    }
    const p = ddd.primaries[0]!
    const {candidates, ...rest} = p
    const reordered = {candidates, ...rest}
    expect(Object.keys(reordered)[0]).toBe('candidates')
    const built = buildPlan({...fixtureInput('ddd'), body: {...fixtureInput('ddd').body, primaries: [reordered]}})
    expect(built.primaries[0]).not.toBe(reordered)
    expect(JSON.stringify(built.primaries[0])).toBe(JSON.stringify(p))
  })

  test('large plans keep every change, in natural order', () => {
    const plan = buildPlan(largeInput(2000))
    expect(plan.changes).toHaveLength(2001)
    expect(plan.changes[11]!.address).toBe('zk:/pegasus/onebox/apps/2/10')
  })
})

describe('isNormalDocument', () => {
  test('true exactly when sortKeysDeep would copy the value unchanged, key order included', () => {
    class Point {
      x = 1
    }
    const normal: unknown[] = [
      null,
      'a',
      1,
      true,
      [],
      {},
      {a: 1, b: [{c: 2, d: null}], e: 'x'},
      [{a: [1, 2]}, 'b'],
      Object.assign(Object.create(null) as object, {a: 1}),
    ]
    const notNormal: unknown[] = [
      1n,
      {b: 1, a: 2},
      {a: {d: 1, c: 2}},
      [{b: 1, a: 2}],
      {a: undefined},
      {a: [1n]},
      new Point(),
      new Date(0),
      {'10': 1, '9': 2},
    ]
    for (const v of normal) {
      expect(isNormalDocument(v), JSON.stringify(v)).toBe(true)
      expect(JSON.stringify(sortKeysDeep(v))).toBe(JSON.stringify(v))
    }
    for (const v of notNormal) expect(isNormalDocument(v), String(v)).toBe(false)
  })
})
