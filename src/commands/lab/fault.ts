import {Args, Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {phaseProgress} from '../../cli/progress.js'
import {controlRequest} from '../../lab/control.js'
import type {FaultProgress} from '../../lab/daemon.js'
import {labEngine, labEngines} from '../../lab/registry.js'
import {requireRunningLab, stateDirOf} from '../../lab/state.js'

/** This command's own flags (`--state-dir`, `--json`, `--no-color`) apart from the fault's name and arguments, in order. */
function splitArgv(argv: readonly string[]): {own: string[]; rest: string[]} {
  const own: string[] = []
  const rest: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--state-dir' && i + 1 < argv.length) own.push(a, argv[++i])
    else if (a.startsWith('--state-dir=') || a === '--json' || a === '--no-color') own.push(a)
    else rest.push(a)
  }
  return {own, rest}
}

/** Each lab's faults, for the help text. */
function faultHelp(): string {
  const out: string[] = []
  for (const lab of labEngines()) {
    out.push(`${lab.engine} lab faults:`)
    for (const f of lab.faults) out.push(`- ${f.usage}: ${f.summary}`)
    out.push('')
  }
  return out.join('\n').trimEnd()
}

export default class LabFault extends BaseCommand {
  static override summary = 'Inject a fault into the running lab.'
  static override description = withExitCodes(
    [
      "NAME is one of the running lab's faults; the arguments after it are the fault's own (the lab of the",
      "scenario's engine reads them). Pegasus: NODE is a lab name such as replica2, or host:port; GPID is",
      'app_id.partition_index.',
      '',
      faultHelp(),
    ].join('\n'),
  )
  static override usage = 'lab fault NAME [ARGS...] [--state-dir DIR] [--json]'
  static override examples = [
    '<%= config.bin %> lab fault zk-loss',
    '<%= config.bin %> lab fault kill-node replica3',
    '<%= config.bin %> lab fault ddd 1.1 --drops replica2,replica3,replica4 --decrees replica3=5:1000:1000 --decrees replica4=6:900:950',
    '<%= config.bin %> lab fault meta-level blind',
  ]
  static override args = {
    name: Args.string({description: "the fault (each lab's are listed under DESCRIPTION)", required: true}),
  }
  static override flags = {
    'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'}),
  }

  async run(): Promise<unknown> {
    // The fault's own arguments are the lab's to read: oclif parses only this command's flags.
    const {own, rest} = splitArgv(this.argv)
    const {args, flags} = await this.parse(LabFault, [...rest.slice(0, 1), ...own])
    const state = requireRunningLab(stateDirOf(flags['state-dir']))
    const lab = labEngine(state.engine, `the lab state in ${state.state_dir}`)
    const fault = lab.parseFault(args.name, rest.slice(1))
    // While the fault runs, its progress is asked for twice a second and shown on stderr (in place
    // on a terminal; otherwise a line when the step changes, or every 15 s); a lab that does not
    // answer it (an older daemon) is simply not shown.
    const phase = this.jsonEnabled() ? undefined : phaseProgress(process.stderr)
    let polling = phase !== undefined
    const poll = async (): Promise<void> => {
      while (polling) {
        await new Promise((r) => setTimeout(r, 500))
        if (!polling) return
        const p = await controlRequest<FaultProgress>(state, 'GET', '/fault/progress', undefined, 5_000).catch(
          () => undefined,
        )
        if (!p) return
        if (polling && p.running && p.step) phase?.progress(`${p.fault}: ${p.step}`, p.count)
      }
    }
    const polled = poll()
    let res: {message: string; specs: Record<string, string>; rewritten?: string[]}
    try {
      // A fault on a large lab on a loaded machine can take minutes (zk-loss re-encodes every replica server's replies).
      res = await controlRequest(state, 'POST', '/fault', fault, 600_000)
    } finally {
      polling = false
      await polled
      phase?.end()
    }
    if (this.jsonEnabled()) return res
    this.log(res.message)
    const rewritten = res.rewritten ?? []
    if (rewritten.length > 0) {
      this.log("Specs rewritten for the lab's new endpoints:")
      for (const n of rewritten) this.log(`  ${n}: ${res.specs[n]}`)
    }
    return res
  }
}
