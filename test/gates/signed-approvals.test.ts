// Through the real binary (issue 18, hole 1): only SSH-signed approvals by the spec's allowed
// signers count, each key once. `--as NAME` alone, a name spoofed on a signed approval, a key
// not listed, and an approval written into the plan file by hand are all refused (exit 4) with
// nothing written; two real signed approvals (one made with ssh-keygen directly) apply.
import {execFileSync} from 'node:child_process'
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {readStore, runCli, setKey, testStore, workspace} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

function keygen(dir: string, name: string): string {
  const priv = join(dir, name)
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', priv])
  return priv
}

describe('signed approvals', () => {
  it('count only when signed by distinct allowed signers', async () => {
    const ws = workspace(
      zk,
      'set: {a: "new", b: "x"}\nrisk: {a: lossy}',
      'approval:\n  approvers: {lossy: 2}\n  allowed_signers: signers',
    )
    const alice = keygen(ws.dir, 'alice')
    const bob = keygen(ws.dir, 'bob')
    const mallory = keygen(ws.dir, 'mallory')
    const pub = (k: string) => readFileSync(`${k}.pub`, 'utf8').trim()
    writeFileSync(
      join(ws.dir, 'signers'),
      `alice@example.com ${pub(alice)}\nbob@example.com namespaces="lifeboat" ${pub(bob)}\n`,
    )
    await setKey(store.client, ws.root, 'a', 'precious')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const apply = () => runCli(['apply', 'plan.json', '--auto-approve', '--allow-data-loss'], {cwd: ws.dir})

    const named = await runCli(['approve', 'plan.json', '--as', 'alice'], {cwd: ws.dir})
    expect(named.code, named.stderr).toBe(4)
    expect(named.stderr).toContain('an approval by name alone does not count')

    const outsider = await runCli(['approve', 'plan.json', '--key', mallory], {cwd: ws.dir})
    expect(outsider.code, outsider.stderr).toBe(4)
    expect(outsider.stderr).toContain('is not in the allowed signers')

    const a1 = await runCli(['approve', 'plan.json', '--key', alice], {cwd: ws.dir})
    expect(a1.code, a1.stderr).toBe(0)
    expect(a1.stdout).toContain('Signed approval by alice@example.com')
    expect(a1.stdout).toContain('1 so far, 1 more needed')
    // Alice's key under Bob's name counts once, as Alice.
    expect(
      (await runCli(['approve', 'plan.json', '--key', alice, '--as', 'bob@example.com'], {cwd: ws.dir})).code,
    ).toBe(0)
    // An approval written into the file by hand (approvals sit outside the digest).
    const planPath = join(ws.dir, 'plan.json')
    const plan = JSON.parse(readFileSync(planPath, 'utf8'))
    plan.approvals.push({name: 'carol', at: '2026-01-01T00:00:00.000Z', digest: plan.digest})
    writeFileSync(planPath, JSON.stringify(plan, null, 2))
    const one = await apply()
    expect(one.code, one.stderr).toBe(4)
    expect(one.stderr).toContain('needs 2 distinct approvals for its lossy steps; 1 is recorded (alice@example.com)')
    expect(one.stderr).toContain('carol: not signed')
    expect(await readStore(store.client, ws.root)).toEqual({a: 'precious'})

    // Bob signs with ssh-keygen directly and attaches the signature: interoperable both ways.
    const sig = execFileSync('ssh-keygen', ['-Y', 'sign', '-n', 'lifeboat', '-f', bob], {
      input: plan.digest,
      stdio: ['pipe', 'pipe', 'ignore'],
    }).toString()
    writeFileSync(join(ws.dir, 'bob.sig'), sig)
    const b1 = await runCli(['approve', 'plan.json', '--signature', 'bob.sig'], {cwd: ws.dir})
    expect(b1.code, b1.stderr).toBe(0)
    expect(b1.stdout).toContain('that many have approved')
    const two = await apply()
    expect(two.code, two.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: 'new', b: 'x'})
  })
})
