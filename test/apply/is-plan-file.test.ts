// isPlanFile decides by content; a file larger than any spec is not read whole (issue 17: a 64,000-partition plan is 134 MB).
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {isPlanFile} from '../../src/apply/plan-spec.js'
import {MAX_FILE_BYTES} from '../../src/spec/read-file.js'

const dir = mkdtempSync(join(tmpdir(), 'lifeboat-is-plan-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))

function file(name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('isPlanFile', () => {
  it('tells a JSON spec from a plan by its content', async () => {
    expect(await isPlanFile(file('spec.json', '{"apiVersion": "lifeboat/v1", "kind": "X"}'))).toBe(false)
    expect(await isPlanFile(file('spec.yaml', 'apiVersion: lifeboat/v1\nkind: X\n'))).toBe(false)
    expect(await isPlanFile(file('plan.json', '{"formatVersion": 2}'))).toBe(true)
    expect(await isPlanFile(file('truncated.json', '{"formatVersion": 2, "cha'))).toBe(true)
  })

  it('takes a JSON file larger than any spec as a plan, and leaves a large YAML file to the spec reader', async () => {
    const padding = ' '.repeat(MAX_FILE_BYTES)
    expect(await isPlanFile(file('big-plan.json', `\n  {"formatVersion": 2, "pad": "${padding}"}`))).toBe(true)
    expect(await isPlanFile(file('big-spec.yaml', `apiVersion: lifeboat/v1\n# ${padding}\n`))).toBe(false)
  })
})
