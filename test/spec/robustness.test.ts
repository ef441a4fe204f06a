/**
 * Every field of every valid example replaced by hostile values: the loader must answer with
 * diagnostics (each with a code and a position) and never throw.
 */
import {readFile} from 'node:fs/promises'

import {describe, expect, it} from 'vitest'
import {stringify, parse} from 'yaml'

import {fixture, validateSpecText} from './helpers.js'

const EXAMPLES = [
  'pegasus-meta-recovery.yaml',
  'pegasus-ddd-recovery.yaml',
  'pegasus-zk-migration.yaml',
  'openmldb-recovery.yaml',
  'tikv-unsafe-recovery.yaml',
]
const HOSTILE: unknown[] = [null, [], {}, -1, 'x', {'a/b~c': [1e300]}]

function leaves(v: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (Array.isArray(v)) return [path, ...v.flatMap((x, i) => leaves(x, [...path, i]))]
  if (v !== null && typeof v === 'object')
    return [path, ...Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]))]
  return [path]
}

function replaced(doc: unknown, path: (string | number)[], value: unknown): unknown {
  if (path.length === 0) return value
  const copy = structuredClone(doc) as Record<string | number, unknown>
  let node = copy
  for (const seg of path.slice(0, -1)) node = node[seg] as Record<string | number, unknown>
  node[path[path.length - 1]!] = value
  return copy
}

describe('robustness', () => {
  it.each(EXAMPLES)('%s with every field replaced by hostile values', async (name) => {
    const doc = parse(await readFile(fixture(name), 'utf8')) as unknown
    let invalid = 0
    for (const path of leaves(doc)) {
      for (const value of HOSTILE) {
        const text = stringify(replaced(doc, path, value))
        const r = await validateSpecText(text, 'mutated.yaml', {baseDir: fixture('.')})
        for (const d of r.diagnostics) {
          expect(d.code).toMatch(/^[A-Z_]+$/)
          expect(d.line).toBeGreaterThanOrEqual(1)
          expect(d.col).toBeGreaterThanOrEqual(1)
        }
        if (!r.ok) invalid++
      }
    }
    // Most replacements break the spec; a loader that accepted everything would fail here.
    expect(invalid).toBeGreaterThan(leaves(doc).length * 3)
  })
})
