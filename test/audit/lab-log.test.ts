// The lab's own log stays small: rotated to lab.log.1 past its cap, and quiet by default.
import {existsSync, mkdtempSync, readFileSync, statSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {labLogger} from '../../src/lab/daemon.js'

describe('lab.log', () => {
  it('rotates past its cap and keeps one old generation', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-lablog-')), 'lab.log')
    const log = labLogger(file, {verbose: true, maxBytes: 4096})
    for (let i = 0; i < 500; i++) log(`line ${i} ${'x'.repeat(50)}`)
    expect(statSync(file).size).toBeLessThanOrEqual(4096)
    expect(statSync(`${file}.1`).size).toBeLessThanOrEqual(4096)
    expect(readFileSync(file, 'utf8')).toContain('line 499 ')
  })

  it('is quiet by default: a burst is cut and counted', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'lifeboat-lablog-')), 'lab.log')
    const log = labLogger(file)
    for (let i = 0; i < 1000; i++) log(`request ${i}`)
    const lines = readFileSync(file, 'utf8').trim().split('\n')
    // All in one minute: at most 120; a minute boundary in the middle allows a second share and the count line.
    expect(lines.length).toBeLessThanOrEqual(241)
    expect(existsSync(`${file}.1`)).toBe(false)
  })
})
