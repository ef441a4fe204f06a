/**
 * The approval gates of apply (DESIGN.md section 5, step 3), as pure decisions.
 *
 * Every plan with a non-read step needs the applier's confirmation: a typed `yes` at a terminal,
 * the cluster's name when a step may lose data, or `--auto-approve` (with `--allow-data-loss`
 * for lossy steps). Where the spec asks for N approvers of a risk class, the plan must also carry
 * N distinct recorded approvals. This module decides; apply asks, records and refuses.
 */
import {ExitCode} from '../errors.js'
import {RISK_ORDER, type Plan, type RiskClass, type Step} from '../plan/types.js'

/** `approval.approvers` of a spec: distinct approvers needed per risk class. */
export type ApproverPolicy = Partial<Record<RiskClass, number>>

/** The approver policy written in a spec document (`approval.approvers`), ignoring anything malformed. */
export function approverPolicyOf(document: Record<string, unknown>): ApproverPolicy {
  const approval = document.approval
  if (approval === null || typeof approval !== 'object') return {}
  const approvers = (approval as {approvers?: unknown}).approvers
  if (approvers === null || typeof approvers !== 'object') return {}
  const policy: ApproverPolicy = {}
  for (const risk of RISK_ORDER) {
    const n = (approvers as Record<string, unknown>)[risk]
    if (typeof n === 'number' && Number.isInteger(n) && n > 0) policy[risk] = n
  }
  return policy
}

function rank(risk: RiskClass): number {
  return RISK_ORDER.indexOf(risk)
}

/** What the approver policy asks of this plan, and what the plan carries. */
export interface ApproverRequirement {
  /** The risk class whose rule sets the number (the strictest one that applies). */
  risk: RiskClass
  needed: number
  /** Distinct names of the approvals recorded on the plan for its digest, sorted. */
  have: string[]
  /** The steps that bring the rule into force. */
  steps: string[]
}

/**
 * The approvals this plan needs. A rule for class C applies when the plan has a step of class C
 * or of a more dangerous class: a plan that may lose data is at least as disruptive as one that
 * restarts a primary. The strictest applicable rule wins. Undefined when no rule applies.
 */
export function approverRequirement(
  plan: Pick<Plan, 'steps' | 'approvals' | 'digest'>,
  policy: ApproverPolicy,
  approvals?: readonly string[],
): ApproverRequirement | undefined {
  let found: ApproverRequirement | undefined
  for (const risk of RISK_ORDER) {
    const needed = policy[risk]
    if (needed === undefined || needed <= 0) continue
    const steps = plan.steps.filter((s) => rank(s.risk) >= rank(risk)).map((s) => s.id)
    if (steps.length === 0) continue
    if (found === undefined || needed > found.needed || (needed === found.needed && rank(risk) > rank(found.risk))) {
      found = {risk, needed, steps, have: []}
    }
  }
  if (found) {
    found.have = [
      ...new Set(approvals ?? plan.approvals.filter((a) => a.digest === plan.digest).map((a) => a.name)),
    ].sort()
  }
  return found
}

/** How the applier may confirm, or why apply must refuse before any write. */
export type GateDecision =
  | {kind: 'none'; reason: string}
  | {kind: 'auto'; how: string}
  | {kind: 'prompt'; expect: string; lossy: string[]}
  | {
      kind: 'refuse'
      gate: 'approvers' | 'plan' | 'lossy'
      code: string
      message: string
      detail?: string
      hints: string[]
      exit: number
    }

export interface GateInput {
  plan: Pick<Plan, 'steps' | 'approvals' | 'digest' | 'cluster'>
  policy: ApproverPolicy
  autoApprove: boolean
  allowDataLoss: boolean
  /** Someone at a terminal can answer a prompt. */
  interactive: boolean
  /** Recorded approvals are only possible on a saved plan: the hint differs. */
  savedPlan: boolean
  /** How to name the plan in hints: its path, or `plan.json`. */
  planRef: string
  /** The approvers that count (verified signatures); when absent, the names recorded on the plan. */
  approvals?: readonly string[]
}

