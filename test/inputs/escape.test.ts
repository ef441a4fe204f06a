// Free text cannot drive the terminal: control characters in spec fields and in names and
// messages from the cluster are shown as visible escapes by every renderer, colour or not.
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {renderAuditTimeline} from '../../src/audit/timeline.js'
import {formatError} from '../../src/cli/base-command.js'
import {LifeboatError} from '../../src/errors.js'
import type {Plan} from '../../src/plan/types.js'
import {escapeControls, escapeControlsDeep} from '../../src/render/escape.js'
import {renderPlanMarkdown} from '../../src/render/markdown.js'
import {renderPlanText} from '../../src/render/text.js'
import {REPO, runCli, testStore, workspace} from '../cli/helpers.js'

const SPOOF = '\u001b[2J\u001b[H\u001b[8mhidden\u009b31m\u202eevil\r'
/** Anything but an SGR colour sequence (which only the renderer itself writes). */
const NON_SGR_CONTROL =
  // eslint-disable-next-line no-control-regex
  /\u001b(?!\[[0-9;]*m)|[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/

function fixturePlan(): Plan {
  const dir = join(REPO, 'test', 'fixtures', 'PegasusMetaRecovery')
  const scenario = readdirSync(dir).find((d) => {
    try {
      readFileSync(join(dir, d, 'plan.json'))
      return true
    } catch {
      return false
    }
  })!
  return JSON.parse(readFileSync(join(dir, scenario, 'plan.json'), 'utf8')) as Plan
}

describe('escapeControls', () => {
  it('shows every control character and keeps ordinary text, tabs and newlines', () => {
    expect(escapeControls('INC-42 ünïcode\tok\nnext')).toBe('INC-42 ünïcode\tok\nnext')
    expect(escapeControls(SPOOF)).toBe('\\e[2J\\e[H\\e[8mhidden\\x9b31m\\u{202e}evil\\r')
    expect(escapeControls('\u0000\u0007\u007f')).toBe('\\0\\a\\x7f')
  })

  it('escapes deep values and keys, and returns untouched values as they are', () => {
    const clean = {a: ['x', {b: 'y'}]}
    expect(escapeControlsDeep(clean)).toBe(clean)
    expect(escapeControlsDeep({'k\u001b': ['\u001b[2J', 1, null]})).toEqual({'k\\e': ['\\e[2J', 1, null]})
  })
})

describe('renderers', () => {
  const plan = fixturePlan()
  const spoofed: Plan = {
    ...plan,
    spec: {...plan.spec, ticket: SPOOF, name: `name${SPOOF}`},
    cluster: {...plan.cluster, name: `cluster${SPOOF}`},
    findings: [...plan.findings, {severity: 'warning', code: 'X', message: `table ${SPOOF}`, hint: `hint ${SPOOF}`}],
  } as Plan

  it('text, with and without colour, and markdown show the escapes and obey none', () => {
    for (const color of [false, true]) {
      const text = renderPlanText(spoofed, {color, width: 100})
      expect(text).not.toMatch(NON_SGR_CONTROL)
      expect(text).toContain('\\e[2J')
      if (!color) expect(text).not.toContain('\u001b')
    }
    const md = renderPlanMarkdown(spoofed).join('')
    expect(md).not.toContain('\u001b')
    expect(md).not.toMatch(NON_SGR_CONTROL)
    expect(md).toContain('\\e')
  })

  it('the audit timeline and error messages escape too', () => {
    const timeline = renderAuditTimeline([
      {
        seq: 1,
        time: '2026-01-01T00:00:00Z',
        run: `r${SPOOF}`,
        actor: 'a',
        host: 'h',
        event: 'run.started',
        data: {comment: SPOOF},
        prev: '0'.repeat(64),
        hash: '1'.repeat(64),
      },
    ])
    expect(timeline).not.toMatch(NON_SGR_CONTROL)
    const err = formatError(new LifeboatError('X', `table ${SPOOF} is gone`, {detail: SPOOF, hints: [SPOOF]}))
    expect(err).not.toMatch(NON_SGR_CONTROL)
    expect(err).toContain('\\e[2J')
  })
})

const store = testStore()

describe('through the binary', () => {
  it('a ticket of ESC sequences is printed escaped by plan and validate', async () => {
    const ws = workspace(store.zk, 'set: {a: "1"}')
    const spec = readFileSync(ws.spec, 'utf8').replace('ticket: INC-42', 'ticket: "INC-42\\e[2J\\e[8m"')
    writeFileSync(ws.spec, spec)
    for (const argv of [
      ['plan', ws.spec, '--no-color'],
      ['plan', ws.spec, '--format', 'markdown'],
      ['show', 'plan.json'],
    ]) {
      if (argv[0] === 'show')
        expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
      const r = await runCli(argv, {cwd: ws.dir})
      expect(r.code, `${argv.join(' ')}: ${r.stderr}`).toBe(0)
      expect(r.stdout).not.toContain('\u001b')
      expect(r.stdout).toContain('\\e[2J')
    }
  })
})
