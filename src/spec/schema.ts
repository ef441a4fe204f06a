/**
 * The spec schema (`schemas/spec.schema.json`), found relative to the package root and compiled
 * once per process with ajv's draft 2020-12 dialect.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {Ajv2020} from 'ajv/dist/2020.js'
import type {ValidateFunction} from 'ajv/dist/2020.js'

import {packageRoot} from '../package-root.js'
import {SPEC_KINDS} from './types.js'

/** `$id` of the spec schema; `#/$defs/<Kind>` is the schema of a whole document of that kind. */
export const SPEC_SCHEMA_ID = 'https://lifeboat.dev/schemas/spec.schema.json'

export {packageRoot}

/** Absolute path of `schemas/spec.schema.json`. */
export function specSchemaPath(): string {
  return join(packageRoot(), 'schemas', 'spec.schema.json')
}

interface Compiled {
  ajv: Ajv2020
  /** The whole schema: used when the kind is unknown, to check the envelope. */
  root: ValidateFunction
  kinds: Map<string, ValidateFunction>
  schema: Record<string, unknown>
}

let compiled: Compiled | undefined
const extraCache = new WeakMap<object, ValidateFunction>()

function newAjv(): Ajv2020 {
  // useDefaults fills a copy of the document (the loader keeps the original); verbose gives each
  // error its parentSchema, which the did-you-mean hints and examples come from.
  return new Ajv2020({allErrors: true, strict: true, useDefaults: true, verbose: true})
}

/** The compiled schema, built on first use. */
export function specValidators(): Compiled {
  if (compiled) return compiled
  const schema = JSON.parse(readFileSync(specSchemaPath(), 'utf8')) as Record<string, unknown>
  const ajv = newAjv()
  ajv.addSchema(schema)
  const root = ajv.getSchema(SPEC_SCHEMA_ID)
  if (!root) throw new Error('the spec schema did not compile')
  const kinds = new Map<string, ValidateFunction>()
  for (const kind of SPEC_KINDS) {
    const v = ajv.getSchema(`${SPEC_SCHEMA_ID}#/$defs/${kind}`)
    if (!v) throw new Error(`the spec schema has no $defs/${kind}`)
    kinds.set(kind, v)
  }
  compiled = {ajv, root, kinds, schema}
  return compiled
}

/**
 * The validator of a kind from an engine plugin. Compiled in an ajv of its own so that a plugin's
 * `$id` cannot clash with ours; cached per schema object.
 */
export function extraKindValidator(schema: object): ValidateFunction {
  const cached = extraCache.get(schema)
  if (cached) return cached
  const v = newAjv().compile(schema)
  extraCache.set(schema, v)
  return v
}
