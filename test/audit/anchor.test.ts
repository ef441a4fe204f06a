// Tampering the chain alone cannot reveal (tail deletion, an empty file, a re-chained edit, a
// whole forged log) is caught against an anchor kept outside the log.
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {checkAnchor, openAuditLog, readAuditLog, verifyAuditLog} from '../../src/audit/log.js'

async function log(
  run: string,
  steps: string[],
  path = join(mkdtempSync(join(tmpdir(), 'lifeboat-anchor-')), 'audit.jsonl'),
): Promise<string> {
  const l = await openAuditLog(path, {run, actor: 'alice', host: 'h'})
  await l.append('run.started', {argv: ['apply']})
  for (const s of steps) await l.append('step.started', {step: s})
  return path
}

describe('anchors', () => {
  it('a log that still matches its anchor passes, and every chain-valid tampering fails', async () => {
    const path = await log('r1', ['01', '02', '03'])
    const records = await readAuditLog(path)
    const anchor = {records: 4, head: records[3]!.hash}
    expect(checkAnchor(records, anchor)).toBeUndefined()

    // Tail deletion and an empty file: still a valid chain, behind the anchor.
    const lines = readFileSync(path, 'utf8').split('\n').filter(Boolean)
    writeFileSync(path, `${lines.slice(0, 2).join('\n')}\n`)
    expect((await verifyAuditLog(path)).ok).toBe(true)
    expect(checkAnchor(await readAuditLog(path), anchor)).toMatch(/truncated/)
    writeFileSync(path, '')
    expect(checkAnchor(await readAuditLog(path), anchor)).toMatch(/truncated: it holds 0 records/)

    // A re-chained edit and a whole forged log: valid chains with other hashes.
    const forged = await log('r1', ['01', '02', 'evil'])
    expect((await verifyAuditLog(forged)).ok).toBe(true)
    expect(checkAnchor(await readAuditLog(forged), anchor)).toMatch(/rewritten/)
    // An appended forgery after the anchor point still matches the anchor's prefix (later anchors catch it).
    const longer = await log('r1', ['01', '02', '03', '04'])
    expect(
      checkAnchor(await readAuditLog(longer), {records: 5, head: (await readAuditLog(longer))[4]!.hash}),
    ).toBeUndefined()
  })
})
