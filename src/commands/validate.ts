/**
 * `lifeboat validate SPEC...`: offline checks of recovery specs (YAML, schema, semantics), for CI
 * on the pull request that carries a runbook.
 */
import {Args, Flags} from '@oclif/core'

import {BaseCommand, paint, withExitCodes} from '../cli/base-command.js'
import {knownKinds, loadEngineRegistry} from '../engines/registry.js'
import {ExitCode} from '../errors.js'
import {loadSpecFile, type Diagnostic} from '../spec/index.js'
import {escapeControls} from '../render/escape.js'

/** GitHub workflow-command escaping of a message (`%`, CR, LF). */
function escapeData(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A')
}

/** GitHub workflow-command escaping of a property value (also `:` and `,`). */
function escapeProperty(s: string): string {
  return escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C')
}

/**
 * One diagnostic as a GitHub Actions workflow command (`::error file=F,line=L,col=C,title=CODE::message`),
 * which the runner turns into an annotation on that line of the pull request. Pure.
 */
export function githubAnnotation(d: Diagnostic): string {
  const props = [
    `file=${escapeProperty(d.file)}`,
    `line=${d.line}`,
    `col=${d.col}`,
    `title=${escapeProperty(d.code)}`,
  ].join(',')
  return `::${d.severity === 'error' ? 'error' : 'warning'} ${props}::${escapeData(d.hint ? `${d.message}\nhint: ${d.hint}` : d.message)}`
}

/** A spec whose kind has a schema but no engine in this build (or among the plugins): an error at its `kind:` line. */
function noEngineDiagnostic(file: string, source: string, kind: string, known: string[]): Diagnostic {
  const lines = source.split('\n')
  const i = lines.findIndex((l) => /^kind\s*:/.test(l))
  return {
    code: 'ENGINE_UNKNOWN_KIND',
    severity: 'error',
    message: `no engine handles the kind ${kind}: plan and apply would refuse this spec`,
    hint: `engines are available for: ${known.join(', ')}; an engine outside lifeboat is added through LIFEBOAT_ENGINE_MODULES`,
    file,
    line: i < 0 ? 1 : i + 1,
    col: i < 0 ? 1 : lines[i].indexOf(kind) + 1 || 1,
    path: '/kind',
  }
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

export default class Validate extends BaseCommand {
  static override summary = 'Check recovery specs offline: YAML, schema and semantic checks.'

  static override description = withExitCodes(
    'Checks each SPEC without contacting any cluster: the YAML syntax, the schema of its kind ' +
      '(schemas/spec.schema.json), and what a schema cannot say: host:port values, duplicates, ZooKeeper ' +
      'roots, the target_nodes_file it names, contradictory options, and that an engine of this build handles the kind. Every problem of a file is ' +
      'reported at once as FILE:LINE:COL  CODE  message, with a hint. Exit 0 when every file is valid, 1 otherwise.',
  )

  static override examples = [
    '<%= config.bin %> validate runbooks/pegasus-meta-recovery.yaml',
    '<%= config.bin %> validate runbooks/*.yaml',
    "<%= config.bin %> validate --format github $(git diff --name-only origin/main -- '*.yaml')   # in a GitHub Actions job",
    '<%= config.bin %> validate spec.yaml --json | jq \'.diagnostics[] | select(.severity == "error")\'',
  ]

  static override strict = false

  static override args = {
    spec: Args.string({description: 'Spec files (YAML or JSON) to check.', required: true}),
  }

  static override flags = {
    format: Flags.option({
      options: ['text', 'github'] as const,
      default: 'text',
      description:
        "text: FILE:LINE:COL  CODE  message. github: GitHub Actions workflow commands, shown as annotations on the pull request's lines.",
    })(),
    'allow-outside-paths': Flags.boolean({
      description: "Read files the spec names (a node list) even outside the spec's directory; only for trusted specs.",
    }),
  }

  async run(): Promise<void> {
    const {argv, flags} = await this.parse(Validate)
    const files = argv as string[]
    const color = this.useColor(flags)
    const all: Diagnostic[] = []
    let valid = true
    // Plugin engines (LIFEBOAT_ENGINE_MODULES) bring the schemas of their own spec kinds.
    const registry = await loadEngineRegistry()
    const github = flags.format === 'github'
    for (const file of files) {
      const result = await loadSpecFile(file, {
        extraKinds: registry.extraKinds,
        engines: registry.engines,
        restrictPaths: !flags['allow-outside-paths'],
      })
      if (result.ok && result.spec && !registry.engines.has(result.spec.kind)) {
        result.diagnostics.push(
          noEngineDiagnostic(result.spec.path, result.spec.source, result.spec.kind, knownKinds(registry)),
        )
        result.ok = false
      }
      all.push(...result.diagnostics)
      if (!result.ok) valid = false
      if (this.jsonEnabled()) continue
      if (github) {
        for (const d of result.diagnostics) this.log(githubAnnotation(d))
        const errors = result.diagnostics.filter((d) => d.severity === 'error').length
        this.log(
          `${file}: ${result.ok ? 'valid' : `${plural(errors, 'error')}`}${result.diagnostics.length - errors > 0 ? `, ${plural(result.diagnostics.length - errors, 'warning')}` : ''}`,
        )
        continue
      }
      const lines: string[] = []
      for (const d of result.diagnostics) {
        const code = paint(color, d.severity === 'error' ? 31 : 33, d.code)
        // A message quotes the spec (or a node list): its control characters are shown, never obeyed.
        lines.push(`${escapeControls(d.file)}:${d.line}:${d.col}  ${code}  ${escapeControls(d.message)}`)
        if (d.hint) lines.push(`    hint: ${escapeControls(d.hint)}`)
      }
      const errors = result.diagnostics.filter((d) => d.severity === 'error').length
      const warnings = result.diagnostics.length - errors
      if (result.ok) {
        const what = result.spec ? escapeControls(` (${result.spec.kind} ${result.spec.name})`) : ''
        lines.push(
          `${file}: ${paint(color, 32, 'valid')}${what}${warnings > 0 ? `, ${plural(warnings, 'warning')}` : ''}`,
        )
      } else {
        const parts = [plural(errors, 'error'), ...(warnings > 0 ? [plural(warnings, 'warning')] : [])]
        lines.push(`${file}: ${paint(color, 31, plural(result.diagnostics.length, 'problem'))} (${parts.join(', ')})`)
      }
      this.log(lines.join('\n'))
    }
    if (this.jsonEnabled()) {
      this.printJson({
        valid,
        diagnostics: all.map((d) => ({
          code: d.code,
          severity: d.severity,
          message: d.message,
          hint: d.hint ?? null,
          file: d.file,
          line: d.line,
          col: d.col,
          path: d.path,
        })),
      })
    }
    if (!valid) this.exit(ExitCode.ERROR)
  }
}
