// Shell completion (@oclif/plugin-autocomplete) through the real binary and a real bash: the
// generated completion function completes lifeboat's own commands and flags.
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {runCli} from './helpers.js'

describe('completion', () => {
  it('bash completes commands, topics and flags', async () => {
    const home = mkdtempSync(join(tmpdir(), 'lifeboat-completion-'))
    const env = {HOME: home, XDG_CACHE_HOME: join(home, 'cache')}
    const setup = await runCli(['autocomplete', 'bash'], {cwd: home, env})
    expect(setup.code, setup.stderr).toBe(0)
    expect(setup.stdout).toContain('lifeboat autocomplete script bash')
    const script = join(home, 'cache', 'lifeboat', 'autocomplete', 'functions', 'bash', 'lifeboat.bash')
    expect(existsSync(script)).toBe(true)

    const complete = (line: string): string[] => {
      const words = line.split(' ')
      const program = [
        `source ${JSON.stringify(script)}`,
        `COMP_LINE=${JSON.stringify(line)}`,
        `COMP_POINT=${line.length}`,
        `COMP_WORDS=(${words.map((w) => JSON.stringify(w)).join(' ')})`,
        `COMP_CWORD=${words.length - 1}`,
        '_lifeboat_autocomplete',
        'printf "%s\\n" "${COMPREPLY[@]}"',
      ].join('\n')
      const r = spawnSync('bash', ['-c', program], {encoding: 'utf8', env: {...process.env, ...env}})
      expect(r.status, r.stderr).toBe(0)
      return r.stdout
        .split('\n')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    }
    expect(complete('lifeboat sta')).toEqual(['status'])
    expect(complete('lifeboat in')).toEqual(['init'])
    expect(complete('lifeboat lock force-unlock --rea')).toEqual(['--reason'])
    expect(complete('lifeboat validate --for')).toEqual(['--format'])
  })
})
