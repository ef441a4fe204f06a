/**
 * `lifeboat demo [SCENARIO]`: the whole journey of a recovery on a lab, narrated, in one command.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {Args, Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../cli/base-command.js'
import {DEFAULT_JOURNEY, JOURNEYS, findJourney, runJourney} from '../demo/index.js'
import {ExitCode, LifeboatError} from '../errors.js'
import {readLabState, processAlive} from '../lab/state.js'
import {findZooKeeperClasspath} from '../lab/zookeeper/server.js'

export default class Demo extends BaseCommand {
  static override summary = 'Run a whole recovery journey on a simulated cluster, narrated.'

  static override description = withExitCodes(
    'Brings up a lab in a temporary directory (or --state-dir), breaks it the way the journey says, then ' +
      "plans, applies (approval given on the command line), plays the operator's part at manual steps, " +
      'verifies the data and the audit log, and tears the lab down (also on failure or Ctrl-C; --keep ' +
      'leaves it up). Every command is printed as `$ lifeboat ...` before it runs, so the journey can be ' +
      'repeated by hand. Exits 0 only when the journey verified. With --json the narration goes to stderr and stdout ' +
      'carries one JSON result: {journey, ok, closing, workDir, stateDir, labLeftUp}.\n\nDEMOS\n' +
      [...JOURNEYS.values()].map((j) => `  ${j.name}: ${j.summary}`).join('\n'),
  )

  static override examples = [
    '<%= config.bin %> demo',
    '<%= config.bin %> demo pegasus-meta-recovery --keep',
    '<%= config.bin %> demo --state-dir /tmp/lab',
    '<%= config.bin %> demo pegasus-ddd --json 2>demo.log | jq .closing',
  ]

  static override args = {
    scenario: Args.string({description: `the journey to run (default ${DEFAULT_JOURNEY})`, default: DEFAULT_JOURNEY}),
  }

  static override flags = {
    'state-dir': Flags.string({
      description: 'where the lab keeps its state (default: a new temporary directory)',
      helpValue: 'DIR',
    }),
    keep: Flags.boolean({
      description: 'leave the lab running at the end (stop it with lifeboat lab down --state-dir DIR)',
    }),
    zk: Flags.string({description: 'use this ZooKeeper (host:port) instead of starting one', helpValue: 'HOST:PORT'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(Demo)
    const json = this.jsonEnabled()
    const journey = findJourney(args.scenario)
    // Before anything starts: the lab needs ZooKeeper's jars unless one is given.
    if (!flags.zk) findZooKeeperClasspath()
    if (flags['state-dir']) {
      const existing = readLabState(resolve(flags['state-dir']))
      if (existing && processAlive(existing.daemon.pid)) {
        throw new LifeboatError(
          'LAB_ALREADY_RUNNING',
          `a lab (${existing.scenario.name}) is already running in ${resolve(flags['state-dir'])}`,
          {
            hints: [
              `Stop it first: lifeboat lab down --state-dir ${flags['state-dir']}`,
              'Or leave out --state-dir: the demo then uses a new temporary directory.',
            ],
          },
        )
      }
    }
    const workDir = mkdtempSync(join(tmpdir(), `lifeboat-demo-${journey.name}-`))
    const stateDir = flags['state-dir'] ? resolve(flags['state-dir']) : join(workDir, 'lab')
    // With --json, stdout carries the result alone: the narration goes to stderr.
    const out = json ? (t: string) => void process.stderr.write(t) : undefined
    const outcome = await runJourney(journey, {workDir, stateDir, zk: flags.zk, keep: flags.keep, out})

    if (!outcome.ok) {
      ;(json ? process.stderr : process.stdout).write(
        `\nThe demo did not complete. Its files are kept in ${workDir}${flags['state-dir'] ? ` and ${stateDir}` : ''}.\n`,
      )
      throw outcome.error ?? new LifeboatError('DEMO_FAILED', 'the demo failed', {exit: ExitCode.ERROR})
    }
    if (json) {
      if (!outcome.labLeftUp && !flags['state-dir']) rmSync(stateDir, {recursive: true, force: true})
      return {
        journey: journey.name,
        ok: true,
        closing: outcome.closing,
        workDir,
        stateDir,
        labLeftUp: outcome.labLeftUp,
      }
    }
    if (outcome.labLeftUp) {
      process.stdout.write(
        `\nThe lab is still up (--keep). Continue by hand in ${workDir}; stop it with:\n  lifeboat lab down --state-dir ${stateDir}\n`,
      )
    } else if (!flags['state-dir']) {
      // The lab's files (ZooKeeper data, replica files) go; the plan and the audit log stay.
      rmSync(stateDir, {recursive: true, force: true})
    }
    process.stdout.write(`${outcome.closing.join('\n')}\n`)
    return undefined
  }
}
