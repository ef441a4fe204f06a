/**
 * ajv errors → diagnostics with stable codes, positions in the YAML text, and hints.
 *
 * ajv's own messages are written for schema authors (`must NOT have additional properties`); the
 * operator needs the key, where it is, and what was meant. Codes depend only on the keyword, so
 * tests and scripts can rely on them.
 */
import type {Document, LineCounter} from 'yaml'
import type {ErrorObject} from 'ajv/dist/2020.js'

import {joinPointer, keyPos, sourceText, splitPointer, topPos, valuePos} from './positions.js'
import {closest} from './suggest.js'
import type {Diagnostic} from './types.js'

/** What the mapping needs besides the errors. */
export interface SchemaErrorContext {
  doc: Document
  lc: LineCounter
  text: string
  file: string
  /** The value validated (to say what was found). */
  data: unknown
  /** Every kind the loader knows, for a wrong `kind`. */
  kinds: readonly string[]
  /** The schema document `#/$defs/...` references resolve in (for descriptions behind a `$ref`). */
  rootSchema?: Record<string, unknown>
}

/** A property's description, following one local `$ref` when the property has none of its own. */
function describedBy(prop: Schema | undefined, root: Schema | undefined): string | undefined {
  if (!prop) return undefined
  if (typeof prop.description === 'string') return prop.description
  const ref = prop.$ref
  if (typeof ref !== 'string' || !ref.startsWith('#/') || !root) return undefined
  let node: unknown = root
  for (const seg of ref.slice(2).split('/')) node = (node as Schema | undefined)?.[seg]
  const d = (node as Schema | undefined)?.description
  return typeof d === 'string' ? d : undefined
}

type Schema = Record<string, unknown>

const RANGE_KEYWORDS = new Set([
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minItems',
  'maxItems',
  'minLength',
  'maxLength',
  'minProperties',
  'maxProperties',
])

function valueAt(data: unknown, pointer: string): unknown {
  let v = data
  for (const seg of splitPointer(pointer)) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[seg]
  }
  return v
}

