import {Flags} from '@oclif/core'

import {
  DEFAULT_AUDIT_LOG,
  readAuditLog,
  renderAuditTimeline,
  verifyAuditLog,
  type AuditRecord,
} from '../../audit/log.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'

/** `lifeboat audit show`: the audit log as a timeline per run. Wiring only. */
export default class AuditShow extends BaseCommand {
  static override summary = 'Print the audit log as a readable timeline, one block per run.'
  static override description = withExitCodes(
    'Shows each run with who ran it, its records (time, seq, event, step, status) and how it ended. A run with no ' +
      'run.finished record is marked INTERRUPTED, with the step it was in and the run that resumed it. A log that fails ' +
      'verification is still shown, with a warning; check it with `lifeboat audit verify`.',
  )

  static override examples = [
    '<%= config.bin %> audit show',
    '<%= config.bin %> audit show --run 0b6f3c52-7d1e-4f0a-9a57-3c2e1d9b8a41   # a run id as audit show and apply print it',
  ]

  static override flags = {
    run: Flags.string({description: 'Show only this run.'}),
    'audit-log': Flags.string({description: 'The audit log to read.', default: DEFAULT_AUDIT_LOG}),
  }

  async run(): Promise<{
    records: AuditRecord[]
    verified: boolean
    head: {hash: string; seq: number; run: string; event: string} | null
  }> {
    const {flags} = await this.parse(AuditShow)
    const path = flags['audit-log']
    const verification = await verifyAuditLog(path)
    const records = await readAuditLog(path, {lenient: true})
    // The chain's head: the last record that verifies, and the run that wrote it.
    const head = verification.head === undefined ? undefined : records.find((r) => r.hash === verification.head)
    const shown = flags.run === undefined ? [...records] : records.filter((r) => r.run === flags.run)
    if (!this.jsonEnabled()) {
      if (!verification.ok) {
        const bad = verification.firstBad!
        process.stderr.write(
          `warning: the audit log fails verification at line ${bad.line}: ${bad.reason}\n  run \`lifeboat audit verify --audit-log ${path}\` for details\n\n`,
        )
      }
      for (const u of records.unreadable ?? [])
        process.stderr.write(`warning: line ${u.line} is not an audit record and is not shown\n`)
      process.stdout.write(renderAuditTimeline(records, {run: flags.run}))
      if (head)
        process.stdout.write(
          `\nChain head: ${head.hash} (record ${head.seq}, ${head.event} of run ${head.run})${verification.ok ? '' : ', last good record'}\n`,
        )
    }
    return {
      records: shown,
      verified: verification.ok,
      head: head ? {hash: head.hash, seq: head.seq, run: head.run, event: head.event} : null,
    }
  }
}
