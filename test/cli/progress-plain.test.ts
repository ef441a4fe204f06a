// Progress without a terminal, through the real binary: apply's gathers (TestKV reads its keys with a
// pause before each, reporting a count) print their line once, not once per key, with no cursor
// movement; the re-check before the first write says so; a step's count that moves alone adds no line.
import {describe, expect, it} from 'vitest'

import {readStore, runCli, setKey, testStore, workspace} from './helpers.js'

const store = testStore()

describe('progress without a terminal', () => {
  it('apply prints each gather line once and a counted step once, without cursor movement', async () => {
    const ws = workspace(store.zk, 'set: {a: "1"}')
    for (let i = 0; i < 6; i++) await setKey(store.client, ws.root, `k${i}`, String(i))
    const r = await runCli(['apply', ws.spec, '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_GATHER_DELAY_MS: '50', LIFEBOAT_TEST_STEP_DELAY_MS: '500', LIFEBOAT_TEST_PROGRESS_TICKS: '5'},
    })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).not.toContain(String.fromCharCode(27))
    const reading = r.stdout.split('\n').filter((l) => l.startsWith(`  reading ${ws.root}/data`))
    // The first gather and the re-check before the first write: one line each, not one per key.
    expect(reading).toHaveLength(2)
    expect(r.stdout).toContain('  re-reading the cluster to check the plan\n')
    const step = r.stdout.split('\n').filter((l) => l.startsWith('[1/1] 01-set-a: running'))
    expect(step).toEqual([
      '[1/1] 01-set-a: running (Create a = "1")',
      `[1/1] 01-set-a: running (writing ${ws.root}/data/a)`,
    ])
    expect(await readStore(store.client, ws.root)).toMatchObject({a: '1'})
  })
})
