// The PegasusZkMigration gather keeps cluster.timeouts (issue 16 item 3), as the meta-recovery
// gather does: a ZooKeeper that accepts connections and never answers fails after
// zk_connect_seconds (or --zk-timeout) with the setting named, and a replica server that never
// answers query_app_info is reported as ERR_TIMEOUT after collect_seconds.
import net from 'node:net'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {TIMEOUT_ENV} from '../../../src/engines/pegasus/client/index.js'
import {gatherZkMigration, reportApps} from '../../../src/engines/pegasus/zk-migration/gather.js'
import type {ZkMigrationSpec} from '../../../src/engines/pegasus/zk-migration/types.js'
import {LifeboatError} from '../../../src/errors.js'

/** A TCP server that accepts every connection and never writes a byte. */
let silent: net.Server
let silentAddress: string
const sockets: net.Socket[] = []

beforeAll(async () => {
  silent = net.createServer((s) => {
    sockets.push(s)
  })
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  silentAddress = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`
})
afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise((resolve) => silent.close(resolve))
})

function spec(timeouts?: {zk_connect_seconds?: number; collect_seconds?: number}): ZkMigrationSpec {
  return {
    apiVersion: 'lifeboat/v1',
    kind: 'PegasusZkMigration',
    metadata: {name: 'timeouts'},
    cluster: {
      name: 'onebox',
      meta_servers: ['127.0.0.1:1'],
      zookeeper: {hosts: silentAddress, root: '/pegasus/onebox'},
      ...(timeouts ? {timeouts} : {}),
    },
    migration: {
      method: 'recovery',
      target: {hosts: silentAddress, root: '/pegasus/moved'},
      ignore_ephemeral: true,
      remove_source_after: false,
      wait_seconds: 30,
    },
  }
}

async function gatherError(s: ZkMigrationSpec, env: Record<string, string | undefined>): Promise<LifeboatError> {
  try {
    await gatherZkMigration(s, {env, specDir: '.', progress: () => {}})
  } catch (err) {
    expect(err).toBeInstanceOf(LifeboatError)
    return err as LifeboatError
  }
  throw new Error('the gather did not fail')
}

describe('PegasusZkMigration gather deadlines', () => {
  it('a silent ZooKeeper fails after cluster.timeouts.zk_connect_seconds, naming the setting', async () => {
    const err = await gatherError(spec({zk_connect_seconds: 1}), {})
    expect(err.code).toBe('PEGASUS_ZK_UNREACHABLE')
    expect(err.message).toBe(`ZooKeeper ${silentAddress} gave no session within 1 s`)
    expect(err.hints.join('\n')).toContain(
      'raise cluster.timeouts.zk_connect_seconds in the spec, or --zk-timeout SECONDS (now 1 s)',
    )
  })

  it('--zk-timeout (its environment variable) overrides the spec', async () => {
    const err = await gatherError(spec({zk_connect_seconds: 600}), {[TIMEOUT_ENV.zkConnect]: '1'})
    expect(err.message).toBe(`ZooKeeper ${silentAddress} gave no session within 1 s`)
    expect(err.hints.join('\n')).toContain('raise --zk-timeout (now 1 s)')
  })

  it('a replica server that never answers query_app_info: ERR_TIMEOUT after the collect deadline', async () => {
    const [report] = await reportApps([silentAddress], {ms: 300, setting: 'test'})
    expect(report).toEqual({address: silentAddress, error: 'ERR_TIMEOUT', apps: []})
  })
})
