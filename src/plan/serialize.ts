/**
 * The plan's one byte form on disk and on stdout: pretty JSON, two-space indent, final newline.
 * Pure. The plan file, `plan --format json` and `show --format json` all use it, so they are one
 * document byte for byte.
 */
import type {Plan} from './types.js'

/** The plan as pretty JSON with a final newline. Key order is the one buildPlan gives. */
export function serializePlan(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`
}
