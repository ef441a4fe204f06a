// `lifeboat audit verify` and `audit show` through the real binary (build first; npm test does).
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {openAuditLog} from '../../src/audit/log.js'
import {REPO, runCli} from '../cli/helpers.js'

async function lifeboat(args: string[], cwd = REPO): Promise<{code: number; stdout: string; stderr: string}> {
  const r = await runCli(args, {cwd})
  return {code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr}
}

let dir: string
let logPath: string
let head: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-audit-cli-'))
  logPath = join(dir, '.lifeboat', 'audit.jsonl')
  const log = await openAuditLog(logPath, {run: 'run-1', actor: 'alice', host: 'h1'})
  await log.append('run.started', {planDigest: 'a'.repeat(64), cluster: 'onebox'})
  await log.append('step.started', {step: '01-assign'})
  const resumed = await openAuditLog(logPath, {run: 'run-2', actor: 'alice', host: 'h1'})
  await resumed.append('run.started', {planDigest: 'a'.repeat(64)})
  await resumed.append('run.resumed', {resumes: 'run-1', planDigest: 'a'.repeat(64)})
  await resumed.append('step.finished', {step: '01-assign'})
  await resumed.append('run.finished', {status: 'succeeded', head: resumed.head()})
  head = resumed.head()
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('lifeboat audit', () => {
  test('verify: OK with the record count and head; the default path is .lifeboat/audit.jsonl', async () => {
    const r = await lifeboat(['audit', 'verify'], dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      new RegExp(
        `^audit log OK: 6 records, head ${head} \\(record 6, run.finished of run run-2 at [^)]+\\)\n` +
          '  not checked against a cluster anchor: pass --spec SPEC or --plan PLAN of onebox to check the log against the head kept there\n$',
      ),
    )
    const j = await lifeboat(['audit', 'verify', '--audit-log', logPath, '--json'])
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: true,
      records: 6,
      head,
      headRecord: {seq: 6, run: 'run-2', event: 'run.finished'},
    })
  })

  test('verify: names the first bad record and exits 1', async () => {
    const lines = (await readFile(logPath, 'utf8')).split('\n')
    const bad = join(dir, 'bad.jsonl')
    await writeFile(bad, [lines[0], lines[1], lines[3], lines[2], ...lines.slice(4)].join('\n'))
    const r = await lifeboat(['audit', 'verify', '--audit-log', bad])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/audit log BROKEN: .*bad\.jsonl, line 3, record seq 4/)
    expect(r.stderr).toMatch(/out of order/)
    const j = await lifeboat(['audit', 'verify', '--audit-log', bad, '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout)).toMatchObject({ok: false, records: 2, firstBad: {line: 3, seq: 4}})
    const missing = await lifeboat(['audit', 'verify', '--audit-log', join(dir, 'none.jsonl')])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^Error: No audit log at /)
  })

  test('show: a timeline per run with the interruption and the resume', async () => {
    const r = await lifeboat(['audit', 'show', '--audit-log', logPath])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^Run run-1 {2}alice@h1 {2}INTERRUPTED during step 01-assign$/m)
    expect(r.stdout).toMatch(/resumed by run run-2/)
    expect(r.stdout).toMatch(/^Run run-2 {2}alice@h1 {2}succeeded$/m)
    const one = await lifeboat(['audit', 'show', '--audit-log', logPath, '--run', 'run-2'])
    expect(one.stdout).not.toMatch(/Run run-1/)
  })
})
