import {mkdtemp, readFile, rm, writeFile, mkdir} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {
  GENESIS_HASH,
  openAuditLog,
  readAuditLog,
  recordHash,
  redactSecrets,
  renderAuditTimeline,
  runProgress,
  verifyAuditLog,
  type AuditRecord,
} from '../../src/audit/log.js'
import {LifeboatError} from '../../src/errors.js'

let dir: string
let n = 0
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-audit-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

/** A fresh log path and a deterministic clock. */
function fresh(): {path: string; clock: () => string} {
  n++
  let t = Date.UTC(2025, 2, 1, 10, 0, 0)
  return {path: join(dir, `case-${n}`, 'audit.jsonl'), clock: () => new Date((t += 1000)).toISOString()}
}

/** Writes a small run of 6 records and returns the log's lines. */
async function sixRecords(): Promise<{path: string; lines: string[]}> {
  const {path, clock} = fresh()
  const log = await openAuditLog(path, {run: 'run-a', actor: 'alice', host: 'h1', now: clock})
  await log.append('run.started', {argv: ['apply', 'plan.json'], planDigest: 'd'.repeat(64)})
  await log.append('gate.passed', {gate: 'plan', how: 'typed yes'})
  await log.append('step.started', {step: '01-a'})
  await log.append('step.finished', {step: '01-a'})
  await log.append('step.started', {step: '02-b'})
  await log.append('step.finished', {step: '02-b'})
  return {path, lines: (await readFile(path, 'utf8')).split('\n').filter(Boolean)}
}

async function tampered(lines: string[], trailingNewline = true): Promise<string> {
  const {path} = fresh()
  await mkdir(join(path, '..'), {recursive: true})
  await writeFile(path, lines.join('\n') + (trailingNewline ? '\n' : ''))
  return path
}

