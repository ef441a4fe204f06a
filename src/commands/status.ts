/**
 * `lifeboat status SPEC`: the live state an operator looks at before writing or changing a spec,
 * read only, through the engine's `status` member. Exit 0 healthy, 2 something needs recovery.
 */
import {Args, Flags} from '@oclif/core'

import {loadSpecForEngine} from '../apply/plan-spec.js'
import {BaseCommand, paint, withExitCodes} from '../cli/base-command.js'
import {gatherEnv, withLabHint} from '../cli/gather-flags.js'
import {terminalPhase, type ProgressCount} from '../cli/progress.js'
import type {ClusterStatus} from '../engines/types.js'
import {ExitCode, LifeboatError} from '../errors.js'

/** The status as the terminal shows it: a heading, the sections with aligned rows, then the verdict. Pure. */
export function renderStatusText(cluster: string, kind: string, status: ClusterStatus, color = false): string {
  const out: string[] = [`Cluster ${cluster} (from a ${kind} spec)`]
  for (const section of status.sections) {
    out.push('', section.title)
    const width = Math.max(0, ...section.rows.map(([label]) => label.length))
    for (const [label, value] of section.rows) out.push(`  ${label.padEnd(width)}  ${value}`.trimEnd())
  }
  out.push('')
  if (status.healthy) {
    out.push(paint(color, 32, 'Healthy: nothing needs recovery.'))
  } else {
    out.push(paint(color, 33, 'Needs recovery:'))
    for (const p of status.problems) out.push(`  - ${p}`)
  }
  return `${out.join('\n')}\n`
}

export default class Status extends BaseCommand {
  static override summary = 'Show the live state of the cluster a spec names (read-only): what needs recovery.'

  static override description = withExitCodes(
    'Reads the cluster named in SPEC, read-only, and prints what an operator looks at before writing a recovery spec. ' +
      'Pegasus: the meta server (leader, whether it waits in recovery mode, its stored level and the freeze-adjusted level it acts on), ' +
      "replica servers alive and dead, tables with partitions lacking a primary, and the DDD partitions with the meta's reasons. " +
      'OpenMLDB: the leader nameserver, auto_failover, tablets, unhealthy partitions and running ops. ' +
      'TiKV: the PD leader, store states, regions without a leader, and an unsafe recovery in progress. ' +
      "Only the spec's cluster section is used; its recovery section is not acted on. " +
      'Exit 0 when healthy, 2 when something needs recovery (the status codes of this command), 1 on error.',
  )

  static override examples = [
    '<%= config.bin %> status runbooks/pegasus-ddd-recovery.yaml',
    '<%= config.bin %> status .lifeboat/lab/specs/pegasus-meta-recovery.yaml --json | jq .problems',
    '<%= config.bin %> status spec.yaml || echo "exit $?: 2 means something needs recovery"',
  ]

  static override args = {
    spec: Args.string({description: 'A recovery spec naming the cluster (YAML).', required: true}),
  }

  static override flags = {
    'collect-timeout': Flags.integer({
      helpValue: 'SECONDS',
      min: 1,
      max: 600,
      description:
        "Pegasus: seconds each meta server RPC has to answer (overrides the spec's cluster.timeouts.collect_seconds).",
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Status)
    const {engine, spec, dir, planSpec} = await loadSpecForEngine(args.spec, process.env)
    if (!engine.status) {
      throw new LifeboatError('STATUS_UNSUPPORTED', `the engine of the kind ${engine.kind} has no status report`, {
        hints: [`Run \`lifeboat plan ${args.spec}\` instead: it reads the same cluster, read-only.`],
      })
    }
    const json = this.jsonEnabled()
    const phase = terminalPhase(process.stderr, !json)
    const progress = (m: string, count?: ProgressCount) => phase?.progress(m, count)
    const status = await engine
      .status(spec, {env: gatherEnv(flags), specDir: dir, progress})
      .catch((err: unknown) => {
        throw withLabHint(err, args.spec)
      })
      .finally(() => phase?.end())
    const cluster = engine.cluster(spec).name
    if (json) {
      this.printJson({
        cluster,
        kind: planSpec.kind,
        healthy: status.healthy,
        problems: status.problems,
        facts: status.facts,
      })
    } else {
      process.stdout.write(renderStatusText(cluster, planSpec.kind, status, this.useColor(flags)))
    }
    if (!status.healthy) this.exit(ExitCode.CHANGES)
  }
}
