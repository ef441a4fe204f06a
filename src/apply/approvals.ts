/**
 * The approval policy apply enforces and the approvals that count, settled from outside the plan
 * file (issue 18). A plan's embedded spec and its approvals list can be edited and its plain
 * digest recomputed, so neither is trusted on its own:
 * - the policy is read from the spec file itself (the path the plan names, or --spec), which must
 *   hash to the plan's spec sha256, as must the spec source embedded in the plan;
 * - approvals count only as signatures verified against that policy's allowed signers.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {resolve} from 'node:path'

import {ExitCode, LifeboatError} from '../errors.js'
import type {Plan} from '../plan/types.js'
import {approverPolicyOf, type ApproverPolicy} from './gates.js'
import {loadSpecForEngine} from './plan-spec.js'

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

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

function refused(code: string, message: string, detail: string, hints: string[]): LifeboatError {
  return new LifeboatError(code, message, {detail, hints, exit: ExitCode.APPROVAL})
}

/**
 * The spec a saved plan was made from, read again from disk: its document (with the approval
 * policy) and path. Refuses when the file is missing or differs from the plan's spec.
 */
export async function specFileOfPlan(plan: Plan, env: Record<string, string | undefined>, specFile?: string): Promise<{document: Record<string, unknown>; path: string}> {
  if (sha256(Buffer.from(plan.spec.source, 'utf8')) !== plan.spec.sha256) {
    throw refused('PLAN_SPEC_EDITED', 'The spec embedded in the plan does not hash to the plan\'s spec sha256',
      'The plan was edited after it was made (its digest is a plain hash anyone can recompute). Nothing was written.',
      ['Make a new plan from the reviewed spec: `lifeboat plan SPEC --out plan.json`.'])
  }
  const path = specFile ?? plan.spec.path
  if (path === undefined || !existsSync(resolve(path))) {
    throw refused('SPEC_FILE_NEEDED', path === undefined ? 'apply needs the spec file this plan was made from' : `the spec file ${path} this plan was made from is not there`,
      'The approval policy is read from the spec file, never from the copy inside the plan. Nothing was written.',
      ['Pass the reviewed spec with --spec FILE (from your repository), or run apply where the plan was made.'])
  }
  const loaded = await loadSpecForEngine(path, env)
  if (loaded.planSpec.sha256 !== plan.spec.sha256) {
    throw refused('SPEC_CHANGED', `the spec file ${path} differs from the spec this plan was made from`,
      `The file hashes to ${loaded.planSpec.sha256}; the plan names ${plan.spec.sha256}. The approval policy comes from the file, so the plan must match it. Nothing was written.`,
      ['Plan again from the spec as it is now and have it approved: `lifeboat plan SPEC --out plan.json`.', 'Or pass the spec the plan was made from with --spec FILE.'])
  }
  return {document: loaded.planSpec.document, path}
}

/** The policy and the counted approvals for a plan about to be applied. */
export async function gatePolicyFor(plan: Plan, target: TargetLike, env: Record<string, string | undefined>, specFile?: string): Promise<GatePolicy> {
  const approvals = [...new Set(plan.approvals.filter((a) => a.digest === plan.digest).map((a) => a.name))].sort()
  if (target.fromSpec) return {approvers: approverPolicyOf(plan.spec.document), approvals, source: plan.spec.path ?? 'the spec'}
  const spec = await specFileOfPlan(plan, env, specFile)
  return {approvers: approverPolicyOf(spec.document), approvals, source: spec.path}
}
