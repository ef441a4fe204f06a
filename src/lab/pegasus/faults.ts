/**
 * The Pegasus lab's faults on the command line: `lab fault NAME ARGS...` hands the raw arguments
 * here, and they become the {@link FaultSpec} the running lab applies.
 */
import {parseArgs} from 'node:util'

import {LifeboatError, describeError} from '../../errors.js'
import type {LabFaultHelp} from '../engine.js'
import {META_LEVEL_NAMES} from '../../engines/pegasus/wire/meta-level.js'
import type {FaultSpec, MetaLevelName} from './scenario.js'

const LEVELS: readonly string[] = META_LEVEL_NAMES

/** Every fault, its usage and what it does (for `lab fault --help`). */
export const FAULT_HELP: readonly LabFaultHelp[] = [
  {
    name: 'zk-loss',
    usage: 'lab fault zk-loss [--root PATH]',
    summary: 'loses the metadata root: the meta restarts in recovery mode on a fresh root and the specs are rewritten',
  },
  {name: 'kill-node', usage: 'lab fault kill-node NODE', summary: 'stops a replica server; its replicas stay on disk'},
  {name: 'start-node', usage: 'lab fault start-node NODE', summary: 'starts a stopped replica server again'},
  {
    name: 'hang-node',
    usage: 'lab fault hang-node NODE',
    summary: 'a replica server accepts connections and answers nothing',
  },
  {
    name: 'remove-replica',
    usage: 'lab fault remove-replica GPID NODE',
    summary: "deletes one node's replica of a partition",
  },
  {name: 'lose-partition', usage: 'lab fault lose-partition GPID', summary: 'deletes every replica of a partition'},
  {
    name: 'ddd',
    usage:
      'lab fault ddd GPID... [--drops N1,N2,N3] [--decrees NODE=BALLOT:LCD:LPD]... [--dead NODE]... [--missing NODE]... [--uncollected NODE]... [--config-lcd N]',
    summary:
      "drives partitions into DDD: the drops (oldest first; default: the secondaries, then the primary) leave one by one; --decrees sets a replica's ballot and decrees, " +
      "--missing deletes a node's replica, --uncollected makes a node stop reporting its replicas, --dead kills a node afterwards, --config-lcd sets the meta's last committed decree",
  },
  {name: 'meta-level', usage: `lab fault meta-level ${LEVELS.join('|')}`, summary: "sets the meta's function level"},
  {
    name: 'restart-meta',
    usage: 'lab fault restart-meta [--zk HOST:PORT] [--root PATH] [--recover|--no-recover]',
    summary:
      'restarts the meta servers, on another ZooKeeper or root if given, with recover_from_replica_server = true or false (the default)',
  },
]

/** The flags each fault takes (node:util parseArgs options). */
const FLAGS: Record<string, NonNullable<Parameters<typeof parseArgs>[0]>['options']> = {
  'zk-loss': {root: {type: 'string'}},
  'restart-meta': {
    zk: {type: 'string'},
    root: {type: 'string'},
    recover: {type: 'boolean'},
    'no-recover': {type: 'boolean'},
  },
  ddd: {
    drops: {type: 'string'},
    decrees: {type: 'string', multiple: true},
    dead: {type: 'string', multiple: true},
    missing: {type: 'string', multiple: true},
    uncollected: {type: 'string', multiple: true},
    'config-lcd': {type: 'string'},
  },
}

/** `lab fault NAME ARGS...` → the fault the Pegasus lab applies; USAGE errors name the fault's usage. */
export function parsePegasusFault(name: string, argv: string[]): FaultSpec {
  const help = FAULT_HELP.find((f) => f.name === name)
  if (!help) {
    throw new LifeboatError('USAGE', `the Pegasus lab has no fault "${name}"`, {
      hints: [`Faults: ${FAULT_HELP.map((f) => f.name).join(', ')}.`, 'See: lifeboat lab fault --help'],
    })
  }
  const usage = (why: string): LifeboatError =>
    new LifeboatError('USAGE', why, {hints: [`Usage: lifeboat ${help.usage}`]})
  let parsed: {values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[]}
  try {
    parsed = parseArgs({args: argv, options: FLAGS[name] ?? {}, allowPositionals: true, strict: true})
  } catch (err) {
    throw usage(describeError(err).replace(/\. To specify a positional argument.*$/, ''))
  }
  const rest = parsed.positionals
  const v = parsed.values
  const str = (k: string): string | undefined => v[k] as string | undefined
  const list = (k: string): string[] | undefined => v[k] as string[] | undefined
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
  switch (name) {
    case 'zk-loss':
      none()
      return {type: 'zk-loss', ...(str('root') ? {root: str('root')} : {})}
    case 'kill-node':
    case 'start-node':
    case 'hang-node':
      return {type: name, node: one()}
    case 'remove-replica':
      if (rest.length !== 2) throw usage('remove-replica takes a GPID and a NODE')
      return {type: 'remove-replica', gpid: gpid(rest[0]), node: rest[1]}
    case 'lose-partition':
      if (rest.length !== 1) throw usage('lose-partition takes one GPID')
      return {type: 'lose-partition', gpid: gpid(rest[0])}
    case 'ddd': {
      if (rest.length === 0) throw usage('ddd needs at least one GPID')
      const lcd = str('config-lcd')
      if (lcd !== undefined && !/^\d+$/.test(lcd))
        throw usage(`--config-lcd takes a whole number of 0 or more, got "${lcd}"`)
      const drops = str('drops')
      return {
        type: 'ddd',
        gpids: rest.map(gpid),
        ...(drops
          ? {
              drops: drops
                .split(',')
                .map((d) => d.trim())
                .filter((d) => d !== ''),
            }
          : {}),
        ...(list('decrees') ? {decrees: list('decrees')} : {}),
        ...(list('dead') ? {dead: list('dead')} : {}),
        ...(list('missing') ? {missing: list('missing')} : {}),
        ...(list('uncollected') ? {uncollected: list('uncollected')} : {}),
        ...(lcd !== undefined ? {config_lcd: Number(lcd)} : {}),
      }
    }
    case 'meta-level': {
      const level = one() as MetaLevelName
      if (!LEVELS.includes(level)) throw usage(`"${level}" is not a meta level`)
      return {type: 'meta-level', level}
    }
    default: {
      // restart-meta
      none()
      if (v.recover && v['no-recover']) throw usage('give --recover or --no-recover, not both')
      return {
        type: 'restart-meta',
        ...(str('zk') ? {zk: str('zk')} : {}),
        ...(str('root') ? {root: str('root')} : {}),
        recover: v.recover === true,
      }
    }
  }
}
