/**
 * The base of every lifeboat command: `--json`, `--no-color`, and one way of turning errors into
 * a message, hints and an exit code, never a stack trace for a user error.
 */
import {Command, Errors, Flags} from '@oclif/core'

import {EXIT_CODE_HELP, LifeboatError, describeError} from '../errors.js'
import {jsonStringify} from '../plan/canonical.js'
import {palette} from '../util/colour.js'
import {escapeControls} from '../render/escape.js'
import {redactInlineDeep} from '../util/redact.js'

/** A command description followed by the exit-code table, for `--help`. */
export function withExitCodes(description: string): string {
  return `${description}\n\nEXIT CODES\n${EXIT_CODE_HELP.split('\n')
    .map((l) => `  ${l}`)
    .join('\n')}`
}

/** `s` in the ANSI colour `code` (31 red, 32 green, 33 yellow) when `on`, else as it is. */
export function paint(on: boolean, code: number, s: string): string {
  return palette(on).sgr(code)(s)
}

export abstract class BaseCommand extends Command {
  static override enableJsonFlag = true

  static override baseFlags = {
    'no-color': Flags.boolean({description: 'Print without colour (NO_COLOR is honoured too).', helpGroup: 'GLOBAL'}),
  }

  /** Colour only on a terminal, and never with --no-color, NO_COLOR or --json. */
  protected useColor(flags: {'no-color'?: boolean}): boolean {
    if (flags['no-color'] || this.jsonEnabled()) return false
    if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
    return Boolean(process.stdout.isTTY)
  }

  /** Prints a JSON document to stdout whatever the mode (for results that come with a non-zero exit). */
  protected printJson(value: unknown): void {
    // --json output is kept, pasted and logged: `password=...` and `--token X` in any string are redacted.
    process.stdout.write(`${jsonStringify(redactInlineDeep(value), 2)}\n`)
  }

  protected override async catch(err: Error & {exitCode?: number}): Promise<never> {
    if (err instanceof Errors.ExitError) throw err
    const lifeboat = toLifeboatError(err)
    if (this.jsonEnabled()) {
      this.printJson({error: lifeboat.toJSON()})
    } else {
      process.stderr.write(formatError(lifeboat))
    }
    if (process.env.LIFEBOAT_DEBUG && err.stack) process.stderr.write(`${err.stack}\n`)
    this.exit(lifeboat.exit)
  }
}

/** Any thrown value as a LifeboatError: flag-parsing errors are usage errors (exit 1, never 2). */
export function toLifeboatError(err: unknown): LifeboatError {
  if (err instanceof LifeboatError) return err
  if (err instanceof Errors.CLIError) {
    return new LifeboatError('USAGE', err.message.split('\n')[0] ?? 'invalid arguments', {
      detail: err.message.includes('\n') ? err.message : undefined,
      hints: ['Run the command with --help to see its arguments and flags.'],
    })
  }
  return new LifeboatError('INTERNAL', `internal error: ${describeError(err)}`, {
    cause: err,
    hints: [
      'This is a bug in lifeboat; nothing further was written. Run again with LIFEBOAT_DEBUG=1 for the stack trace and report it.',
    ],
  })
}

/** `Error: message`, the detail, then the hints, as the operator reads them on stderr. */
export function formatError(err: LifeboatError): string {
  const lines = [`Error: ${err.message}`]
  // Detail lines that only repeat the message (a deadline's reason, say) are not printed a second time.
  const detail = (err.detail ?? '').split('\n').filter((l) => l.trim() === '' || !err.message.includes(l.trim()))
  if (detail.some((l) => l.trim() !== '')) lines.push('', ...detail.map((l) => `  ${l}`))
  if (err.hints.length > 0) lines.push('', ...err.hints.map((h) => `  hint: ${h}`))
  // Messages name things from the spec and the cluster: their control characters are shown, never obeyed.
  return `${lines.map(escapeControls).join('\n')}\n`
}
