/**
 * The process that hosts a lab: it starts ZooKeeper unless one is given, brings the scenario up,
 * writes the specs and `lab.json`, and serves the control channel until told to stop (or
 * SIGTERM/SIGINT), then stops everything it started. `lab up` runs it in the foreground, or
 * detached through `daemon-main.ts`.
 */
import {randomBytes} from 'node:crypto'
import {appendFileSync, mkdirSync} from 'node:fs'
import http from 'node:http'
import {join} from 'node:path'

import {LifeboatError, describeError} from '../errors.js'
import {PegasusLab} from './pegasus/cluster.js'
import {migrationTargetRoot, startTargetZooKeeper, wantsMigration, writeMigrationSpecs, type LabMigration} from './pegasus/migration.js'
import {writePegasusSpecs} from './pegasus/specs.js'
import {removeRoot} from './pegasus/zk-batch.js'
import {loadScenario, type FaultSpec} from './scenario.js'
import {removeLabState, writeLabState, type LabState} from './state.js'
import {startZooKeeper, type RunningZooKeeper} from './zookeeper/server.js'

export interface HostLabOptions {
  /** A built-in scenario name or a path. */
  scenario: string
  stateDir: string
  /** An existing ZooKeeper (`host:port`); one is started when absent. */
  zk?: string
  detached: boolean
}

/** A lab hosted by this process. */
export interface HostedLab {
  state: LabState
  lab: PegasusLab
  /** Resolves when the lab has stopped (after `stop()` or a control `POST /down`). */
  stopped: Promise<void>
  stop(): Promise<void>
}

/** Brings the lab up in this process and serves its control channel. */
export async function hostLab(opts: HostLabOptions): Promise<HostedLab> {
  const loaded = loadScenario(opts.scenario)
  mkdirSync(opts.stateDir, {recursive: true})
  const logFile = join(opts.stateDir, 'lab.log')
  const log = (line: string): void => {
    try {
      appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`)
    } catch {
      // Logging never stops the lab.
    }
  }
  let zk: RunningZooKeeper | undefined
  if (!opts.zk) zk = await startZooKeeper({dir: join(opts.stateDir, 'zookeeper'), heap: loaded.scenario.replica_servers > 20 ? '1g' : '512m'})
  const zkHosts = opts.zk ?? (zk as RunningZooKeeper).connectString
  // A scenario with a migration target: a second ZooKeeper (zookeepers: 2) or another root, emptied.
  let zk2: RunningZooKeeper | undefined
  let migration: LabMigration | undefined
  let lab: PegasusLab
  try {
    if (wantsMigration(loaded.scenario)) {
      if ((loaded.scenario.zookeepers ?? 1) === 2) zk2 = await startTargetZooKeeper(opts.stateDir)
      const target = {hosts: zk2?.connectString ?? zkHosts, root: migrationTargetRoot(loaded.scenario)}
      // Whatever an earlier lab left at the target goes (a shared ZooKeeper keeps it).
      await removeRoot(target.hosts, target.root)
      migration = {source: {hosts: zkHosts, root: ''}, target, ...(zk2 ? {zookeeper: {hosts: zk2.connectString, pid: zk2.pid, started_by_lab: true as const}} : {})}
    }
    lab = await PegasusLab.up({scenario: loaded.scenario, stateDir: opts.stateDir, zkHosts, log})
    if (migration) migration.source.root = lab.layout.cluster_root
  } catch (err) {
    await zk2?.stop()
    await zk?.stop()
    throw err
  }
  const writeSpecs = (): Record<string, string> => ({
    ...writePegasusSpecs(opts.stateDir, lab.layout),
    ...(migration ? writeMigrationSpecs(opts.stateDir, lab.layout, migration) : {}),
  })
  const token = randomBytes(24).toString('hex')
  let resolveStopped!: () => void
  const stopped = new Promise<void>((r) => (resolveStopped = r))
  let stopping: Promise<void> | undefined
  const state: LabState = {
    engine: 'pegasus',
    scenario: {name: loaded.builtin ?? loaded.scenario.name, path: loaded.path},
    state_dir: opts.stateDir,
    started: new Date().toISOString(),
    daemon: {pid: process.pid, control: '', token, detached: opts.detached},
    zookeeper: {hosts: zkHosts, pid: zk?.pid, started_by_lab: zk !== undefined},
    cluster: lab.layout,
    specs: writeSpecs(),
    ...(migration ? {migration} : {}),
  }

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      log('stopping the lab')
      await new Promise<void>((r) => control.close(() => r()))
      await lab.down()
      await zk?.stop()
      await zk2?.stop()
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
    if (req.headers.authorization !== `Bearer ${token}`) return reply(401, {error: {code: 'LAB_UNAUTHORIZED', message: 'wrong or missing control token'}})
    let body = ''
    req.setEncoding('utf8')
    req.on('data', (c: string) => (body += c))
    req.on('end', () => {
      void (async () => {
        try {
          if (req.method === 'GET' && req.url === '/status') return reply(200, {...lab.status(), specs: state.specs, scenario: state.scenario, ...(migration ? {migration} : {})})
          if (req.method === 'POST' && req.url === '/fault') {
            const fault = JSON.parse(body) as FaultSpec
            log(`fault ${JSON.stringify(fault)}`)
            const message = await lab.fault(fault)
            state.cluster = lab.layout
            state.specs = writeSpecs()
            writeLabState(opts.stateDir, state)
            return reply(200, {message, specs: state.specs, zookeeper: {hosts: lab.layout.zk_hosts, root: lab.layout.cluster_root}})
          }
          if (req.method === 'POST' && req.url === '/down') {
            reply(200, {message: 'stopping'})
            await stop()
            return
          }
          reply(404, {error: {code: 'LAB_CONTROL_UNKNOWN', message: `no control endpoint ${req.method} ${req.url}`}})
        } catch (err) {
          const e = err instanceof LifeboatError ? err : new LifeboatError('LAB_FAULT_FAILED', describeError(err), {hints: ['See lab.log in the state directory.']})
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
  log(`lab up: ${lab.layout.meta_servers.length} meta, ${lab.layout.replica_servers.length} replica servers, ZooKeeper ${zkHosts}${zk2 ? `, second ZooKeeper ${zk2.connectString}` : ''}`)
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void stop())
  return {state, lab, stopped, stop}
}
