/**
 * What the commands that read a cluster share: the deadline flags that override a spec's
 * `cluster.timeouts`, and the hint an unreachable lab cluster gets.
 */
import {existsSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'

import {Flags} from '@oclif/core'

import {TIMEOUT_ENV} from '../engines/pegasus/client/timeouts.js'
import {LifeboatError} from '../errors.js'

/** `--zk-timeout` and `--collect-timeout`, in seconds. */
export const timeoutFlags = {
  'zk-timeout': Flags.integer({
    description: "Seconds to wait for a ZooKeeper session (overrides the spec's cluster.timeouts.zk_connect_seconds).",
    helpValue: 'SECONDS',
    min: 1,
    max: 600,
  }),
  'collect-timeout': Flags.integer({
    description:
      "Seconds each replica server has to answer the collection (overrides the spec's cluster.timeouts.collect_seconds).",
    helpValue: 'SECONDS',
    min: 1,
    max: 600,
  }),
}

/** The environment for a gather: the process's, with the deadline flags given. */
export function gatherEnv(flags: {
  'zk-timeout'?: number
  'collect-timeout'?: number
}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {...process.env}
  if (flags['zk-timeout'] !== undefined) env[TIMEOUT_ENV.zkConnect] = String(flags['zk-timeout'])
  if (flags['collect-timeout'] !== undefined) env[TIMEOUT_ENV.collect] = String(flags['collect-timeout'])
  return env
}

/** Error codes that mean "the cluster did not answer". */
const UNREACHABLE =
  /UNREACHABLE|REFUSED|TIMEOUT|NO_LEADER|ZK_CONNECTION_LOSS|ZK_UNREADABLE|NO_META|PEGASUS_CLIENT_CLOSED|HTTP_/

/**
 * For a spec a lab wrote (its folder is `<lab>/specs`, beside `<lab>/lab.json`), an unreachable
 * cluster most likely means the lab is down: the error gains a hint naming `lifeboat lab status`.
 */
export function withLabHint(err: unknown, specPath: string): unknown {
  if (!(err instanceof LifeboatError) || !UNREACHABLE.test(err.code)) return err
  const labDir = dirname(dirname(resolve(specPath)))
  if (!existsSync(join(labDir, 'lab.json'))) return err
  const hint = `This spec was written by a lab: \`lifeboat lab status --state-dir ${labDir}\` shows whether its servers still run (\`lifeboat lab up\` starts it again).`
  if (!err.hints.includes(hint)) err.hints.push(hint)
  return err
}
