import {Args, Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../cli/base-command.js'
import {readPlanFile} from '../plan/file.js'
import type {Plan} from '../plan/types.js'
import {renderPlanJson} from '../render/json.js'
import {renderPlanMarkdown} from '../render/markdown.js'
import {renderPlanText} from '../render/text.js'

/** `lifeboat show PLAN`: a saved plan, checked and rendered. Wiring only. */
export default class Show extends BaseCommand {
  static override summary = 'Show a saved plan as terminal text, markdown for a pull request, or JSON.'
  static override description = withExitCodes(
    'Reads a plan file written by `lifeboat plan --out` and prints it. The file is checked first: a plan that is ' +
      'missing, truncated, edited, of another format version or not a plan is refused with the reason. ' +
      'Markdown longer than a GitHub comment (65,536 characters) is printed in parts, each valid on its own, ' +
      'separated by an HTML comment line.',
  )

  static override examples = [
    '<%= config.bin %> show plan.json',
    '<%= config.bin %> show plan.json --format markdown > plan.md',
    '<%= config.bin %> show plan.json --json | jq .steps',
  ]

  static override args = {
    plan: Args.string({description: 'The plan file (from `lifeboat plan --out FILE`).', required: true}),
  }

  static override flags = {
    format: Flags.option({
      options: ['text', 'markdown', 'json'] as const,
      default: 'text' as const,
      description: 'How to print the plan.',
      char: 'f',
    })(),
    full: Flags.boolean({description: 'Show every change, primary, step and finding: collapse nothing.'}),
  }

  async run(): Promise<Plan | undefined> {
    const {args, flags} = await this.parse(Show)
    const plan = await readPlanFile(args.plan)
    if (this.jsonEnabled()) return plan
    switch (flags.format) {
      case 'json':
        process.stdout.write(renderPlanJson(plan))
        break
      case 'markdown': {
        const chunks = renderPlanMarkdown(plan, undefined, {full: flags.full})
        process.stdout.write(
          chunks
            .map((c, i) =>
              i === 0
                ? c
                : `\n<!-- lifeboat: part ${i + 1} of ${chunks.length}, post as a separate comment -->\n\n${c}`,
            )
            .join(''),
        )
        break
      }
      default:
        process.stdout.write(
          renderPlanText(plan, {color: this.useColor(flags), width: terminalWidth(), full: flags.full}),
        )
    }
    return undefined
  }
}

/** The terminal's width; COLUMNS when piped; 100 otherwise. */
function terminalWidth(): number {
  if (process.stdout.isTTY && process.stdout.columns) return process.stdout.columns
  const fromEnv = Number(process.env.COLUMNS)
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 100
}
