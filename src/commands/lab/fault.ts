import {Args, Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {LifeboatError} from '../../errors.js'
import {controlRequest} from '../../lab/control.js'
import type {FaultSpec} from '../../lab/scenario.js'
import {requireRunningLab, stateDirOf} from '../../lab/state.js'

const FAULTS = ['zk-loss', 'kill-node', 'start-node', 'hang-node', 'remove-replica', 'lose-partition', 'ddd', 'meta-level', 'restart-meta'] as const
const LEVELS = ['stopped', 'blind', 'freezed', 'steady', 'lively'] as const

const USAGE: Record<(typeof FAULTS)[number], string> = {
  'zk-loss': 'lab fault zk-loss [--root PATH]',
  'kill-node': 'lab fault kill-node NODE',
  'start-node': 'lab fault start-node NODE',
  'hang-node': 'lab fault hang-node NODE',
  'remove-replica': 'lab fault remove-replica GPID NODE',
  'lose-partition': 'lab fault lose-partition GPID',
  ddd: 'lab fault ddd GPID... [--drops N1,N2,N3] [--decrees NODE=BALLOT:LCD:LPD]... [--dead NODE]... [--missing NODE]... [--uncollected NODE]... [--config-lcd N]',
  'meta-level': `lab fault meta-level ${LEVELS.join('|')}`,
  'restart-meta': 'lab fault restart-meta [--zk HOST:PORT] [--root PATH] [--recover|--no-recover]',
}

export default class LabFault extends BaseCommand {
  static override summary = 'Inject a fault into the running lab.'
  static override description = withExitCodes(
    [
      'Faults (NODE is a lab name such as replica2, or host:port; GPID is app_id.partition_index):',
      ...FAULTS.map((f) => `  ${USAGE[f]}`),
      '',
      'zk-loss loses the metadata root: the meta restarts in recovery mode on a fresh root and the specs are rewritten.',
      'ddd drives partitions into DDD: the drops (oldest first; default: the secondaries, then the primary) leave one by one;',
      '--decrees sets a replica\'s ballot and decrees, --missing deletes a node\'s replica, --uncollected makes a node stop',
      'reporting its replicas, --dead kills a node afterwards, --config-lcd sets the meta\'s last committed decree.',
    ].join('\n'),
  )
  static override examples = [
    '<%= config.bin %> lab fault zk-loss',
    '<%= config.bin %> lab fault kill-node replica3',
    '<%= config.bin %> lab fault ddd 1.1 --drops replica2,replica3,replica4 --decrees replica3=5:1000:1000 --decrees replica4=6:900:950',
    '<%= config.bin %> lab fault meta-level blind',
  ]
  static override strict = false
  static override args = {name: Args.string({description: 'the fault', required: true, options: [...FAULTS]})}
  static override flags = {
    'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'}),
    root: Flags.string({description: 'zk-loss, restart-meta: the new cluster_root'}),
    zk: Flags.string({description: 'restart-meta: the ZooKeeper (host:port) to use'}),
    recover: Flags.boolean({allowNo: true, description: 'restart-meta: with recover_from_replica_server = true (--no-recover, the default: false)'}),
    drops: Flags.string({description: 'ddd: the last drops, oldest first, comma-separated'}),
    decrees: Flags.string({description: 'ddd: NODE=BALLOT:LAST_COMMITTED:LAST_PREPARED', multiple: true}),
    dead: Flags.string({description: 'ddd: a node to kill once the partitions are in DDD', multiple: true}),
    missing: Flags.string({description: 'ddd: a node whose replica of the partitions is deleted', multiple: true}),
    uncollected: Flags.string({description: 'ddd: a node that stops reporting its replicas to the meta', multiple: true}),
    'config-lcd': Flags.integer({description: "ddd: the meta's last committed decree for the partitions", min: 0}),
  }

  async run(): Promise<unknown> {
    const {args, argv, flags} = await this.parse(LabFault)
    const name = args.name as (typeof FAULTS)[number]
    const rest = (argv as string[]).slice(1)
    const usage = (why: string): LifeboatError => new LifeboatError('USAGE', `${why}`, {hints: [`Usage: lifeboat ${USAGE[name]}`]})
    const gpid = (s: string | undefined): string => {
      if (!s || !/^\d+\.\d+$/.test(s)) throw usage(`"${s ?? ''}" is not a gpid (app_id.partition_index)`)
      return s
    }
    const one = (): string => {
      if (rest.length !== 1) throw usage(`${name} takes exactly one NODE`)
      return rest[0]
    }
    const none = (): void => {
      if (rest.length > 0) throw usage(`${name} takes no further argument, got "${rest.join(' ')}"`)
    }
    let fault: FaultSpec
    switch (name) {
      case 'zk-loss':
        none()
        fault = {type: 'zk-loss', ...(flags.root ? {root: flags.root} : {})}
        break
      case 'kill-node':
      case 'start-node':
      case 'hang-node':
        fault = {type: name, node: one()}
        break
      case 'remove-replica':
        if (rest.length !== 2) throw usage('remove-replica takes a GPID and a NODE')
        fault = {type: 'remove-replica', gpid: gpid(rest[0]), node: rest[1]}
        break
      case 'lose-partition':
        if (rest.length !== 1) throw usage('lose-partition takes one GPID')
        fault = {type: 'lose-partition', gpid: gpid(rest[0])}
        break
      case 'ddd':
        if (rest.length === 0) throw usage('ddd needs at least one GPID')
        fault = {
          type: 'ddd',
          gpids: rest.map(gpid),
          ...(flags.drops ? {drops: flags.drops.split(',').map((d) => d.trim()).filter((d) => d !== '')} : {}),
          ...(flags.decrees ? {decrees: flags.decrees} : {}),
          ...(flags.dead ? {dead: flags.dead} : {}),
          ...(flags.missing ? {missing: flags.missing} : {}),
          ...(flags.uncollected ? {uncollected: flags.uncollected} : {}),
          ...(flags['config-lcd'] !== undefined ? {config_lcd: flags['config-lcd']} : {}),
        }
        break
      case 'meta-level': {
        const level = one() as (typeof LEVELS)[number]
        if (!LEVELS.includes(level)) throw usage(`"${level}" is not a meta level`)
        fault = {type: 'meta-level', level}
        break
      }
      case 'restart-meta':
        none()
        fault = {type: 'restart-meta', ...(flags.zk ? {zk: flags.zk} : {}), ...(flags.root ? {root: flags.root} : {}), recover: flags.recover ?? false}
        break
    }
    const state = requireRunningLab(stateDirOf(flags['state-dir']))
    const res = await controlRequest<{message: string; specs: Record<string, string>; zookeeper: {hosts: string; root: string}}>(state, 'POST', '/fault', fault)
    if (this.jsonEnabled()) return res
    this.log(res.message)
    if (name === 'zk-loss' || name === 'restart-meta') {
      this.log(`Specs rewritten for ZooKeeper ${res.zookeeper.hosts} root ${res.zookeeper.root}:`)
      for (const [n, p] of Object.entries(res.specs)) this.log(`  ${n}: ${p}`)
    }
    return res
  }
}
