import {Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {controlRequest} from '../../lab/control.js'
import {labEngine} from '../../lab/registry.js'
import {requireRunningLab, stateDirOf} from '../../lab/state.js'

export default class LabVerify extends BaseCommand {
  static override summary = 'Count the rows a client can read back now.'
  static override description = withExitCodes(
    "Reads every row the scenario wrote back through the store's own read path, over the wire, as a client would (Pegasus: the partition configurations from the meta server over THFT, then each primary for the rows it serves); tables that were dropped in the scenario are not counted. Exits 1 when rows are missing.",
  )
  static override flags = {
    'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'}),
  }

  async run(): Promise<unknown> {
    const {flags} = await this.parse(LabVerify)
    const state = requireRunningLab(stateDirOf(flags['state-dir']))
    const lab = labEngine(state.engine, `the lab state in ${state.state_dir}`)
    const status = await controlRequest<Record<string, unknown>>(state, 'GET', '/status')
    const result = await lab.verify(state.cluster, status)
    const tables = [...result.tables].sort((a, b) => Number(b.found < b.total) - Number(a.found < a.total))
    if (this.jsonEnabled()) {
      this.printJson({
        found: result.found,
        total: result.total,
        tables: result.tables,
        ...(result.note ? {note: result.note} : {}),
      })
    } else {
      this.log(`${result.found} of ${result.total} found`)
      if (result.note) this.log(`  ${result.note}`)
      for (const t of tables) {
        if (t.found >= t.total) continue
        const id = (t as {app_id?: unknown}).app_id
        this.log(
          `  ${t.name}${id === undefined ? '' : ` (app ${String(id)})`}: ${t.found} of ${t.total}${t.note ? ` (${t.note})` : ''}`,
        )
      }
    }
    if (result.found < result.total) {
      this.exit(1)
    }
    if (result.total === 0 && !this.jsonEnabled()) this.log('  (the scenario wrote no rows to live tables)')
    return undefined
  }
}
