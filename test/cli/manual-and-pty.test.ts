// Through the real binary: a manual step stops apply without a terminal (exit 3) and
// `--resume --confirm ID` continues it; at a terminal (a real pseudo-terminal) the typed answers
// approve, refuse, and confirm.
import {describe, expect, it} from 'vitest'

import {
  auditRecords,
  createNodeCommand,
  readEffects,
  readStore,
  runCli,
  runInPty,
  setKey,
  testStore,
  workspace,
} from './helpers.js'

const store = testStore()
const zk = store.zk

const MANUAL =
  'set: {a: "1", b: "2"}\nmanual: [{name: restart, after: a, instructions: ["Restart the meta server with the edited config."]}]'

describe('manual steps', () => {
  it('without a terminal, stops with exit 3 and the exact command; --resume --confirm continues', async () => {
    const ws = workspace(zk, MANUAL)
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const stopped = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(stopped.code, stopped.stderr).toBe(3)
    expect(stopped.stdout).toContain('Waiting for manual step 02-manual-restart')
    expect(stopped.stdout).toContain('1. Restart the meta server with the edited config.')
    expect(stopped.stdout).toContain('lifeboat apply plan.json --resume --confirm 02-manual-restart')
    // The step before it ran; the one after it did not.
    expect(await readStore(store.client, ws.root)).toEqual({a: '1'})
    expect(auditRecords(ws.audit).at(-1)).toMatchObject({event: 'run.finished', data: {status: 'stopped'}})

    // Resuming without the confirmation stops at the same place again, repeating nothing.
    const again = await runCli(['apply', 'plan.json', '--resume', '--auto-approve'], {cwd: ws.dir})
    expect(again.code).toBe(3)
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1})

    // Confirming a step whose work is not there fails the step (the engine checks the work).
    const premature = await runCli(
      ['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', '02-manual-restart'],
      {cwd: ws.dir},
    )
    expect(premature.code).toBe(1)
    expect(premature.stderr).toContain('manual step 02-manual-restart was confirmed, but its effect is not there')

    // The operator does the work, then confirms.
    await store.client.mkdirp(`${ws.root}/manual/restart`)
    const resumed = await runCli(
      ['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', '02-manual-restart'],
      {cwd: ws.dir},
    )
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stdout).toContain('Resuming: 1 of 3 steps finished earlier')
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1, '03-set-b': 1})
    const confirmed = auditRecords(ws.audit).find((r) => r.event === 'gate.passed' && r.data.gate === 'manual')
    expect(confirmed?.data).toMatchObject({step: '02-manual-restart', how: '--confirm'})

    const unknown = await runCli(['apply', 'plan.json', '--resume', '--confirm', '01-set-a'], {cwd: ws.dir})
    expect(unknown.code).toBe(1)
    expect(unknown.stderr).toContain('not a manual step')
  })
})

describe('applying a spec that stops', () => {
  it('saves its plan for --resume, which also accepts the spec; --json carries the command', async () => {
    const ws = workspace(zk, MANUAL)
    const stopped = await runCli(['apply', ws.spec, '--auto-approve', '--json'], {cwd: ws.dir})
    expect(stopped.code, stopped.stderr).toBe(3)
    const result = JSON.parse(stopped.stdout)
    expect(result).toMatchObject({
      status: 'stopped',
      exit: 3,
      waiting: {step: '02-manual-restart'},
      steps: [
        {id: '01-set-a', status: 'done'},
        {id: '02-manual-restart', status: 'waiting'},
      ],
    })
    expect(result.resumeCommand).toMatch(
      /^lifeboat apply \.lifeboat\/plans\/[0-9a-f]{16}\.json --resume --confirm 02-manual-restart$/,
    )

    await store.client.mkdirp(`${ws.root}/manual/restart`)
    const resumed = await runCli(['apply', ws.spec, '--resume', '--auto-approve', '--json'], {cwd: ws.dir})
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(JSON.parse(resumed.stdout)).toMatchObject({
      status: 'succeeded',
      resumes: result.run,
      planDigest: result.planDigest,
    })
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1, '03-set-b': 1})
  })
})

describe('at a terminal', () => {
  it('confirms a manual step by a typed yes once the work is done, and fails it when the work is missing', () => {
    const ws = workspace(zk, MANUAL)
    const done = runInPty(
      ['apply', ws.spec],
      [
        ['Enter a value:', 'yes'],
        ['Have you done this?', 'yes', createNodeCommand(zk, `${ws.root}/manual/restart`)],
      ],
      {cwd: ws.dir},
    )
    expect(done.code, done.stdout).toBe(0)
    expect(done.stdout).toContain('Step 02-manual-restart is done by hand')
    expect(done.stdout).toContain("Only 'yes' will be accepted to confirm.")
    const confirmed = auditRecords(ws.audit).find((r) => r.event === 'gate.passed' && r.data.gate === 'manual')
    expect(confirmed?.data).toMatchObject({step: '02-manual-restart', how: 'typed yes'})

    const other = workspace(zk, MANUAL)
    const missing = runInPty(
      ['apply', other.spec],
      [
        ['Enter a value:', 'yes'],
        ['Have you done this?', 'yes'],
      ],
      {cwd: other.dir},
    )
    expect(missing.code).toBe(1)
    expect(missing.stdout).toContain('manual step 02-manual-restart was confirmed, but its effect is not there')
  })

  it('typed yes applies; any other answer cancels with exit 4 and writes nothing', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    const no = runInPty(['apply', ws.spec], [['Enter a value:', 'no']], {cwd: ws.dir})
    expect(no.code).toBe(4)
    expect(no.stdout).toContain('Apply cancelled.')
    expect(await readStore(store.client, ws.root)).toEqual({})

    const yes = runInPty(['apply', ws.spec], [['Enter a value:', 'yes']], {cwd: ws.dir})
    expect(yes.code, yes.stdout).toBe(0)
    expect(yes.stdout).toContain('Do you want to perform these actions?')
    // The live task list redraws in place (cursor up) and ends with every step done.
    expect(yes.stdout).toMatch(new RegExp(`${String.fromCharCode(27)}\\[\\d+A`))
    expect(yes.stdout).toMatch(/✓ 02-set-b\s+done/)
    expect(yes.stdout).toContain('Apply complete!')
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
    const passed = auditRecords(ws.audit).find((r) => r.event === 'gate.passed')
    expect(passed?.data).toMatchObject({how: 'typed yes'})
  })

  it('for a lossy step, yes is not enough: the operator types the cluster name', async () => {
    const ws = workspace(zk, 'set: {a: "new"}\nrisk: {a: lossy}')
    await setKey(store.client, ws.root, 'a', 'precious')
    const yes = runInPty(['apply', ws.spec], [['Enter a value:', 'yes']], {cwd: ws.dir})
    expect(yes.code).toBe(4)
    expect(yes.stdout).toContain(`Only the cluster name '${ws.cluster}' will be accepted to approve.`)
    expect(await readStore(store.client, ws.root)).toEqual({a: 'precious'})

    const named = runInPty(['apply', ws.spec], [['Enter a value:', ws.cluster]], {cwd: ws.dir})
    expect(named.code, named.stdout).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: 'new'})
  })
})
