import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, openSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {Args, Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {LifeboatError} from '../../errors.js'
import {hostLab} from '../../lab/daemon.js'
import {labEngine} from '../../lab/registry.js'
import {builtinScenarios, loadScenario} from '../../lab/scenario.js'
import {processAlive, readLabState, stateDirOf, type LabState} from '../../lab/state.js'
import {poll} from '../../util/poll.js'

export default class LabUp extends BaseCommand {
  static override summary = 'Start a simulated cluster on loopback from a scenario.'
  static override description = withExitCodes(
    "Starts the simulated servers of SCENARIO (a built-in name or a YAML path; its engine: picks the store) and ZooKeeper when that store needs one (unless --zk is given), loads the rows, applies the scenario's faults, and writes ready-to-use specs to <state-dir>/specs/. With --detach the lab keeps running in the background; otherwise it runs until Ctrl-C.",
  )
  static override examples = [
    '<%= config.bin %> lab up pegasus-meta-recovery --detach',
    '<%= config.bin %> lab up ./my-scenario.yaml --state-dir /tmp/lab --zk 127.0.0.1:2181',
  ]
  static override args = {
    scenario: Args.string({
      description: `built-in scenario (${builtinScenarios().join(', ')}) or a scenario file`,
      required: true,
    }),
  }
  static override flags = {
    'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'}),
    zk: Flags.string({description: 'use this ZooKeeper (host:port) instead of starting one'}),
    detach: Flags.boolean({description: 'keep the lab running in the background and return'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(LabUp)
    const dir = stateDirOf(flags['state-dir'])
    const existing = readLabState(dir)
    if (existing && processAlive(existing.daemon.pid)) {
      throw new LifeboatError('LAB_ALREADY_RUNNING', `a lab (${existing.scenario.name}) is already running in ${dir}`, {
        hints: [`Stop it first: lifeboat lab down --state-dir ${dir}`, 'Or use another --state-dir.'],
      })
    }
    loadScenario(args.scenario) // fail fast, in this process, on a bad scenario
    if (flags.detach) {
      const state = await this.detach(args.scenario, dir, flags.zk)
      return this.report(state)
    }
    const hosted = await hostLab({scenario: args.scenario, stateDir: dir, zk: flags.zk, detached: false})
    const out = this.report(hosted.state)
    if (!this.jsonEnabled()) this.log('\nThe lab runs until Ctrl-C (or lifeboat lab down from another terminal).')
    await hosted.stopped
    return out
  }

  private async detach(scenario: string, dir: string, zk: string | undefined): Promise<LabState> {
    mkdirSync(dir, {recursive: true})
    const errFile = join(dir, 'daemon-error.json')
    rmSync(errFile, {force: true})
    const entry = fileURLToPath(new URL('../../lab/daemon-main.js', import.meta.url))
    const log = openSync(join(dir, 'lab.log'), 'a')
    const child = spawn(
      process.execPath,
      [entry, '--state-dir', dir, '--scenario', scenario, ...(zk ? ['--zk', zk] : [])],
      {
        detached: true,
        stdio: ['ignore', log, log],
      },
    )
    child.unref()
    const up = await poll(
      () => {
        if (existsSync(errFile)) {
          const e = JSON.parse(readFileSync(errFile, 'utf8')) as {
            code: string
            message: string
            detail?: string
            hints?: string[]
          }
          throw new LifeboatError(e.code, e.message, {detail: e.detail, hints: e.hints})
        }
        const state = readLabState(dir)
        if (state && state.daemon.pid === child.pid && state.daemon.control) return state
        if (!processAlive(child.pid)) {
          throw new LifeboatError('LAB_START_FAILED', `the lab process exited before the lab was up`, {
            hints: [`See ${join(dir, 'lab.log')}.`],
          })
        }
        return undefined
      },
      {timeoutMs: 180_000, intervalMs: 100},
    )
    if (up) return up
    throw new LifeboatError('LAB_START_FAILED', `the lab was not up within 180 s (process ${child.pid} still runs)`, {
      hints: [`See ${join(dir, 'lab.log')}; stop it with: lifeboat lab down --state-dir ${dir}`],
    })
  }

  private report(state: LabState): unknown {
    const described = labEngine(state.engine).describe?.(state.cluster)
    const zk = state.zookeeper
    const json = {
      engine: state.engine,
      ...(described ? described.json : {cluster: state.cluster}),
      specs: state.specs,
    }
    if (this.jsonEnabled()) return json
    this.log(`Lab "${state.scenario.name}" is up (state in ${state.state_dir}, process ${state.daemon.pid}).`)
    if (zk) this.log(`  zookeeper:       ${zk.hosts}${zk.started_by_lab ? '  (started by the lab)' : ''}`)
    for (const line of described?.lines ?? []) this.log(line)
    for (const [name, path] of Object.entries(state.specs)) {
      this.log(`\n# ${name}: ${path}`)
      this.log(readFileSync(path, 'utf8').trimEnd())
    }
    return json
  }
}
