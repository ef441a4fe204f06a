// The CLI as people expect it (issue 16 item 9), through the real binary: topics with their own
// descriptions, `lifeboat help`, --version, and --json on every command of lifeboat.
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'

import {Config} from '@oclif/core'
import {describe, expect, it} from 'vitest'

import {REPO, runCli} from './helpers.js'

const cwd = mkdtempSync(`${tmpdir()}/lifeboat-help-`)

describe('help', () => {
  it('the top-level help lists each topic with a description of its own, and the new commands', async () => {
    const r = await runCli(['--help'], {cwd})
    expect(r.code, r.stderr).toBe(0)
    const topics = r.stdout.slice(r.stdout.indexOf('TOPICS'), r.stdout.indexOf('COMMANDS'))
    expect(topics).toMatch(/audit\s+Read and check the hash-chained audit log/)
    expect(topics).toMatch(/lab\s+Simulated Pegasus, OpenMLDB and TiKV clusters/)
    expect(topics).toMatch(/lock\s+A cluster's apply lock/)
    for (const cmd of ['status', 'init', 'help', 'autocomplete', 'validate', 'plan', 'apply'])
      expect(r.stdout).toMatch(new RegExp(`\\n  ${cmd}\\s`))
  })

  it('`lifeboat help COMMAND` and `lifeboat COMMAND --help` print the same help', async () => {
    const [a, b] = await Promise.all([runCli(['help', 'status'], {cwd}), runCli(['status', '--help'], {cwd})])
    expect(a.code, a.stderr).toBe(0)
    expect(a.stdout).toContain('$ lifeboat status SPEC')
    expect(a.stdout).toContain('EXIT CODES')
    expect(a.stdout).toBe(b.stdout)
  })

  it('--version and -v print the version line oclif prints', async () => {
    const pkg = (await import('../../package.json', {with: {type: 'json'}})).default as {version: string}
    for (const flag of ['--version', '-v']) {
      const r = await runCli([flag], {cwd})
      expect(r.code).toBe(0)
      expect(r.stdout).toBe(`lifeboat/${pkg.version} ${process.platform}-${process.arch} node-${process.version}\n`)
    }
  })
})

describe('--json', () => {
  it('every lifeboat command takes --json', async () => {
    const config = await Config.load({root: REPO})
    const ours = config.commands.filter((c) => c.pluginName === 'lifeboat')
    expect(ours.map((c) => c.id)).toEqual(
      expect.arrayContaining([
        'status',
        'init',
        'demo',
        'validate',
        'plan',
        'apply',
        'lock:force-unlock',
        'audit:verify',
      ]),
    )
    const without = ours.filter((c) => c.flags.json === undefined).map((c) => c.id)
    expect(without).toEqual([])
  })

  it('an error under --json is one JSON document with the code and hints', async () => {
    const r = await runCli(['init', 'PegasusDddRecovery', '--json'], {cwd})
    expect(r.code).toBe(1)
    const doc = JSON.parse(r.stdout) as {error: {code: string; hints: string[]}}
    expect(doc.error.code).toBe('USAGE')
    expect(doc.error.hints.join(' ')).toContain('--meta HOST:PORT')
  })
})
