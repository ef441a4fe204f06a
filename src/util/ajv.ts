/**
 * The one Ajv setup: JSON Schema draft 2020-12 with the standard formats. The spec schema, the
 * plan and audit schemas and every lab's scenario schema are compiled through it.
 */
import {Ajv2020, type Options} from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'

// ajv-formats is CommonJS: under NodeNext its default import is the module object.
const addFormats = ((addFormatsModule as unknown as {default?: unknown}).default ?? addFormatsModule) as (
  ajv: Ajv2020,
) => Ajv2020

/**
 * A draft 2020-12 Ajv with every error reported (`allErrors`), strict mode, and the formats.
 *
 * Our own schemas are not checked against the draft's meta-schema at each compile
 * (`validateSchema: false`): that check compiles the meta-schema first, about 0.15 s of every CLI
 * start, for files that only change in a commit; `test/spec/schemas-meta.test.ts` checks them all
 * instead. A schema from outside (an engine plugin's kind) passes `validateSchema: true`.
 */
export function createAjv(opts: Options = {}): Ajv2020 {
  const ajv = new Ajv2020({allErrors: true, strict: true, validateSchema: false, ...opts})
  addFormats(ajv)
  return ajv
}

export type {Ajv2020}
