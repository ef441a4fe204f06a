// PegasusZkMigration through the real CLI (`lifeboat plan` / `lifeboat apply`), against the lab
// and two real ZooKeepers: an apply killed with SIGKILL in the middle of the copy resumes and
// completes it without losing or duplicating a node, then the operator's restart is confirmed.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {stringify} from 'yaml'

import {compareTrees} from '../../../src/engines/pegasus/zk-migration/steps.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import {startZooKeeper, type RunningZooKeeper} from '../../../src/lab/zookeeper/server.js'
import {connectZk, type ZkClient, type ZkOp} from '../../../src/zk/index.js'
import {runCli, startCli} from '../../cli/helpers.js'
import {scenario, specFor, startLab} from './helpers.js'

const zkA = inject('zookeeper')
let zkB: RunningZooKeeper
let a: ZkClient
let b: ZkClient
let dir: string

beforeAll(async () => {
  zkB = await startZooKeeper({heap: '512m'})
  ;[a, b] = await Promise.all([connectZk({hosts: zkA}), connectZk({hosts: zkB.connectString})])
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-zkm-cli-'))
})
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()])
  await zkB?.stop()
  if (dir) rmSync(dir, {recursive: true, force: true})
})

/** Runs the CLI in a child process, not in this one: the lab's servers live here and must keep answering. */
async function cli(args: string[]): Promise<{status: number | null; out: string}> {
  const r = await runCli(args, {cwd: dir, process: true})
  return {status: r.code, out: r.stdout + r.stderr}
}

/** Adds `groups` x `per` persistent nodes under `<root>/backup` (cold-backup metadata), in multis. */
async function bulk(zk: ZkClient, root: string, groups: number, per: number): Promise<number> {
  const ops: ZkOp[] = [{op: 'create', path: `${root}/backup`, data: Buffer.alloc(0)}]
  for (let g = 0; g < groups; g++) {
    ops.push({op: 'create', path: `${root}/backup/p${g}`, data: Buffer.from(`{"policy":"p${g}"}`)})
    for (let i = 0; i < per; i++)
      ops.push({
        op: 'create',
        path: `${root}/backup/p${g}/b${i}`,
        data: Buffer.from(`{"backup_id":${i},"start":1700000000}`),
      })
  }
  for (let i = 0; i < ops.length; i += 800) {
    await Promise.all(
      [0, 100, 200, 300, 400, 500, 600, 700].map((k) =>
        i + k < ops.length ? zk.multi(ops.slice(i + k, i + k + 100)) : undefined,
      ),
    )
  }
  return ops.length
}

describe('lifeboat apply, copy method, killed with SIGKILL during the copy', () => {
  it('resumes the copy without losing or duplicating a node, then finishes once the operator restarted the meta', async () => {
    const {lab, close} = await startLab(zkA, scenario([{name: 'temp', partitions: 8, replicas: 3, rows: 3000}]))
    try {
      const source = lab.layout.cluster_root
      const target = {hosts: zkB.connectString, root: `/pegasus/${lab.layout.cluster_name}`}
      await bulk(a, source, 200, 100)
      const spec = specFor(lab, 'copy', target)
      const specFile = join(dir, 'spec.yaml')
      writeFileSync(specFile, stringify({...spec, migration: {method: 'copy', target}}))
      const planned = await cli(['plan', specFile, '--out', 'plan.json'])
      expect(planned.out).toContain('03-copy-tree')
      expect(planned.status, planned.out).toBe(0)

      // apply, killed once the copy is well under way.
      const {child, done: exited} = startCli(['apply', 'plan.json', '--auto-approve'], {cwd: dir})
      let killed = false
      for (let i = 0; i < 3000 && !killed; i++) {
        const n = (await b.getChildren(`${target.root}/backup/p30`).catch(() => [])).length
        if (n > 0) {
          child.kill('SIGKILL')
          killed = true
        } else await new Promise((r) => setTimeout(r, 10))
      }
      await exited
      expect(killed).toBe(true)
      const partial = await compareTrees(a, source, b, target.root, true)
      // Cut short: some of the tree is there, some is not, nothing extra.
      expect(partial.targetNodes).toBeGreaterThan(0)
      expect(partial.missing.length).toBeGreaterThan(0)
      expect(partial.extra).toEqual([])

      // The killed run's lock outlives it until its ZooKeeper session expires (test/cli/kill-resume
      // waits for that once); here the operator, knowing the run is dead, removes it.
      const held = JSON.parse((await runCli(['lock', 'status', specFile, '--json'], {cwd: dir})).stdout) as {
        locked: boolean
        lock?: {id: string}
      }
      if (held.locked) {
        const unlocked = await runCli(['lock', 'force-unlock', specFile, held.lock!.id, '--force', '--json'], {
          cwd: dir,
        })
        // The session may expire between status and force-unlock: the lock then frees itself.
        if (unlocked.code !== 0) expect(JSON.parse(unlocked.stdout).error.code, unlocked.stdout).toBe('LOCK_NOT_HELD')
      }
      // Resume: the copy completes; apply stops at the manual switch.
      const resumed = await cli(['apply', 'plan.json', '--resume', '--auto-approve'])
      expect(resumed.status, resumed.out).toBe(3)
      expect(resumed.out).toContain('05-switch-metas-to-target')
      const whole = await compareTrees(a, source, b, target.root, true)
      expect({missing: whole.missing.length, extra: whole.extra.length, differs: whole.differs.length}).toEqual({
        missing: 0,
        extra: 0,
        differs: 0,
      })
      expect(whole.targetNodes).toBe(whole.sourceNodes)
      const audit = readFileSync(join(dir, '.lifeboat', 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as {event: string; data: Record<string, unknown>})
      const copied = audit
        .filter((r) => r.event === 'step.finished' && r.data.step === '03-copy-tree')
        .map((r) => r.data.result as Record<string, number | boolean>)
      expect(copied).toHaveLength(1)
      expect(copied[0]!.resumed).toBe(true)
      expect(Number(copied[0]!.created) + Number(copied[0]!.unchanged) + Number(copied[0]!.updated)).toBe(
        whole.sourceNodes,
      )

      // The operator's part: the meta restarts on the target; a confirmation made before that fails.
      const early = await cli([
        'apply',
        'plan.json',
        '--resume',
        '--auto-approve',
        '--confirm',
        '05-switch-metas-to-target',
      ])
      expect(early.status).not.toBe(0)
      expect(early.out).toContain(`reports zookeeper_hosts ${zkA}`)
      await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
      const done = await cli([
        'apply',
        'plan.json',
        '--resume',
        '--auto-approve',
        '--confirm',
        '05-switch-metas-to-target',
      ])
      expect(done.status, done.out).toBe(0)
      const rows = await verifyRows(lab.leader()!.address, lab.layout.tables)
      expect(rows).toMatchObject({found: 3000, total: 3000})
    } finally {
      await close()
    }
  })
})
