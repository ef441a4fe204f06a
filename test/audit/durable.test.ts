// Appends are whole or refused: a full disk (a real, tiny tmpfs) gives a short write that fails the
// append; the partial line it leaves is refused by the next writer and cut by `audit repair`, which
// records the cut; and parallel writers in separate processes never fork the chain.
import {spawn, spawnSync} from 'node:child_process'
import {appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {openAuditLog, readAuditLog, repairAuditLog, verifyAuditLog} from '../../src/audit/log.js'
import {LifeboatError} from '../../src/errors.js'
import {REPO} from '../cli/helpers.js'

const who = {run: 'run-a', actor: 'alice', host: 'h1'}
const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) spawnSync('umount', [m])
})

/** A 64 KiB tmpfs, or undefined where mounting is not allowed. */
function tinyDisk(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-full-'))
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) return undefined
  mounts.push(dir)
  return dir
}

/** Fills the file system of `dir` until it refuses another byte. */
function fill(dir: string): string {
  const filler = join(dir, 'filler')
  const chunk = Buffer.alloc(1024, 120)
  try {
    for (;;) appendFileSync(filler, chunk)
  } catch {
    try {
      for (;;) appendFileSync(filler, Buffer.alloc(1, 120))
    } catch {
      // full
    }
  }
  return filler
}

describe('a full disk', () => {
  it('fails the append with a short write, and audit repair makes the log usable again', async (ctx) => {
    const disk = tinyDisk()
    if (disk === undefined) ctx.skip()
    const path = join(disk!, 'audit.jsonl')
    const log = await openAuditLog(path, who)
    await log.append('run.started', {argv: ['apply', 'plan.json']})
    // Pad with records until the log ends at most 700 bytes short of a page: the next record (over 1 KiB) straddles it.
    const page = 4096
    for (;;) {
      const left = page - (statSync(path).size % page)
      if (left <= 700) break
      await log.append('step.skipped', {step: 'pad', reason: 'x'.repeat(Math.max(1, Math.min(400, left - 600)))})
    }
    // Now fill every other page of the disk: only the log's last page has room, less than a record.
    const filler = fill(disk!)
    const before = statSync(path).size
    await expect(log.append('step.started', {step: '01-write', reason: 'y'.repeat(900)})).rejects.toMatchObject({
      code: 'AUDIT_WRITE_FAILED',
    })
    // Fail closed: nothing more is appended by this log.
    await expect(log.append('step.finished', {step: '01-write'})).rejects.toThrow(/failed earlier/)
    const after = statSync(path).size
    // Either nothing of the record reached the disk (ENOSPC) or part of it (a short write): both are refused.
    expect(after).toBeGreaterThanOrEqual(before)
    rmSync(filler)
    if (after > before) {
      // A partial line: verify reports it, the next writer refuses the log and names the repair.
      const v = await verifyAuditLog(path)
      expect(v.ok).toBe(false)
      expect(v.firstBad!.reason).toMatch(/incomplete/)
      const refused = await openAuditLog(path, who).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(LifeboatError)
      expect((refused as LifeboatError).hints.join(' ')).toContain('audit repair')
    }
    const repaired = await repairAuditLog(path, {...who, run: 'run-repair'})
    expect(repaired.repaired).toBe(after > before)
    if (repaired.repaired) expect(repaired.cut!.bytes).toBe(after - before)
    expect((await verifyAuditLog(path)).ok).toBe(true)
    const again = await openAuditLog(path, {...who, run: 'run-b'})
    await again.append('run.resumed', {resumes: 'run-a', planDigest: 'd'.repeat(64)})
    expect((await verifyAuditLog(path)).ok).toBe(true)
  })
})

describe('audit repair', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-repair-'))

  it('cuts only a partial last line, records it, and refuses any other damage', async () => {
    const path = join(dir, 'a.jsonl')
    const log = await openAuditLog(path, who)
    await log.append('run.started', {argv: ['apply']})
    await log.append('step.started', {step: '01'})
    const text = readFileSync(path, 'utf8')
    const lastStart = text.slice(0, -1).lastIndexOf('\n') + 1
    writeFileSync(path, text.slice(0, lastStart + 20)) // a crash 20 bytes into record 2
    const r = await repairAuditLog(path, who)
    expect(r).toMatchObject({repaired: true, cut: {line: 2, bytes: 20}})
    const records = await readAuditLog(path)
    expect(records.map((x) => x.event)).toEqual(['run.started', 'audit.repaired'])
    expect(records[1]!.data).toMatchObject({cutLine: 2, cutBytes: 20})
    expect((await verifyAuditLog(path)).ok).toBe(true)
    // Nothing to repair: unchanged.
    const size = statSync(path).size
    expect((await repairAuditLog(path, who)).repaired).toBe(false)
    expect(statSync(path).size).toBe(size)
    // An altered record is not "repaired" away.
    writeFileSync(path, readFileSync(path, 'utf8').replace('"apply"', '"APPLY"'))
    await expect(repairAuditLog(path, who)).rejects.toMatchObject({code: 'AUDIT_LOG_BROKEN'})
  })

  it('works through the binary: audit repair --json', () => {
    const path = join(dir, 'cli.jsonl')
    mkdirSync(dir, {recursive: true})
    const good = spawnSync(process.execPath, [join(REPO, 'bin', 'run.js'), 'audit', 'repair', '--audit-log', path], {
      encoding: 'utf8',
    })
    expect(good.status).toBe(1)
    expect(good.stderr).toContain('No audit log')
  })
})

describe('one writer at a time', () => {
  it('processes appending at once to one log keep one chain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-parallel-'))
    const path = join(dir, 'audit.jsonl')
    const mod = join(REPO, 'dist', 'src', 'audit', 'log.js')
    const writers = 6
    const each = 8
    const code = (i: number) =>
      `const {openAuditLog} = await import(${JSON.stringify(mod)}); ` +
      `const log = await openAuditLog(${JSON.stringify(path)}, {run: 'w${i}', actor: 'a', host: 'h'}); ` +
      `for (let k = 0; k < ${each}; k++) await log.append('approval.recorded', {name: 'w${i}-' + k})`
    const results = await Promise.all(
      Array.from(
        {length: writers},
        (_, i) =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ['--input-type=module', '-e', code(i)], {
              stdio: ['ignore', 'ignore', 'inherit'],
            })
            child.on('close', (c) => resolve(c))
          }),
      ),
    )
    expect(results).toEqual(Array.from({length: writers}, () => 0))
    const v = await verifyAuditLog(path)
    expect(v).toMatchObject({ok: true, records: writers * each})
  })
})
