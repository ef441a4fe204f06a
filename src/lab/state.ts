/**
 * The lab's state file, `<state-dir>/lab.json`: which daemon hosts the lab, how to reach its
 * control channel, which ZooKeeper it uses (and whether it started it), the cluster's endpoints
 * and the specs written for it. Every command that talks to a running lab starts here.
 */
import {existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {LifeboatError} from '../errors.js'

/** Default state directory, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.lifeboat/lab'

/** What `lab.json` holds, whatever the engine. */
export interface LabState {
  /** The scenario's `engine:`, which picks the lab (./registry.ts) for every later command. */
  engine: string
  scenario: {name: string; path: string}
  state_dir: string
  started: string
  daemon: {pid: number; control: string; token: string; detached: boolean}
  /** The ZooKeeper the lab uses, for an engine that needs one. */
  zookeeper?: {hosts: string; pid?: number; started_by_lab: boolean}
  /** The lab's endpoints: what its `RunningLab.layout()` gave (the engine's own shape). */
  cluster: Record<string, unknown>
  specs: Record<string, string>
  /** Other processes the lab started, stopped by `lab down` when the daemon is gone. */
  processes?: {pid: number; what: string}[]
}

/** The absolute state directory for a flag value. */
export function stateDirOf(flag: string | undefined): string {
  return resolve(flag ?? DEFAULT_STATE_DIR)
}

export function labStatePath(dir: string): string {
  return join(dir, 'lab.json')
}

/** Reads the state, or undefined when no lab state is there. */
export function readLabState(dir: string): LabState | undefined {
  const path = labStatePath(dir)
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LabState
  } catch (err) {
    throw new LifeboatError('LAB_STATE_INVALID', `the lab state ${path} is unreadable`, {
      cause: err,
      hints: [
        `Stop what is left with: lifeboat lab down --state-dir ${dir} --force`,
        `Or remove ${path} by hand once no lab process runs.`,
      ],
    })
  }
}

/** Writes the state atomically (mode 0600: it holds the control token). */
export function writeLabState(dir: string, state: LabState): void {
  mkdirSync(dir, {recursive: true})
  const tmp = `${labStatePath(dir)}.tmp`
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, {mode: 0o600})
  renameSync(tmp, labStatePath(dir))
}

export function removeLabState(dir: string): void {
  rmSync(labStatePath(dir), {force: true})
}

/** Whether a process with this pid exists (signal 0 probes without touching it). */
export function processAlive(pid: number | undefined): boolean {
  if (!pid || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The running lab's state, or a LifeboatError that says how to start one. */
export function requireRunningLab(dir: string): LabState {
  const state = readLabState(dir)
  const flag = dir === resolve(DEFAULT_STATE_DIR) ? '' : ` --state-dir ${dir}`
  if (!state) {
    throw new LifeboatError('LAB_NOT_RUNNING', `no lab is running in ${dir}`, {
      hints: [`Start one: lifeboat lab up pegasus-meta-recovery --detach${flag}`],
    })
  }
  if (!processAlive(state.daemon.pid)) {
    throw new LifeboatError(
      'LAB_NOT_RUNNING',
      `the lab in ${dir} is not running: its process ${state.daemon.pid} is gone`,
      {
        hints: [
          `Clean up what is left: lifeboat lab down${flag}`,
          `Then start it again: lifeboat lab up ${state.scenario.name} --detach${flag}`,
        ],
      },
    )
  }
  return state
}
