/**
 * Schema checks for lab scenarios: each lab's scenario schema lives in `schemas/lab/<file>` and
 * is compiled once through the shared Ajv setup. A lab's `parseScenario` calls
 * {@link checkScenarioSchema} first, then checks what a schema cannot say.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import type {ErrorObject, ValidateFunction} from 'ajv/dist/2020.js'

import {LifeboatError} from '../errors.js'
import {packageRoot} from '../package-root.js'
import {createAjv} from '../util/ajv.js'

const compiled = new Map<string, ValidateFunction>()

/** The compiled schema `schemas/lab/<file>`. */
function validatorOf(file: string): ValidateFunction {
  let v = compiled.get(file)
  if (!v) {
    const schema = JSON.parse(readFileSync(join(packageRoot(), 'schemas', 'lab', file), 'utf8')) as object
    v = createAjv({strict: false}).compile(schema)
    compiled.set(file, v)
  }
  return v
}

/** One line per schema error, `pointer: message (property)`, without the if/then wrappers' repeats. */
export function schemaProblems(errors: readonly ErrorObject[] | null | undefined): string[] {
  const out = new Set<string>()
  for (const e of errors ?? []) {
    if (e.message === 'must match "then" schema') continue
    const extra = e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''
    out.add(`${e.instancePath || '/'}: ${e.message ?? 'is invalid'}${extra}`)
  }
  return [...out]
}

/**
 * Validates a scenario document against `schemas/lab/<file>`; throws LAB_SCENARIO_INVALID naming
 * the scenario file, with one line per problem in the detail.
 */
export function checkScenarioSchema(
  doc: unknown,
  path: string,
  file: string,
  hints: string[] = [`See schemas/lab/${file} for the vocabulary.`],
): void {
  const v = validatorOf(file)
  if (v(doc)) return
  throw new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} does not match the lab scenario schema`, {
    detail: schemaProblems(v.errors).join('\n'),
    hints,
  })
}
