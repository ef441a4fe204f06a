// Through the real binary: a saved plan refused once the cluster changed (exit 5, nothing written)
// and applied when it did not; two applies at once; a lock file left by a dead process.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  auditRecords,
  readEffects,
  readStore,
  runCli,
  setKey,
  startCli,
  testStore,
  waitForAudit,
  workspace,
} from './helpers.js'

const store = testStore()
const zk = store.zk

describe('saved plans and the stale check', () => {
  it('refuses a saved plan after the store changed, writing nothing, and applies one that still matches', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    await setKey(store.client, ws.root, 'a', 'old')
    const planned = await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})
    expect(planned.code, planned.stderr).toBe(0)
    expect(planned.stdout).toContain('lifeboat apply plan.json')

    // Someone changes the store after the plan was made.
    await setKey(store.client, ws.root, 'a', 'changed-meanwhile')
    const stale = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(stale.code, stale.stderr).toBe(5)
    expect(stale.stderr).toContain('Error: Saved plan is stale')
    expect(stale.stderr).toContain('Nothing was written')
    // The readable difference names what moved.
    expect(stale.stderr).toContain('observed.fingerprint')
    expect(stale.stderr).toMatch(/changes\[kv:a\]\.before: "old" → "changed-meanwhile"/)
    expect(stale.stderr).not.toMatch(/\n\s+at /)
    expect(await readStore(store.client, ws.root)).toEqual({a: 'changed-meanwhile'})
    expect(await readEffects(store.client, ws.root)).toEqual({})
    const events = auditRecords(ws.audit).map((r) => r.event)
    expect(events).toContain('plan.stale')
    expect(events).not.toContain('step.started')
    expect(auditRecords(ws.audit).at(-1)).toMatchObject({event: 'run.finished', data: {status: 'stale'}})

    // A new plan of the same spec, applied unchanged, runs.
    expect((await runCli(['plan', ws.spec, '--out', 'plan2.json'], {cwd: ws.dir})).code).toBe(0)
    const applied = await runCli(['apply', 'plan2.json', '--auto-approve'], {cwd: ws.dir})
    expect(applied.code, applied.stderr).toBe(0)
    expect(applied.stdout).toContain('Apply complete!')
    expect(applied.stdout).toContain('[1/2] 01-set-a: running')
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1, '02-set-b': 1})

    // Applying the same plan again is stale: the store moved on.
    expect((await runCli(['apply', 'plan2.json', '--auto-approve'], {cwd: ws.dir})).code).toBe(5)
  })

  it('refuses an edited plan file without touching the store', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const path = join(ws.dir, 'plan.json')
    const plan = JSON.parse((await import('node:fs')).readFileSync(path, 'utf8'))
    plan.steps[0].params.value = 'evil'
    writeFileSync(path, JSON.stringify(plan, null, 2))
    const r = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('was changed after it was made')
    expect(await readStore(store.client, ws.root)).toEqual({})
  })
})

describe('the apply lock', () => {
  it("makes a second apply fail at once with the holder's who, when and what", async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    // The first apply pauses inside its step (far longer than the test: it is killed at the end), so it
    // holds the lock while the second one starts, however busy the machine is.
    const first = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '3600000'},
    })
    await waitForAudit(ws.audit, 'step.started')

    const status = await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})
    expect(status.code, status.stderr).toBe(0)
    const held = JSON.parse(status.stdout)
    expect(held).toMatchObject({cluster: ws.cluster, locked: true, lock: {operation: 'apply', kind: 'zookeeper'}})

    const second = await runCli(['apply', 'plan.json', '--auto-approve', '--audit-log', 'other.jsonl'], {cwd: ws.dir})
    expect(second.code, second.stderr).toBe(1)
    expect(second.stderr).toContain(`locked by ${held.lock.who} (apply, since ${held.lock.created})`)
    expect(second.stderr).toContain(`ID:        ${held.lock.id}`)
    expect(second.stderr).toMatch(/Plan:\s+[0-9a-f]{64}/)
    expect(second.stderr).toContain('lifeboat lock force-unlock SPEC')
    // "At once": the first apply is still in its first step when the second has already given up.
    expect(first.child.exitCode).toBeNull()
    expect(await readEffects(store.client, ws.root)).toEqual({})
    first.child.kill('SIGKILL')
    await first.done
  })

  it('reports a lock file left by a dead process and never steals it; force-unlock removes it', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    const lockFile = join(ws.dir, 'cluster.lock')
    ws.writeSpec('set: {a: "1"}')
    // Same spec with a lock file instead of the ZooKeeper lock.
    const text = (await import('node:fs'))
      .readFileSync(ws.spec, 'utf8')
      .replace('  zookeeper:', `  lock_file: ${lockFile}\n  zookeeper:`)
    writeFileSync(ws.spec, text)
    // A process that has exited: its PID is not running any more.
    const dead = startCli(['--version'], {cwd: ws.dir})
    await dead.done
    const id = 'c0ffee00-0000-4000-8000-000000000001'
    writeFileSync(
      lockFile,
      JSON.stringify({
        id,
        operation: 'apply',
        who: 'ghost@nowhere',
        created: '2026-01-01T00:00:00.000Z',
        pid: dead.child.pid,
        host: (await import('node:os')).hostname(),
      }),
    )

    const refused = await runCli(['apply', ws.spec, '--auto-approve'], {cwd: ws.dir})
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain('locked by ghost@nowhere')
    expect(refused.stderr).toContain('no longer running')
    expect(refused.stderr).toContain(`lifeboat lock force-unlock SPEC ${id}`)
    expect(await readStore(store.client, ws.root)).toEqual({})

    const wrongId = await runCli(['lock', 'force-unlock', ws.spec, 'not-the-id', '--force'], {cwd: ws.dir})
    expect(wrongId.code).toBe(1)
    expect(wrongId.stderr).toContain('does not match')
    const noTty = await runCli(['lock', 'force-unlock', ws.spec, id], {cwd: ws.dir})
    expect(noTty.code).toBe(4)
    expect(noTty.stderr).toContain('two runs write to the cluster at once')

    const unlocked = await runCli(['lock', 'force-unlock', ws.spec, id, '--force'], {cwd: ws.dir})
    expect(unlocked.code, unlocked.stderr).toBe(0)
    expect(unlocked.stdout).toContain('successfully force-unlocked')
    const applied = await runCli(['apply', ws.spec, '--auto-approve'], {cwd: ws.dir})
    expect(applied.code, applied.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: '1'})
  })
})
