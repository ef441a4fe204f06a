// Lab dispatch by engine: the registry, the scenario envelope, and the Pegasus lab's own fault argv.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, test} from 'vitest'

import {LifeboatError} from '../../src/errors.js'
import {pegasusLab} from '../../src/lab/pegasus/index.js'
import {labEngine, labEngines} from '../../src/lab/registry.js'
import {builtinScenarios, loadScenario} from '../../src/lab/scenario.js'

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-dispatch-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function thrown(fn: () => unknown): LifeboatError {
  try {
    fn()
  } catch (err) {
    if (err instanceof LifeboatError) return err
    throw err
  }
  throw new Error('expected a LifeboatError')
}

describe('lab registry', () => {
  test('each engine once, sorted; an unknown engine names the file and lists the labs', () => {
    const names = labEngines().map((l) => l.engine)
    expect(names).toContain('pegasus')
    expect(names).toEqual([...new Set(names)].sort())
    const f = join(dir, 'mystery.yaml')
    writeFileSync(f, 'engine: cassandra\nname: x\n')
    const err = thrown(() => loadScenario(f))
    expect(err.code).toBe('LAB_ENGINE_UNKNOWN')
    expect(err.message).toBe(`${f}: the lab has no engine "cassandra"`)
    expect(err.hints[0]).toContain('pegasus')
    writeFileSync(f, 'name: x\n')
    expect(thrown(() => loadScenario(f)).message).toBe(`scenario ${f} does not say which store it simulates`)
  })

  test('every built-in scenario is loaded by the lab of its engine', () => {
    for (const name of builtinScenarios()) {
      const loaded = loadScenario(name)
      expect(loaded.lab).toBe(labEngine(loaded.scenario.engine))
      expect(loaded.builtin).toBe(name)
    }
  })
})

describe('Pegasus lab faults from raw argv', () => {
  test('flags, repeated flags and positionals become the fault', () => {
    expect(
      pegasusLab.parseFault('ddd', [
        '1.1',
        '2.0',
        '--drops',
        'replica2, replica3',
        '--decrees',
        'replica3=5:10:10',
        '--decrees',
        'replica4=6:9:9',
        '--config-lcd',
        '7',
      ]),
    ).toEqual({
      type: 'ddd',
      gpids: ['1.1', '2.0'],
      drops: ['replica2', 'replica3'],
      decrees: ['replica3=5:10:10', 'replica4=6:9:9'],
      config_lcd: 7,
    })
    expect(pegasusLab.parseFault('restart-meta', ['--zk', '127.0.0.1:2181', '--root', '/p', '--recover'])).toEqual({
      type: 'restart-meta',
      zk: '127.0.0.1:2181',
      root: '/p',
      recover: true,
    })
    expect(pegasusLab.parseFault('restart-meta', ['--no-recover'])).toEqual({type: 'restart-meta', recover: false})
    expect(pegasusLab.parseFault('zk-loss', [])).toEqual({type: 'zk-loss'})
    expect(pegasusLab.parseFault('kill-node', ['replica3'])).toEqual({type: 'kill-node', node: 'replica3'})
    expect(pegasusLab.parseFault('meta-level', ['blind'])).toEqual({type: 'meta-level', level: 'blind'})
  })

  test("mistakes are USAGE errors with the fault's usage as hint", () => {
    const bad = (name: string, argv: string[]) => thrown(() => pegasusLab.parseFault(name, argv))
    expect(bad('remove-replica', ['1.x', 'replica1']).message).toBe('"1.x" is not a gpid (app_id.partition_index)')
    expect(bad('kill-node', []).message).toBe('kill-node takes exactly one NODE')
    expect(bad('kill-node', []).hints).toEqual(['Usage: lifeboat lab fault kill-node NODE'])
    expect(bad('zk-loss', ['extra']).message).toBe('zk-loss takes no further argument, got "extra"')
    expect(bad('meta-level', ['sleepy']).message).toBe('"sleepy" is not a meta level')
    expect(bad('ddd', ['1.1', '--colour', 'red']).code).toBe('USAGE')
    expect(bad('ddd', ['1.1', '--config-lcd', '-1']).code).toBe('USAGE')
    const unknown = bad('explode', [])
    expect([unknown.code, unknown.message]).toEqual(['USAGE', 'the Pegasus lab has no fault "explode"'])
    expect(pegasusLab.faults.map((f) => f.name)).toContain('restart-meta')
  })
})
