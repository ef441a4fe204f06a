/**
 * The process that hosts a lab: it starts ZooKeeper when the scenario's lab needs one (unless one
 * is given), brings the scenario up through its lab (./registry.ts), writes the specs and
 * `lab.json`, and serves the control channel until told to stop (or SIGTERM/SIGINT), then stops
 * everything it started. `lab up` runs it in the foreground, or detached through `daemon-main.ts`.
 */
import {randomBytes} from 'node:crypto'
import {appendFileSync, mkdirSync, readFileSync, renameSync, statSync} from 'node:fs'
import http from 'node:http'
import {join} from 'node:path'

import {LifeboatError, describeError} from '../errors.js'
import type {RunningLab} from './engine.js'
import {onBatchProgress} from './pegasus/zk-batch.js'
import {loadScenario} from './scenario.js'
import {removeLabState, writeLabState, type LabState} from './state.js'
import {startZooKeeper, type RunningZooKeeper} from './zookeeper/server.js'

export interface HostLabOptions {
  /** A built-in scenario name or a path. */
  scenario: string
  stateDir: string
  /** An existing ZooKeeper (`host:port`); one is started when absent and the lab needs it. */
  zk?: string
  detached: boolean
}

/** A lab hosted by this process. */
export interface HostedLab {
  state: LabState
  lab: RunningLab
  /** Resolves when the lab has stopped (after `stop()` or a control `POST /down`). */
  stopped: Promise<void>
  stop(): Promise<void>
}

/** The contents of each spec file, to tell which ones a fault rewrote. */
function specContents(specs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, path] of Object.entries(specs)) {
    try {
      out[name] = readFileSync(path, 'utf8')
    } catch {
      out[name] = ''
    }
  }
  return out
}

/** What `GET /fault/progress` answers: the fault running now, its latest step and count. */
export interface FaultProgress {
  running: boolean
  /** The fault's type, e.g. `zk-loss`. */
  fault?: string
  /** Its latest step, as the lab logs it (`removing /pegasus/scale`). */
  step?: string
  count?: {done: number; total?: number; unit: string}
  elapsed_ms?: number
}

