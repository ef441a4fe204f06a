// Through the real binary: `lifeboat policy set` stores a minimum approval policy in the cluster's
// ZooKeeper; a spec without approvers cannot lower it (apply exit 4, nothing written), lowering
// it needs --allow-lower, and `policy show` says what apply enforces.
import {describe, expect, it} from 'vitest'

import {readStore, runCli, setKey, testStore, workspace} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

describe('the cluster minimum policy', () => {
  it('is enforced over a spec that asks for nobody', async () => {
    const ws = workspace(zk, 'set: {a: "new"}\nrisk: {a: lossy}')
    await setKey(store.client, ws.root, 'a', 'precious')
    const set = await runCli(['policy', 'set', ws.spec, '--lossy', '2'], {cwd: ws.dir})
    expect(set.code, set.stderr).toBe(0)
    const shown = JSON.parse((await runCli(['policy', 'show', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    expect(shown).toMatchObject({cluster_policy: {lossy: 2}, spec_policy: {}, enforced: {lossy: 2}})
    const lower = await runCli(['policy', 'set', ws.spec, '--lossy', '0'], {cwd: ws.dir})
    expect(lower.code).toBe(1)
    expect(lower.stderr).toContain('--allow-lower')

    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const r = await runCli(['apply', 'plan.json', '--auto-approve', '--allow-data-loss'], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toContain('names no allowed-signers file')
    const direct = await runCli(['apply', ws.spec, '--auto-approve', '--allow-data-loss'], {cwd: ws.dir})
    expect(direct.code, direct.stderr).toBe(4)
    expect(direct.stderr).toContain('needs 2 distinct approvals')
    expect(await readStore(store.client, ws.root)).toEqual({a: 'precious'})
  })
})
