// Issue 18, hole 6: a force-unlock while a step runs stops that step's writes at once (not at the
// next step), and apply says exactly what was written: here, nothing (the step was cut before its
// write), with exit 3 and the command that continues.
import {describe, expect, it} from 'vitest'

import {readEffects, runCli, startCli, testStore, waitForAudit, workspace} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

describe('a lock lost mid-step', () => {
  it('aborts the step in flight and names what was written', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      // Long enough that two CLI runs (status, force-unlock) fit before the write, even on a loaded machine.
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '90000'},
    })
    await waitForAudit(ws.audit, 'step.started')
    const status = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    expect(status.locked).toBe(true)
    expect((await runCli(['lock', 'force-unlock', ws.spec, status.lock.id, '--force'], {cwd: ws.dir})).code).toBe(0)
    const ended = await proc.done
    expect(ended.code, ended.stderr).toBe(3)
    expect(ended.stderr).toContain('The apply lock was lost')
    expect(ended.stderr).toContain('Step 01-set-a was stopped when the lock was lost')
    expect(await readEffects(store.client, ws.root)).toEqual({})
  })
})
