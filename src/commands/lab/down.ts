import {Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {controlRequest} from '../../lab/control.js'
import {processAlive, readLabState, removeLabState, stateDirOf} from '../../lab/state.js'
import {poll} from '../../util/poll.js'

export default class LabDown extends BaseCommand {
  static override summary = 'Stop the lab and everything it started.'
  static override description = withExitCodes(
    'Stops the simulated servers and every process the lab started, such as its ZooKeeper(s) (each by its process id), and removes the lab state. Replica data stays in the state directory.',
  )
  static override flags = {
    'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(LabDown)
    const dir = stateDirOf(flags['state-dir'])
    const state = readLabState(dir)
    if (!state) {
      if (!this.jsonEnabled()) this.log(`No lab is running in ${dir}; nothing to stop.`)
      return {stopped: false}
    }
    const pids: number[] = []
    if (processAlive(state.daemon.pid)) {
      try {
        await controlRequest(state, 'POST', '/down', {}, 10_000)
      } catch {
        // Unreachable control channel: the signals below still stop it.
      }
      if (!(await exited(state.daemon.pid, 20_000)) && state.daemon.pid !== process.pid) {
        process.kill(state.daemon.pid, 'SIGKILL')
        await exited(state.daemon.pid, 5_000)
      }
      pids.push(state.daemon.pid)
    }
    // What the lab started dies with its host; if the host was killed, stop it here, by pid.
    const started = [
      ...(state.zookeeper?.started_by_lab && state.zookeeper.pid !== undefined ? [state.zookeeper.pid] : []),
      ...(state.processes ?? []).map((p) => p.pid),
    ]
    for (const pid of started) {
      if (!processAlive(pid)) continue
      process.kill(pid, 'SIGTERM')
      if (!(await exited(pid, 10_000))) process.kill(pid, 'SIGKILL')
      pids.push(pid)
    }
    removeLabState(dir)
    if (!this.jsonEnabled()) this.log(`Lab "${state.scenario.name}" stopped (${dir}).`)
    return {stopped: true, pids}
  }
}

async function exited(pid: number, ms: number): Promise<boolean> {
  return (await poll(() => (processAlive(pid) ? undefined : true), {timeoutMs: ms, intervalMs: 100})) === true
}
