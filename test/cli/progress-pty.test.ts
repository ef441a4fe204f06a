// Progress with rate and ETA at a real terminal (a pseudo-terminal), through the real binary: the
// gather (TestKV reads its keys with a pause before each) and a step (its pause before the write
// reported as ticks) each show a count, a rate and an ETA, redrawn in place. The test waits on the
// commands' output, never on a clock; the pauses only make the phases long enough for a rate.
import {describe, expect, it} from 'vitest'

import {readStore, runInPty, setKey, testStore, workspace} from './helpers.js'

const store = testStore()
const ESC = String.fromCharCode(27)

describe('progress at a terminal', () => {
  it('apply shows the gather and a step with count, rate and ETA, in place; plan shows the gather (now 9 keys) on stderr', async () => {
    const ws = workspace(store.zk, 'set: {a: "1"}')
    for (let i = 0; i < 8; i++) await setKey(store.client, ws.root, `k${i}`, String(i))
    const env = {
      LIFEBOAT_TEST_GATHER_DELAY_MS: '250',
      LIFEBOAT_TEST_STEP_DELAY_MS: '2000',
      LIFEBOAT_TEST_PROGRESS_TICKS: '10',
    }
    const applied = runInPty(['apply', ws.spec], [['Enter a value:', 'yes']], {cwd: ws.dir, env})
    expect(applied.code, applied.stdout).toBe(0)
    // The gather: 8 keys, a rate once a second has passed, and the time left.
    expect(applied.stdout).toMatch(/reading \/\S+ {2}· [5-7]\/8 keys · \d+\.\d keys\/s · ETA \d+s/)
    // The step: its count before its message, redrawn in place (cursor up, clear line).
    expect(applied.stdout).toMatch(
      new RegExp(
        `${ESC}\\[\\d+A${ESC}\\[2K› 01-set-a\\s+running\\s+[5-9]/10 ticks · \\d+\\.\\d ticks/s · ETA \\d+s  writing `,
      ),
    )
    expect(applied.stdout).toMatch(/✓ 01-set-a\s+done/)
    expect(await readStore(store.client, ws.root)).toMatchObject({a: '1'})

    const planned = runInPty(['plan', ws.spec], [], {cwd: ws.dir, env})
    expect(planned.code, planned.stdout).toBe(0)
    expect(planned.stdout).toMatch(/reading \/\S+ {2}· [5-8]\/9 keys · \d+\.\d keys\/s · ETA \d+s/)
    expect(planned.stdout).toContain(`${ESC}[1A${ESC}[2Kreading`)
  })
})
