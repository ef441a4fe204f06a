/**
 * Shared plumbing of `lifeboat demo`: a journey is a narrated sequence of real `lifeboat`
 * commands run against a lab. Each command is printed as `$ lifeboat ...` (relative to the demo's
 * working directory, so the operator can repeat it by hand) and run as a child process of the same
 * binary (process.execPath + bin/run.js); its output is shown as it comes and kept for checks.
 *
 * A journey file (one per journey, registered in ./index.ts) only says what to run and what to
 * check; starting, narrating, interrupting and tearing the lab down live here.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {join, relative} from 'node:path'

import {LifeboatError} from '../errors.js'
import {packageRoot} from '../package-root.js'
import {readLabState} from '../lab/state.js'
import {poll} from '../util/poll.js'

/** What a command printed and how it ended. */
export interface CommandResult {
  argv: string[]
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** How a journey talks to the operator and runs commands. */
export interface DemoContext {
  /** The demo's working directory: plan files and `.lifeboat/audit.jsonl` go here. */
  workDir: string
  /** The lab's state directory (absolute). */
  stateDir: string
  /** `--state-dir X` as printed: relative to workDir when inside it. */
  stateDirArg: string
  /** `--zk HOST:PORT` for `lab up`, when the operator gave one. */
  zk?: string
  /** A section heading. */
  section(title: string): void
  /** Narration: what is about to happen and why. */
  say(...lines: string[]): void
  /**
   * Prints `$ lifeboat ARGS`, runs it, shows its output, and fails the journey (DemoFailed) when
   * it exits with a code not in `expect` (default [0]). `quiet`: prints nothing (a poll the
   * journey narrates itself).
   */
  lifeboat(args: string[], opts?: {expect?: number[]; quiet?: boolean}): Promise<CommandResult>
  /** Waits, unless the demo is being interrupted. */
  pause(ms: number): Promise<void>
}

/** A journey: one file in src/demo/, registered in src/demo/index.ts. */
export interface Journey {
  /** The name `lifeboat demo NAME` takes. */
  name: string
  /** One line for the list of journeys. */
  summary: string
  /** The lab scenario it brings up (a built-in name). */
  scenario: string
  /**
   * Runs the journey on a lab that is not up yet (the journey starts it with `lab up`; the
   * plumbing tears it down). Returns the closing lines, the last of which is the proof
   * (`10000 of 10000 found`); throws DemoFailed when something did not go as it must.
   */
  run(ctx: DemoContext): Promise<string[]>
}

/** The journey did not verify: which command, and what was wrong. */
export class DemoFailed extends LifeboatError {
  constructor(message: string, opts: {detail?: string; hints?: string[]} = {}) {
    super('DEMO_FAILED', message, opts)
  }
}

/** The demo was interrupted (Ctrl-C or SIGTERM). */
export class DemoInterrupted extends LifeboatError {
  constructor(signal: string) {
    super('DEMO_INTERRUPTED', `the demo was interrupted (${signal})`, {exit: 1})
  }
}

/** The lifeboat binary this process runs from. */
export function lifeboatBin(): string {
  return join(packageRoot(), 'bin', 'run.js')
}

/** Quotes an argument for a POSIX shell when it needs it. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/** Options of runJourney. */
export interface RunJourneyOptions {
  workDir: string
  stateDir: string
  zk?: string
  /** Leave the lab up at the end. */
  keep: boolean
  /** Where narration and command output go (default: process.stdout). */
  out?: (text: string) => void
  /** Environment of the child processes (default: process.env). */
  env?: NodeJS.ProcessEnv
}

/** What a journey run ended with. */
export interface JourneyOutcome {
  ok: boolean
  /** The journey's closing lines (on success). */
  closing: string[]
  error?: LifeboatError
  /** Whether the lab was left running. */
  labLeftUp: boolean
}

/**
 * Runs a journey: narrates, runs its commands, and tears the lab down afterwards, on failure
 * and on Ctrl-C/SIGTERM as well (unless `keep`, and then only on success).
 */
export async function runJourney(journey: Journey, opts: RunJourneyOptions): Promise<JourneyOutcome> {
  const out = opts.out ?? ((t: string) => void process.stdout.write(t))
  const env: NodeJS.ProcessEnv = {...(opts.env ?? process.env)}
  const bin = lifeboatBin()
  const rel = relative(opts.workDir, opts.stateDir)
  const stateDirArg = rel !== '' && !rel.startsWith('..') && !rel.startsWith('/') ? rel : opts.stateDir
  let current: ChildProcess | undefined
  let interrupted: string | undefined
  let labStarted = false
  let upRunning = false
  let interruptedDuringUp = false
  let tearingDown = false

  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) return
    interrupted = signal
    interruptedDuringUp = upRunning
    out(`\n${signal === 'SIGINT' ? 'Interrupted' : `Got ${signal}`}: stopping the demo.\n`)
    // A terminal's Ctrl-C reaches the child too; a SIGTERM sent to us alone is passed on.
    if (current && !tearingDown && current.exitCode === null && signal !== 'SIGINT') current.kill(signal)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  // `shielded`: in its own process group, so that a Ctrl-C at the terminal does not reach it.
  const exec = (args: string[], show: boolean, shielded = false): Promise<CommandResult> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [bin, ...args], {
        cwd: opts.workDir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: shielded,
      })
      current = child
      let stdout = ''
      let stderr = ''
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString('utf8')
        if (show) out(d.toString('utf8'))
      })
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString('utf8')
        if (show) out(d.toString('utf8'))
      })
      child.on('error', reject)
      child.on('close', (code, signal) => {
        current = undefined
        resolve({argv: args, code, signal, stdout, stderr})
      })
    })

  const ctx: DemoContext = {
    workDir: opts.workDir,
    stateDir: opts.stateDir,
    stateDirArg,
    zk: opts.zk,
    section(title) {
      out(`\n== ${title}\n`)
    },
    say(...lines) {
      out(`${lines.map((l) => `# ${l}`).join('\n')}\n`)
    },
    async lifeboat(args, o = {}) {
      if (interrupted) throw new DemoInterrupted(interrupted)
      const expect = o.expect ?? [0]
      if (!o.quiet) out(`\n$ lifeboat ${args.map(shellQuote).join(' ')}\n`)
      const up = args[0] === 'lab' && args[1] === 'up'
      if (up) labStarted = upRunning = true
      const r = await exec(args, !o.quiet)
        .then((res) => {
          // A terminal's Ctrl-C reaches the whole foreground group: the command may die of it before
          // the demo's own handler has run. It is the operator's interruption, not a failed step.
          if (res.signal === 'SIGINT') onSignal('SIGINT')
          return res
        })
        .finally(() => (upRunning = false))
      if (interrupted) throw new DemoInterrupted(interrupted)
      if (r.code === null || !expect.includes(r.code)) {
        throw new DemoFailed(
          `\`lifeboat ${args.join(' ')}\` ${r.code === null ? `was killed by ${r.signal}` : `exited ${r.code}`}, expected ${expect.join(' or ')}`,
          {
            detail: (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-12).join('\n') || undefined,
            hints: ['The output above shows what went wrong.'],
          },
        )
      }
      return r
    },
    async pause(ms) {
      const step = 100
      for (let waited = 0; waited < ms && !interrupted; waited += step) await new Promise((r) => setTimeout(r, step))
      if (interrupted) throw new DemoInterrupted(interrupted)
    },
  }

  let outcome: JourneyOutcome
  try {
    out(`Working directory: ${opts.workDir}\n(cd there to repeat any command below by hand)\n`)
    const closing = await journey.run(ctx)
    outcome = {ok: true, closing, labLeftUp: false}
  } catch (err) {
    const error =
      err instanceof LifeboatError
        ? err
        : new LifeboatError('DEMO_FAILED', `the demo failed: ${err instanceof Error ? err.message : String(err)}`, {
            cause: err,
          })
    outcome = {ok: false, closing: [], error, labLeftUp: false}
  }

  // Tear down: always after a failure or an interruption; after success unless --keep.
  if (labStarted && (!outcome.ok || !opts.keep || interrupted)) {
    tearingDown = true
    // Interrupted while `lab up` waited: the detached lab process may still be coming up.
    if (interruptedDuringUp)
      await poll(() => (readLabState(opts.stateDir)?.daemon.control === undefined ? undefined : true), {
        timeoutMs: 20_000,
        intervalMs: 100,
      })
    const down = ['lab', 'down', '--state-dir', stateDirArg]
    out(`\n$ lifeboat ${down.map(shellQuote).join(' ')}\n`)
    // Not interruptible: a second Ctrl-C must not leave the lab behind.
    const r = await exec(down, true, true)
    if (r.code !== 0 && outcome.ok) {
      outcome = {
        ok: false,
        closing: [],
        labLeftUp: true,
        error: new DemoFailed('`lifeboat lab down` failed; the lab may still run', {
          hints: [`Stop it with: lifeboat lab down --state-dir ${opts.stateDir}`],
        }),
      }
    }
  } else if (labStarted) {
    outcome.labLeftUp = true
  }
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  if (interrupted && outcome.ok)
    outcome = {ok: false, closing: [], error: new DemoInterrupted(interrupted), labLeftUp: false}
  return outcome
}