/** Brings the lab up in this process and serves its control channel. */
export async function hostLab(opts: HostLabOptions): Promise<HostedLab> {
  const loaded = loadScenario(opts.scenario)
  mkdirSync(opts.stateDir, {recursive: true})
  const fileLog = labLogger(join(opts.stateDir, 'lab.log'), {verbose: process.env.LIFEBOAT_LAB_VERBOSE === '1'})
  // The fault running now: the lab's log lines about it (`zk-loss: ...`) and its batches' counts are its progress.
  let running: {fault: string; started: number; step?: string; count?: FaultProgress['count']} | undefined
  const log = (line: string): void => {
    if (running && line.startsWith(`${running.fault}: `)) {
      running.step = line.slice(running.fault.length + 2).replace(/ \(\d+ ms\)$/, '')
      running.count = undefined
    }
    fileLog(line)
  }
  onBatchProgress((step, count) => {
    if (running) Object.assign(running, {step, count})
  })
  let zk: RunningZooKeeper | undefined
  let zkHosts: string | undefined
  if (loaded.lab.needsZooKeeper) {
    if (!opts.zk) {
      const big = (loaded.scenario as {replica_servers?: number}).replica_servers ?? 0
      zk = await startZooKeeper({dir: join(opts.stateDir, 'zookeeper'), heap: big > 20 ? '1g' : '512m'})
    }
    zkHosts = opts.zk ?? (zk as RunningZooKeeper).connectString
  }
  let lab: RunningLab
  try {
    lab = await loaded.lab.up({scenario: loaded.scenario, stateDir: opts.stateDir, zkHosts, zkPid: zk?.pid, log})
  } catch (err) {
    await zk?.stop()
    throw err
  }
  const token = randomBytes(24).toString('hex')
  let resolveStopped!: () => void
  const stopped = new Promise<void>((r) => (resolveStopped = r))
  let stopping: Promise<void> | undefined
  const processes = lab.processes?.() ?? []
  const state: LabState = {
    engine: loaded.scenario.engine,
    scenario: {name: loaded.builtin ?? loaded.scenario.name, path: loaded.path},
    state_dir: opts.stateDir,
    started: new Date().toISOString(),
    daemon: {pid: process.pid, control: '', token, detached: opts.detached},
    ...(zkHosts ? {zookeeper: {hosts: zkHosts, pid: zk?.pid, started_by_lab: zk !== undefined}} : {}),
    cluster: lab.layout(),
    specs: lab.writeSpecs(),
    ...(processes.length > 0 ? {processes} : {}),
  }

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log('stopping the lab')
      await new Promise<void>((r) => control.close(() => r()))
      await lab.down()
      await zk?.stop()
      removeLabState(opts.stateDir)
      resolveStopped()
    })()
    return stopping
  }

  const control = http.createServer((req, res) => {
    const reply = (code: number, body: unknown): void => {
      res.writeHead(code, {'content-type': 'application/json'})
      res.end(JSON.stringify(body))
    }
    if (req.headers.authorization !== `Bearer ${token}`)
      return reply(401, {error: {code: 'LAB_UNAUTHORIZED', message: 'wrong or missing control token'}})
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      void (async () => {
        try {
          if (req.method === 'GET' && req.url === '/status')
            return reply(200, {...(await lab.status()), specs: state.specs, scenario: state.scenario})
          if (req.method === 'GET' && req.url === '/fault/progress') {
            const p: FaultProgress = running
              ? {
                  running: true,
                  fault: running.fault,
                  ...(running.step ? {step: running.step} : {}),
                  ...(running.count ? {count: running.count} : {}),
                  elapsed_ms: Math.round(performance.now() - running.started),
                }
              : {running: false}
            return reply(200, p)
          }
          if (req.method === 'POST' && req.url === '/fault') {
            const fault = JSON.parse(body) as unknown
            log(`fault ${JSON.stringify(fault)}`)
            const before = specContents(state.specs)
            const type = (fault as {type?: unknown} | null)?.type
            const mine = {fault: typeof type === 'string' ? type : 'fault', started: performance.now()}
            running = mine
            const message = await lab.fault(fault).finally(() => {
              if (running === mine) running = undefined
            })
            state.cluster = lab.layout()
            state.specs = lab.writeSpecs()
            writeLabState(opts.stateDir, state)
            const after = specContents(state.specs)
            const rewritten = Object.keys(after)
              .filter((n) => after[n] !== before[n])
              .sort()
            return reply(200, {message, specs: state.specs, rewritten})
          }
          if (req.method === 'POST' && req.url === '/down') {
            reply(200, {message: 'stopping'})
            await stop()
            return
          }
          reply(404, {error: {code: 'LAB_CONTROL_UNKNOWN', message: `no control endpoint ${req.method} ${req.url}`}})
        } catch (err) {
          const e =
            err instanceof LifeboatError
              ? err
              : new LifeboatError('LAB_FAULT_FAILED', describeError(err), {
                  hints: ['See lab.log in the state directory.'],
                })
          log(`error: ${e.message}`)
          reply(400, {error: e.toJSON()})
        }
      })()
    })
  })
  await new Promise<void>((resolve, reject) => {
    control.once('error', reject)
    control.listen(0, '127.0.0.1', () => resolve())
  })
  const addr = control.address()
  state.daemon.control = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`
  writeLabState(opts.stateDir, state)
  log(`lab up: ${state.engine} scenario ${state.scenario.name}${zkHosts ? `, ZooKeeper ${zkHosts}` : ''}`)
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void stop())
  return {state, lab, stopped, stop}
}

/** lab.log is rotated to lab.log.1 past this size: one old generation is kept. */
export const LAB_LOG_MAX_BYTES = 8 * 1024 * 1024
/** Quiet by default: at most this many lines a minute (LIFEBOAT_LAB_VERBOSE=1 writes every line). */
const QUIET_LINES_PER_MINUTE = 120

/**
 * The lab's log: timestamped lines appended to `file`, rotated past LAB_LOG_MAX_BYTES (the file
 * becomes `file.1`, replacing the older one). Unless `verbose`, a burst is cut to
 * QUIET_LINES_PER_MINUTE lines a minute and the rest is counted in one line. Never throws.
 */
export function labLogger(file: string, opts: {verbose?: boolean; maxBytes?: number} = {}): (line: string) => void {
  const maxBytes = opts.maxBytes ?? LAB_LOG_MAX_BYTES
  let size = 0
  try {
    size = statSync(file).size
  } catch {
    // a new log
  }
  let minute = -1
  let written = 0
  let dropped = 0
  const write = (text: string): void => {
    try {
      if (size + text.length > maxBytes && size > 0) {
        renameSync(file, `${file}.1`)
        size = 0
      }
      appendFileSync(file, text)
      size += Buffer.byteLength(text)
    } catch {
      // Logging never stops the lab.
    }
  }
  return (line: string): void => {
    const now = new Date()
    const m = Math.floor(now.getTime() / 60_000)
    if (m !== minute) {
      if (dropped > 0)
        write(
          `${now.toISOString()} (${dropped} more lines in the last minute not logged; LIFEBOAT_LAB_VERBOSE=1 logs every line)\n`,
        )
      minute = m
      written = 0
      dropped = 0
    }
    if (!opts.verbose && written >= QUIET_LINES_PER_MINUTE) {
      dropped++
      return
    }
    written++
    write(`${now.toISOString()} ${line}\n`)
  }
}
