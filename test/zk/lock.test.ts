// The apply lock against the suite's real ZooKeeper: contention shows the holder, the ephemeral
// node goes with its session, force-unlock refuses a wrong id.
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {LifeboatError} from '../../src/errors.js'
import {
  acquireLock,
  connectZk,
  forceUnlock,
  lockDirFor,
  readLock,
  releaseLock,
  removeTree,
  type LockInfo,
  type ZkClient,
} from '../../src/zk/index.js'

const hosts = inject('zookeeper')
const base = `/t-${randomUUID()}`
let a: ZkClient
let b: ZkClient

beforeAll(async () => {
  ;[a, b] = await Promise.all([connectZk({hosts}), connectZk({hosts})])
})

afterAll(async () => {
  await removeTree(a, base)
  await Promise.all([a.close(), b.close()])
})

const info = (id: string, who: string): LockInfo => ({
  id,
  operation: 'apply',
  who,
  created: '2026-11-22T10:00:00Z',
  plan: 'plan.json sha256:abc',
})

async function held(p: Promise<unknown>): Promise<LifeboatError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(LifeboatError)
  return err as LifeboatError
}

describe('lock', () => {
  it("refuses a second holder with the first holder's details and the force-unlock hint", async () => {
    const dir = lockDirFor('onebox', base)
    const mine = await acquireLock(a, dir, info('id-alice', 'alice@host1'))
    expect(mine.session).toBe(a.sessionId)
    const err = await held(acquireLock(b, dir, info('id-bob', 'bob@host2')))
    expect(err.code).toBe('LOCK_HELD')
    expect(err.detail).toContain('Lock Info:')
    for (const s of ['id-alice', 'alice@host1', 'apply', '2026-11-22T10:00:00Z', 'plan.json sha256:abc'])
      expect(err.detail).toContain(s)
    expect(err.hints.join('\n')).toContain('lifeboat lock force-unlock id-alice')
    expect(err.hints.join('\n')).toMatch(/dangerous/)
    expect((await readLock(b, dir))?.info.who).toBe('alice@host1')
    // Another id never releases it; the holder does.
    expect(await releaseLock(b, dir, 'id-bob')).toBe(false)
    expect(await releaseLock(a, dir, 'id-alice')).toBe(true)
    expect(await readLock(b, dir)).toBeNull()
    await releaseLock(b, dir, (await acquireLock(b, dir, info('id-bob', 'bob@host2'))).info.id)
  })

  it("goes away by itself when the holder's session closes", async () => {
    const dir = lockDirFor('ephemeral', base)
    const c = await connectZk({hosts})
    await acquireLock(c, dir, info('id-c', 'carol@host3'))
    expect((await held(acquireLock(b, dir, info('id-b', 'bob@host2')))).code).toBe('LOCK_HELD')
    await c.close()
    const mine = await acquireLock(b, dir, info('id-b', 'bob@host2'))
    expect(mine.info.id).toBe('id-b')
    expect(await releaseLock(b, dir, 'id-b')).toBe(true)
  })

  it('force-unlock removes only the lock whose id is named', async () => {
    const dir = lockDirFor('force', base)
    await acquireLock(a, dir, info('id-stuck', 'dave@host4'))
    const wrong = await held(forceUnlock(b, dir, 'id-other'))
    expect(wrong.code).toBe('LOCK_ID_MISMATCH')
    expect(wrong.detail).toContain('id-stuck')
    expect((await readLock(b, dir))?.info.id).toBe('id-stuck')
    const removed = await forceUnlock(b, dir, 'id-stuck')
    expect(removed.info.who).toBe('dave@host4')
    expect(await readLock(b, dir)).toBeNull()
    expect((await held(forceUnlock(b, dir, 'id-stuck'))).code).toBe('LOCK_NOT_HELD')
  })

  it('refuses a cluster name that is not a single path segment', () => {
    expect(() => lockDirFor('a/b')).toThrow(LifeboatError)
  })
})
