/**
 * The spec schema, composed from its parts:
 * - `schemas/spec/base.schema.json`: the envelope every spec shares (apiVersion, kind, metadata,
 *   approval) and the shared definitions (hostPort, zookeeper, ...);
 * - `schemas/kinds/<Kind>.schema.json`: one file per kind, the schema of a whole document of that
 *   kind, owned by its engine (its `$defs` are hoisted into the composition);
 * - `schemas/kinds/<name>.defs.json`: definitions several kinds of one engine share.
 *
 * The composition is what the loader validates against (built in memory, each kind compiled on
 * first use with the shared Ajv setup) and what editors use: `schemas/spec.schema.json` is the same
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
  /** The whole composition: what descriptions behind a `$ref` are looked up in. */
  schema: Schema
  /** The kinds, in file-name order. */
  kinds: string[]
  /** The whole schema, for a document whose kind is missing or unknown: checks the envelope. */
  root(): ValidateFunction
  /** The schema of a whole document of one kind; undefined for a kind the schema does not know. */
  kind(name: string): ValidateFunction | undefined
}

let compiled: Compiled | undefined
const extraCache = new WeakMap<object, ValidateFunction>()

function newAjv(validateSchema = false): Ajv2020 {
  // useDefaults fills a copy of the document (the loader keeps the original); verbose gives each
  // error its parentSchema, which the did-you-mean hints and examples come from.
  return createAjv({useDefaults: true, verbose: true, validateSchema})
}

/**
 * The spec schema's validators, each compiled on first use. A kind is compiled as a schema of its
 * own (its `$defs/<Kind>` with the shared `$defs`), not as a fragment of the whole: the whole
 * schema's if/then branches would compile every kind, a third of a second at every CLI start.
 */
export function specValidators(): Compiled {
  if (compiled) return compiled
  const schema = composeSpecSchema()
  const kinds = (schema.properties as {kind: {enum: string[]}}).kind.enum
  const ajv = newAjv()
  let root: ValidateFunction | undefined
  const byKind = new Map<string, ValidateFunction>()
  compiled = {
    schema,
    kinds,
    root: () => (root ??= ajv.compile(schema)),
    kind(name) {
      if (!kinds.includes(name)) return undefined
      let v = byKind.get(name)
      if (!v) {
        v = ajv.compile({
          $schema: schema.$schema as string,
          $id: kindSchemaId(name),
          $ref: `#/$defs/${name}`,
          $defs: schema.$defs,
        })
        byKind.set(name, v)
      }
      return v
    },
  }
  return compiled
}

/** `$id` of the schema of one kind as the loader compiles it. */
function kindSchemaId(kind: string): string {
  return new URL(`kinds/${kind}.schema.json`, SPEC_SCHEMA_ID).href
}

/** The kinds the spec schema knows (one per file in `schemas/kinds/`), in file-name order. */
export function specKinds(): string[] {
  return [...specValidators().kinds]
}

/**
 * The validator of a kind from an engine plugin. Compiled in an ajv of its own so that a plugin's
 * `$id` cannot clash with ours; cached per schema object.
 */
export function extraKindValidator(schema: object): ValidateFunction {
  const cached = extraCache.get(schema)
  if (cached) return cached
  // A plugin's schema is not ours: check it against the draft's meta-schema too.
  const v = newAjv(true).compile(schema)
  extraCache.set(schema, v)
  return v
}
