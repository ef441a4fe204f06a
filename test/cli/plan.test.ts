// Through the real binary: `plan` output formats and exit codes, and errors without stack traces.
import {describe, expect, it} from 'vitest'

import {runCli, setKey, testStore, workspace} from './helpers.js'

const store = testStore()
const zk = store.zk

describe('lifeboat plan', () => {
  it('exits 2 with changes under --detailed-exitcode, 0 without, and 0 once nothing is left to do', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: null}')
    await setKey(store.client, ws.root, 'b', 'gone-soon')
    const text = await runCli(['plan', ws.spec], {cwd: ws.dir})
    expect(text.code, text.stderr).toBe(0)
    expect(text.stdout).toContain('kv:a will be created')
    expect(text.stdout).toContain('kv:b will be destroyed')

    const detailed = await runCli(['plan', ws.spec, '--detailed-exitcode', '--json'], {cwd: ws.dir})
    expect(detailed.code).toBe(2)
    const plan = JSON.parse(detailed.stdout)
    expect(plan).toMatchObject({formatVersion: 2, applyable: true, cluster: {name: ws.cluster}})
    expect(plan.steps.map((s: {id: string}) => s.id)).toEqual(['01-set-a', '02-delete-b'])

    const md = await runCli(['plan', ws.spec, '--format', 'markdown'], {cwd: ws.dir})
    expect(md.code).toBe(0)
    expect(md.stdout).toContain('```diff')

    expect((await runCli(['apply', ws.spec, '--auto-approve'], {cwd: ws.dir})).code).toBe(0)
    const none = await runCli(['plan', ws.spec, '--detailed-exitcode'], {cwd: ws.dir})
    expect(none.code).toBe(0)
    expect(none.stdout).toContain('No changes.')
    const noop = await runCli(['apply', ws.spec], {cwd: ws.dir})
    expect(noop.code, noop.stderr).toBe(0)
    expect(noop.stdout).toContain('No changes.')
  })

  it('lists every problem of an invalid spec, with positions, and no stack trace', async () => {
    const ws = workspace(zk, 'set: {a: 1}\ncolour: blue')
    const r = await runCli(['plan', ws.spec], {cwd: ws.dir})
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/is not a valid spec: \d+ errors/)
    expect(r.stderr).toMatch(/spec\.yaml:\d+:\d+ /)
    expect(r.stderr).toContain('colour')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
