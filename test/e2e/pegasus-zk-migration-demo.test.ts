// `lifeboat demo pegasus-zk-migration` end to end: both methods, each on a fresh lab whose first
// ZooKeeper is the suite's (--zk) and whose second the lab starts, unattended, once.
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, expect, inject, it} from 'vitest'

import {lifeboat, tempDir} from './helpers.js'

const base = tempDir('lifeboat-zkm-demo-test-')
const stateDir = join(base, 'lab')
let workDir: string | undefined

afterAll(async () => {
  // The demo tears its lab down itself; this is only for a demo that died half-way.
  if (existsSync(join(stateDir, 'lab.json'))) await lifeboat(['lab', 'down', '--state-dir', stateDir], {cwd: base})
  rmSync(base, {recursive: true, force: true})
  if (workDir) rmSync(workDir, {recursive: true, force: true})
})

it('moves the metadata by copy, then by recovery on a fresh lab, and ends each with every row found', async () => {
  const r = await lifeboat(['demo', 'pegasus-zk-migration', '--zk', inject('zookeeper'), '--state-dir', stateDir], {
    cwd: base,
    timeoutMs: 280_000,
  })
  workDir = /^Working directory: (.+)$/m.exec(r.stdout)?.[1]
  expect(r.code, r.stdout.slice(-3000) + r.stderr).toBe(0)
  const lines = r.stdout.trimEnd().split('\n')
  expect(lines.slice(-2)).toEqual(['copy method: 10000 of 10000 found', 'recovery method: 10000 of 10000 found'])

  // Every command, printed as `$ lifeboat ...`, in the journey's order; the operator's part with the real target.
  const commands = lines.filter((l) => l.startsWith('$ lifeboat ')).map((l) => l.slice('$ lifeboat '.length))
  const target = /^lab fault restart-meta --zk (127\.0\.0\.1:\d+) --root (\/\S+) --no-recover/m.exec(
    commands.join('\n'),
  )
  expect(target).not.toBeNull()
  const order = [
    'lab up pegasus-zk-migration',
    'lab verify',
    'validate',
    'plan',
    'apply plan-copy.json --auto-approve --confirm 01-stop-follower-metas',
    'lab fault restart-meta --zk',
    'apply plan-copy.json --resume --auto-approve --confirm 05-switch-metas-to-target',
    'lab verify',
    'lab down',
    'lab up pegasus-zk-migration',
    'plan',
    'apply plan-recovery.json --auto-approve',
    'lab fault restart-meta --zk',
    'apply plan-recovery.json --resume --auto-approve --confirm 02-restart-meta-in-recovery-mode',
    'lab fault restart-meta --zk',
    'apply plan-recovery.json --resume --auto-approve --confirm 05-restart-metas-normal-mode',
    'lab verify',
    'audit verify',
    'lab down',
  ]
  let at = 0
  for (const c of commands) if (at < order.length && c.startsWith(order[at]!)) at++
  expect(order.slice(at), commands.join('\n')).toEqual([])
  expect(r.stdout).toMatch(/--recover --state-dir/)
  // Both methods verified on the lab, each ending with every row.
  expect(r.stdout.match(/^10000 of 10000 found$/gm)!.length).toBeGreaterThanOrEqual(4)
  expect(r.stdout.match(/Verified: the cluster matches the plan\./g)).toHaveLength(2)

  // The lab is down, and the audit log holds both migrations, intact.
  expect(existsSync(join(stateDir, 'lab.json'))).toBe(false)
  expect(workDir).toBeDefined()
  const audit = readFileSync(join(workDir!, '.lifeboat', 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as {event: string; data: {status?: string}})
  expect(audit.filter((a) => a.event === 'run.finished').map((a) => a.data.status)).toEqual([
    'stopped',
    'succeeded',
    'stopped',
    'stopped',
    'succeeded',
  ])
  expect((await lifeboat(['audit', 'verify'], {cwd: workDir!})).code).toBe(0)
})
