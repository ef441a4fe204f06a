// Through the real binary: resume is a fresh apply of the steps left (issue 18, hole 3), and the
// plan is checked once more right after the approval prompt (hole 4). Each attack ends in a
// refusal (exit 4 or 5) with nothing written; an honest resume after a kill still applies.
import {randomUUID} from 'node:crypto'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {openAuditLog} from '../../src/audit/log.js'
import {
  auditRecords,
  createNodeCommand,
  readEffects,
  readStore,
  runCli,
  runInPty,
  setKey,
  startCli,
  testStore,
  waitForAudit,
  workspace,
} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

function planDigestOf(ws: {dir: string}): Promise<string> {
  return import('node:fs/promises').then(
    async (fs) => JSON.parse(await fs.readFile(join(ws.dir, 'plan.json'), 'utf8')).digest as string,
  )
}

/** A log that verifies and says a run of this plan started and passed its gate: what an attacker writes. */
async function forgedLog(path: string, digest: string): Promise<void> {
  const log = await openAuditLog(path, {run: randomUUID(), actor: 'mallory', host: 'nowhere'})
  await log.append('run.started', {
    argv: ['apply'],
    toolVersion: '0',
    spec: {sha256: '0'.repeat(64), kind: 'TestKV', name: 'x'},
    planDigest: digest,
    cluster: 'x',
    lock: {id: 'x', kind: 'zookeeper', where: 'x'},
    pid: 1,
  })
  await log.append('gate.passed', {gate: 'plan', how: '--auto-approve', by: 'mallory', approvals: []})
}

describe('resume passes the gates again', () => {
  it('a forged log that "passed the gate" grants nothing: no terminal, no --auto-approve -> exit 4, nothing written', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const forged = join(ws.dir, 'forged.jsonl')
    await forgedLog(forged, await planDigestOf(ws))
    const r = await runCli(['apply', 'plan.json', '--resume', '--audit-log', forged], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toContain('there is no terminal to ask at')
    expect(await readStore(store.client, ws.root)).toEqual({})
  })

  it('a forged log does not skip the stale check: drift -> exit 5, nothing written', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    await setKey(store.client, ws.root, 'z', 'drift')
    const forged = join(ws.dir, 'forged.jsonl')
    await forgedLog(forged, await planDigestOf(ws))
    const r = await runCli(['apply', 'plan.json', '--resume', '--auto-approve', '--audit-log', forged], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain('Saved plan is stale')
    expect(await readStore(store.client, ws.root)).toEqual({z: 'drift'})
  })

  it('after a kill part-way: a lossy step left needs --allow-data-loss again, an honest resume applies', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2", c: "3"}\nrisk: {c: lossy}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve', '--allow-data-loss'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '600'},
    })
    await waitForAudit(ws.audit, 'step.finished')
    proc.child.kill('SIGKILL')
    await proc.done
    const status = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    if (status.locked) await runCli(['lock', 'force-unlock', ws.spec, status.lock.id, '--force'], {cwd: ws.dir})
    const afterKill = await readEffects(store.client, ws.root)
    expect(Object.keys(afterKill).length).toBeGreaterThanOrEqual(1)

    // The lossy step is still to run: --auto-approve alone is refused, whatever the first run passed.
    const noLoss = await runCli(['apply', 'plan.json', '--resume', '--auto-approve'], {cwd: ws.dir})
    expect(noLoss.code, noLoss.stderr).toBe(4)
    expect(noLoss.stderr).toContain('--allow-data-loss was not given')
    expect(await readEffects(store.client, ws.root)).toEqual(afterKill)

    // Honest: the resume applies what is left.
    const ok = await runCli(['apply', 'plan.json', '--resume', '--auto-approve', '--allow-data-loss'], {cwd: ws.dir})
    expect(ok.code, ok.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2', c: '3'})
    for (const n of Object.values(await readEffects(store.client, ws.root))) expect(n).toBe(1)
  })
})

describe('the check right before the first write', () => {
  it('drift while the operator reads the prompt is refused after yes: exit 5, nothing written', () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    const r = runInPty(['apply', ws.spec], [['Enter a value:', 'yes', createNodeCommand(zk, `${ws.root}/data/zz`)]], {
      cwd: ws.dir,
    })
    expect(r.code, r.stdout).toBe(5)
    expect(r.stdout).toContain('after the approval prompt')
    return readStore(store.client, ws.root).then((s) => expect(s).toEqual({zz: ''}))
  })
})

describe('a saved plan with no changes', () => {
  it('is re-checked under the lock and audited; when the cluster has changed it is stale (exit 5)', async () => {
    const ws = workspace(zk, 'set: {a: "1"}')
    await setKey(store.client, ws.root, 'a', '1')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const same = await runCli(['apply', 'plan.json'], {cwd: ws.dir})
    expect(same.code, same.stderr).toBe(0)
    expect(same.stdout).toContain('Re-checked just now')
    expect(auditRecords(ws.audit).map((r) => r.event)).toEqual(
      expect.arrayContaining(['run.started', 'plan.computed', 'run.finished']),
    )

    await setKey(store.client, ws.root, 'a', 'broken')
    const changed = await runCli(['apply', 'plan.json'], {cwd: ws.dir})
    expect(changed.code, changed.stderr).toBe(5)
    expect(changed.stderr).toContain('Saved plan is stale')
    expect(await readStore(store.client, ws.root)).toEqual({a: 'broken'})
  })
})
