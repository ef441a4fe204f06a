// Through the real binary (issue 18, hole 2): the approval policy comes from the spec file, not
// from the copy inside the plan. A plan whose embedded spec lost its `approval:` (digest
// recomputed, as anyone can) is refused with exit 4 and nothing written.
import {createHash} from 'node:crypto'
import {readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {planDigest} from '../../src/plan/build.js'
import type {Plan} from '../../src/plan/types.js'
import {readStore, runCli, testStore, workspace} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

function rewrite(path: string, edit: (plan: Plan) => void): void {
  const plan = JSON.parse(readFileSync(path, 'utf8')) as Plan
  edit(plan)
  plan.digest = planDigest(plan)
  writeFileSync(path, JSON.stringify(plan, null, 2))
}

function withoutApproval(plan: Plan): void {
  delete (plan.spec.document as Record<string, unknown>).approval
}

describe('the approval policy is read from the spec file', () => {
  const POLICY = 'approval:\n  approvers: {safe: 1}\n  allowed_signers: signers'

  it('an embedded spec stripped of approval: (source, sha256, digest recomputed) is refused: exit 4', async () => {
    const ws = workspace(zk, 'set: {a: "1"}', POLICY)
    writeFileSync(join(ws.dir, 'signers'), '# nobody yet\n')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const honest = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(honest.code).toBe(4)
    expect(honest.stderr).toContain('needs 1 distinct approvals')

    rewrite(join(ws.dir, 'plan.json'), (plan) => {
      withoutApproval(plan)
      plan.spec.source = plan.spec.source.replace(/approval:\n( {2}.*\n?)*/, '')
      plan.spec.sha256 = createHash('sha256').update(plan.spec.source).digest('hex')
    })
    const forged = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(forged.code, forged.stderr).toBe(4)
    expect(forged.stderr).toContain('differs from the spec this plan was made from')
    expect(await readStore(store.client, ws.root)).toEqual({})
  })

  it("an edited document with the source left alone still gets the file's policy; a source edited alone is caught", async () => {
    const ws = workspace(zk, 'set: {a: "1"}', POLICY)
    writeFileSync(join(ws.dir, 'signers'), '# nobody yet\n')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const plan = join(ws.dir, 'plan.json')
    rewrite(plan, withoutApproval)
    const r = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toContain('needs 1 distinct approvals')

    rewrite(plan, (p) => {
      p.spec.source = p.spec.source.replace(/approval:\n( {2}.*\n?)*/, '')
    })
    const s = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(s.code, s.stderr).toBe(4)
    expect(s.stderr).toContain('does not hash to the plan')
    expect(await readStore(store.client, ws.root)).toEqual({})
  })

  it('a missing spec file is refused with a hint to pass --spec; --spec names the reviewed copy', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const moved = join(ws.dir, 'reviewed.yaml')
    renameSync(ws.spec, moved)
    const missing = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(missing.code, missing.stderr).toBe(4)
    expect(missing.stderr).toContain('--spec FILE')
    const ok = await runCli(['apply', 'plan.json', '--auto-approve', '--spec', moved], {cwd: ws.dir})
    expect(ok.code, ok.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: '1'})
  })
})
