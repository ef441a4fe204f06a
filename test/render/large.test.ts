// A 64,000-partition plan: readable (collapsed) in text and markdown, complete in JSON.
import {describe, expect, test} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import type {Change} from '../../src/plan/types.js'
import {renderPlanJson} from '../../src/render/json.js'
import {MARKDOWN_CHUNK_LIMIT, renderPlanMarkdown} from '../../src/render/markdown.js'
import {renderPlanText} from '../../src/render/text.js'
import {fixtureInput, largeInput} from '../plan/helpers.js'

describe('large plans', () => {
  const plan = buildPlan(largeInput(64_000))

  test('text collapses same-shape runs with a count; JSON keeps every change', () => {
    const text = renderPlanText(plan, {color: false, width: 100})
    // The line wraps at 100 columns: compare it unwrapped.
    expect(text.replace(/\n +/g, ' ')).toContain(
      '... and 63,997 more partitions like these (zk:/pegasus/onebox/apps/2/#, created; --full shows them)',
    )
    expect(text).toContain('Plan: 1 table, 64,000 partitions to create, 0 to change; 1,600 warnings.')
    expect(text.split('\n').length).toBeLessThan(200)
    expect((JSON.parse(renderPlanJson(plan)) as {changes: unknown[]}).changes).toHaveLength(64_001)
  })

  test('markdown collapses the same way and fits one comment', () => {
    const chunks = renderPlanMarkdown(plan)
    expect(chunks).toHaveLength(1)
    expect(chunks[0]).toContain('... and 63,997 more partitions like these')
  })

  test('a second, small table is collapsed within itself and never hidden; --full shows everything', () => {
    const small = buildPlan(largeInput(120))
    const second: Change[] = small.changes.map((c) => ({
      ...c,
      address: c.address.replace('/apps/2', '/apps/3'),
    }))
    const two = {...small, changes: [...small.changes, ...second.slice(0, 8)]}
    const text = renderPlanText(two, {color: false, width: 100})
    expect(text).toContain('# zk:/pegasus/onebox/apps/3 will be created')
    expect(text).toContain('# zk:/pegasus/onebox/apps/3/0 will be created')
    expect(text).toContain('... and 117 more partitions like these (zk:/pegasus/onebox/apps/2/#')
    expect(text).toContain('... and 4 more partitions like these (zk:/pegasus/onebox/apps/3/#')
    const full = renderPlanText(two, {color: false, width: 100, full: true})
    expect(full).not.toContain('more partitions like these')
    expect(full).toContain('# zk:/pegasus/onebox/apps/2/119 will be created')
    expect(full).toContain('# zk:/pegasus/onebox/apps/3/6 will be created')
    const md = renderPlanMarkdown(two, undefined, {full: true}).join('')
    expect(md).not.toContain('more partitions like these')
  })
})

/** Checks that a chunk is valid markdown on its own: fences and folds balanced, within the limit. */
function expectSelfContained(chunk: string, limit: number): void {
  expect(chunk.length).toBeLessThanOrEqual(limit)
  let open: string | undefined
  for (const line of chunk.split('\n')) {
    const m = /^(`{3,})(.*)$/.exec(line)
    if (!m) continue
    if (open === undefined) open = m[1]
    else if (m[1] === open && m[2] === '') open = undefined
  }
  expect(open).toBeUndefined()
  expect(chunk.split('<details>').length).toBe(chunk.split('</details>').length)
}

describe('markdown chunks', () => {
  test('many distinct changes split into chunks of at most 65,536 characters, each valid alone', () => {
    const input = fixtureInput('meta-recovery')
    // Every change has its own key set, so nothing collapses.
    const changes: Change[] = Array.from({length: 400}, (_, i) => ({
      address: `table:t${i}`,
      action: 'create',
      before: null,
      after: Object.fromEntries(
        Array.from({length: 12}, (_, k) => [`field_${i}_${k}`, `value ${k} of table ${i} `.repeat(3)]),
      ),
    }))
    const plan = buildPlan({...input, body: {...input.body, changes}})
    const chunks = renderPlanMarkdown(plan)
    expect(chunks.length).toBeGreaterThan(2)
    chunks.forEach((c) => expectSelfContained(c, MARKDOWN_CHUNK_LIMIT))
    expect(chunks[1]).toMatch(/^_lifeboat plan: .*, part 2 of \d+ \(continued\)_/)
    // Nothing lost: every change's diff appears somewhere.
    const all = chunks.join('')
    for (let i = 0; i < 400; i += 37) expect(all).toContain(`<code>table:t${i}</code> will be created`)
  })

  test('one diff larger than a chunk is closed and reopened across chunks', () => {
    const input = fixtureInput('meta-recovery')
    const after = Object.fromEntries(
      Array.from({length: 3000}, (_, k) => [`key_${String(k).padStart(5, '0')}`, 'v'.repeat(40)]),
    )
    const plan = buildPlan({
      ...input,
      body: {...input.body, changes: [{address: 'zk:/huge', action: 'create', before: null, after}]},
    })
    const chunks = renderPlanMarkdown(plan, 20_000)
    expect(chunks.length).toBeGreaterThan(5)
    chunks.forEach((c) => expectSelfContained(c, 20_000))
    const keys = chunks.join('').match(/^\+ {3}"key_\d{5}"/gm) ?? []
    expect(keys).toHaveLength(3000)
    expect(chunks.join('')).toMatch(/will be created, part 2 of \d+ \(\d+ lines\)<\/summary>/)
  })
})
