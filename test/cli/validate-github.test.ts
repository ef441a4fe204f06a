// `lifeboat validate --format github` through the real binary: one workflow command per problem,
// at the file, line and column of the problem, escaped as GitHub's runner reads them. Offline.
import {copyFileSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {REPO, runCli} from './helpers.js'

describe('validate --format github', () => {
  it('annotates each problem at file:line:col and exits 1; a valid spec gets no annotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-validate-gh-'))
    const good = join(dir, 'good.yaml')
    copyFileSync(join(REPO, 'runbooks', 'pegasus-ddd-recovery.yaml'), good)
    const text = readFileSync(good, 'utf8')
    const lines = text.split('\n')
    const undecided = lines.findIndex((l) => l.includes('undecided: skip')) + 1
    writeFileSync(join(dir, 'bad.yaml'), text.replace('undecided: skip', 'undecided: skipp'))
    writeFileSync(join(dir, 'other.yaml'), text.replace('kind: PegasusDddRecovery', 'kind: RedisRecovery'))

    const r = await runCli(['validate', '--format', 'github', 'bad.yaml', 'other.yaml', 'good.yaml'], {cwd: dir})
    expect(r.code).toBe(1)
    const annotations = r.stdout.split('\n').filter((l) => l.startsWith('::'))
    expect(annotations).toHaveLength(2)
    expect(annotations[0]).toMatch(
      new RegExp(`^::error file=bad\\.yaml,line=${undecided},col=\\d+,title=SCHEMA_ENUM::`),
    )
    // The hint rides on an escaped newline, never a raw one.
    expect(annotations[0]).toContain('%0Ahint: did you mean "skip"?')
    expect(annotations[1]).toMatch(/^::error file=other\.yaml,line=\d+,col=\d+,title=\w+::.*RedisRecovery/)
    expect(r.stdout).toContain('good.yaml: valid')

    const ok = await runCli(['validate', '--format', 'github', 'good.yaml'], {cwd: dir})
    expect(ok.code).toBe(0)
    expect(ok.stdout).not.toContain('::')
  })

  it('escapes the characters GitHub gives meaning to in properties', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-validate-gh-'))
    const name = 'a,b:c.yaml'
    writeFileSync(
      join(dir, name),
      readFileSync(join(REPO, 'runbooks', 'pegasus-ddd-recovery.yaml'), 'utf8').replace(
        'wait_seconds: 100',
        'wait_seconds: -1',
      ),
    )
    const r = await runCli(['validate', '--format', 'github', name], {cwd: dir})
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^::error file=a%2Cb%3Ac\.yaml,line=\d+,col=\d+,title=/m)
  })
})
