/**
 * `lifeboat validate SPEC...`: offline checks of recovery specs (YAML, schema, semantics), for CI
 * on the pull request that carries a runbook.
 */
import {Args} from '@oclif/core'

import {BaseCommand, paint, withExitCodes} from '../cli/base-command.js'
import {loadEngineRegistry} from '../engines/registry.js'
import {ExitCode} from '../errors.js'
import {loadSpecFile, type Diagnostic} from '../spec/index.js'

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

export default class Validate extends BaseCommand {
  static override summary = 'Check recovery specs offline: YAML, schema and semantic checks.'

  static override description = withExitCodes(
    'Checks each SPEC without contacting any cluster: the YAML syntax, the schema of its kind ' +
      '(schemas/spec.schema.json), and what a schema cannot say: host:port values, duplicates, ZooKeeper ' +
      'roots, the target_nodes_file it names, and contradictory options. Every problem of a file is ' +
      'reported at once as FILE:LINE:COL  CODE  message, with a hint. Exit 0 when every file is valid, 1 otherwise.',
  )

  static override examples = [
    '<%= config.bin %> validate runbooks/pegasus-meta-recovery.yaml',
    '<%= config.bin %> validate runbooks/*.yaml',
    '<%= config.bin %> validate spec.yaml --json | jq \'.diagnostics[] | select(.severity == "error")\'',
  ]

  static override strict = false

  static override args = {
    spec: Args.string({description: 'Spec files (YAML or JSON) to check.', required: true}),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Validate)
    const files = argv as string[]
    const color = this.useColor(flags)
    const all: Diagnostic[] = []
    let valid = true
    // Plugin engines (LIFEBOAT_ENGINE_MODULES) bring the schemas of their own spec kinds.
    const registry = await loadEngineRegistry()
    for (const file of files) {
      const result = await loadSpecFile(file, {extraKinds: registry.extraKinds, engines: registry.engines})
      all.push(...result.diagnostics)
      if (!result.ok) valid = false
      if (this.jsonEnabled()) continue
      const lines: string[] = []
      for (const d of result.diagnostics) {
        const code = paint(color, d.severity === 'error' ? 31 : 33, d.code)
        lines.push(`${d.file}:${d.line}:${d.col}  ${code}  ${d.message}`)
        if (d.hint) lines.push(`    hint: ${d.hint}`)
      }
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length
      const warnings = result.diagnostics.length - errors
      if (result.ok) {
        const what = result.spec ? ` (${result.spec.kind} ${result.spec.name})` : ''
        lines.push(`${file}: ${paint(color, 32, 'valid')}${what}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}`)
      } else {
        const parts = [plural(errors, 'error'), ...(warnings > 0 ? [plural(warnings, 'warning')] : [])]
        lines.push(`${file}: ${paint(color, 31, plural(result.diagnostics.length, 'problem'))} (${parts.join(', ')})`)
      }
      this.log(lines.join('\n'))
    }
    if (this.jsonEnabled()) {
      this.printJson({
        valid,
        diagnostics: all.map((d) => ({code: d.code, severity: d.severity, message: d.message, hint: d.hint ?? null, file: d.file, line: d.line, col: d.col, path: d.path})),
      })
    }
    if (!valid) this.exit(ExitCode.ERROR)
  }
}
