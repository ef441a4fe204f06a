/**
 * `lifeboat apply SPEC|PLAN`: run a recovery behind the lock, the stale check and the gates.
 */
import {Args, Flags} from '@oclif/core'

import {apply, type ApplyResult, type ApplyUi} from '../apply/apply.js'
import {parseDuration} from '../apply/duration.js'
import {LiveTaskList, PlainTaskList, phaseProgress, silentReporter, type ProgressCount} from '../cli/progress.js'
import {terminalPrompter} from '../cli/prompt.js'
import {DEFAULT_AUDIT_LOG} from '../audit/log.js'
import {BaseCommand, paint, withExitCodes} from '../cli/base-command.js'
import {ExitCode} from '../errors.js'
import {renderPlanText} from '../render/text.js'
import {planSummaryLine} from '../render/summary.js'
import {escapeControls, escapeControlsDeep} from '../render/escape.js'

export default class Apply extends BaseCommand {
  static override summary = 'Apply a saved plan or a spec: lock, re-check, approve, run the steps, verify.'

  static override description = withExitCodes(
    "Takes the cluster's lock, gathers the live state again and refuses a saved plan that no longer matches it " +
      '(`Saved plan is stale`, exit 5). Then the gates: every plan that acts on the cluster is confirmed by the ' +
      'person applying it, typing yes at a terminal (the cluster name when a step may lose data) or passing ' +
      '--auto-approve (and --allow-data-loss for lossy steps); where the spec asks for several approvers, the plan ' +
      'must carry their `lifeboat approve` records. Without a terminal and without --auto-approve nothing is written ' +
      '(exit 4). Steps run in order, each recorded in the audit log before it touches the cluster; a step whose ' +
      'effect is already there is skipped. A manual step shows its instructions and waits; without a terminal apply ' +
      'stops there (exit 3) and prints the command that continues. Steps marked always (restore a setting, release a ' +
      'pause) run even after a failure, a stop or Ctrl-C. Ctrl-C or SIGTERM lets the call in flight finish, writes ' +
      'nothing more, records the interruption, releases the lock and exits 3; --resume continues. After the last step the cluster is verified ' +
      'against the plan. After a crash or a kill, `apply PLAN --resume` finishes the run without repeating a step. ' +
      'Given a SPEC instead of a plan, apply plans first and shows the plan before asking.',
  )

  static override examples = [
    '<%= config.bin %> apply plan.json',
    '<%= config.bin %> apply plan.json --auto-approve --allow-data-loss',
    '<%= config.bin %> apply runbooks/pegasus-ddd-recovery.yaml',
    '<%= config.bin %> apply plan.json --resume --confirm 05-restart-meta-normal-mode   # the meta recovery: its manual restart',
    '<%= config.bin %> apply plan.json --auto-approve --json | jq .steps',
  ]

  static override args = {
    target: Args.string({description: 'A saved plan (from `plan --out`) or a recovery spec.', required: true}),
  }

