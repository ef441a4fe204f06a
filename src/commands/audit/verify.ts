import {Flags} from '@oclif/core'

import {checkClusterAnchor, clustersOfRuns, readClusterAnchor, type ClusterAnchor} from '../../audit/anchor.js'
import {DEFAULT_AUDIT_LOG, checkAnchor, readAuditLog, verifyAuditLog, type AuditVerification} from '../../audit/log.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {ExitCode} from '../../errors.js'

/** What `audit verify --spec/--plan` found in the cluster. */
interface ClusterAnchorResult {
  cluster: string
  place: string
  reached: boolean
  ok?: boolean
  /** Why it was not reached, what matched, or what is wrong. */
  message: string
  anchor?: ClusterAnchor
}

/** `lifeboat audit verify`: checks the hash chain and names the first bad record. Wiring only. */
export default class AuditVerify extends BaseCommand {
  static override summary =
    'Check that the audit log is intact: every record unaltered, none missing, reordered or truncated.'
  static override description = withExitCodes(
    "Recomputes each record's hash, checks that seq numbers run 1, 2, 3... and that each record names the hash of the one " +
      'before it. Deleting the last records of a log, or forging a whole chain, can only be detected against a copy of ' +
      'the head kept outside the log: apply writes one to the cluster beside its lock (ZooKeeper /lifeboat/audit/<cluster>, ' +
      "a key in PD's etcd) after each step and at the end of each run. With --spec or --plan the log is checked against " +
      "that cluster's anchor: a log behind it was truncated, another hash at its record means the chain was rewritten, and " +
      "records of the cluster's runs after it were appended. An anchor that cannot be reached is named and not counted. " +
      '--expect-head/--expect-records check against a head posted in the ticket. Exits 1 and names the first bad record ' +
      'by seq and line when the log is damaged or does not match an anchor.',
  )

  static override examples = [
    '<%= config.bin %> audit verify',
    '<%= config.bin %> audit verify --spec runbooks/pegasus-meta-recovery.yaml',
    '<%= config.bin %> audit verify --audit-log /var/log/lifeboat/audit.jsonl --plan plan.json --json',
  ]

  static override flags = {
    'audit-log': Flags.string({description: 'The audit log to check.', default: DEFAULT_AUDIT_LOG}),
    spec: Flags.string({
      description: "A spec naming the cluster: check the log against the anchor kept in that cluster's store.",
      helpValue: 'SPEC',
      exclusive: ['plan'],
    }),
    plan: Flags.string({
      description: "A saved plan naming the cluster: check the log against the anchor kept in that cluster's store.",
      helpValue: 'PLAN',
      exclusive: ['spec'],
    }),
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

  async run(): Promise<
    AuditVerification & {
      headRecord?: {seq: number; run: string; event: string; time: string}
      clusterAnchor?: ClusterAnchorResult
    }
  > {
    const {flags} = await this.parse(AuditVerify)
    const path = flags['audit-log']
    const result = await verifyAuditLog(path)
    const records = result.ok ? await readAuditLog(path) : await readAuditLog(path, {lenient: true})
    // Which run wrote the head: the run whose record a later run (or a deletion) would have to follow.
    const head = result.head === undefined ? undefined : records.find((r) => r.hash === result.head)
    const headRecord = head && {seq: head.seq, run: head.run, event: head.event, time: head.time}
    const headText = headRecord
      ? ` (record ${headRecord.seq}, ${headRecord.event} of run ${headRecord.run} at ${headRecord.time})`
      : ''
    const count = `${result.records} record${result.records === 1 ? '' : 's'}`
    const extra = headRecord ? {headRecord} : {}

    if (!result.ok) {
      const bad = result.firstBad!
      if (this.jsonEnabled()) this.printJson({path, ...result, ...extra})
      else
        process.stderr.write(
          `audit log BROKEN: ${path}, line ${bad.line}${bad.seq !== undefined ? `, record seq ${bad.seq}` : ''}\n  ${bad.reason}\n` +
            `  ${count} before it verified${result.head ? `, last good hash ${result.head}${headText}` : ''}\n`,
        )
      this.exit(ExitCode.ERROR)
    }

    const broken = (problem: string, against: string, more: object = {}): never => {
      if (this.jsonEnabled()) this.printJson({path, ...result, ...extra, ...more, ok: false, anchor: problem})
      else
        process.stderr.write(
          `audit log BROKEN: ${path}: ${problem}\n  the chain itself verifies (${count}); it does not match ${against}\n`,
        )
      return this.exit(ExitCode.ERROR)
    }

    if (flags['expect-head'] !== undefined && flags['expect-records'] !== undefined) {
      const problem = checkAnchor(records, {head: flags['expect-head'], records: flags['expect-records']})
      if (problem) broken(problem, 'the anchor given with --expect-head')
    }

    let clusterAnchor: ClusterAnchorResult | undefined
    const target = flags.spec ?? flags.plan
    if (target !== undefined) {
      // The spec and plan readers (YAML, the schemas, the engines' lock clients) only when a cluster is asked.
      const [{loadSpecForEngine, specOfPlan}, {readPlanFile}] = await Promise.all([
        import('../../apply/plan-spec.js'),
        import('../../plan/file.js'),
      ])
      const {engine, spec} = flags.spec
        ? await loadSpecForEngine(flags.spec, process.env)
        : await specOfPlan(await readPlanFile(target), process.env)
      const cluster = engine.cluster(spec).name
      const read = await readClusterAnchor(engine.lock(spec, {env: process.env}))
      if (!read.reached) {
        clusterAnchor = {cluster, place: read.place, reached: false, message: read.reason}
      } else if ('invalid' in read) {
        broken(`the anchor stored at ${read.place} is not an audit anchor (${read.invalid})`, `${cluster}'s anchor`)
      } else {
        const check = checkClusterAnchor(records, read.doc, cluster)
        clusterAnchor = {
          cluster,
          place: read.place,
          reached: true,
          ok: check.ok,
          message: check.ok ? check.note : check.problem,
          ...(check.anchor ? {anchor: check.anchor} : {}),
        }
        if (!check.ok) broken(check.problem, `the anchor kept in ${read.place}`, {clusterAnchor})
      }
    }

    if (!this.jsonEnabled()) {
      this.log(`audit log OK: ${count}${result.head ? `, head ${result.head}${headText}` : ''}`)
      if (clusterAnchor?.reached) this.log(`  cluster anchor ${clusterAnchor.place}: ${clusterAnchor.message}`)
      else if (clusterAnchor)
        this.log(`  cluster anchor ${clusterAnchor.place} NOT CHECKED (not reached): ${clusterAnchor.message}`)
      else {
        const clusters = [...new Set(clustersOfRuns(records).values())].sort()
        if (clusters.length > 0)
          this.log(
            `  not checked against a cluster anchor: pass --spec SPEC or --plan PLAN of ${clusters.join(', ')} to check the log against the head kept there`,
          )
      }
    }
    return {...result, ...extra, ...(clusterAnchor ? {clusterAnchor} : {})}
  }
}
