// `lifeboat demo openmldb-recoverdata` end to end: the whole narrated journey on the suite's
// ZooKeeper, once: every tablet restarted, nothing readable, plan, apply, every row readable again.
import {existsSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, expect, inject, it} from 'vitest'

import {lifeboat, tempDir} from './helpers.js'

const base = tempDir('lifeboat-openmldb-demo-test-')
const stateDir = join(base, 'lab')
let workDir: string | undefined

afterAll(async () => {
  // The demo tears its lab down itself; this is only for a demo that died half-way.
  if (existsSync(join(stateDir, 'lab.json'))) await lifeboat(['lab', 'down', '--state-dir', stateDir], {cwd: base})
  rmSync(base, {recursive: true, force: true})
  if (workDir) rmSync(workDir, {recursive: true, force: true})
})

it('runs the whole journey: 0 rows readable after the restart, 2600 of 2600 after the apply', async () => {
  const r = await lifeboat(['demo', 'openmldb-recoverdata', '--zk', inject('zookeeper'), '--state-dir', stateDir], {
    cwd: base,
  })
  workDir = /^Working directory: (.+)$/m.exec(r.stdout)?.[1]
  expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0)
  const lines = r.stdout.trimEnd().split('\n')
  expect(lines[lines.length - 1]).toBe('2600 of 2600 found')
  expect(r.stdout).toMatch(/^0 of 2600 found$/m)
  const commands = lines.filter((l) => l.startsWith('$ lifeboat ')).map((l) => l.split(' ').slice(2, 4).join(' '))
  const order = [
    'lab up',
    'lab verify',
    'lab fault',
    'lab verify',
    'validate',
    'plan',
    'show',
    'apply',
    'lab verify',
    'audit verify',
    'lab down',
  ]
  let at = 0
  for (const c of commands) if (at < order.length && c.startsWith(order[at])) at++
  expect(at).toBe(order.length)
  expect(r.stdout).toContain('Leaders to assign (12)')
  expect(r.stdout).toContain('Verified: the cluster matches the plan.')
  expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
})
