// The node-zookeeper-client internals src/zk/client.ts relies on, checked against the installed package.
import {readFileSync} from 'node:fs'

import {describe, expect, test} from 'vitest'

import {LifeboatError} from '../../src/errors.js'
import {NZK_VERSION, checkClientInternals, internalsProblems} from '../../src/zk/nzk-internals.js'

describe('node-zookeeper-client internals', () => {
  test('package.json pins exactly the version whose internals src/zk/nzk-internals.ts knows', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      dependencies: Record<string, string>
    }
    expect(pkg.dependencies['node-zookeeper-client']).toBe(NZK_VERSION)
  })

  test('the installed client passes the self-check', () => {
    expect(() => checkClientInternals()).not.toThrow()
  })

  test('another version, or missing internals, fail loudly with what changed', () => {
    const probe = {
      version: '1.2.0',
      client: () =>
        ({connectionManager: {packetQueue: {}, state: 0}, transaction: () => ({check() {}, ops: []})}) as never,
    }
    expect(internalsProblems(probe)).toEqual([
      `node-zookeeper-client is 1.2.0, not ${NZK_VERSION}`,
      'connectionManager.packetQueue.queue is not an array',
      'connectionManager.onSocketData is not a function',
      'connectionManager.connectTimeoutHandler is missing',
      'a transaction does not keep its ops with their versions in .ops',
    ])
    let err: unknown
    try {
      checkClientInternals(probe)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(LifeboatError)
    expect((err as LifeboatError).code).toBe('ZK_CLIENT_INTERNALS')
    expect((err as LifeboatError).hints[0]).toContain(`node-zookeeper-client@${NZK_VERSION}`)
  })
})
