// Through the real binary (issue 18): drift in the part of a plan not yet written is refused.
// - A resume after a partial write: the engine judges the facts the steps left depend on
//   (Engine.driftOf); a key changed behind the plan's back -> exit 5, nothing more written.
// - A later disruptive step: checked right before it starts; drift while the earlier steps ran ->
//   exit 5 naming the step and what changed, the step not started.
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
} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

describe('drift in what is left to do', () => {
  it('a resume after a partial write refuses a key changed in the part not yet written: exit 5, nothing more written', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2", c: "3"}')
    await setKey(store.client, ws.root, 'c', 'old')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '600'},
    })
    await waitForAudit(ws.audit, 'step.finished', '01-set-a')
    proc.child.kill('SIGKILL')
    await proc.done
    const status = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    if (status.locked) await runCli(['lock', 'force-unlock', ws.spec, status.lock.id, '--force'], {cwd: ws.dir})

    // Someone changes c, which the plan has not written yet.
    await setKey(store.client, ws.root, 'c', 'changed-behind')
    const before = {store: await readStore(store.client, ws.root), effects: await readEffects(store.client, ws.root)}
    const r = await runCli(['apply', 'plan.json', '--resume', '--auto-approve'], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain('Saved plan is stale')
    expect(r.stderr).toMatch(
      /What changed in the cluster since the plan was made:\n\s+- key c changed since the plan was made/,
    )
    expect(r.stderr).toContain('wrote part of it')
    expect(await readStore(store.client, ws.root)).toEqual(before.store)
    expect(await readEffects(store.client, ws.root)).toEqual(before.effects)
    expect(
      auditRecords(ws.audit)
        .filter((x) => x.event === 'plan.stale')
        .at(-1)?.data.drift,
    ).toEqual([expect.stringContaining('key c changed')])
  })

  it('an honest resume after a partial write still applies what is left', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    await setKey(store.client, ws.root, 'b', 'old')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '600'},
    })
    await waitForAudit(ws.audit, 'step.finished', '01-set-a')
    proc.child.kill('SIGKILL')
    await proc.done
    const status = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    if (status.locked) await runCli(['lock', 'force-unlock', ws.spec, status.lock.id, '--force'], {cwd: ws.dir})
    const ok = await runCli(['apply', 'plan.json', '--resume', '--auto-approve'], {cwd: ws.dir})
    expect(ok.code, ok.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
  })

  it('a later disruptive step is checked right before it: drift meanwhile -> exit 5 naming the step, not started', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}\nrisk: {b: disruptive}')
    await setKey(store.client, ws.root, 'b', 'old')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '1500'},
    })
    // The first step has started (the plan was found current); b changes while it runs.
    await waitForAudit(ws.audit, 'step.started', '01-set-a')
    await setKey(store.client, ws.root, 'b', 'changed-meanwhile')
    const r = await proc.done
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain('Saved plan is stale at step 02-set-b')
    expect(r.stderr).toContain('key b changed since the plan was made')
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: 'changed-meanwhile'})
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1})
    const events = auditRecords(ws.audit).map((x) => `${x.event} ${String(x.data.step ?? '')}`.trim())
    expect(events).not.toContain('step.started 02-set-b')
    expect(events).toContain('step.failed 02-set-b')
  })
})
