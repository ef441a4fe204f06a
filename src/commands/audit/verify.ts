import {Flags} from '@oclif/core'

import {DEFAULT_AUDIT_LOG, checkAnchor, readAuditLog, verifyAuditLog, type AuditVerification} from '../../audit/log.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {ExitCode} from '../../errors.js'

/** `lifeboat audit verify`: checks the hash chain and names the first bad record. Wiring only. */
export default class AuditVerify extends BaseCommand {
  static override summary =
    'Check that the audit log is intact: every record unaltered, none missing, reordered or truncated.'
  static override description = withExitCodes(
    "Recomputes each record's hash, checks that seq numbers run 1, 2, 3... and that each record names the hash of the one " +
      'before it. Prints the head hash (compare it with the one posted in the ticket when the run finished: deleting the ' +
      'last records of a log can only be detected against such an outside copy). Exits 1 and names the first bad record ' +
      'by seq and line when the log is damaged.',
  )

  static override examples = [
    '<%= config.bin %> audit verify',
    '<%= config.bin %> audit verify --audit-log /var/log/lifeboat/audit.jsonl --json',
  ]

  static override flags = {
    'audit-log': Flags.string({description: 'The audit log to check.', default: DEFAULT_AUDIT_LOG}),
    'expect-head': Flags.string({
      description:
        'An anchor kept outside the log (as posted in the ticket): the hash record --expect-records must carry.',
      helpValue: 'HASH',
      dependsOn: ['expect-records'],
    }),
    'expect-records': Flags.integer({
      description:
        'With --expect-head: how many records the log held when the anchor was taken. A log behind it was truncated.',
      min: 0,
      helpValue: 'N',
      dependsOn: ['expect-head'],
    }),
  }

  async run(): Promise<AuditVerification & {headRecord?: {seq: number; run: string; event: string; time: string}}> {
    const {flags} = await this.parse(AuditVerify)
    const path = flags['audit-log']
    const result = await verifyAuditLog(path)
    // Which run wrote the head: the run whose record a later run (or a deletion) would have to follow.
    const head =
      result.head === undefined
        ? undefined
        : (await readAuditLog(path, {lenient: true})).find((r) => r.hash === result.head)
    const headRecord = head && {seq: head.seq, run: head.run, event: head.event, time: head.time}
    const headText = headRecord
      ? ` (record ${headRecord.seq}, ${headRecord.event} of run ${headRecord.run} at ${headRecord.time})`
      : ''
    const records = `${result.records} record${result.records === 1 ? '' : 's'}`
    if (result.ok && flags['expect-head'] !== undefined && flags['expect-records'] !== undefined) {
      const problem = checkAnchor(await readAuditLog(path), {
        head: flags['expect-head'],
        records: flags['expect-records'],
      })
      if (problem) {
        if (this.jsonEnabled()) this.printJson({path, ...result, ok: false, anchor: problem})
        else
          process.stderr.write(
            `audit log BROKEN: ${path}: ${problem}\n  the chain itself verifies (${records}); it does not match the anchor kept outside it\n`,
          )
        this.exit(ExitCode.ERROR)
      }
    }
    if (!result.ok) {
      const bad = result.firstBad!
      if (this.jsonEnabled()) {
        this.printJson({path, ...result, ...(headRecord ? {headRecord} : {})})
      } else {
        process.stderr.write(
          `audit log BROKEN: ${path}, line ${bad.line}${bad.seq !== undefined ? `, record seq ${bad.seq}` : ''}\n  ${bad.reason}\n` +
            `  ${records} before it verified${result.head ? `, last good hash ${result.head}${headText}` : ''}\n`,
        )
      }
      this.exit(ExitCode.ERROR)
    }
    if (!this.jsonEnabled()) {
      this.log(`audit log OK: ${records}${result.head ? `, head ${result.head}${headText}` : ''}`)
    }
    return {...result, ...(headRecord ? {headRecord} : {})}
  }
}
