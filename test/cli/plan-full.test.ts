// Issue 16 item 7 through the real binary: `show --full` prints every change a collapsed plan
// hides, in text and markdown; the legend and the markdown header rows have no blank symbols or
// cells. Reads the 120-partition golden plan (test/fixtures/plans/large/plan.json), no server.
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {REPO, runCli} from './helpers.js'

const PLAN = join(REPO, 'test', 'fixtures', 'plans', 'large', 'plan.json')
const DDD = join(REPO, 'test', 'fixtures', 'plans', 'ddd', 'plan.json')
const show = (...args: string[]) => runCli(['show', ...args], {cwd: REPO})

describe('lifeboat show --full', () => {
  it('collapses within the table by default, naming it, and --full prints every change', async () => {
    const short = await show(PLAN)
    expect(short.code, short.stderr).toBe(0)
    expect(short.stdout.match(/will be created/g)).toHaveLength(4)
    expect(short.stdout).toContain(
      '... and 117 more partitions like these (zk:/pegasus/onebox/apps/2/#, created; --full shows them)',
    )
    const full = await show(PLAN, '--full')
    expect(full.code, full.stderr).toBe(0)
    // The table's node and its 120 partitions.
    expect(full.stdout.match(/will be created/g)).toHaveLength(121)
    expect(full.stdout).not.toContain('more partitions like these')
    const md = await show(PLAN, '--format', 'markdown', '--full')
    expect(md.code, md.stderr).toBe(0)
    expect(md.stdout).not.toContain('more partitions like these')
    expect(md.stdout).toContain('zk:/pegasus/onebox/apps/2/119')
  })

  it('the legend names the symbols of assigned primaries; markdown has no blank header cells', async () => {
    const text = await show(DDD)
    expect(text.stdout).toContain('~ primary assigned to a partition (before → after)')
    expect(text.stdout).toContain('* the primary chosen among the candidates')
    const md = await show(DDD, '--format', 'markdown')
    expect(md.stdout).toContain('| Applicable | yes |')
    const lines = md.stdout.split('\n')
    const headers = lines.filter((_, i) => /^\|\s*-{3}/.test(lines[i + 1] ?? ''))
    expect(headers.length).toBeGreaterThan(3)
    for (const h of headers)
      expect(
        h
          .split('|')
          .slice(1, -1)
          .every((cell) => cell.trim() !== ''),
        h,
      ).toBe(true)
  })
})
