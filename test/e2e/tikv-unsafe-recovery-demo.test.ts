// `lifeboat demo tikv-unsafe-recovery` end to end: the whole narrated journey, once. The demo's
// cluster (src/demo/tikv-unsafe-recovery.ts) holds 3,000 rows in four tables plus 5 meta keys;
// stores 4 and 5 hold every replica of [t66, t67) (500 rows of table 66) and [t67, t67_r251) (250
// rows of table 67), so 3005 - 750 rows must be readable at the end, as the plan predicts.
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, expect, it} from 'vitest'

import {lifeboat, tempDir} from './helpers.js'

const base = tempDir('lifeboat-tikv-demo-test-')
const stateDir = join(base, 'lab')
let workDir: string | undefined

afterAll(async () => {
  // The demo tears its lab down itself; this is only for a demo that died half-way.
  if (existsSync(join(stateDir, 'lab.json'))) await lifeboat(['lab', 'down', '--state-dir', stateDir], {cwd: base})
  rmSync(base, {recursive: true, force: true})
  if (workDir) rmSync(workDir, {recursive: true, force: true})
})

it('runs the whole journey and ends with every row but those the plan said were lost', async () => {
  const r = await lifeboat(['demo', 'tikv-unsafe-recovery', '--state-dir', stateDir], {cwd: base, timeoutMs: 400_000})
  workDir = /^Working directory: (.+)$/m.exec(r.stdout)?.[1]
  expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0)
  const lines = r.stdout.trimEnd().split('\n')
  expect(lines[lines.length - 1]).toBe('2255 of 3005 found (the plan predicted 750 keys lost)')
  // Every step the journey promises, in order.
  const commands = lines.filter((l) => l.startsWith('$ lifeboat ')).map((l) => l.split(' ').slice(2, 4).join(' '))
  const order = [
    'lab up',
    'lab verify',
    'lab fault',
    'lab fault',
    'lab verify',
    'validate',
    'plan',
    'plan',
    'show',
    'apply',
    'apply',
    'lab verify',
    'audit verify',
    'lab down',
  ]
  let at = 0
  for (const c of commands) if (at < order.length && c.startsWith(order[at])) at++
  expect(at).toBe(order.length)
  // Before anything ran: the refusal for the lost regions, then the gate for the lossy step.
  expect(r.stdout).toContain('TIKV_REGION_LOST (region 1006)')
  expect(r.stdout).toContain('--allow-data-loss was not given')
  // The stages as PD entered them, and PD's account matching the plan.
  for (const stage of [
    'collect report',
    'tombstone TiFlash learner',
    'force leader',
    'demote Failed voter',
    'create empty region',
  ]) {
    expect(r.stdout).toContain(`Unsafe recovery enters ${stage} stage`)
  }
  expect(r.stdout).toContain("PD's account matches the plan")
  expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
  expect(workDir).toBeDefined()
  expect(readFileSync(join(workDir!, '.lifeboat', 'audit.jsonl'), 'utf8')).toContain('tikv.remove-failed-stores')
})