/** `lab up SCENARIO --detach` in the demo's state directory (`dir`: `--state-dir X`), on the operator's `--zk` if given. */
export async function labUp(ctx: DemoContext, scenario: string, dir: string[]): Promise<void> {
  await ctx.lifeboat(['lab', 'up', scenario, '--detach', ...dir, ...(ctx.zk ? ['--zk', ctx.zk] : [])])
}

/** `lab verify` on a lab just brought up: every row the scenario loaded must be readable. */
export async function expectRowsLoaded(ctx: DemoContext, dir: string[]): Promise<void> {
  const r = await ctx.lifeboat(['lab', 'verify', ...dir])
  const loaded = foundLine(r.stdout)
  if (!loaded || loaded.total === 0 || loaded.found !== loaded.total)
    throw new DemoFailed(`the lab did not load its rows: ${loaded?.line ?? 'no count'}`)
}

/** A `N of M found` line of `lab verify`. */
export interface RowCount {
  line: string
  found: number
  total: number
}

/** `N of M found` from `lab verify`'s output, or undefined. */
export function foundLine(text: string): RowCount | undefined {
  const m = /^(\d+) of (\d+) found$/m.exec(text)
  return m ? {line: m[0], found: Number(m[1]), total: Number(m[2])} : undefined
}

/**
 * `lab verify` until the count is what the journey expects: after a meta restart or a new primary,
 * the replica servers take their roles at their next config sync (about a second in the lab), so a
 * first count may be short.
 */
export async function verifyRowsUntil(
  ctx: DemoContext,
  dir: string[],
  want: {describe: string; met: (count: RowCount) => boolean},
  attempts = 10,
): Promise<RowCount> {
  let last: RowCount | undefined
  for (let i = 0; i < attempts; i++) {
    if (i > 0) {
      ctx.say(
        `Not ${want.describe} yet: the replica servers take their roles at their next config sync. Checking again.`,
      )
      await ctx.pause(1000)
    }
    const r = await ctx.lifeboat(['lab', 'verify', ...dir], {expect: [0, 1]})
    last = foundLine(r.stdout)
    if (last && want.met(last)) return last
  }
  throw new DemoFailed(`lab verify found ${last ? last.line : 'no count'}; expected ${want.describe}`, {
    hints: ['Look at `lifeboat lab status` and the lab log (lab.log in the state directory).'],
  })
}

/** Every row readable (and some rows at all). */
export const EVERY_ROW = {
  describe: 'every row readable',
  met: (c: RowCount): boolean => c.total > 0 && c.found === c.total,
}
