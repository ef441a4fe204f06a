// The apply lock against a real ZooKeeper and a real lock file.
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {randomUUID} from 'node:crypto'

import {describe, expect, inject, it} from 'vitest'

import {hostLocalLock, hostLocalLockFinding, takeClusterLock, zookeeperLock} from '../../src/apply/lock.js'

const zk = inject('zookeeper')
const env = process.env

function zkProvider(clusterName: string) {
  return zookeeperLock({hosts: zk, root: `/lifeboat-test/${randomUUID()}`}, clusterName, {env})
}

describe('ZooKeeper lock', () => {
  it('is exclusive, shows its holder, and notices when it is removed under it', async () => {
    const clusterName = `lock-${randomUUID().slice(0, 8)}`
    const target = zkProvider(clusterName)
    expect(hostLocalLockFinding(target)).toBeUndefined()
    const held = await takeClusterLock(target, {operation: 'apply', plan: 'p'.repeat(64), env})
    try {
      await held.assertHeld()
      await expect(takeClusterLock(target, {operation: 'apply', env})).rejects.toMatchObject({
        code: 'LOCK_HELD',
        detail: expect.stringContaining(held.info.id),
      })
      const state = await target.read()
      expect(state).toMatchObject({
        kind: 'zookeeper',
        where: `/lifeboat/locks/${clusterName}/lock`,
        info: {id: held.info.id, operation: 'apply', plan: 'p'.repeat(64)},
      })
      await expect(target.forceUnlock('wrong')).rejects.toMatchObject({code: 'LOCK_ID_MISMATCH'})
      await target.forceUnlock(held.info.id)
      await expect(held.assertHeld()).rejects.toMatchObject({code: 'LOCK_LOST'})
      expect(await target.read()).toBeNull()
    } finally {
      await held.release()
    }
  })

  it('with a lock timeout, waits for the holder to release', async () => {
    const target = zkProvider(`lock-${randomUUID().slice(0, 8)}`)
    const first = await takeClusterLock(target, {operation: 'apply', env})
    const released = new Promise<void>((r) => setTimeout(() => void first.release().then(r), 300))
    const second = await takeClusterLock(target, {operation: 'apply', env, timeoutMs: 20_000})
    await released
    await second.assertHeld()
    await second.release()
    expect(await target.read()).toBeNull()
  })
})

describe('lock file', () => {
  it('is created exclusively, refuses a second holder and is removed on release', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lock-'))
    const target = hostLocalLock(join(dir, 'sub', 'c.lock'))
    // A host-local lock puts a warning in the plan.
    expect(hostLocalLockFinding(target)).toMatchObject({code: 'LOCK_HOST_LOCAL', severity: 'warning'})
    const held = await takeClusterLock(target, {operation: 'apply', env})
    await expect(takeClusterLock(target, {operation: 'apply', env})).rejects.toMatchObject({
      code: 'LOCK_HELD',
      detail: expect.stringContaining(`PID ${process.pid}`),
    })
    const state = await target.read()
    expect(state).toMatchObject({kind: 'file', details: {pid: process.pid, alive: true}})
    await held.release()
    expect(await target.read()).toBeNull()
  })

  it('reports a lock left by a dead process on this host and leaves it in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lock-'))
    const file = join(dir, 'c.lock')
    // PID 2^22 + 1 is above Linux's pid_max limit, so no process has it.
    writeFileSync(
      file,
      JSON.stringify({
        id: 'old',
        operation: 'apply',
        who: 'x@y',
        created: 't',
        pid: 4194305,
        host: (await import('node:os')).hostname(),
      }),
    )
    await expect(takeClusterLock(hostLocalLock(file), {operation: 'apply', env})).rejects.toMatchObject({
      code: 'LOCK_HELD',
      detail: expect.stringContaining('no longer running'),
    })
    expect(await hostLocalLock(file).read()).toMatchObject({details: {alive: false}, info: {id: 'old'}})
  })
})
