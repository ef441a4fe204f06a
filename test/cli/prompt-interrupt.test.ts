// Ctrl-C at apply's approval prompt, in a real pseudo-terminal: the prompt answers empty, the gate
// cancels (exit 4), nothing is written, and the run is closed in the audit log.
import {describe, expect, it} from 'vitest'

import {auditRecords, readStore, runInPty, testStore, workspace} from './helpers.js'

const store = testStore()

describe('Ctrl-C at the approval prompt', () => {
  it('cancels the apply without writing anything', async () => {
    const ws = workspace(store.zk, 'set: {a: "1"}')
    // The terminal is in raw mode at the prompt: Ctrl-C reaches readline as the byte 0x03.
    const r = runInPty(['apply', ws.spec], [['Enter a value:', '\u0003']], {cwd: ws.dir})
    expect(r.code, r.stdout).toBe(4)
    expect(r.stdout).toContain('Apply cancelled.')
    expect(await readStore(store.client, ws.root)).toEqual({})
    const last = auditRecords(ws.audit).at(-1)
    expect(last).toMatchObject({event: 'run.finished', data: {status: 'refused'}})
  })
})
