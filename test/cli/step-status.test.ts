// Issue 16 item 8 through the real binary, without a terminal: the plain progress lines of apply
// name a step finished before a resume `done in an earlier run` and an effect found done `already
// in place`, and say nothing twice for one change (`confirmed` is covered in test/apply/progress).
import {describe, expect, it} from 'vitest'

import {
  auditRecords,
  readEffects,
  readStore,
  runCli,
  setKey,
  startCli,
  testStore,
  waitFor,
  workspace,
} from './helpers.js'

const store = testStore()

const MANUAL =
  'set: {a: "1", b: "2"}\nmanual: [{name: restart, after: a, instructions: ["Restart the meta server with the edited config."]}]'

describe('step statuses in plain progress', () => {
  it('done in an earlier run, already in place; every line printed once', async () => {
    const ws = workspace(store.zk, MANUAL)
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const stopped = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(stopped.code, stopped.stderr).toBe(3)
    expect(stopped.stdout).toContain('[1/3] 01-set-a: done')

    await store.client.mkdirp(`${ws.root}/manual/restart`)
    const resumed = await runCli(
      ['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', '02-manual-restart'],
      {cwd: ws.dir},
    )
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stdout).toMatch(/\[1\/3\] 01-set-a: done in an earlier run\n/)
    // The operator's work is found there before any confirmation is needed: an effect already in place.
    expect(resumed.stdout).toMatch(/\[2\/3\] 02-manual-restart: already in place\n/)
    expect(resumed.stdout).not.toContain('02-manual-restart: skipped')
    const lines = resumed.stdout.split('\n').filter((l) => l.startsWith('['))
    expect(new Set(lines).size).toBe(lines.length)
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
  })
})

describe('stops that speak (issue 16 item 5)', () => {
  it('a manual-step stop says what state the cluster stays in and the exact resume command', async () => {
    const ws = workspace(store.zk, MANUAL)
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const stopped = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(stopped.code, stopped.stderr).toBe(3)
    expect(stopped.stdout).toContain('The cluster stays as 01-set-a left it: a is "1".')
    expect(stopped.stdout).toContain('lifeboat apply plan.json --resume --confirm 02-manual-restart')
  })

  it('Ctrl-C during a step names the step cut short, the state left and the resume command', async () => {
    const ws = workspace(store.zk, 'set: {a: "1", b: "2", c: "3"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const run = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '1500'},
    })
    let out = ''
    run.child.stdout!.on('data', (d: Buffer) => (out += d.toString('utf8')))
    await waitFor('the second step to start', () => (/02-set-b: running/.test(out) ? true : undefined), 120_000)
    run.child.kill('SIGINT')
    const ended = await run.done
    expect(ended.code, ended.stderr).toBe(3)
    expect(ended.stdout).toContain('Interrupted during 02-set-b')
    expect(ended.stdout).toContain('The cluster stays as 01-set-a left it: a is "1".')
    expect(ended.stdout).toContain('lifeboat apply plan.json --resume')
  })
})

describe('resume that converges (issue 16 item 4)', () => {
  const STOP_AFTER_A = (extra: string) =>
    `set: {a: "1", b: "2"}\n${extra}manual: [{name: restart, after: a, instructions: ["Restart it."]}]`

  it('a step done in an earlier run whose effect is gone runs again, says why, and the run converges', async () => {
    const ws = workspace(store.zk, STOP_AFTER_A('blind: [a]\n'))
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const stopped = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(stopped.code, stopped.stderr).toBe(3)
    // After the step finished, its effect is undone (someone deletes the key), and the operator does the manual work.
    await store.client.remove(`${ws.root}/data/a`, -1)
    await store.client.mkdirp(`${ws.root}/manual/restart`)
    const resumed = await runCli(
      ['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', '02-manual-restart'],
      {cwd: ws.dir},
    )
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(resumed.stdout).toContain(
      '01-set-a: running (done in an earlier run, but its effect is no longer there: running it again)',
    )
    expect(resumed.stdout).toMatch(/\[1\/3\] 01-set-a: done \(ran again: a = "1"\)\n/)
    expect(resumed.stdout).toContain('Verified: the cluster matches the plan.')
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2'})
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 2, '03-set-b': 1})
    expect(
      auditRecords(ws.audit)
        .filter((r) => r.data.step === '01-set-a' && r.data.again === true)
        .map((r) => r.event),
    ).toEqual(['step.started', 'step.finished'])

    // Resumed again, nothing is gone: every step stands as done in an earlier run... and there is nothing left to resume.
    const done = await runCli(['apply', 'plan.json', '--resume'], {cwd: ws.dir})
    expect(done.stderr).toContain('already applied completely')
  })

  it('a step that cannot be repeated safely stops the resume before it: plan again, exit 5', async () => {
    const ws = workspace(store.zk, STOP_AFTER_A(''))
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const stopped = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(stopped.code, stopped.stdout + stopped.stderr).toBe(3)
    // Someone writes a after 01-set-a set it at the version the plan saw.
    await setKey(store.client, ws.root, 'a', 'x')
    await store.client.mkdirp(`${ws.root}/manual/restart`)
    const resumed = await runCli(
      ['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', '02-manual-restart'],
      {cwd: ws.dir},
    )
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(5)
    expect(resumed.stderr).toContain(
      'step 01-set-a was done in an earlier run, but its effect is no longer there, and it cannot be repeated safely from this plan',
    )
    expect(resumed.stderr).toContain('lifeboat plan SPEC --out plan.json')
    expect(resumed.stderr).not.toMatch(/\n\s+at /)
    // Nothing was written: a keeps the other writer's value, b was never set.
    expect(await readStore(store.client, ws.root)).toEqual({a: 'x'})
  })
})
