import {Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {controlRequest} from '../../lab/control.js'
import {labEngine} from '../../lab/registry.js'
import {requireRunningLab, stateDirOf} from '../../lab/state.js'

export default class LabStatus extends BaseCommand {
  static override summary = 'Show the running lab: its servers and their state.'
  static override description = withExitCodes(
    'Asks the running lab for its state; what is shown depends on the store it simulates.',
  )
  static override flags = {
    'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(LabStatus)
    const state = requireRunningLab(stateDirOf(flags['state-dir']))
    const lab = labEngine(state.engine, `the lab state in ${state.state_dir}`)
    const s = await controlRequest<Record<string, unknown>>(state, 'GET', '/status')
    if (this.jsonEnabled()) return s
    const cluster = typeof s.cluster === 'string' ? `cluster ${s.cluster}, ` : ''
    this.log(`Lab "${state.scenario.name}" (${cluster}${state.engine}), process ${state.daemon.pid}`)
    for (const line of lab.formatStatus(s)) this.log(line)
    return s
  }
}
