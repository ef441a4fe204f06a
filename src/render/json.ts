/** `--format json`: the plan itself, byte for byte the plan file. Pure. */
import {serializePlan} from '../plan/serialize.js'
import type {Plan} from '../plan/types.js'

/** The plan document as pretty JSON with a final newline; the same bytes the plan file holds. */
export function renderPlanJson(plan: Plan): string {
  return serializePlan(plan)
}