describe('audit log', () => {
  test('chains records: seq from 1, prev links, hash over the canonical record; a reopened log continues', async () => {
    const {path, clock} = fresh()
    const log = await openAuditLog(path, {run: 'r1', actor: 'alice', host: 'h1', now: clock})
    expect(log.head()).toBe(GENESIS_HASH)
    const a = await log.append('run.started', {argv: ['apply']})
    const b = await log.append('run.finished', {status: 'succeeded', head: a.hash})
    expect([a.seq, b.seq]).toEqual([1, 2])
    expect(a.prev).toBe(GENESIS_HASH)
    expect(b.prev).toBe(a.hash)
    expect(recordHash(b)).toBe(b.hash)
    expect(log.head()).toBe(b.hash)

    const again = await openAuditLog(path, {run: 'r2', actor: 'bob', host: 'h2', now: clock})
    const c = await again.append('run.started', {})
    expect([c.seq, c.prev]).toEqual([3, b.hash])
    expect(await verifyAuditLog(path)).toEqual({ok: true, records: 3, head: c.hash})
    const records = await readAuditLog(path)
    expect(records.map((r) => `${r.seq} ${r.run} ${r.event}`)).toEqual([
      '1 r1 run.started',
      '2 r1 run.finished',
      '3 r2 run.started',
    ])
  })

  test('concurrent appends still get consecutive seqs', async () => {
    const {path, clock} = fresh()
    const log = await openAuditLog(path, {run: 'r', actor: 'a', host: 'h', now: clock})
    const recs = await Promise.all(Array.from({length: 8}, (_, i) => log.append('step.started', {step: `s${i}`})))
    expect(recs.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect((await verifyAuditLog(path)).ok).toBe(true)
  })

  test('every kind of tampering is detected and the right record is named', async () => {
    const {lines} = await sixRecords()
    const check = async (mutated: string[], expected: {seq?: number; line: number; reason: RegExp}, newline = true) => {
      const v = await verifyAuditLog(await tampered(mutated, newline))
      expect(v.ok).toBe(false)
      expect(v.firstBad).toMatchObject({
        line: expected.line,
        ...(expected.seq === undefined ? {} : {seq: expected.seq}),
      })
      expect(v.firstBad!.reason).toMatch(expected.reason)
    }
    // Editing a field of record 3.
    const edited = [...lines]
    edited[2] = edited[2]!.replace('"01-a"', '"01-z"')
    await check(edited, {seq: 3, line: 3, reason: /altered/})
    // Editing the actor of the first record.
    const actor = [...lines]
    actor[0] = actor[0]!.replace('"alice"', '"mallory"')
    await check(actor, {seq: 1, line: 1, reason: /altered/})
    // Deleting record 4.
    await check([...lines.slice(0, 3), ...lines.slice(4)], {seq: 4, line: 4, reason: /seq 4 is missing/})
    // Deleting the first record.
    await check(lines.slice(1), {seq: 1, line: 1, reason: /seq 1 is missing/})
    // Reordering records 2 and 3.
    await check([lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)], {seq: 3, line: 2, reason: /out of order/})
    // Truncating the last line in the middle.
    const cut = [...lines]
    cut[5] = cut[5]!.slice(0, 40)
    await check(cut, {line: 6, reason: /truncated/}, false)
    // Inserting a record: a copy of record 2 after record 2.
    await check([...lines.slice(0, 2), lines[1]!, ...lines.slice(2)], {
      seq: 2,
      line: 3,
      reason: /repeats or is out of order/,
    })
    // Inserting a forged record with a valid hash of its own but a wrong link.
    const forged = JSON.parse(lines[2]!) as AuditRecord
    forged.data = {step: '01-a', note: 'forged'}
    forged.prev = 'e'.repeat(64)
    forged.hash = recordHash(forged)
    await check([...lines.slice(0, 2), JSON.stringify(forged), ...lines.slice(3)], {
      seq: 3,
      line: 3,
      reason: /does not follow/,
    })
    // A blank line and a non-record line.
    await check([...lines.slice(0, 2), '', ...lines.slice(2)], {line: 3, reason: /blank/})
    await check([...lines.slice(0, 2), '{"hello": 1}', ...lines.slice(2)], {line: 3, reason: /not an audit record/})
    // The untouched log verifies.
    expect(await verifyAuditLog(await tampered(lines))).toMatchObject({ok: true, records: 6})
  })

  test('a broken log is refused for appending', async () => {
    const {path, lines} = await sixRecords()
    await writeFile(path, [lines[0]!, lines[2]!].join('\n') + '\n')
    await expect(openAuditLog(path, {run: 'r', actor: 'a', host: 'h'})).rejects.toMatchObject({
      code: 'AUDIT_LOG_BROKEN',
    })
  })

  test('fails closed: an unwritable log fails at open, a failed append fails every later append', async () => {
    const blocker = join(dir, 'a-file')
    await writeFile(blocker, 'x')
    await expect(openAuditLog(join(blocker, 'audit.jsonl'), {run: 'r', actor: 'a', host: 'h'})).rejects.toMatchObject({
      code: 'AUDIT_WRITE_FAILED',
    })

    const {path, clock} = fresh()
    const log = await openAuditLog(path, {run: 'r', actor: 'a', host: 'h', now: clock})
    await log.append('run.started', {})
    // The log's path becomes unwritable (a directory stands where the file was).
    await rm(path)
    await mkdir(path)
    await expect(log.append('step.started', {step: 's1'})).rejects.toMatchObject({code: 'AUDIT_WRITE_FAILED'})
    // Even once the path is writable again, this log writes nothing more.
    await rm(path, {recursive: true})
    await writeFile(path, '')
    const later = log.append('step.finished', {step: 's1'})
    await expect(later).rejects.toBeInstanceOf(LifeboatError)
    await expect(later).rejects.toMatchObject({code: 'AUDIT_WRITE_FAILED'})
    expect(await readFile(path, 'utf8')).toBe('')
  })

  test('secrets never reach a record; names of environment variables do', async () => {
    const data = {
      auth: {scheme: 'digest', credentials_env: 'LIFEBOAT_ZK_AUTH', credentials: 'user:hunter2'},
      password: 'hunter2',
      apiToken: 's3cr3t-t0k3n',
      nested: [{client_secret: {value: 'abc'}}],
      argv: ['apply', '--token', 'abcdef', '--password=hunter2', 'plan.json', '--zk-auth-env', 'LIFEBOAT_ZK_AUTH'],
      note: 'connect with password=hunter2 to retry',
      count: 3,
    }
    const {path, clock} = fresh()
    const log = await openAuditLog(path, {run: 'r', actor: 'a', host: 'h', now: clock})
    const rec = await log.append('run.started', data)
    const text = await readFile(path, 'utf8')
    expect(text).not.toMatch(/hunter2|s3cr3t|abcdef|"abc"/)
    expect(rec.data).toEqual({
      auth: {scheme: 'digest', credentials_env: 'LIFEBOAT_ZK_AUTH', credentials: '[redacted]'},
      password: '[redacted]',
      apiToken: '[redacted]',
      nested: [{client_secret: '[redacted]'}],
      argv: [
        'apply',
        '--token',
        '[redacted]',
        '--password=[redacted]',
        'plan.json',
        '--zk-auth-env',
        'LIFEBOAT_ZK_AUTH',
      ],
      note: 'connect with password=[redacted] to retry',
      count: 3,
    })
    expect(redactSecrets({token_env: '$MY_TOKEN'})).toEqual({token_env: '$MY_TOKEN'})
    expect((await verifyAuditLog(path)).ok).toBe(true)
  })
})

