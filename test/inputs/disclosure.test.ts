// validate runs on pull requests: a spec cannot make it print a file. A node list outside the
// spec's directory is refused unless --allow-outside-paths; a file that is not a node list is
// quoted by at most the start of its first few offending tokens.
import {cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {REPO, runCli} from '../cli/helpers.js'

const SECRET = 'S3CRETHASHVALUEthatmustneverbeprinted'

function setup(): {dir: string; spec: string; outside: string} {
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-disclose-'))
  const dir = join(root, 'specs')
  mkdirSync(dir)
  const outside = join(root, 'shadow')
  writeFileSync(
    outside,
    Array.from({length: 30}, (_, i) => `user${i}:$6$salt$${SECRET}${i}:19000:0:99999:7:::\n`).join(''),
  )
  const spec = join(dir, 'spec.yaml')
  cpSync(join(REPO, 'test', 'fixtures', 'specs', 'pegasus-meta-recovery-file.yaml'), spec)
  return {dir, spec, outside}
}

describe('validate discloses no file', () => {
  it('refuses a node list outside the spec directory (absolute, ../ or /etc/shadow) in text, github and json', async () => {
    const {dir, spec, outside} = setup()
    for (const name of [outside, '../shadow', '/etc/shadow']) {
      writeFileSync(spec, readFileSync(spec, 'utf8').replace(/target_nodes_file: .*/, `target_nodes_file: ${name}`))
      for (const format of ['text', 'github']) {
        const r = await runCli(['validate', spec, '--format', format], {cwd: dir})
        expect(r.code).toBe(1)
        expect(r.stdout).toMatch(format === 'text' ? /NODES_FILE_OUTSIDE_SPEC_DIR/ : /outside the spec's directory/)
        expect(`${r.stdout}${r.stderr}`).not.toContain(SECRET)
        expect(`${r.stdout}${r.stderr}`).not.toContain('root:')
      }
    }
    const json = await runCli(['validate', spec, '--json'], {cwd: dir})
    expect(JSON.parse(json.stdout).diagnostics.map((d: {code: string}) => d.code)).toContain(
      'NODES_FILE_OUTSIDE_SPEC_DIR',
    )
  })

  it('with --allow-outside-paths quotes only the start of the first bad tokens', async () => {
    const {dir, spec, outside} = setup()
    writeFileSync(spec, readFileSync(spec, 'utf8').replace(/target_nodes_file: .*/, `target_nodes_file: ${outside}`))
    const r = await runCli(['validate', spec, '--allow-outside-paths', '--json'], {cwd: dir})
    expect(r.code).toBe(1)
    const diags = JSON.parse(r.stdout).diagnostics as Array<{code: string; message: string}>
    expect(diags.length).toBeLessThanOrEqual(6)
    expect(r.stdout).not.toContain(SECRET)
    expect(r.stdout).not.toContain('user10')
  })
})
