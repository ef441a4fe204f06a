import {Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {controlRequest} from '../../lab/control.js'
import {verifyRows} from '../../lab/pegasus/verify.js'
import {requireRunningLab, stateDirOf} from '../../lab/state.js'

export default class LabVerify extends BaseCommand {
  static override summary = 'Count the rows still readable through the current primaries.'
  static override description = withExitCodes(
    'Asks the meta server for the partition configurations (over THFT, as a client would) and each primary for the rows it serves; tables that were dropped in the scenario are not counted. Exits 1 when rows are missing.',
  )
  static override flags = {'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'})}

  async run(): Promise<unknown> {
    const {flags} = await this.parse(LabVerify)
    const state = requireRunningLab(stateDirOf(flags['state-dir']))
    const status = await controlRequest<{meta_servers: {address: string; phase: string}[]}>(state, 'GET', '/status')
    const leader = status.meta_servers.find((m) => m.phase === 'serving' || m.phase === 'recovering') ?? status.meta_servers[0]
    const result = await verifyRows(leader.address, state.cluster.tables)
    if (this.jsonEnabled()) {
      this.printJson({found: result.found, total: result.total, tables: result.tables, ...(result.note ? {note: result.note} : {})})
    } else {
      this.log(`${result.found} of ${result.total} found`)
      if (result.note) this.log(`  ${result.note}`)
      for (const t of result.tables) if (t.found < t.total) this.log(`  ${t.name} (app ${t.app_id}): ${t.found} of ${t.total}${t.note ? ` (${t.note})` : ''}`)
    }
    if (result.found < result.total) {
      this.exit(1)
    }
    if (result.total === 0 && !this.jsonEnabled()) this.log('  (the scenario wrote no rows to live tables)')
    return undefined
  }
}
