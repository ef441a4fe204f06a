// Through the real binary: apply is killed with SIGKILL at every step boundary (after a step's
// start record, after its write but before its finish record, after its finish record, and while
// verifying), each time resumed with `apply --resume`. Every step's write happens exactly once
// overall, the store ends right, and the audit chain verifies with the interruptions visible.
import {describe, expect, it} from 'vitest'

import {auditRecords, readEffects, readStore, runCli, startCli, testStore, waitFor, workspace} from './helpers.js'

const store = testStore()
const zk = store.zk

const STEPS = ['01-set-a', '02-set-b', '03-delete-c']
// Long enough that a kill sent on seeing a record lands inside the pause that follows it.
const DELAY = {LIFEBOAT_TEST_STEP_DELAY_MS: '600'}

type Boundary = {what: string; reached: (ws: {audit: string; root: string}, run: string) => Promise<boolean>}

function record(event: string | string[], step?: string): Boundary['reached'] {
  const events = Array.isArray(event) ? event : [event]
  return async (ws, run) =>
    auditRecords(ws.audit).some(
      (r) => r.run === run && events.includes(r.event) && (step === undefined || r.data.step === step),
    )
}

const boundaries: Boundary[] = STEPS.flatMap((step): Boundary[] => [
  {what: `after ${step} started`, reached: record('step.started', step)},
  {
    what: `after ${step} wrote, before its record`,
    reached: async (ws) => (await readEffects(store.client, ws.root))[step] === 1,
  },
  {what: `after ${step} ended`, reached: record(['step.finished', 'step.skipped'], step)},
])
// The run before was killed right after its last step, so this one has every step done earlier:
// once past its gate it is verifying (the test engine pauses there too).
boundaries.push({what: 'while verifying', reached: record('gate.passed')})

/** The id of the run the process with this pid started (it records its pid in run.started). */
function runOf(audit: string, pid: number): string | undefined {
  return auditRecords(audit).find((r) => r.event === 'run.started' && r.data.pid === pid)?.run
}

describe('kill -9 at every step boundary, then apply --resume', () => {
  it('runs every step exactly once overall and leaves a verifiable, readable audit trail', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2", c: null}')
    // c exists before, so that one step deletes.
    await store.client.mkdirp(`${ws.root}/data/c`)
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)

    let args = ['apply', 'plan.json', '--auto-approve']
    for (const [i, boundary] of boundaries.entries()) {
      const proc = startCli(args, {cwd: ws.dir, env: DELAY})
      const pid = proc.child.pid!
      // After the first kill the resumed run waits for the dead session's lock to expire (up to the
      // 30 s lock session) before it records run.started.
      const run = await waitFor(`run.started of pid ${pid}`, () => runOf(ws.audit, pid), 90_000)
      await waitFor(boundary.what, async () => ((await boundary.reached(ws, run)) ? true : undefined))
      proc.child.kill('SIGKILL')
      const ended = await proc.done
      expect(ended.signal, `${boundary.what}: ${ended.stderr}`).toBe('SIGKILL')

      // The dead run's ephemeral lock outlives it until its ZooKeeper session expires. Once, wait
      // for that; otherwise the operator, knowing the run is dead, force-unlocks it.
      const status = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
      if (i === 0) {
        args = ['apply', 'plan.json', '--resume', '--auto-approve', '--lock-timeout', '90s']
      } else {
        if (status.locked) {
          expect(status.lock.plan).toMatch(/^[0-9a-f]{64}$/)
          const unlocked = await runCli(['lock', 'force-unlock', ws.spec, status.lock.id, '--force', '--json'], {
            cwd: ws.dir,
          })
          // The dead session may expire between status and force-unlock: the lock then frees itself.
          if (unlocked.code !== 0) expect(JSON.parse(unlocked.stdout).error.code, unlocked.stdout).toBe('LOCK_NOT_HELD')
        }
        args = ['apply', 'plan.json', '--resume', '--auto-approve']
      }
      // No step ever ran twice, whatever the boundary.
      for (const count of Object.values(await readEffects(store.client, ws.root))) expect(count).toBe(1)
    }

    const last = await runCli(args, {cwd: ws.dir})
    expect(last.code, last.stderr).toBe(0)
    expect(last.stdout).toContain('Verified: the cluster matches the plan.')
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
    expect(await readEffects(store.client, ws.root)).toEqual(Object.fromEntries(STEPS.map((s) => [s, 1])))

    // Every resume names the run it continues.
    const records = auditRecords(ws.audit)
    expect(records.filter((r) => r.event === 'run.resumed')).toHaveLength(boundaries.length)
    expect(records.at(-1)).toMatchObject({event: 'run.finished', data: {status: 'succeeded'}})
    // A step whose write happened before the kill but whose record did not is skipped, not repeated.
    expect(records.some((r) => r.event === 'step.skipped' && r.data.reason === 'already done')).toBe(true)

    const verified = await runCli(['audit', 'verify', '--audit-log', ws.audit], {cwd: ws.dir})
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    const shown = await runCli(['audit', 'show', '--audit-log', ws.audit], {cwd: ws.dir})
    expect(shown.code, shown.stderr).toBe(0)
    expect(shown.stdout).toContain('INTERRUPTED')
    expect(shown.stdout).toContain('resumed by run')
  })

  it('--resume with nothing to resume says so', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const none = await runCli(['apply', 'plan.json', '--resume'], {cwd: ws.dir})
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('no earlier run of this plan')
    expect((await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})).code).toBe(0)
    const done = await runCli(['apply', 'plan.json', '--resume'], {cwd: ws.dir})
    expect(done.code).toBe(1)
    expect(done.stderr).toContain('already applied completely')
  })
})
