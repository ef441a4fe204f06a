import {randomUUID} from 'node:crypto'

import {Flags} from '@oclif/core'

import {DEFAULT_AUDIT_LOG, repairAuditLog, type AuditRepair} from '../../audit/log.js'
import {currentOperator} from '../../apply/identity.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'

/** `lifeboat audit repair`: cuts a record a crash or a full disk left half-written. Wiring only. */
export default class AuditRepairCommand extends BaseCommand {
  static override summary =
    'Remove a half-written last record (left by a crash or a full disk) and record that it was removed.'
  static override description = withExitCodes(
    'A crash or a full disk can leave the last line of the audit log incomplete; apply and approve then refuse the log. ' +
      'repair cuts that line and appends an audit.repaired record with its line number, size and sha256, so the cut ' +
      'stays on the record. It repairs nothing else: an altered, missing or reordered record is refused (keep the file ' +
      'as evidence and start a new log). An intact log is left unchanged.',
  )

  static override examples = [
    '<%= config.bin %> audit repair',
    '<%= config.bin %> audit repair --audit-log /var/log/lifeboat/audit.jsonl',
  ]

  static override flags = {
    'audit-log': Flags.string({description: 'The audit log to repair.', default: DEFAULT_AUDIT_LOG, helpValue: 'FILE'}),
  }

  async run(): Promise<AuditRepair & {path: string}> {
    const {flags} = await this.parse(AuditRepairCommand)
    const path = flags['audit-log']
    const operator = currentOperator(process.env)
    const result = await repairAuditLog(path, {run: randomUUID(), actor: operator.user, host: operator.host})
    if (!this.jsonEnabled()) {
      if (!result.repaired) this.log(`audit log OK: ${path} needs no repair`)
      else
        this.log(
          `audit log repaired: cut line ${result.cut!.line} (${result.cut!.bytes} bytes, sha256 ${result.cut!.sha256}); recorded as record ${result.record!.seq}`,
        )
    }
    return {path, ...result}
  }
}
