import {afterAll, describe, expect, inject, it} from 'vitest'

import {existsSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {LifeboatError} from '../../src/errors.js'
import {
  findZooKeeperClasspath,
  fourLetterWord,
  startZooKeeper,
  type RunningZooKeeper,
} from '../../src/lab/zookeeper/server.js'

describe('lab ZooKeeper server', () => {
  const started: RunningZooKeeper[] = []
  afterAll(async () => {
    for (const s of started) await s.stop()
  })

  it('the suite-wide server answers srvr', async () => {
    const [, port] = inject('zookeeper').split(':')
    const answer = await fourLetterWord(Number(port), 'srvr')
    expect(answer).toContain('Mode: standalone')
  })

  it('starts on a free loopback port and removes its directory on stop', async () => {
    const zk = await startZooKeeper({heap: '256m'})
    started.push(zk)
    expect(zk.connectString).toMatch(/^127\.0\.0\.1:\d+$/)
    expect(await fourLetterWord(zk.port, 'srvr')).toContain('Mode:')
    await zk.stop()
    expect(existsSync(zk.dir)).toBe(false)
    expect(await fourLetterWord(zk.port, 'srvr', 300)).toBeNull()
  })

  it('finds the Debian jars, and without them says exactly how to install ZooKeeper', () => {
    expect(findZooKeeperClasspath()).toContain('/usr/share/java/zookeeper.jar')
    const empty = mkdtempSync(join(tmpdir(), 'lifeboat-nojars-'))
    try {
      let err: unknown
      try {
        findZooKeeperClasspath(empty)
      } catch (e) {
        err = e
      }
      expect(err).toBeInstanceOf(LifeboatError)
      expect((err as LifeboatError).code).toBe('ZK_NOT_INSTALLED')
      expect((err as LifeboatError).message).toContain(join(empty, 'zookeeper.jar'))
      expect((err as LifeboatError).hints).toContain(
        'Install ZooKeeper from Debian: apt-get update && apt-get install -y zookeeper (as root; it starts no service).',
      )
    } finally {
      rmSync(empty, {recursive: true, force: true})
    }
  })
})
