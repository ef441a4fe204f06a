/**
 * The plan's one byte form on disk and on stdout: pretty JSON, two-space indent, final newline.
 * Pure. The plan file, `plan --format json` and `show --format json` all use it, so they are one
 * document byte for byte.
 */
import {jsonStringify} from './canonical.js'
import type {Plan} from './types.js'

/** The plan as pretty JSON with a final newline. Key order is the one buildPlan gives. */
export function serializePlan(plan: Plan): string {
  return `${jsonStringify(plan, 2)}\n`
}
