/**
 * The error model and the exit codes: one table, shown in `--help` and the README.
 *
 * Validation accumulates diagnostics; execution throws a LifeboatError whose code is assigned
 * where the failure is first understood (zk/, an engine client, apply/), never by parsing text.
 */

/** Exit codes of every command (DESIGN.md section 5). */
export const ExitCode = {
  /** Success, or a plan with no changes. */
  OK: 0,
  /** An error: bad input, an unreachable store, a failed step. */
  ERROR: 1,
  /** `plan --detailed-exitcode`: the plan has changes. */
  CHANGES: 2,
  /** apply stopped part-way; `apply --resume` continues it. */
  STOPPED: 3,
  /** Approval missing or refused. */
  APPROVAL: 4,
  /** The saved plan no longer matches the cluster. */
  STALE: 5,
} as const
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** The exit-code table as printed in every command's help and in the README. */
export const EXIT_CODE_HELP = [
  '0  success, or no changes',
  '1  error',
  '2  changes present (plan --detailed-exitcode)',
  '3  apply stopped part-way; continue with apply --resume',
  '4  approval missing or refused',
  '5  saved plan is stale',
].join('\n')

export interface LifeboatErrorOptions {
  /** Why, and in what state things are now. */
  detail?: string
  /** Concrete next actions: exact commands or flags. */
  hints?: string[]
  /** The exit code; defaults to 1. */
  exit?: ExitCodeValue
  cause?: unknown
}

/**
 * An error meant for the operator: a one-line message that says what is wrong, a detail, and hints
 * that say what to do. Commands print it without a stack trace.
 */
export class LifeboatError extends Error {
  readonly code: string
  readonly detail?: string
  readonly hints: string[]
  readonly exit: ExitCodeValue

  constructor(code: string, message: string, opts: LifeboatErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = 'LifeboatError'
    this.code = code
    this.detail = opts.detail
    this.hints = opts.hints ?? []
    this.exit = opts.exit ?? ExitCode.ERROR
  }

  toJSON(): {code: string; message: string; detail?: string; hints: string[]; exit: number} {
    return {code: this.code, message: this.message, detail: this.detail, hints: this.hints, exit: this.exit}
  }
}

/** A broken invariant: a bug in lifeboat, never the operator's fault. */
export class InternalError extends LifeboatError {
  constructor(message: string, cause?: unknown) {
    super('INTERNAL', `internal error: ${message}`, {
      cause,
      hints: [
        'This is a bug in lifeboat. Nothing further was written; please report it with the audit log and the command you ran.',
      ],
    })
  }
}

/** The message of anything thrown, for places that must not lose it. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
