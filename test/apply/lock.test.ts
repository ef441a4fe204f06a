// The apply lock against a real ZooKeeper and a real lock file.
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomUUID} from 'node:crypto'

import {describe, expect, inject, it} from 'vitest'

import {forceUnlockCluster, readClusterLock, takeClusterLock} from '../../src/apply/lock.js'

const zk = inject('zookeeper')
const env = process.env

function zkTarget() {
  return {zookeeper: {hosts: zk, root: `/lifeboat-test/${randomUUID()}`}}
}

describe('ZooKeeper lock', () => {
  it('is exclusive, shows its holder, and notices when it is removed under it', async () => {
    const target = zkTarget()
    const clusterName = `lock-${randomUUID().slice(0, 8)}`
    const held = await takeClusterLock(target, {clusterName, operation: 'apply', plan: 'p'.repeat(64), env})
    try {
      await held.assertHeld()
      await expect(takeClusterLock(target, {clusterName, operation: 'apply', env})).rejects.toMatchObject({code: 'LOCK_HELD', detail: expect.stringContaining(held.info.id)})
      const state = await readClusterLock(target, clusterName, {env})
      expect(state).toMatchObject({kind: 'zookeeper', info: {id: held.info.id, operation: 'apply', plan: 'p'.repeat(64)}})
      await expect(forceUnlockCluster(target, clusterName, 'wrong', {env})).rejects.toMatchObject({code: 'LOCK_ID_MISMATCH'})
      await forceUnlockCluster(target, clusterName, held.info.id, {env})
      await expect(held.assertHeld()).rejects.toMatchObject({code: 'LOCK_LOST'})
      expect(await readClusterLock(target, clusterName, {env})).toBeNull()
    } finally {
      await held.release()
    }
  })

  it('with a lock timeout, waits for the holder to release', async () => {
    const target = zkTarget()
    const clusterName = `lock-${randomUUID().slice(0, 8)}`
    const first = await takeClusterLock(target, {clusterName, operation: 'apply', env})
    const released = new Promise<void>((r) => setTimeout(() => void first.release().then(r), 300))
    const second = await takeClusterLock(target, {clusterName, operation: 'apply', env, timeoutMs: 20_000})
    await released
    await second.assertHeld()
    await second.release()
    expect(await readClusterLock(target, clusterName, {env})).toBeNull()
  })
})

describe('lock file', () => {
  it('is created exclusively, refuses a second holder and is removed on release', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lock-'))
    const target = {file: join(dir, 'sub', 'c.lock')}
    const held = await takeClusterLock(target, {clusterName: 'c', operation: 'apply', env})
    await expect(takeClusterLock(target, {clusterName: 'c', operation: 'apply', env})).rejects.toMatchObject({
      code: 'LOCK_HELD', detail: expect.stringContaining(`PID ${process.pid}`),
    })
    const state = await readClusterLock(target, 'c', {env})
    expect(state).toMatchObject({kind: 'file', pid: process.pid, alive: true})
    await held.release()
    expect(await readClusterLock(target, 'c', {env})).toBeNull()
  })

  it('reports a lock left by a dead process on this host and leaves it in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lock-'))
    const file = join(dir, 'c.lock')
    // PID 2^22 + 1 is above Linux's pid_max limit, so no process has it.
    writeFileSync(file, JSON.stringify({id: 'old', operation: 'apply', who: 'x@y', created: 't', pid: 4194305, host: (await import('node:os')).hostname()}))
    await expect(takeClusterLock({file}, {clusterName: 'c', operation: 'apply', env})).rejects.toMatchObject({
      code: 'LOCK_HELD', detail: expect.stringContaining('no longer running'),
    })
    expect(await readClusterLock({file}, 'c', {env})).toMatchObject({alive: false, info: {id: 'old'}})
  })
})
