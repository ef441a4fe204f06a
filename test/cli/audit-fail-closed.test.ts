// Through the real binary: when the audit log cannot be written any more, apply stops before the
// next write to the cluster (fail closed) and releases its lock.
import {mkdirSync, rmSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {auditRecords, readEffects, runCli, startCli, testStore, waitFor, workspace} from './helpers.js'

const store = testStore()
const zk = store.zk

describe('audit log failure', () => {
  it('stops the run before its next write and releases the lock', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '800'},
    })
    await waitFor('step 01 to start', () => auditRecords(ws.audit).find((r) => r.event === 'step.started'))
    // The log becomes unwritable while step 01 runs: its path is now a directory.
    rmSync(ws.audit)
    mkdirSync(ws.audit)
    const r = await proc.done
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Could not write to the audit log')
    expect(r.stderr).toContain('fail closed')
    // Step 01 may have written (its record came first); step 02 never ran.
    const effects = await readEffects(store.client, ws.root)
    expect(effects['02-set-b']).toBeUndefined()
    const lock = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    expect(lock.locked).toBe(false)
  })
})
