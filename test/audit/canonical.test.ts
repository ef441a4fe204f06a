// audit verify sees one record per line: a duplicate key (JSON.parse keeps the last, other readers
// the first) or any spelling other than the one append writes is refused, even with the hash recomputed.
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  duplicateKey,
  openAuditLog,
  recordHash,
  verifyAuditLog,
  verifyAuditText,
  type AuditRecord,
} from '../../src/audit/log.js'

async function twoRecords(): Promise<{path: string; lines: string[]}> {
  const path = join(mkdtempSync(join(tmpdir(), 'lifeboat-canon-')), 'audit.jsonl')
  const log = await openAuditLog(path, {run: 'r', actor: 'alice', host: 'h'})
  await log.append('run.started', {argv: ['apply', 'plan.json']})
  await log.append('step.started', {step: '01-a'})
  return {path, lines: readFileSync(path, 'utf8').split('\n').filter(Boolean)}
}

describe('canonical records', () => {
  it('finds duplicate keys at any depth', () => {
    expect(duplicateKey('{"a":1,"b":{"c":2,"c":3}}')).toBe('c')
    expect(duplicateKey('{"a":1,"a":2}')).toBe('a')
    expect(duplicateKey('{"a":[{"x":1},{"x":2}],"s":"{\\"a\\":1,\\"a\\":1}"}')).toBeUndefined()
  })

  it('refuses a duplicate key whose hash matches what JSON.parse sees', async () => {
    const {path, lines} = await twoRecords()
    const rec = JSON.parse(lines[1]!) as AuditRecord
    // A forged step id: parsers keeping the first key see "01-a", JSON.parse sees "99-evil" and a matching hash.
    const forged = {...rec, data: {step: '99-evil'}}
    const hash = recordHash(forged)
    const line = JSON.stringify({...forged, hash}).replace(
      '"data":{"step":"99-evil"}',
      '"data":{"step":"01-a","step":"99-evil"}',
    )
    writeFileSync(path, `${lines[0]}\n${line}\n`)
    const v = await verifyAuditLog(path)
    expect(v.ok).toBe(false)
    expect(v.firstBad).toMatchObject({line: 2, seq: 2})
    expect(v.firstBad!.reason).toContain('"step" twice')
  })

  it('refuses reordered keys, spaces and needless escapes, and accepts the log as written', async () => {
    const {lines} = await twoRecords()
    expect(verifyAuditText(`${lines.join('\n')}\n`).ok).toBe(true)
    const rec = JSON.parse(lines[1]!) as AuditRecord
    const {hash, ...withoutHash} = rec
    const variants = [
      JSON.stringify(rec, null, 1).replace(/\n/g, ''),
      JSON.stringify({hash, ...withoutHash}),
      lines[1]!.replace('"step"', '"\\u0073tep"'),
    ]
    for (const variant of variants) {
      const v = verifyAuditText(`${lines[0]}\n${variant}\n`)
      expect(v.ok, variant).toBe(false)
      expect(v.firstBad!.reason).toContain('canonical')
    }
  })
})