  static override flags = {
    'auto-approve': Flags.boolean({
      description: 'Approve without asking (for automation, after the plan was reviewed).',
    }),
    'allow-data-loss': Flags.boolean({description: 'With --auto-approve: also approve steps that may lose data.'}),
    resume: Flags.boolean({
      description: 'Continue the run of this plan that stopped part-way, without repeating finished steps.',
    }),
    confirm: Flags.string({
      description: 'Confirm that a manual step is done (repeatable).',
      multiple: true,
      helpValue: 'STEP_ID',
    }),
    'audit-log': Flags.string({description: 'The audit log to write.', default: DEFAULT_AUDIT_LOG, helpValue: 'FILE'}),
    spec: Flags.string({
      description:
        'For a saved plan: the reviewed spec file it was made from (default: the path the plan names). The approval policy is read from it; it must match the plan.',
      helpValue: 'FILE',
    }),
    'lock-timeout': Flags.string({
      description: 'How long to wait for the cluster lock when another run holds it.',
      default: '0s',
      helpValue: 'DURATION',
    }),
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Apply)
    const json = this.jsonEnabled()
    const color = this.useColor(flags)
    const width = process.stdout.columns || 100
    // Gathers and re-checks: in place on a terminal, else a line per change (or every 15 s); anything else written ends that.
    const phase = json ? undefined : phaseProgress(process.stdout)
    const write = (text: string) => {
      phase?.end()
      process.stdout.write(text)
    }
    const ui: ApplyUi = json
      ? {print() {}, showPlan() {}, tasks: () => silentReporter}
      : {
          // Messages built from the plan and the cluster: their control characters are shown, never obeyed.
          print: (text: string) => write(escapeControls(text)),
          showPlan(unescaped, how) {
            const plan = escapeControlsDeep(unescaped)
            if (how === 'full') {
              const text = renderPlanText(plan, {color, width})
              write(text.endsWith('\n') ? text : `${text}\n`)
            } else {
              const approvals =
                plan.approvals.length > 0 ? `; approved by ${plan.approvals.map((a) => a.name).join(', ')}` : ''
              write(
                `Applying plan ${plan.digest.slice(0, 12)} of ${plan.spec.kind} ${plan.spec.name} to cluster ${plan.cluster.name} (made ${plan.createdAt}${approvals}).\n${planSummaryLine(plan)}\n\n`,
              )
            }
          },
          prompter: terminalPrompter(),
          tasks: (tasks) =>
            process.stdout.isTTY ? new LiveTaskList(tasks, write, {color, width}) : new PlainTaskList(tasks, write),
          progress: (m: string, count?: ProgressCount) => phase?.progress(`  ${escapeControls(m)}`, count),
        }
    // Ctrl-C or SIGTERM: let the call in flight end within its deadline, write nothing more (but the
    // always steps), record run.interrupted, release the lock, exit 3. A second one exits at once.
    const controller = new AbortController()
    let signals = 0
    const onSignal = (name: NodeJS.Signals) => {
      signals++
      if (signals === 1) {
        process.stderr.write(
          `\n${name} received: finishing the call in flight, then stopping (the always steps still run). Press Ctrl-C again to exit at once.\n`,
        )
        controller.abort()
        return
      }
      process.stderr.write(
        `\nSecond ${name}: exiting at once. The lock goes with this process's session; \`lifeboat apply PLAN --resume\` continues.\n`,
      )
      process.exit(ExitCode.STOPPED)
    }
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    let result: ApplyResult
    try {
      result = await apply(
        {
          target: args.target,
          specFile: flags.spec,
          autoApprove: flags['auto-approve'],
          allowDataLoss: flags['allow-data-loss'],
          resume: flags.resume,
          confirm: flags.confirm ?? [],
          auditLog: flags['audit-log'],
          lockTimeoutMs: parseDuration(flags['lock-timeout'], '--lock-timeout'),
          argv: process.argv.slice(2),
          toolVersion: this.config.version,
          env: process.env,
          signal: controller.signal,
        },
        ui,
      )
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      phase?.end()
    }
    if (json) this.printJson(result)
    else this.report(result, color)
    if (result.exit !== 0) this.exit(result.exit)
  }

  private report(unescaped: ApplyResult, color: boolean): void {
    // Step descriptions, instructions and messages from the cluster cannot drive the terminal.
    const result = escapeControlsDeep(unescaped)
    const lines: string[] = ['']
    if (result.status === 'succeeded' || result.status === 'no-changes') {
      lines.push(paint(color, 32, result.message))
    } else if (result.status === 'interrupted') {
      lines.push(paint(color, 33, result.message))
    } else if (result.waiting) {
      lines.push(paint(color, 33, `Waiting for manual step ${result.waiting.step}: ${result.waiting.description}`))
      lines.push(...result.waiting.instructions.map((l, i) => `  ${i + 1}. ${l}`))
      lines.push('', result.waiting.state)
      lines.push('', 'When it is done, continue with:', `  ${result.resumeCommand}`)
    } else {
      lines.push(paint(color, 31, result.message))
      for (const f of result.findings)
        lines.push(`  ${f.severity} ${f.code}${f.subject ? ` (${f.subject})` : ''}: ${f.message}`)
    }
    if (result.run)
      lines.push(
        '',
        `Audit log: ${result.auditLog} (run ${result.run}${result.resumes ? `, continuing ${result.resumes}` : ''})`,
      )
    this.log(lines.join('\n'))
  }
}