describe('timeline and progress', () => {
  const digest = 'a'.repeat(64)
  async function interruptedThenResumed(): Promise<AuditRecord[]> {
    const {path, clock} = fresh()
    const first = await openAuditLog(path, {run: 'run-1', actor: 'alice', host: 'h1', now: clock})
    await first.append('run.started', {
      planDigest: digest,
      spec: {sha256: 'b'.repeat(64), name: 'onebox-ddd'},
      cluster: 'onebox',
    })
    await first.append('step.started', {step: '01-a'})
    await first.append('step.finished', {step: '01-a'})
    await first.append('step.waiting', {step: '02-manual'})
    await first.append('gate.passed', {gate: 'manual', step: '02-manual', by: 'alice'})
    await first.append('step.finished', {step: '02-manual'})
    await first.append('step.started', {step: '03-b'})
    // killed here
    const second = await openAuditLog(path, {run: 'run-2', actor: 'alice', host: 'h1', now: clock})
    await second.append('run.started', {planDigest: digest})
    await second.append('run.resumed', {resumes: 'run-1', planDigest: digest})
    await second.append('step.skipped', {step: '03-b', reason: 'already done'})
    await second.append('step.started', {step: '04-c'})
    return readAuditLog(path)
  }

  test('runProgress unions the finished steps of the runs of one attempt', async () => {
    const records = await interruptedThenResumed()
    expect(runProgress(records, digest)).toEqual({
      run: 'run-2',
      finished: ['01-a', '02-manual', '03-b'],
      confirmed: ['02-manual'],
      interrupted: true,
      alwaysRan: false,
    })
    expect(runProgress(records, 'f'.repeat(64))).toEqual({
      finished: [],
      confirmed: [],
      interrupted: false,
      alwaysRan: false,
    })
  })

  test('an always step that finished marks the attempt, so that a resume re-checks every step', async () => {
    const records = await interruptedThenResumed()
    expect(runProgress(records, digest).alwaysRan).toBe(false)
    const withAlways = [
      ...records,
      {...records.at(-1)!, seq: 98, event: 'step.finished' as const, data: {step: '05-restore', always: true}},
    ]
    expect(runProgress(withAlways, digest)).toMatchObject({
      alwaysRan: true,
      finished: ['01-a', '02-manual', '03-b', '05-restore'],
    })
  })

  test('a succeeded run closes the attempt', async () => {
    const records = await interruptedThenResumed()
    const done = [
      ...records,
      {...records.at(-1)!, seq: 99, event: 'run.finished' as const, data: {status: 'succeeded'}},
    ]
    // Nothing to resume after a success: a later apply of the same plan starts a new attempt.
    expect(runProgress(done, digest)).toEqual({finished: [], confirmed: [], interrupted: false, alwaysRan: false})
    const next = [...done, {...records[0]!, seq: 100, run: 'run-3', data: {planDigest: digest}}]
    expect(runProgress(next, digest)).toEqual({
      run: 'run-3',
      finished: [],
      confirmed: [],
      interrupted: true,
      alwaysRan: false,
    })
  })

  test('the timeline shows the interruption and the run that resumed it', async () => {
    const text = renderAuditTimeline(await interruptedThenResumed())
    expect(text).toMatch(/^Run run-1 {2}alice@h1 {2}INTERRUPTED during step 03-b$/m)
    expect(text).toMatch(/resumed by run run-2/)
    expect(text).toMatch(/^Run run-2 .*INTERRUPTED during step 04-c$/m)
    expect(text).toMatch(/run\.resumed +continues run run-1/)
    expect(text).toMatch(/step\.skipped +03-b +skipped: already done/)
    expect(renderAuditTimeline(await interruptedThenResumed(), {run: 'run-2'})).not.toMatch(/Run run-1/)
    expect(renderAuditTimeline([], {})).toMatch(/no records/)
  })
})
