/**
 * The spec schema, composed from its parts:
 * - `schemas/spec/base.schema.json`: the envelope every spec shares (apiVersion, kind, metadata,
 *   approval) and the shared definitions (hostPort, zookeeper, ...);
 * - `schemas/kinds/<Kind>.schema.json`: one file per kind, the schema of a whole document of that
 *   kind, owned by its engine (its `$defs` are hoisted into the composition);
 * - `schemas/kinds/<name>.defs.json`: definitions several kinds of one engine share.
 *
 * The composition is what the loader validates against (built in memory, compiled once per
 * process with the shared Ajv setup) and what editors use: `schemas/spec.schema.json` is the same
 * composition written out by `npm run schemas` (a test keeps it current). Adding a kind is adding
 * its file under `schemas/kinds/`.
 */
import {readFileSync, readdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import type {Ajv2020, ValidateFunction} from 'ajv/dist/2020.js'

import {packageRoot} from '../package-root.js'
import {createAjv} from '../util/ajv.js'

/** `$id` of the spec schema; `#/$defs/<Kind>` is the schema of a whole document of that kind. */
export const SPEC_SCHEMA_ID = 'https://lifeboat.dev/schemas/spec.schema.json'

export {packageRoot}

type Schema = Record<string, unknown>

/** Absolute path of `schemas/spec.schema.json` (the composition, for editors). */
export function specSchemaPath(): string {
  return join(packageRoot(), 'schemas', 'spec.schema.json')
}

/** Absolute path of `schemas/kinds/` (one schema file per kind). */
export function kindSchemaDir(): string {
  return join(packageRoot(), 'schemas', 'kinds')
}

const KIND_FILE = /^([A-Z][A-Za-z0-9]*)\.schema\.json$/
const DEFS_FILE = /^[a-z][a-z0-9-]*\.defs\.json$/

function readSchema(path: string): Schema {
  return JSON.parse(readFileSync(path, 'utf8')) as Schema
}

/**
 * The spec schema composed from `schemas/spec/base.schema.json` and `schemas/kinds/*`: kinds in
 * file-name order, each under `$defs/<Kind>` with an `if kind == <Kind> then $ref` branch. Throws
 * on a file that is neither a kind nor a definitions file, and on a definition given twice.
 */
export function composeSpecSchema(root = packageRoot()): Schema {
  const base = readSchema(join(root, 'schemas', 'spec', 'base.schema.json'))
  const defs: Schema = {...(base.$defs as Schema)}
  const kinds: string[] = []
  const dir = join(root, 'schemas', 'kinds')
  const hoist = (file: string, more: unknown): void => {
    for (const [name, def] of Object.entries((more ?? {}) as Schema)) {
      if (name in defs)
        throw new Error(`schemas/kinds/${file}: $defs/${name} is already defined elsewhere in the spec schema`)
      defs[name] = def
    }
  }
  for (const file of readdirSync(dir).sort()) {
    const m = KIND_FILE.exec(file)
    if (!m && !DEFS_FILE.test(file))
      throw new Error(`schemas/kinds/${file} is neither <Kind>.schema.json nor <name>.defs.json`)
    const {$schema: _schema, $defs: own, ...rest} = readSchema(join(dir, file))
    hoist(file, own)
    if (!m) continue
    const kind = m[1]
    if (rest.title !== kind) throw new Error(`schemas/kinds/${file}: its title must be the kind, ${kind}`)
    hoist(file, {[kind]: rest})
    kinds.push(kind)
  }
  const props = {...(base.properties as Schema)}
  // A top-level section a kind adds (e.g. PegasusZkMigration's `migration`) is allowed by the envelope too.
  for (const kind of kinds) {
    for (const [name, prop] of Object.entries(((defs[kind] as Schema).properties ?? {}) as Schema)) {
      if (!(name in props)) props[name] = {description: (prop as Schema).description ?? `${kind} only.`}
    }
  }
  props.kind = {...(props.kind as Schema), enum: kinds}
  const {$comment: _comment, ...envelope} = base
  return {
    ...envelope,
    $comment:
      'Composed from schemas/spec/base.schema.json and schemas/kinds/* by `npm run schemas`: edit those, not this file.',
    properties: props,
    allOf: kinds.map((kind) => ({
      if: {type: 'object', properties: {kind: {const: kind}}, required: ['kind']},
      then: {$ref: `#/$defs/${kind}`},
    })),
    $defs: defs,
  }
}

/** The composition as `schemas/spec.schema.json` holds it (2-space JSON and a final newline). */
export function composedSpecSchemaText(root = packageRoot()): string {
  return `${JSON.stringify(composeSpecSchema(root), null, 2)}\n`
}

/** Writes `schemas/spec.schema.json` from its parts (`npm run schemas`). */
export function writeComposedSpecSchema(root = packageRoot()): void {
  writeFileSync(join(root, 'schemas', 'spec.schema.json'), composedSpecSchemaText(root))
}

interface Compiled {
  ajv: Ajv2020
  /** The whole schema: used when the kind is unknown, to check the envelope. */
  root: ValidateFunction
  kinds: Map<string, ValidateFunction>
  schema: Schema
}

let compiled: Compiled | undefined
const extraCache = new WeakMap<object, ValidateFunction>()

function newAjv(): Ajv2020 {
  // useDefaults fills a copy of the document (the loader keeps the original); verbose gives each
  // error its parentSchema, which the did-you-mean hints and examples come from.
  return createAjv({useDefaults: true, verbose: true})
}

/** The compiled schema, built on first use. */
export function specValidators(): Compiled {
  if (compiled) return compiled
  const schema = composeSpecSchema()
  const ajv = newAjv()
  ajv.addSchema(schema)
  const root = ajv.getSchema(SPEC_SCHEMA_ID)
  if (!root) throw new Error('the spec schema did not compile')
  const kinds = new Map<string, ValidateFunction>()
  for (const kind of (schema.properties as {kind: {enum: string[]}}).kind.enum) {
    const v = ajv.getSchema(`${SPEC_SCHEMA_ID}#/$defs/${kind}`)
    if (!v) throw new Error(`the spec schema has no $defs/${kind}`)
    kinds.set(kind, v)
  }
  compiled = {ajv, root, kinds, schema}
  return compiled
}

/** The kinds the spec schema knows (one per file in `schemas/kinds/`), in file-name order. */
export function specKinds(): string[] {
  return [...specValidators().kinds.keys()]
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
