// Every schema file we ship is a valid draft 2020-12 schema. The CLI compiles them without this
// check (it costs a compile of the meta-schema at every start), so it is made here, once.
import {readdirSync, readFileSync} from 'node:fs'
import {join, relative} from 'node:path'

import {expect, it} from 'vitest'

import {composeSpecSchema, packageRoot} from '../../src/spec/index.js'
import {createAjv} from '../../src/util/ajv.js'

const dir = join(packageRoot(), 'schemas')
// base.schema.json is the envelope part, whose empty allOf the composition fills: it is checked as
// part of the composition below.
const files = readdirSync(dir, {recursive: true, encoding: 'utf8'})
  .filter((f) => f.endsWith('.json') && f !== join('spec', 'base.schema.json'))
  .map((f) => join(dir, f))
  .sort()

it('finds the schema files', () => {
  expect(files.length).toBeGreaterThanOrEqual(10)
})

it.each(files.map((f) => [relative(dir, f), f]))('%s is valid against the draft 2020-12 meta-schema', (_name, file) => {
  const ajv = createAjv()
  expect(ajv.validateSchema(JSON.parse(readFileSync(file, 'utf8'))), ajv.errorsText()).toBe(true)
})

it('the composed spec schema is valid against the meta-schema, and a broken one is not', () => {
  const ajv = createAjv()
  expect(ajv.validateSchema(composeSpecSchema()), ajv.errorsText()).toBe(true)
  expect(ajv.validateSchema({type: 'object', properties: {a: {type: 'strnig'}}})).toBe(false)
})
