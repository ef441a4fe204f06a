import {afterAll, describe, expect, inject, it} from 'vitest'

import {fourLetterWord, startZooKeeper, type RunningZooKeeper} from '../../src/lab/zookeeper/server.js'
import {existsSync} from 'node:fs'

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
})
