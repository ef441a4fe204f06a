/**
 * `lifeboat lock force-unlock SPEC ID`: remove the apply lock of a run that died.
 */
import {randomUUID} from 'node:crypto'

import {Args, Flags} from '@oclif/core'

import {currentOperator} from '../../apply/identity.js'
import {loadSpecForEngine} from '../../apply/plan-spec.js'
import {DEFAULT_AUDIT_LOG, openAuditLog} from '../../audit/log.js'
import {terminalPrompter} from '../../cli/prompt.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {ExitCode, LifeboatError} from '../../errors.js'

const DANGER =
  'Removing the lock of a run that is still active lets two runs write to the cluster at once, ' +
  "each acting on a state the other is changing: that can corrupt the cluster's metadata."

export default class LockForceUnlock extends BaseCommand {
  static override summary = 'Remove the apply lock of a cluster, for a run that died. Dangerous.'

  static override description = withExitCodes(
    `Removes the lock whose ID you name (see \`lifeboat lock status SPEC\`); a lock held under any other ID is left alone, so a ` +
      `typo or a lock taken meanwhile by another run is never removed. ${DANGER} A ZooKeeper lock goes away by itself when ` +
      "its holder's session expires; a lock file left by a crashed run stays until removed. Asks for confirmation unless --force. " +
      'The removal is recorded in the audit log (lock.force-unlocked).',
  )

  static override examples = [
    '<%= config.bin %> lock force-unlock spec.yaml 6f1c0c1e-5d4e-4a57-9c1e-2a0f6f0e8b7d --reason "apply on host-7 died, INC-1234"',
  ]

  static override args = {
    spec: Args.string({description: 'The recovery spec naming the cluster.', required: true}),
    id: Args.string({description: 'The lock ID, as `lifeboat lock status` shows it.', required: true}),
  }

  static override flags = {
    force: Flags.boolean({description: 'Do not ask for confirmation.'}),
    reason: Flags.string({
      description: 'Why the lock is removed, for the audit record (e.g. "apply on host-7 killed by OOM, INC-1234").',
      helpValue: 'TEXT',
    }),
    'audit-log': Flags.string({
      description: 'The audit log that records the removal.',
      default: DEFAULT_AUDIT_LOG,
      helpValue: 'FILE',
    }),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(LockForceUnlock)
    const {engine, spec} = await loadSpecForEngine(args.spec, process.env)
    const cluster = engine.cluster(spec).name
    const provider = engine.lock(spec, {env: process.env})
    if (!flags.force) {
      const prompter = this.jsonEnabled() ? undefined : terminalPrompter()
      if (!prompter) {
        throw new LifeboatError(
          'APPROVAL_REQUIRED',
          'force-unlock needs confirmation, and there is no terminal to ask at',
          {
            detail: DANGER,
            hints: ['Pass --force once you are sure the run holding the lock is gone.'],
            exit: ExitCode.APPROVAL,
          },
        )
      }
      const holder = await provider.read()
      if (holder) this.log(holder.text)
      const answer = await prompter.ask(
        [
          '',
          'Do you really want to force-unlock?',
          `  lifeboat will remove the lock on the cluster ${cluster}. ${DANGER}`,
          "  Only 'yes' will be accepted to confirm.",
          '',
          '  Enter a value: ',
        ].join('\n'),
      )
      if (answer !== 'yes') {
        throw new LifeboatError('APPROVAL_REFUSED', 'Force-unlock cancelled.', {
          detail: 'The lock was left in place.',
          exit: ExitCode.APPROVAL,
        })
      }
    }
    const removed = await provider.forceUnlock(args.id)
    // Audited like any action on the cluster: its own run of one record.
    const operator = currentOperator(process.env)
    const log = await openAuditLog(flags['audit-log'], {run: randomUUID(), actor: operator.user, host: operator.host})
    await log.append('lock.force-unlocked', {
      cluster,
      kind: removed.kind,
      where: removed.where,
      reason: flags.reason ?? null,
      removed: {
        id: removed.info.id,
        who: removed.info.who,
        operation: removed.info.operation,
        created: removed.info.created,
      },
    })
    const result = {cluster, unlocked: true, lock: removed.info}
    if (this.jsonEnabled()) return result
    this.log(
      `\nlifeboat successfully force-unlocked the cluster ${cluster} (lock ${removed.info.id}, held by ${removed.info.who} for ${removed.info.operation} since ${removed.info.created}).`,
    )
    return undefined
  }
}
