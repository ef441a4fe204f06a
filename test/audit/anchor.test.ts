// Tampering the chain alone cannot reveal (tail deletion, an empty file, a re-chained edit, a
// whole forged log) is caught against an anchor kept outside the log.
import {randomUUID} from 'node:crypto'
import {mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, inject, it} from 'vitest'

import {
  anchoredAuditLog,
  checkClusterAnchor,
  readClusterAnchor,
  type ClusterAnchorDocument,
} from '../../src/audit/anchor.js'
import {checkAnchor, openAuditLog, readAuditLog, verifyAuditLog} from '../../src/audit/log.js'
import {hostLocalLock, zookeeperLock, type LockProvider} from '../../src/apply/lock.js'
import type {HeldLock} from '../../src/engines/types.js'

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

describe('anchors kept in the cluster', () => {
  const zk = inject('zookeeper')
  const who = (run: string) => ({run, actor: 'alice', host: 'h'})
  const lockInfo = {id: 'lock-1', operation: 'apply', who: 'alice@h', created: '2026-12-02T00:00:00Z'}

  /** A log written through anchoredAuditLog for `cluster`, with the warnings it printed. */
  async function anchoredRun(provider: LockProvider, cluster: string, path: string, run = 'r1', lock?: HeldLock) {
    const warnings: string[] = []
    const log = anchoredAuditLog(await openAuditLog(path, who(run)), {
      provider,
      cluster,
      ...(lock ? {lock} : {}),
      run,
      host: 'h',
      warn: (t) => warnings.push(t),
    })
    await log.append('run.started', {cluster})
    await log.append('gate.passed', {gate: 'plan'})
    await log.append('step.started', {step: '01'})
    await log.append('step.finished', {step: '01'})
    await log.append('run.finished', {status: 'succeeded'})
    return {log, warnings}
  }

  it('apply anchors after each step and the run end; the check names truncation, rewriting, appending and forgery', async () => {
    const cluster = `anchor-${randomUUID().slice(0, 8)}`
    const provider = zookeeperLock({hosts: zk, root: '/unused'}, cluster, {env: {}})
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-anchor-zk-'))
    const path = join(dir, 'audit.jsonl')
    const held = await provider.acquire(lockInfo)
    const {log, warnings} = await anchoredRun(provider, cluster, path, 'r1', held)
    expect(warnings).toEqual([])
    expect(log.anchorStatus()).toMatchObject({place: `zookeeper /lifeboat/audit/${cluster}`, problems: []})
    const read = await readClusterAnchor(provider)
    expect(read).toMatchObject({reached: true, place: `zookeeper /lifeboat/audit/${cluster}`})
    const doc = (read as {doc: ClusterAnchorDocument}).doc
    const records = await readAuditLog(path)
    expect(records[0]!.data.auditAnchor).toEqual({place: `zookeeper /lifeboat/audit/${cluster}`, lock: 'lock-1'})
    expect(doc.anchors).toEqual([
      expect.objectContaining({log: records[0]!.hash, records: 5, head: records[4]!.hash, run: 'r1', lock: 'lock-1'}),
    ])
    // The lock record carries the same anchor while the run holds it, and lock status shows it.
    const state = await provider.read()
    expect(state?.info.audit).toEqual({log: records[0]!.hash, records: 5, head: records[4]!.hash})
    expect(state?.text).toContain(`Audit:     5 records, head ${records[4]!.hash}`)
    await held.release()
    expect(checkClusterAnchor(records, doc, cluster)).toMatchObject({ok: true})
    expect(checkClusterAnchor(records.slice(0, 3), doc, cluster)).toMatchObject({ok: false, problem: /truncated/})
    expect(checkClusterAnchor([], doc, cluster)).toMatchObject({ok: false, problem: /truncated: it is empty/})
    const edited = [...records.slice(0, 4), {...records[4]!, hash: 'f'.repeat(64)}]
    expect(checkClusterAnchor(edited, doc, cluster)).toMatchObject({ok: false, problem: /rewritten/})
    const appended = [...records, {...records[4]!, seq: 6}]
    expect(checkClusterAnchor(appended, doc, cluster)).toMatchObject({ok: false, problem: /record 6 of runs on/})
    // Records of another cluster's run after the anchor are that cluster's anchor's business.
    const other = [...records, {...records[4]!, seq: 6, run: 'r2'}]
    expect(checkClusterAnchor(other, doc, cluster)).toMatchObject({ok: true})
    const forged = [{...records[0]!, hash: 'e'.repeat(64)}, ...records.slice(1)]
    expect(checkClusterAnchor(forged, doc, cluster)).toMatchObject({ok: false, problem: /matches none/})
    // No anchor at all while the log records runs on the cluster: removed, or written without anchors.
    expect(checkClusterAnchor(records, null, cluster)).toMatchObject({ok: false, problem: /holds no audit anchor/})
    expect(checkClusterAnchor(records, null, 'elsewhere')).toMatchObject({ok: true})

    // A second log (another operator's host) keeps its own anchor beside the first.
    const second = join(dir, 'other.jsonl')
    await anchoredRun(provider, cluster, second, 'r9')
    const both = ((await readClusterAnchor(provider)) as {doc: ClusterAnchorDocument}).doc
    expect(both.anchors.map((a) => a.run)).toEqual(['r9', 'r1'])
    expect(checkClusterAnchor(await readAuditLog(path), both, cluster)).toMatchObject({ok: true})
    expect(checkClusterAnchor(await readAuditLog(second), both, cluster)).toMatchObject({ok: true})
  })

  it('a lock file keeps no anchor, and run.started says so; an unreachable store is a warning, not a stop', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-anchor-none-'))
    const file = hostLocalLock(join(dir, 'c.lock'))
    const heldFile = await file.acquire(lockInfo)
    const {log, warnings} = await anchoredRun(file, 'c', join(dir, 'a.jsonl'), 'r1', heldFile)
    expect(warnings).toEqual([])
    // No anchor in the cluster, but the lock file itself records how far the log has come.
    const head = (await readAuditLog(join(dir, 'a.jsonl')))[4]!.hash
    expect((await file.read())?.info.audit).toMatchObject({records: 5, head})
    await heldFile.release()
    expect(log.anchorStatus().problems).toEqual([expect.stringMatching(/keeps nothing in the cluster/)])
    expect((await readAuditLog(join(dir, 'a.jsonl')))[0]!.data.auditAnchor).toEqual({
      none: expect.stringMatching(/^the file lock .* keeps nothing in the cluster/),
    })
    expect(await readClusterAnchor(file)).toMatchObject({reached: false, reason: /keeps nothing in the cluster/})

    const away = zookeeperLock({hosts: '127.0.0.1:1', root: '/x'}, 'c', {env: {}})
    const run = await anchoredRun(away, 'c', join(dir, 'b.jsonl'))
    // One warning for the failure, however many anchors failed; every record was still written.
    expect(run.warnings).toEqual([
      expect.stringMatching(/^warning: the audit anchor could not be written to zookeeper/),
    ])
    expect((await verifyAuditLog(join(dir, 'b.jsonl'))).records).toBe(5)
    expect(await readClusterAnchor(away)).toMatchObject({reached: false, reason: /could not read it/})
  })
})
