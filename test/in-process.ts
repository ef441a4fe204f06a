// `lifeboat ARGS` run inside the test worker instead of in a child process: the same compiled
// commands (dist/, loaded by @oclif/core from the repository root exactly as bin/run.js loads
// them), the same argv, working directory and environment, stdin not a terminal, and stdout and
// stderr captured. A child process costs about half a second of CPU to start on this machine and
// the suite starts the CLI about a thousand times; the worker loads the modules once.
//
// What a run in the worker cannot show, the callers keep a real process for: a signal or a kill
// (startCli), a terminal (runInPty), stdin (`-` as a file argument), a second run at the same time,
// and a run whose process id must differ from the test's. `LIFEBOAT_TEST_CLI_PROCESS=1` runs every
// command in a child process, as before.
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import type {Config} from '@oclif/core'

const REPO = fileURLToPath(new URL('..', import.meta.url))
const BIN = join(REPO, 'bin', 'run.js')

export interface InProcessResult {
  code: number
  signal: null
  stdout: string
  stderr: string
}

/** Thrown by process.exit while a command runs here: the run ends with that code, the worker lives. */
class ProcessExit extends Error {
  constructor(readonly code: number) {
    super(`process.exit(${code})`)
  }
}

let busy = false

/** Whether `args` can run in the worker now; otherwise the caller starts a child process. */
export function canRunInProcess(args: readonly string[]): boolean {
  if (busy || process.env.LIFEBOAT_TEST_CLI_PROCESS === '1') return false
  // `-` reads stdin, which in the worker is not the /dev/null a child gets.
  return !args.includes('-')
}

/** Replaces the contents of process.env (the object itself stays: Node gives it special setters). */
function setEnv(env: NodeJS.ProcessEnv): void {
  for (const key of Object.keys(process.env)) if (!(key in env)) delete process.env[key]
  for (const [key, value] of Object.entries(env)) if (value !== undefined) process.env[key] = value
}

/** Sets `obj[key]` for the run and returns the undo. */
function override<T extends object, K extends keyof T>(obj: T, key: K, value: T[K]): () => void {
  const own = Object.getOwnPropertyDescriptor(obj, key)
  Object.defineProperty(obj, key, {value, configurable: true, writable: true})
  return () => {
    if (own) Object.defineProperty(obj, key, own)
    else delete obj[key]
  }
}

/** A stream's `write` that hands the text to `take` and calls the write's callback, if any. */
function capture(take: (text: string) => void): typeof process.stdout.write {
  return ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    take(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'))
    const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined
    done?.()
    return true
  }) as typeof process.stdout.write
}

/** Runs `lifeboat ARGS` in this process, as `node bin/run.js ARGS` with `env`, in `cwd`. */
export async function runInProcess(args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<InProcessResult> {
  if (busy) throw new Error('runInProcess: another command is running in this worker')
  busy = true
  let oclif: typeof import('@oclif/core')
  let oclifHandle: typeof import('@oclif/core/handle')
  let config: Config
  try {
    oclif = await import('@oclif/core')
    oclifHandle = await import('@oclif/core/handle')
    // A fresh Config per run (about 15 ms): oclif's help rewrites the ids of the commands it lists
    // in place (`lab:up` becomes `lab up`), harmless in a process that then exits, fatal to the
    // next command of a shared one.
    config = await oclif.Config.load({root: REPO})
  } catch (error) {
    busy = false
    throw error
  }
  const {Exit, handle} = oclifHandle

  let stdout = ''
  let stderr = ''
  const savedEnv = {...process.env}
  const savedCwd = process.cwd()
  const savedExitCode = process.exitCode
  const listeners = {SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM')}
  const undo = [
    override(process, 'argv', [process.execPath, BIN, ...args]),
    override(
      process.stdout,
      'write',
      capture((s) => (stdout += s)),
    ),
    override(
      process.stderr,
      'write',
      capture((s) => (stderr += s)),
    ),
    override(process.stdout, 'isTTY', false),
    override(process.stderr, 'isTTY', false),
    override(process.stdin, 'isTTY', false),
    override(process, 'exit', ((code?: number | string | null) => {
      throw new ProcessExit(Number(code ?? process.exitCode ?? 0))
    }) as typeof process.exit),
  ]
  setEnv(env)
  process.exitCode = undefined
  let code = 0
  try {
    process.chdir(cwd)
    await oclif.run(args, config)
    code = Number(process.exitCode ?? 0)
  } catch (error) {
    if (error instanceof ProcessExit) {
      code = error.code
    } else {
      // What bin/run.js does with an error that leaves a command: oclif prints it (not for
      // this.exit(n), whose command printed its own message) and exits with its code.
      const exit = Exit.exit
      Exit.exit = ((n = 0) => {
        code = n
      }) as typeof Exit.exit
      try {
        await handle(error as Error)
      } finally {
        Exit.exit = exit
      }
    }
  } finally {
    process.chdir(savedCwd)
    setEnv(savedEnv)
    process.exitCode = savedExitCode
    for (const u of undo.reverse()) u()
    // A command that left a signal handler behind would answer the next command's signals.
    for (const name of ['SIGINT', 'SIGTERM'] as const) {
      for (const l of process.listeners(name)) if (!listeners[name].includes(l)) process.off(name, l)
    }
    busy = false
  }
  return {code, signal: null, stdout, stderr}
}
