// Through the real binary: every file argument (spec, plan, --out, --audit-log, approve) refuses a
// FIFO, a file under /proc, a device and a symlink to a device with an error, never a hang, and
// `plan --out` / `approve` never replace a device.
import {spawnSync} from 'node:child_process'
import {lstatSync, statSync, symlinkSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {runCli, testStore, workspace, type Workspace} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

interface Bad {
  kind: string
  path: string
}

/** A FIFO, a /proc file, a device and a symlink to a device, in (or reached from) the workspace. */
function badPaths(ws: Workspace): Bad[] {
  const fifo = join(ws.dir, 'fifo')
  expect(spawnSync('mkfifo', [fifo]).status).toBe(0)
  const link = join(ws.dir, 'link-to-device')
  symlinkSync('/dev/zero', link)
  return [
    {kind: 'fifo', path: fifo},
    {kind: 'proc', path: '/proc/self/status'},
    {kind: 'device', path: '/dev/zero'},
    {kind: 'symlink to a device', path: link},
  ]
}

/** Each command line naming a file, with `P` standing for the bad path. */
const COMMANDS: Array<{name: string; argv: (ws: Workspace, p: string) => string[]}> = [
  {name: 'validate SPEC', argv: (_ws, p) => ['validate', p]},
  {name: 'plan SPEC', argv: (_ws, p) => ['plan', p]},
  {name: 'apply SPEC-OR-PLAN', argv: (_ws, p) => ['apply', p, '--auto-approve']},
  {name: 'show PLAN', argv: (_ws, p) => ['show', p]},
  {name: 'approve PLAN', argv: (_ws, p) => ['approve', p, '--as', 'alice']},
  {name: 'apply --audit-log', argv: (_ws, p) => ['apply', 'plan.json', '--auto-approve', '--audit-log', p]},
  {name: 'approve --audit-log', argv: (_ws, p) => ['approve', 'plan.json', '--as', 'alice', '--audit-log', p]},
  {name: 'audit verify --audit-log', argv: (_ws, p) => ['audit', 'verify', '--audit-log', p]},
  {name: 'audit show --audit-log', argv: (_ws, p) => ['audit', 'show', '--audit-log', p]},
  {name: 'plan --out', argv: (ws, p) => ['plan', ws.spec, '--out', p]},
]

describe('only regular files', () => {
  it('every file argument refuses a FIFO, /proc, a device and a symlink to a device', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const bad = badPaths(ws)
    const failures: string[] = []
    const cases = COMMANDS.flatMap((c) => bad.map((b) => ({c, b})))
    // A hang would time the whole test out (40 runs of the binary: generous on a loaded two-core machine).
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ({c, b}) => {
          const r = await runCli(c.argv(ws, b.path), {cwd: ws.dir})
          const said = `${r.stdout}\n${r.stderr}`
          if (r.code !== 1 || !/not a regular file|under \/proc|FIFO|device/i.test(said) || /\n\s+at /.test(r.stderr)) {
            failures.push(`${c.name} with a ${b.kind}: exit ${r.code}\n${said.slice(0, 600)}`)
          }
        }),
      )
    }
    expect(failures).toEqual([])
    // Nothing reached the cluster, and the lock is free.
    const lock = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    expect(lock.locked).toBe(false)
    expect(statSync('/dev/zero').isCharacterDevice()).toBe(true)
    expect(lstatSync(join(ws.dir, 'fifo')).isFIFO()).toBe(true)
  })

  it('plan --out and approve never replace a device node', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    const dev = join(ws.dir, 'full')
    // A private copy of /dev/full (char 1,7): the test never risks the real one.
    expect(spawnSync('mknod', [dev, 'c', '1', '7']).status).toBe(0)
    const out = await runCli(['plan', ws.spec, '--out', dev], {cwd: ws.dir})
    expect(out.code).toBe(1)
    expect(out.stderr).toContain('character device')
    expect(lstatSync(dev).isCharacterDevice()).toBe(true)
    const approve = await runCli(['approve', dev, '--as', 'alice'], {cwd: ws.dir})
    expect(approve.code).toBe(1)
    expect(lstatSync(dev).isCharacterDevice()).toBe(true)
  })
})
