/**
 * The deadlines a Pegasus gather uses, as settings: the spec's `cluster.timeouts`, overridden by
 * `--zk-timeout` / `--collect-timeout` (which the commands pass as LIFEBOAT_ZK_CONNECT_TIMEOUT and
 * LIFEBOAT_COLLECT_TIMEOUT, so an apply's re-plan can be given them too). Every hint that says
 * "raise the deadline" names the setting that sets it.
 *
 * Also the ZooKeeper connect a gather makes: an ensemble that refuses every connection fails at
 * once (the ZooKeeper client would retry until its deadline), and a deadline names its setting.
 */
import {connect as tcpConnect} from 'node:net'

import {LifeboatError} from '../../../errors.js'
import {connectZk, isZkError, type ZkClient, type ZkConnectOptions} from '../../../zk/index.js'

/** `cluster.timeouts` of a Pegasus spec. */
export interface ClusterTimeouts {
  zk_connect_seconds?: number
  collect_seconds?: number
}

/** The environment variables the `--zk-timeout` and `--collect-timeout` flags set. */
export const TIMEOUT_ENV = {zkConnect: 'LIFEBOAT_ZK_CONNECT_TIMEOUT', collect: 'LIFEBOAT_COLLECT_TIMEOUT'} as const

/** ZooKeeper client's default connect deadline. */
export const DEFAULT_ZK_CONNECT_SECONDS = 10
/** The meta server's per-node RPC timeout during collection (rDSN's default, task_spec.cpp). */
export const DEFAULT_COLLECT_SECONDS = 5

/** One deadline and the words that name its setting. */
export interface Deadline {
  ms: number
  /** `cluster.timeouts.collect_seconds in the spec, or --collect-timeout`, as a hint says it. */
  setting: string
}

export interface PegasusTimeouts {
  zkConnect: Deadline
  collect: Deadline
}

function seconds(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined
  const n = Number(value)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

/**
 * The deadlines for a cluster section: a flag (through the environment) over the spec over the
 * default. `defaults` replaces the built-in defaults (an engine built with shorter deadlines, in tests).
 */
export function pegasusTimeouts(
  cluster: {timeouts?: ClusterTimeouts},
  env: Record<string, string | undefined>,
  defaults: {zkConnectSeconds?: number; collectSeconds?: number} = {},
): PegasusTimeouts {
  const pick = (key: keyof ClusterTimeouts, envName: string, flag: string, dflt: number): Deadline => {
    const fromFlag = seconds(env[envName])
    const setting = `cluster.timeouts.${key} in the spec, or ${flag} SECONDS`
    if (fromFlag !== undefined) return {ms: Math.round(fromFlag * 1000), setting: `${flag} (now ${fromFlag} s)`}
    const fromSpec = cluster.timeouts?.[key]
    return {ms: Math.round((fromSpec ?? dflt) * 1000), setting: `${setting} (now ${fromSpec ?? dflt} s)`}
  }
  return {
    zkConnect: pick(
      'zk_connect_seconds',
      TIMEOUT_ENV.zkConnect,
      '--zk-timeout',
      defaults.zkConnectSeconds ?? DEFAULT_ZK_CONNECT_SECONDS,
    ),
    collect: pick(
      'collect_seconds',
      TIMEOUT_ENV.collect,
      '--collect-timeout',
      defaults.collectSeconds ?? DEFAULT_COLLECT_SECONDS,
    ),
  }
}

/** Whether `host:port` refuses a TCP connection (true), accepts it, or gives no answer in `ms` (false). */
export function refusesConnection(hostPort: string, ms: number): Promise<boolean> {
  const colon = hostPort.lastIndexOf(':')
  const host = hostPort.slice(0, colon).replace(/^\[|\]$/g, '')
  const port = Number(hostPort.slice(colon + 1))
  if (colon <= 0 || !Number.isInteger(port)) return Promise.resolve(false)
  return new Promise((resolve) => {
    const socket = tcpConnect({host, port})
    const done = (refused: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(refused)
    }
    const timer = setTimeout(() => done(false), ms)
    socket.once('connect', () => done(false))
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'))
  })
}

/**
 * Connects to a cluster's ZooKeeper for a gather. Every host refusing the connection fails at once
 * (PEGASUS_ZK_REFUSED); no session within the deadline fails with the setting that raises it.
 */
export async function connectClusterZk(opts: ZkConnectOptions, deadline: Deadline): Promise<ZkClient> {
  const hosts = opts.hosts
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '')
  const probes = await Promise.all(hosts.map((h) => refusesConnection(h, Math.min(deadline.ms, 2000))))
  if (hosts.length > 0 && probes.every(Boolean)) {
    throw new LifeboatError('PEGASUS_ZK_REFUSED', `ZooKeeper ${opts.hosts} refused the connection`, {
      hints: [
        'Nothing listens on that port: check cluster.zookeeper.hosts in the spec ([zookeeper] hosts_list) and that ZooKeeper runs (echo srvr | nc HOST PORT).',
      ],
    })
  }
  try {
    return await connectZk({...opts, deadlineMs: deadline.ms})
  } catch (err) {
    if (!isZkError(err, 'ZK_TIMEOUT', 'ZK_CONNECTION_LOSS')) throw err
    throw new LifeboatError(
      'PEGASUS_ZK_UNREACHABLE',
      `ZooKeeper ${opts.hosts} gave no session within ${deadline.ms / 1000} s`,
      {
        hints: [
          `Check that ZooKeeper ${opts.hosts} runs and this machine reaches it (echo srvr | nc HOST PORT); if it is merely slow, raise ${deadline.setting}.`,
        ],
        cause: err,
      },
    )
  }
}
