// The task list: what a terminal shows (lines cut to its width, redrawn in place) and the plain
// progress lines of a log.
import {describe, expect, it} from 'vitest'

import {parseDuration} from '../../src/apply/duration.js'
import {LiveTaskList, PlainTaskList, renderTaskLines} from '../../src/cli/progress.js'

describe('task list', () => {
  it('renders one line per step with its status, cut to the width', () => {
    const lines = renderTaskLines(
      [
        {id: '01-a', description: 'Set a', status: 'done', note: 'a = 1'},
        {id: '02-long-id', description: 'x'.repeat(200), status: 'running'},
      ],
      {color: false, width: 40},
    )
    expect(lines[0]).toBe('✓ 01-a        done     a = 1')
    expect([...lines[1]!].length).toBe(40)
    expect(lines[1]!.endsWith('…')).toBe(true)
  })

  it('redraws the whole list in place on a terminal', () => {
    let out = ''
    const list = new LiveTaskList(
      [
        {id: '01', description: 'one'},
        {id: '02', description: 'two'},
      ],
      (t) => (out += t),
      {color: false, width: 80},
    )
    list.update('01', 'running')
    expect(out).not.toContain('\u001B[2A')
    list.update('01', 'done')
    expect(out).toContain('\u001B[2A')
    expect(out.split('\u001B[2A').at(-1)).toContain('✓ 01  done')
  })

  it('prints one plain line per change otherwise', () => {
    let out = ''
    const list = new PlainTaskList(
      [
        {id: '01', description: 'one'},
        {id: '02', description: 'two'},
      ],
      (t) => (out += t),
    )
    list.update('02', 'skipped', 'already done')
    expect(out).toBe('[2/2] 02: already in place\n')
  })

  it('names confirmed manual steps, effects already in place and steps done in an earlier run', () => {
    let out = ''
    const list = new PlainTaskList(
      [
        {id: '01', description: 'one'},
        {id: '02', description: 'two'},
      ],
      (t) => (out += t),
    )
    list.update('01', 'done', 'done in an earlier run')
    list.update('02', 'done', 'confirmed (--confirm)')
    expect(out).toBe('[1/2] 01: done in an earlier run\n[2/2] 02: confirmed (--confirm)\n')
    const lines = renderTaskLines([{id: '01', description: 'x', status: 'skipped', note: 'already done'}], {
      color: false,
      width: 80,
    })
    expect(lines[0]).toBe('↷ 01  already in place  x')
  })

  it('without a terminal, a wait that repeats its note prints it again only every 15 s', () => {
    let out = ''
    let now = 0
    const list = new PlainTaskList(
      [{id: '01', description: 'wait'}],
      (t) => (out += t),
      () => now,
    )
    for (let s = 0; s < 40; s++) {
      now = s * 1000
      list.update('01', 'running', 'waiting for the meta server to leave recovery mode')
    }
    // At 0 s, 15 s and 30 s: 3 lines for 40 polls.
    expect(out.trimEnd().split('\n')).toHaveLength(3)
    list.update('01', 'running', 'the meta server serves')
    expect(out.trimEnd().split('\n').at(-1)).toBe('[1/1] 01: running (the meta server serves)')
  })
})

describe('parseDuration', () => {
  it('reads Terraform-style durations and refuses anything else', () => {
    expect(parseDuration('0s', '--lock-timeout')).toBe(0)
    expect(parseDuration('90', '--lock-timeout')).toBe(90_000)
    expect(parseDuration('2m', '--lock-timeout')).toBe(120_000)
    expect(parseDuration('250ms', '--lock-timeout')).toBe(250)
    expect(() => parseDuration('soon', '--lock-timeout')).toThrow(/is not a duration/)
  })
})
