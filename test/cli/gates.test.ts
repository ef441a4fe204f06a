// Through the real binary: every refusal of the gates happens before any write, with exit 4;
// a plan with error findings is refused. (Signed approvals are tested in test/gates/.)

import {describe, expect, it} from 'vitest'

import {auditRecords, readEffects, readStore, runCli, setKey, testStore, workspace} from './helpers.js'

const store = testStore()
const zk = store.zk

async function expectUntouched(root: string, before: Record<string, string>): Promise<void> {
  expect(await readStore(store.client, root)).toEqual(before)
  expect(await readEffects(store.client, root)).toEqual({})
}

describe('gates', () => {
  it('without a terminal and without --auto-approve, exits 4 before any write', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    const fromSpec = await runCli(['apply', ws.spec], {cwd: ws.dir})
    expect(fromSpec.code).toBe(4)
    expect(fromSpec.stdout).toContain('kv:a will be created')
    expect(fromSpec.stderr).toContain('Error: apply needs approval, and there is no terminal to ask at')
    expect(fromSpec.stderr).toContain('--auto-approve')
    await expectUntouched(ws.root, {})

    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const fromPlan = await runCli(['apply', 'plan.json', '--json'], {cwd: ws.dir})
    expect(fromPlan.code).toBe(4)
    expect(JSON.parse(fromPlan.stdout)).toMatchObject({error: {code: 'APPROVAL_REQUIRED', exit: 4}})
    await expectUntouched(ws.root, {})
    const refused = auditRecords(ws.audit).filter((r) => r.event === 'gate.refused')
    expect(refused).toHaveLength(2)
    expect(auditRecords(ws.audit).some((r) => r.event === 'step.started')).toBe(false)
  })

  it('with a lossy step, --auto-approve alone exits 4; --allow-data-loss lets it run', async () => {
    const ws = workspace(zk, 'set: {a: "new"}\nrisk: {a: lossy}')
    await setKey(store.client, ws.root, 'a', 'precious')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const r = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(r.code).toBe(4)
    expect(r.stderr).toContain('may lose data, and --allow-data-loss was not given')
    expect(r.stderr).toContain('01-set-a')
    await expectUntouched(ws.root, {a: 'precious'})

    const ok = await runCli(['apply', 'plan.json', '--auto-approve', '--allow-data-loss'], {cwd: ws.dir})
    expect(ok.code, ok.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: 'new'})
    const passed = auditRecords(ws.audit).find((r) => r.event === 'gate.passed')
    expect(passed?.data).toMatchObject({gate: 'plan', how: '--auto-approve --allow-data-loss'})
  })

  // Approvals counted toward approval.approvers are signed: see test/gates/signed-approvals.test.ts.

  it('an applied spec cannot carry approvals: it says how to collect them', async () => {
    const ws = workspace(zk, 'set: {a: "1"}\nrisk: {a: disruptive}', 'approval:\n  approvers: {disruptive: 1}')
    const r = await runCli(['apply', ws.spec, '--auto-approve'], {cwd: ws.dir})
    expect(r.code).toBe(4)
    expect(r.stderr).toContain('lifeboat plan SPEC --out plan.json')
    await expectUntouched(ws.root, {})
  })

  it('refuses a plan with error findings', async () => {
    const ws = workspace(
      zk,
      'set: {a: "1"}\nfindings: [{code: TESTKV_BROKEN, severity: error, message: the store is on fire}]',
    )
    const planned = await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})
    expect(planned.code).toBe(1)
    expect(planned.stderr).toContain('apply refuses it')
    const r = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('the plan has 1 error and cannot be applied')
    expect(r.stderr).toContain('TESTKV_BROKEN: the store is on fire')
    await expectUntouched(ws.root, {})
  })
})
