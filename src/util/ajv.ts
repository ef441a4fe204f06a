/**
 * The one Ajv setup: JSON Schema draft 2020-12 with the standard formats. The spec schema, the
 * plan and audit schemas and every lab's scenario schema are compiled through it.
 */
import {createRequire} from 'node:module'

import type {Ajv2020, Options} from 'ajv/dist/2020.js'

// Ajv and ajv-formats (CommonJS, some eighty files) are loaded at the first createAjv, not with
// this module: a command that may validate (`audit verify` given --spec, `lab status` reading a
// scenario) but does not, starts about 0.15 s sooner. require keeps createAjv synchronous.
const require = createRequire(import.meta.url)

/**
 * A draft 2020-12 Ajv with every error reported (`allErrors`), strict mode, and the formats.
 *
 * Our own schemas are not checked against the draft's meta-schema at each compile
 * (`validateSchema: false`): that check compiles the meta-schema first, about 0.15 s of every CLI
 * start, for files that only change in a commit; `test/spec/schemas-meta.test.ts` checks them all
 * instead. A schema from outside (an engine plugin's kind) passes `validateSchema: true`.
 */
export function createAjv(opts: Options = {}): Ajv2020 {
  const {Ajv2020: Ajv} = require('ajv/dist/2020.js') as typeof import('ajv/dist/2020.js')
  const addFormats = require('ajv-formats') as (ajv: Ajv2020) => Ajv2020
  const ajv = new Ajv({allErrors: true, strict: true, validateSchema: false, ...opts})
  addFormats(ajv)
  return ajv
}

export type {Ajv2020}
