/**
 * The OpenMLDB lab's faults on the command line: `lab fault NAME ARGS...` → the
 * {@link OpenMLDBFault} the running lab applies.
 */
import {LifeboatError} from '../../errors.js'
import type {LabFaultHelp} from '../engine.js'
import type {OpenMLDBFault} from './scenario.js'

export const FAULT_HELP: readonly LabFaultHelp[] = [
  {
    name: 'kill-tablet',
    usage: 'lab fault kill-tablet TABLET',
    summary: 'kills a tablet (name or endpoint): its ZooKeeper node goes, its memory tables are lost, its disk stays',
  },
  {
    name: 'start-tablet',
    usage: 'lab fault start-tablet TABLET',
    summary: 'starts a killed tablet; it registers with startup_ and holds no table until one is loaded',
  },
  {
    name: 'restart-tablet',
    usage: 'lab fault restart-tablet TABLET',
    summary: 'kills and starts a tablet (startup_): with auto_failover on the nameserver recovers it',
  },
  {
    name: 'hang-tablet',
    usage: 'lab fault hang-tablet TABLET',
    summary:
      'wedges a tablet: its ZooKeeper node stays (the nameserver sees it healthy), it accepts connections and answers nothing',
  },
  {
    name: 'resume-tablet',
    usage: 'lab fault resume-tablet TABLET',
    summary: 'ends hang-tablet: the held requests are answered, its followers catch up',
  },
  {
    name: 'kill-nameserver',
    usage: 'lab fault kill-nameserver [NAMESERVER]',
    summary: 'kills a nameserver (default: the leader); the next lock_request takes over',
  },
  {
    name: 'start-nameserver',
    usage: 'lab fault start-nameserver [NAMESERVER]',
    summary: 'starts a killed nameserver; it queues for the lock',
  },
  {
    name: 'lag',
    usage: 'lab fault lag [DB.]TABLE/PID@TABLET OFFSET',
    summary: "cuts a replica's binlog at OFFSET (rows beyond it are lost) and stops replication to it",
  },
  {
    name: 'snapshot',
    usage: 'lab fault snapshot [DB.]TABLE/PID@TABLET [OFFSET [BINLOG_START]]',
    summary:
      'gives a replica a snapshot up to OFFSET (default: its offset) and a binlog after BINLOG_START (default: OFFSET); past OFFSET, the rows between are lost at the next LoadTable',
  },
  {
    name: 'auto-failover',
    usage: 'lab fault auto-failover on|off',
    summary: 'ConfSet auto_failover on the leader nameserver',
  },
  {
    name: 'restart-all',
    usage: 'lab fault restart-all',
    summary: 'restarts every nameserver and tablet: the metadata stays, no table is loaded (the recoverdata case)',
  },
]

/** `lab fault NAME ARGS...` → the fault payload; USAGE errors name the fault's usage. */
export function parseOpenMLDBFault(name: string, argv: string[]): OpenMLDBFault {
  const help = FAULT_HELP.find((f) => f.name === name)
  if (!help) {
    throw new LifeboatError('USAGE', `the OpenMLDB lab has no fault "${name}"`, {
      hints: [`Faults: ${FAULT_HELP.map((f) => f.name).join(', ')}.`, 'See: lifeboat lab fault --help'],
    })
  }
  const usage = (why: string): LifeboatError =>
    new LifeboatError('USAGE', why, {hints: [`Usage: lifeboat ${help.usage}`]})
  const count = (min: number, max: number) => {
    if (argv.length < min || argv.length > max)
      throw usage(
        `${name} takes ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${argv.length}`,
      )
  }
  switch (name) {
    case 'kill-tablet':
    case 'start-tablet':
    case 'restart-tablet':
    case 'hang-tablet':
    case 'resume-tablet':
      count(1, 1)
      return {type: name, tablet: argv[0]}
    case 'kill-nameserver':
    case 'start-nameserver':
      count(0, 1)
      return {type: name, ...(argv[0] ? {nameserver: argv[0]} : {})}
    case 'lag': {
      count(2, 2)
      if (!/^(?:[A-Za-z0-9_]+\.)?[A-Za-z0-9_]+\/\d+@.+$/.test(argv[0]))
        throw usage(`replica "${argv[0]}" is not [DB.]TABLE/PID@TABLET`)
      if (!/^\d+$/.test(argv[1])) throw usage(`offset "${argv[1]}" is not a whole number`)
      return {type: 'lag', replica: argv[0], offset: Number(argv[1])}
    }
    case 'snapshot': {
      count(1, 3)
      if (!/^(?:[A-Za-z0-9_]+\.)?[A-Za-z0-9_]+\/\d+@.+$/.test(argv[0]))
        throw usage(`replica "${argv[0]}" is not [DB.]TABLE/PID@TABLET`)
      const bad = argv.slice(1).find((a) => !/^\d+$/.test(a))
      if (bad !== undefined) throw usage(`offset "${bad}" is not a whole number`)
      return {
        type: 'snapshot',
        replica: argv[0],
        ...(argv[1] === undefined ? {} : {offset: Number(argv[1])}),
        ...(argv[2] === undefined ? {} : {binlog_start: Number(argv[2])}),
      }
    }
    case 'auto-failover':
      count(1, 1)
      if (argv[0] !== 'on' && argv[0] !== 'off') throw usage(`auto-failover takes on or off, not "${argv[0]}"`)
      return {type: 'auto-failover', on: argv[0] === 'on'}
    default:
      count(0, 0)
      return {type: 'restart-all'}
  }
}