/** The gate decision for a plan. Pure. */
export function decideGate(input: GateInput): GateDecision {
  const {plan} = input
  const acting = plan.steps.filter((s) => s.risk !== 'read')
  if (acting.length === 0) return {kind: 'none', reason: 'every step only reads'}
  const lossy = plan.steps.filter((s) => s.risk === 'lossy').map((s) => s.id)

  const requirement = approverRequirement(plan, input.policy, input.approvals)
  if (requirement && requirement.have.length < requirement.needed) {
    const haveText =
      requirement.have.length === 0
        ? 'none is recorded'
        : `${requirement.have.length} ${requirement.have.length === 1 ? 'is' : 'are'} recorded (${requirement.have.join(', ')})`
    return {
      kind: 'refuse',
      gate: 'approvers',
      code: 'APPROVALS_MISSING',
      message: `this plan needs ${requirement.needed} distinct approvals for its ${requirement.risk} steps; ${haveText}`,
      detail: `The spec asks for approval.approvers.${requirement.risk}: ${requirement.needed}. Steps that bring this rule into force: ${requirement.steps.join(', ')}.`,
      hints: input.savedPlan
        ? [
            `Each approver runs \`lifeboat approve ${input.planRef} --key ~/.ssh/id_ed25519\` (a key listed in approval.allowed_signers) after reviewing \`lifeboat show ${input.planRef}\`.`,
          ]
        : [
            'Approvals are recorded on a saved plan: `lifeboat plan SPEC --out plan.json`, then each approver runs `lifeboat approve plan.json --key KEY`, then `lifeboat apply plan.json`.',
          ],
      exit: ExitCode.APPROVAL,
    }
  }

  if (input.autoApprove) {
    if (lossy.length > 0 && !input.allowDataLoss) {
      return {
        kind: 'refuse',
        gate: 'lossy',
        code: 'DATA_LOSS_NOT_ALLOWED',
        message: `${lossy.length === 1 ? 'a step' : `${lossy.length} steps`} of this plan may lose data, and --allow-data-loss was not given`,
        detail: `Lossy steps: ${lossy.join(', ')}. The plan says what each may lose.`,
        hints: [
          'Read what may be lost in the plan, then add --allow-data-loss to --auto-approve; or run apply at a terminal and type the cluster name.',
        ],
        exit: ExitCode.APPROVAL,
      }
    }
    return {kind: 'auto', how: lossy.length > 0 ? '--auto-approve --allow-data-loss' : '--auto-approve'}
  }
  if (!input.interactive) {
    return {
      kind: 'refuse',
      gate: 'plan',
      code: 'APPROVAL_REQUIRED',
      message: 'apply needs approval, and there is no terminal to ask at',
      detail:
        'Nothing was written to the cluster. Every plan with a step that acts on the cluster is confirmed by the person applying it.',
      hints: [
        lossy.length > 0
          ? 'Run apply at a terminal and type the cluster name, or pass --auto-approve --allow-data-loss after reading the plan.'
          : 'Run apply at a terminal and type yes, or pass --auto-approve after reading the plan.',
      ],
      exit: ExitCode.APPROVAL,
    }
  }
  return {kind: 'prompt', expect: lossy.length > 0 ? plan.cluster.name : 'yes', lossy}
}

/** The approval prompt, in Terraform's words; for lossy plans the operator types the cluster name. */
export function approvalPrompt(decision: Extract<GateDecision, {kind: 'prompt'}>): string {
  if (decision.lossy.length === 0) {
    return [
      'Do you want to perform these actions?',
      '  lifeboat will perform the actions described above.',
      "  Only 'yes' will be accepted to approve.",
      '',
      '  Enter a value: ',
    ].join('\n')
  }
  return [
    'Do you want to perform these actions, including some that may lose data?',
    `  ${decision.lossy.length === 1 ? 'Step' : 'Steps'} ${decision.lossy.join(', ')} may discard acknowledged data, as described above.`,
    `  Only the cluster name '${decision.expect}' will be accepted to approve.`,
    '',
    '  Enter a value: ',
  ].join('\n')
}

/** The confirmation prompt of a manual step. */
export function manualPrompt(step: Step): string {
  const instructions = step.manual?.instructions ?? []
  return [
    `Step ${step.id} is done by hand: ${step.description}`,
    ...instructions.map((line, i) => `  ${i + 1}. ${line}`),
    '',
    'Have you done this?',
    "  Only 'yes' will be accepted to confirm.",
    '',
    '  Enter a value: ',
  ].join('\n')
}
