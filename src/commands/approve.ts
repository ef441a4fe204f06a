/**
 * `lifeboat approve PLAN --as NAME`: record a reviewer's approval on a saved plan and in the audit log.
 */
import {randomUUID} from 'node:crypto'

import {Args, Flags} from '@oclif/core'

import {approverPolicyOf, approverRequirement} from '../apply/gates.js'
import {currentOperator} from '../apply/identity.js'
import {DEFAULT_AUDIT_LOG, openAuditLog} from '../audit/log.js'
import {BaseCommand, withExitCodes} from '../cli/base-command.js'
import {addApproval, approverName, readPlanFile} from '../plan/file.js'
import {planSummaryLine} from '../render/summary.js'

export default class Approve extends BaseCommand {
  static override summary = 'Record your approval of a saved plan.'

  static override description = withExitCodes(
    'Adds an approval by NAME to the plan file and records it in the audit log. Where the spec asks for ' +
      'several approvers of a risk class (approval.approvers), apply counts the distinct names approving this ' +
      'exact plan: an approval names the plan\'s digest, so it is void for any other plan. Approving again ' +
      'under the same name replaces the earlier approval and never counts twice. Review the plan first with ' +
      '`lifeboat show PLAN`.',
  )

  static override examples = [
    '<%= config.bin %> approve plan.json --as bob',
    '<%= config.bin %> approve plan.json --as carol --comment "checked the lossy partitions with the DBA"',
  ]

  static override args = {
    plan: Args.string({description: 'The saved plan (from `lifeboat plan --out`).', required: true}),
  }

  static override flags = {
    as: Flags.string({description: 'Your name, as the approval records it.', required: true, helpValue: 'NAME'}),
    comment: Flags.string({description: 'Why you approve, or what you checked.', helpValue: 'TEXT'}),
    'audit-log': Flags.string({description: 'The audit log to write.', default: DEFAULT_AUDIT_LOG, helpValue: 'FILE'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Approve)
    // Checked before anything is written: a plan that is edited, truncated or of another version is refused here.
    const before = await readPlanFile(args.plan)
    const name = approverName(flags.as)
    const operator = currentOperator()
    const log = await openAuditLog(flags['audit-log'], {run: randomUUID(), actor: operator.user, host: operator.host})
    const at = new Date().toISOString()
    // The audit record comes first: an approval that is not audited must not count.
    await log.append('approval.recorded', {
      name,
      ...(flags.comment ? {comment: flags.comment} : {}),
      planDigest: before.digest,
      planFile: args.plan,
      cluster: before.cluster.name,
      spec: {sha256: before.spec.sha256, kind: before.spec.kind, name: before.spec.name},
    })
    const plan = await addApproval(args.plan, {name, ...(flags.comment ? {comment: flags.comment} : {}), at})
    const requirement = approverRequirement(plan, approverPolicyOf(plan.spec.document))
    const names = plan.approvals.map((a) => a.name)
    const result = {
      plan: args.plan,
      digest: plan.digest,
      approvals: plan.approvals,
      required: requirement ? {risk: requirement.risk, needed: requirement.needed, have: requirement.have.length} : null,
    }
    if (this.jsonEnabled()) return result
    const lines = [
      `Approval by ${name} recorded on ${args.plan} (plan ${plan.digest.slice(0, 12)}, ${plan.spec.kind} ${plan.spec.name} on cluster ${plan.cluster.name}).`,
      planSummaryLine(plan),
      `Approved by: ${names.join(', ')}.`,
    ]
    if (requirement) {
      const left = requirement.needed - requirement.have.length
      lines.push(left > 0
        ? `The spec asks for ${requirement.needed} approvers of its ${requirement.risk} steps: ${requirement.have.length} so far, ${left} more needed.`
        : `The spec asks for ${requirement.needed} approvers of its ${requirement.risk} steps: that many have approved.`)
    }
    if (!plan.applyable) lines.push('Note: this plan has error findings; apply refuses it whatever its approvals.')
    this.log(lines.join('\n'))
    return undefined
  }
}
