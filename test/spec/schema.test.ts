import {readFileSync} from 'node:fs'

import {describe, expect, it} from 'vitest'

import {SPEC_KINDS, composeSpecSchema, specKinds, specSchemaPath} from '../../src/spec/index.js'

type Schema = Record<string, unknown>
const schema = JSON.parse(readFileSync(specSchemaPath(), 'utf8')) as Schema
const defs = schema.$defs as Record<string, Schema>

function resolveRef(s: Schema): Schema {
  const ref = s.$ref
  if (typeof ref !== 'string') return s
  return defs[ref.replace('#/$defs/', '')] ?? {}
}

/** Every subschema with its JSON pointer inside the schema file. */
function* walk(s: unknown, at: string): Generator<[string, Schema]> {
  if (s === null || typeof s !== 'object') return
  if (Array.isArray(s)) {
    for (const [i, v] of s.entries()) yield* walk(v, `${at}/${i}`)
    return
  }
  yield [at, s as Schema]
  for (const [k, v] of Object.entries(s)) {
    // `if` holds a condition on the data, not a description of it.
    if (k === 'examples' || k === 'default' || k === 'const' || k === 'enum' || k === 'if') continue
    yield* walk(v, `${at}/${k}`)
  }
}

describe('schemas/spec.schema.json', () => {
  it('is draft 2020-12 and defines every kind', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema')
    for (const kind of SPEC_KINDS) expect(defs[kind], kind).toBeDefined()
    expect(((schema.properties as Schema).kind as Schema).enum).toEqual(specKinds())
    expect(specKinds()).toEqual([...SPEC_KINDS].sort())
  })

  it('is the composition of schemas/spec/base.schema.json and schemas/kinds/* (npm run schemas writes it)', () => {
    expect(schema).toEqual(composeSpecSchema())
  })

  it('closes every object that lists its properties', () => {
    const open: string[] = []
    for (const [at, s] of walk(schema, '#')) {
      if (s.properties && s.additionalProperties !== false && s.unevaluatedProperties !== false) open.push(at)
    }
    expect(open).toEqual([])
  })

  it('describes every field, so editors show help', () => {
    const bare: string[] = []
    for (const [at, s] of walk(schema, '#')) {
      for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
        if (typeof prop.description !== 'string' && typeof resolveRef(prop).description !== 'string')
          bare.push(`${at}/properties/${name}`)
      }
    }
    expect(bare).toEqual([])
  })

  it('documents each default in the description', () => {
    const undocumented: string[] = []
    for (const [at, s] of walk(schema, '#')) {
      for (const [name, prop] of Object.entries((s.properties ?? {}) as Record<string, Schema>)) {
        if (prop.default === undefined) continue
        const d = String(prop.description ?? '')
        if (!/Default/.test(d)) undocumented.push(`${at}/properties/${name}`)
      }
    }
    expect(undocumented).toEqual([])
  })
})