function describeType(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'a list'
  if (typeof v === 'object') return 'a map'
  if (typeof v === 'number') return `the number ${v}`
  if (typeof v === 'boolean') return `the boolean ${v}`
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`
  return typeof v
}

function typeName(t: string): string {
  return (
    (
      {
        object: 'a map',
        array: 'a list',
        string: 'a string',
        integer: 'an integer',
        number: 'a number',
        boolean: 'true or false',
        null: 'null',
      } as Record<string, string>
    )[t] ?? t
  )
}

function schemaOf(e: ErrorObject): Schema {
  return (e.parentSchema ?? {}) as Schema
}

function example(s: Schema): string | undefined {
  const ex = s.examples
  return Array.isArray(ex) && ex.length > 0 ? `e.g. ${JSON.stringify(ex[0])}` : undefined
}

function fieldName(pointer: string): string {
  const segs = splitPointer(pointer)
  return segs.length === 0
    ? 'the document'
    : segs
        .map((s) => (/^[0-9]+$/.test(s) ? `[${s}]` : s))
        .join('.')
        .replace(/\.\[/g, '[')
}

/**
 * Keeps, for each failed anyOf/oneOf, only what helps: when one alternative has the right type
 * and failed deeper (a list whose item is wrong), that alternative's errors; otherwise a single
 * error naming the alternatives.
 */
function collapseAlternatives(errors: ErrorObject[]): ErrorObject[] {
  const combinators = errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
  if (combinators.length === 0) return errors
  const drop = new Set<ErrorObject>()
  const replaced = new Map<ErrorObject, ErrorObject[]>()
  for (const c of combinators) {
    const prefix = `${c.schemaPath}/`
    const branches = new Map<number, ErrorObject[]>()
    for (const e of errors) {
      if (e === c || !e.schemaPath.startsWith(prefix)) continue
      if (e.instancePath !== c.instancePath && !e.instancePath.startsWith(`${c.instancePath}/`)) continue
      const idx = Number(e.schemaPath.slice(prefix.length).split('/')[0])
      if (!branches.has(idx)) branches.set(idx, [])
      branches.get(idx)!.push(e)
      drop.add(e)
    }
    const shallow = (e: ErrorObject) =>
      e.instancePath === c.instancePath && (e.keyword === 'type' || e.keyword === 'const' || e.keyword === 'enum')
    const fitting = [...branches.values()].find((errs) => !errs.some(shallow))
    replaced.set(c, fitting ? fitting : [c])
  }
  const out: ErrorObject[] = []
  for (const e of errors) {
    if (drop.has(e)) continue
    if (replaced.has(e)) out.push(...replaced.get(e)!)
    else out.push(e)
  }
  return out
}

/** Maps ajv's errors to diagnostics. */
export function schemaDiagnostics(errors: readonly ErrorObject[], ctx: SchemaErrorContext): Diagnostic[] {
  const {doc, lc, file} = ctx
  let list = errors.filter((e) => e.keyword !== 'if')
  // propertyNames: ajv reports the inner failure (with propertyName) and then an outer one.
  const inner = new Set(
    list.filter((e) => e.propertyName !== undefined).map((e) => `${e.instancePath}\u0000${e.propertyName}`),
  )
  list = list.filter(
    (e) => !(e.keyword === 'propertyNames' && inner.has(`${e.instancePath}\u0000${String(e.params.propertyName)}`)),
  )
  const outerNames = new Map<string, Schema>()
  for (const e of errors) if (e.keyword === 'propertyNames') outerNames.set(e.instancePath, schemaOf(e))
  list = collapseAlternatives(list)

  const out: Diagnostic[] = []
  const push = (code: string, pointer: string, pos: {line: number; col: number}, message: string, hint?: string) => {
    out.push({code, severity: 'error', message, hint, file, line: pos.line, col: pos.col, path: pointer})
  }

  for (const e of list) {
    const p = e.instancePath
    const s = schemaOf(e)
    const value = valueAt(ctx.data, p)
    if (e.propertyName !== undefined) {
      const pointer = `${p}${joinPointer([e.propertyName])}`
      const map = outerNames.get(p) ?? {}
      push(
        'SCHEMA_PATTERN',
        pointer,
        keyPos(doc, lc, pointer),
        `"${e.propertyName}" is not a valid key in ${fieldName(p)}`,
        typeof map.description === 'string' ? map.description : undefined,
      )
      continue
    }
    switch (e.keyword) {
      case 'additionalProperties':
      case 'unevaluatedProperties': {
        const key = String(e.params.additionalProperty ?? e.params.unevaluatedProperty)
        const pointer = `${p}${joinPointer([key])}`
        const allowed = Object.keys((s.properties ?? {}) as Schema)
        const guess = closest(key, allowed)
        const hint =
          key === '<<'
            ? 'YAML merge keys (<<) are not supported (YAML 1.2): write the fields out'
            : guess
              ? `did you mean "${guess}"?`
              : allowed.length > 0
                ? `allowed here: ${allowed.join(', ')}`
                : undefined
        push('SCHEMA_UNKNOWN_KEY', pointer, keyPos(doc, lc, pointer), `unknown key "${key}" in ${fieldName(p)}`, hint)
        break
      }
      case 'required': {
        const missing = String(e.params.missingProperty)
        const pointer = `${p}${joinPointer([missing])}`
        const about = describedBy(((s.properties ?? {}) as Record<string, Schema>)[missing], ctx.rootSchema)
        const desc = about ? `${missing}: ${about}` : undefined
        const pos = p === '' ? topPos(doc, lc) : keyPos(doc, lc, p)
        push('SCHEMA_REQUIRED', pointer, pos, `${fieldName(p)} is missing "${missing}"`, desc)
        break
      }
      case 'type': {
        const expected = String(e.params.type).split(',').map(typeName).join(' or ')
        let hint: string | undefined
        const src = sourceText(doc, ctx.text, p)
        if (String(e.params.type) === 'string' && (typeof value === 'number' || typeof value === 'boolean')) {
          hint = `quote it: "${src ?? String(value)}"${typeof value === 'number' && !Number.isSafeInteger(value) ? ' (unquoted, YAML reads it as a number and may change it)' : ''}`
        } else if (
          String(e.params.type) === 'boolean' &&
          typeof value === 'string' &&
          /^(yes|no|on|off|y|n|true|false)$/i.test(value)
        ) {
          hint = `YAML 1.2 reads "${value}" as a string: write true or false`
        } else if (String(e.params.type) === 'array' && typeof value === 'string') {
          hint = `write a list, e.g. [${JSON.stringify(value)}] or one "- item" per line`
        }
        push(
          'SCHEMA_TYPE',
          p,
          valuePos(doc, lc, p),
          `${fieldName(p)} must be ${expected}, found ${describeType(value)}`,
          hint,
        )
        break
      }
      case 'enum':
      case 'const': {
        const allowed = (e.keyword === 'const' ? [e.params.allowedValue] : (e.params.allowedValues as unknown[])) ?? []
        const isKind = p === '/kind'
        const names = isKind ? [...ctx.kinds] : allowed.map((a) => String(a))
        const guess = typeof value === 'string' ? closest(value, names) : undefined
        const list = names.map((n) => (isKind ? n : JSON.stringify(n))).join(', ')
        const hint = guess ? `did you mean "${guess}"? (one of: ${list})` : `one of: ${list}`
        const found = value === undefined ? '' : `, found ${describeType(value)}`
        push(
          'SCHEMA_ENUM',
          p,
          valuePos(doc, lc, p),
          names.length === 1
            ? `${fieldName(p)} must be ${JSON.stringify(names[0])}${found}`
            : `${fieldName(p)} must be one of the allowed values${found}`,
          hint,
        )
        break
      }
      case 'anyOf':
      case 'oneOf': {
        const alts = ((s[e.keyword] ?? []) as Schema[]).map((a) =>
          typeof a.title === 'string' ? a.title : typeof a.type === 'string' ? typeName(a.type) : 'another form',
        )
        push(
          'SCHEMA_TYPE',
          p,
          valuePos(doc, lc, p),
          `${fieldName(p)} must be ${alts.join(' or ')}, found ${describeType(value)}`,
          typeof s.description === 'string' ? s.description : undefined,
        )
        break
      }
      case 'pattern': {
        const desc = typeof s.description === 'string' ? s.description : undefined
        const first = Array.isArray(s.examples) && s.examples.length > 0 ? String(s.examples[0]) : undefined
        // The example only when the description does not already show it.
        const ex = first !== undefined && !desc?.includes(first) ? `e.g. ${JSON.stringify(first)}` : undefined
        const hint = [desc, ex].filter(Boolean).join(' ')
        push(
          'SCHEMA_PATTERN',
          p,
          valuePos(doc, lc, p),
          `${fieldName(p)}: ${JSON.stringify(value)} is not in the expected form`,
          hint || undefined,
        )
        break
      }
      case 'format':
        push(
          'SCHEMA_FORMAT',
          p,
          valuePos(doc, lc, p),
          `${fieldName(p)} must be a valid ${String(e.params.format)}`,
          example(s),
        )
        break
      case 'uniqueItems': {
        const i = Math.max(Number(e.params.i), Number(e.params.j))
        const j = Math.min(Number(e.params.i), Number(e.params.j))
        const pointer = `${p}/${i}`
        const first = valuePos(doc, lc, `${p}/${j}`)
        push(
          'DUPLICATE_ENTRY',
          pointer,
          valuePos(doc, lc, pointer),
          `${fieldName(p)} lists ${JSON.stringify(valueAt(ctx.data, pointer))} twice`,
          `first listed on line ${first.line}; remove one`,
        )
        break
      }
      default:
        if (RANGE_KEYWORDS.has(e.keyword)) {
          const found =
            typeof value === 'number'
              ? `, found ${value}`
              : Array.isArray(value)
                ? `, found ${value.length}`
                : typeof value === 'string'
                  ? `, found ${value.length} characters`
                  : ''
          const what = e.keyword.endsWith('Items')
            ? ' items'
            : e.keyword.endsWith('Length')
              ? ' characters'
              : e.keyword.endsWith('Properties')
                ? ' entries'
                : ''
          const limit = e.params.limit ?? e.params.multipleOf
          const rel = (
            {
              minimum: 'at least',
              exclusiveMinimum: 'more than',
              maximum: 'at most',
              exclusiveMaximum: 'less than',
              multipleOf: 'a multiple of',
              minItems: 'at least',
              maxItems: 'at most',
              minLength: 'at least',
              maxLength: 'at most',
              minProperties: 'at least',
              maxProperties: 'at most',
            } as Record<string, string>
          )[e.keyword]
          const desc = typeof s.description === 'string' ? s.description : undefined
          push(
            'SCHEMA_RANGE',
            p,
            valuePos(doc, lc, p),
            `${fieldName(p)} must be ${rel} ${String(limit)}${what}${found}`,
            desc,
          )
        } else {
          push('SCHEMA_INVALID', p, valuePos(doc, lc, p), `${fieldName(p)} ${e.message ?? 'is invalid'}`)
        }
    }
  }
  return dedupe(out)
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>()
  return ds.filter((d) => {
    const k = `${d.code}\u0000${d.path}\u0000${d.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return true
  })
}

/** Pointers that already have a schema error at or under them; semantic checks skip those. */
export function errorPaths(ds: readonly Diagnostic[]): Set<string> {
  return new Set(ds.map((d) => d.path))
}
