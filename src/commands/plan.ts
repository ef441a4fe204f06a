/**
 * `lifeboat plan SPEC`: gather the live state and show exactly what apply would do.
 */
import {Args, Flags} from '@oclif/core'

import {planSpec} from '../apply/plan-spec.js'
import {BaseCommand, withExitCodes} from '../cli/base-command.js'
import {terminalPhase, type ProgressCount} from '../cli/progress.js'
import {gatherEnv, timeoutFlags, withLabHint} from '../cli/gather-flags.js'
import {ExitCode} from '../errors.js'
import {planHasChanges} from '../plan/build.js'
import {writePlanFile} from '../plan/file.js'
import {renderPlanJson} from '../render/json.js'
import {renderPlanMarkdown} from '../render/markdown.js'
import {renderPlanText} from '../render/text.js'

export default class Plan extends BaseCommand {
  static override summary = 'Gather the live state of a cluster and show what apply would change.'

  static override description = withExitCodes(
    'Reads the cluster named in SPEC (read-only), plans the recovery, and prints the plan: the metadata ' +
      'changes, the primaries or leaders to assign, the steps apply will run with their risk class, and the ' +
      'findings. With --out the plan is saved for review (`lifeboat show`), approval (`lifeboat approve`) ' +
      'and `lifeboat apply PLAN`, which refuses it if the cluster changes meanwhile. ' +
      'With --detailed-exitcode, a plan with changes exits 2. A plan with error findings exits 1: apply refuses it.',
  )

  static override examples = [
    '<%= config.bin %> plan runbooks/pegasus-meta-recovery.yaml',
    '<%= config.bin %> plan runbooks/pegasus-meta-recovery.yaml --out plan.json',
    '<%= config.bin %> plan spec.yaml --format markdown > plan.md',
    '<%= config.bin %> plan spec.yaml --detailed-exitcode   # 0: nothing to do, 2: changes',
  ]

  static override args = {
    spec: Args.string({description: 'The recovery spec (YAML).', required: true}),
  }

  static override flags = {
    out: Flags.string({
      char: 'o',
      description: 'Save the plan to this file, for show, approve and apply.',
      helpValue: 'FILE',
    }),
    format: Flags.option({
      options: ['text', 'markdown', 'json'] as const,
      default: 'text',
      description: 'How to print the plan.',
    })(),
    'detailed-exitcode': Flags.boolean({
      description: 'Exit 2 when the plan has changes, 0 when it has none (1 on error).',
    }),
    full: Flags.boolean({description: 'Show every change, primary, step and finding: collapse nothing.'}),
    ...timeoutFlags,
  }

  async run(): Promise<void> {
    const {args, flags} = await this.parse(Plan)
    const json = this.jsonEnabled()
    const color = this.useColor(flags)
    // Progress goes to stderr, and only to a terminal: stdout carries the plan alone.
    const phase = terminalPhase(process.stderr, !json)
    const {plan} = await planSpec(args.spec, {
      env: gatherEnv(flags),
      now: new Date().toISOString(),
      toolVersion: this.config.version,
      progress: phase && ((m: string, count?: ProgressCount) => phase.progress(m, count)),
    })
      .catch((err: unknown) => {
        throw withLabHint(err, args.spec)
      })
      .finally(() => phase?.end())
    if (flags.out) await writePlanFile(flags.out, plan)

    if (json || flags.format === 'json') {
      process.stdout.write(renderPlanJson(plan))
    } else if (flags.format === 'markdown') {
      // Each part fits one pull-request comment; the parts are separated by a rule.
      process.stdout.write(`${renderPlanMarkdown(plan, undefined, {full: flags.full}).join('\n\n---\n\n')}\n`)
    } else {
      const text = renderPlanText(plan, {color, width: process.stdout.columns || 100, full: flags.full})
      process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
    }

    if (flags.out) {
      // A plan with error findings is never offered to apply: it would be refused.
      const note = plan.applyable
        ? `\nSaved the plan to: ${flags.out}\n\nTo perform exactly these actions, run:\n  ${this.config.bin} apply ${flags.out}\n`
        : `\nSaved the plan to: ${flags.out} (for review only: apply refuses a plan with error findings; resolve them and plan again)\n`
      // With a machine-readable plan on stdout, the note goes to stderr.
      if (json || flags.format === 'json') {
        if (!json) process.stderr.write(note)
      } else {
        process.stdout.write(note)
      }
    }

    if (!plan.applyable) {
      if (!json)
        process.stderr.write(
          '\nError: the plan has error findings (above); apply refuses it until they are resolved.\n',
        )
      this.exit(ExitCode.ERROR)
    }
    if (flags['detailed-exitcode'] && planHasChanges(plan)) this.exit(ExitCode.CHANGES)
  }
}
