// `lifeboat demo pegasus-ddd` end to end: the whole narrated journey on the suite's ZooKeeper, once.
// The rows it must end with are computed here from the decrees the demo sets up (src/demo/pegasus-ddd.ts):
// 8 partitions of 1,000 rows; 1.1 served by a replica that prepared up to 920, 1.5 by one that
// prepared up to 870, 1.3 (lossy, max_last_prepared) by one that prepared up to 660.
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, expect, inject, it} from 'vitest'

import {lifeboat, tempDir} from './helpers.js'

const base = tempDir('lifeboat-ddd-demo-test-')
const stateDir = join(base, 'lab')
let workDir: string | undefined

afterAll(async () => {
  // The demo tears its lab down itself; this is only for a demo that died half-way.
  if (existsSync(join(stateDir, 'lab.json'))) await lifeboat(['lab', 'down', '--state-dir', stateDir], {cwd: base})
  rmSync(base, {recursive: true, force: true})
  if (workDir) rmSync(workDir, {recursive: true, force: true})
})

it('runs the whole journey and ends with the rows the decrees leave readable', async () => {
  const r = await lifeboat(['demo', 'pegasus-ddd', '--zk', inject('zookeeper'), '--state-dir', stateDir], {cwd: base})
  workDir = /^Working directory: (.+)$/m.exec(r.stdout)?.[1]
  expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0)
  const expected = 8 * 1000 - (1000 - 920) - (1000 - 870) - (1000 - 660)
  const lines = r.stdout.trimEnd().split('\n')
  expect(lines[lines.length - 1]).toMatch(new RegExp(`^${expected} of 8000 found`))
  // Every step the journey promises, in order.
  const commands = lines.filter((l) => l.startsWith('$ lifeboat ')).map((l) => l.split(' ').slice(2, 4).join(' '))
  const order = [
    'lab up',
    'lab fault',
    'plan',
    'show',
    'apply',
    'lab verify',
    'apply',
    'apply',
    'lab verify',
    'audit verify',
    'lab down',
  ]
  let at = 0
  for (const c of commands) if (at < order.length && c.startsWith(order[at])) at++
  expect(at).toBe(order.length)
  // The refused lossy apply exits 4 and the gate says why.
  expect(r.stdout).toContain('--allow-data-loss was not given')
  // The lab is down, and the audit log the demo wrote is intact.
  expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
  expect(workDir).toBeDefined()
  const audit = readFileSync(join(workDir!, '.lifeboat', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as {event: string})
  expect(audit.filter((a) => a.event === 'gate.refused')).toHaveLength(1)
  expect(audit.filter((a) => a.event === 'run.finished')).toHaveLength(3)
  expect((await lifeboat(['audit', 'verify'], {cwd: workDir!})).code).toBe(0)
})
