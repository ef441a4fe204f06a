/**
 * `lifeboat approve PLAN --key KEY [--as NAME]`: sign a saved plan's digest with an SSH key
 * (ssh-keygen -Y sign, namespace lifeboat) and record the approval on the plan and in the audit
 * log. Where the spec asks for approvers only signed approvals by its allowed signers count, so
 * `--as NAME` alone is refused there; elsewhere it records a note.
 */
import {spawnSync} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {readFileSync} from 'node:fs'

import {Args, Flags} from '@oclif/core'

import {allowedSignersPath, asksForApprovers, readAllowedSigners, specFileOfPlan} from '../apply/approvals.js'
import {approverPolicyOf, approverRequirement} from '../apply/gates.js'
import {ExitCode, LifeboatError, describeError} from '../errors.js'
import {APPROVAL_NAMESPACE, keyFingerprint, principalsOf, verifySshSignature} from '../sign/sshsig.js'
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
      "exact plan: an approval names the plan's digest, so it is void for any other plan. Approving again " +
      'under the same name replaces the earlier approval and never counts twice. Review the plan first with ' +
      '`lifeboat show PLAN`.',
  )

  static override examples = [
    '<%= config.bin %> approve plan.json --key ~/.ssh/id_ed25519',
    '<%= config.bin %> approve plan.json --key ~/.ssh/id_ed25519 --as carol --comment "checked the lossy partitions with the DBA"',
    '<%= config.bin %> approve plan.json --as bob   # an unsigned note, where the spec asks for no approvers',
  ]

  static override args = {
    plan: Args.string({description: 'The saved plan (from `lifeboat plan --out`).', required: true}),
  }

  static override flags = {
    key: Flags.string({
      description:
        'Your SSH private key (or its .pub with ssh-agent): signs the plan digest with `ssh-keygen -Y sign -n lifeboat`.',
      helpValue: 'KEY',
    }),
    signature: Flags.string({
      description:
        'A signature of the plan digest made elsewhere: `printf %s DIGEST | ssh-keygen -Y sign -n lifeboat -f KEY`.',
      helpValue: 'FILE',
      exclusive: ['key'],
    }),
    as: Flags.string({
      description: 'Your name, as the approval records it (default with a key: your principal in the allowed signers).',
      helpValue: 'NAME',
    }),
    spec: Flags.string({
      description: 'The reviewed spec file the plan was made from (default: the path the plan names).',
      helpValue: 'FILE',
    }),
    comment: Flags.string({description: 'Why you approve, or what you checked.', helpValue: 'TEXT'}),
    'audit-log': Flags.string({description: 'The audit log to write.', default: DEFAULT_AUDIT_LOG, helpValue: 'FILE'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Approve)
    // Checked before anything is written: a plan that is edited, truncated or of another version is refused here.
    const before = await readPlanFile(args.plan)
    // The policy as the spec file says (as apply reads it); the copy in the plan only when the file is not at hand.
    let spec: {document: Record<string, unknown>; path: string}
    try {
      spec = await specFileOfPlan(before, process.env, flags.spec)
    } catch (err) {
      if (flags.key === undefined && flags.signature === undefined)
        spec = {document: before.spec.document, path: before.spec.path ?? '.'}
      else throw err
    }
    const policy = approverPolicyOf(spec.document)
    let signature: string | undefined
    let key: string | undefined
    let principals: string[] = []
    if (flags.key !== undefined || flags.signature !== undefined) {
      signature = flags.key !== undefined ? signWithKey(flags.key, before.digest) : readSignature(flags.signature!)
      const checked = (() => {
        try {
          return verifySshSignature(signature, before.digest, APPROVAL_NAMESPACE)
        } catch (err) {
          return {ok: false, publicKey: Buffer.alloc(0), reason: describeError(err)}
        }
      })()
      if (!checked.ok) {
        throw new LifeboatError(
          'APPROVAL_SIGNATURE_INVALID',
          `the signature is not a valid signature of this plan: ${checked.reason ?? 'it does not verify'}`,
          {
            detail: `It must sign the plan digest ${before.digest} (64 hex characters, no newline) in namespace ${APPROVAL_NAMESPACE}.`,
            hints: [`printf %s ${before.digest} | ssh-keygen -Y sign -n ${APPROVAL_NAMESPACE} -f KEY > approval.sig`],
            exit: ExitCode.APPROVAL,
          },
        )
      }
      key = keyFingerprint(checked.publicKey)
      const signersFile = allowedSignersPath(spec.document, spec.path)
      if (signersFile !== undefined) {
        principals = principalsOf(await readAllowedSigners(signersFile), checked.publicKey, APPROVAL_NAMESPACE)
        if (principals.length === 0 && asksForApprovers(policy)) {
          throw new LifeboatError(
            'APPROVAL_KEY_NOT_ALLOWED',
            `key ${key} is not in the allowed signers (${signersFile})`,
            {
              detail:
                "Only approvals signed by keys the spec's allowed-signers file lists count. Nothing was recorded.",
              hints: [
                'Sign with your key that is listed there, or have it added to the file (reviewed like the spec).',
              ],
              exit: ExitCode.APPROVAL,
            },
          )
        }
      }
    } else if (asksForApprovers(policy)) {
      throw new LifeboatError(
        'APPROVAL_UNSIGNED',
        'the spec asks for approvers, and an approval by name alone does not count',
        {
          detail:
            '--as NAME only says who you are; anyone can type any name. Approvals count when signed with a key listed in approval.allowed_signers. Nothing was recorded.',
          hints: [
            `\`lifeboat approve ${args.plan} --key ~/.ssh/id_ed25519\` (ssh-keygen -Y sign, as git signs commits).`,
          ],
          exit: ExitCode.APPROVAL,
        },
      )
    }
    // A signed approval goes by the key's principal: --as picks among them, it cannot name someone else.
    const name = approverName(
      principals.length > 0 && !(flags.as !== undefined && principals.includes(flags.as))
        ? principals[0]!
        : (flags.as ?? ''),
    )
    const operator = currentOperator()
    const log = await openAuditLog(flags['audit-log'], {run: randomUUID(), actor: operator.user, host: operator.host})
    const at = new Date().toISOString()
    // The audit record comes first: an approval that is not audited must not count.
    await log.append('approval.recorded', {
      name,
      ...(key ? {key, signed: true} : {signed: false}),
      ...(flags.comment ? {comment: flags.comment} : {}),
      planDigest: before.digest,
      planFile: args.plan,
      cluster: before.cluster.name,
      spec: {sha256: before.spec.sha256, kind: before.spec.kind, name: before.spec.name},
    })
    const plan = await addApproval(args.plan, {
      name,
      ...(flags.comment ? {comment: flags.comment} : {}),
      at,
      ...(signature ? {signature, key} : {}),
    })
    const counted = asksForApprovers(policy)
      ? plan.approvals.filter((a) => a.signature !== undefined).map((a) => a.name)
      : undefined
    const requirement = approverRequirement(plan, policy, counted)
    const names = plan.approvals.map((a) => a.name)
    const result = {
      plan: args.plan,
      digest: plan.digest,
      approvals: plan.approvals,
      required: requirement
        ? {risk: requirement.risk, needed: requirement.needed, have: requirement.have.length}
        : null,
    }
    if (this.jsonEnabled()) return result
    const lines = [
      `${key ? 'Signed approval' : 'Approval'} by ${name}${key ? ` (key ${key})` : ''} recorded on ${args.plan} (plan ${plan.digest.slice(0, 12)}, ${plan.spec.kind} ${plan.spec.name} on cluster ${plan.cluster.name}).`,
      planSummaryLine(plan),
      `Approved by: ${names.join(', ')}.`,
    ]
    if (requirement) {
      const left = requirement.needed - requirement.have.length
      lines.push(
        left > 0
          ? `The spec asks for ${requirement.needed} approvers of its ${requirement.risk} steps: ${requirement.have.length} so far, ${left} more needed.`
          : `The spec asks for ${requirement.needed} approvers of its ${requirement.risk} steps: that many have approved.`,
      )
    }
    if (!plan.applyable) lines.push('Note: this plan has error findings; apply refuses it whatever its approvals.')
    this.log(lines.join('\n'))
    return undefined
  }
}

/** Signs the digest with `ssh-keygen -Y sign` (it reads the key, or asks ssh-agent for a .pub). */
function signWithKey(keyPath: string, digest: string): string {
  const r = spawnSync('ssh-keygen', ['-Y', 'sign', '-n', APPROVAL_NAMESPACE, '-f', keyPath], {
    input: digest,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  if (r.error || r.status !== 0) {
    throw new LifeboatError('APPROVAL_SIGN_FAILED', `ssh-keygen could not sign with ${keyPath}`, {
      detail: r.error ? describeError(r.error) : (r.stderr || '').trim() || `ssh-keygen exited with ${r.status}`,
      hints: [
        'Check the key path (ssh-keygen -Y sign needs OpenSSH 8.1 or later); a passphrase-protected key needs a terminal or ssh-agent.',
      ],
      exit: ExitCode.APPROVAL,
    })
  }
  return r.stdout
}

function readSignature(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw new LifeboatError(
      'APPROVAL_SIGNATURE_UNREADABLE',
      `could not read the signature ${path}: ${describeError(err)}`,
      {hints: ['Give the file ssh-keygen -Y sign wrote.']},
    )
  }
}
