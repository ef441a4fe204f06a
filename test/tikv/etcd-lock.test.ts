// The PD-etcd lock provider against a real etcd (etcd's own v3 JSON gateway, as PD embeds it):
// contention with the holder's details, keep-alive, release, a dead holder's lease expiring,
// force-unlock by id and the holder noticing it lost the lock.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {mkdtempSync, rmSync} from 'node:fs'
import {createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {pdEtcdLock} from '../../src/engines/tikv/etcd-lock.js'
import {PdClient} from '../../src/engines/tikv/pd-client.js'
import type {LockInfo} from '../../src/engines/types.js'
import {LifeboatError} from '../../src/errors.js'
import {httpJson} from '../../src/http/client.js'

const hasEtcd = spawnSync('etcd', ['--version']).status === 0
if (!hasEtcd)
  console.warn(
    'etcd is not installed (apt-get install etcd-server): the PD-etcd lock tests against a real etcd are skipped',
  )

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as {port: number}).port
      srv.close(() => resolve(port))
    })
  })
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, attempts = 300): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const v = await probe().catch(() => undefined)
    if (v !== undefined) return v
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`timed out waiting for ${what}`)
}

const info = (id: string, who: string): LockInfo => ({
  id,
  operation: 'apply',
  who,
  created: '2026-01-01T00:00:00.000Z',
  plan: `sha256:${id}`,
})

describe.skipIf(!hasEtcd)('PD-etcd lock on a real etcd', () => {
  let proc: ChildProcess
  let dir: string
  let endpoint: string

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lifeboat-etcd-'))
    const [client, peer] = [await freePort(), await freePort()]
    endpoint = `127.0.0.1:${client}`
    proc = spawn(
      'etcd',
      [
        '--name',
        'lb',
        '--data-dir',
        join(dir, 'data'),
        '--listen-client-urls',
        `http://${endpoint}`,
        '--advertise-client-urls',
        `http://${endpoint}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-cluster',
        `lb=http://127.0.0.1:${peer}`,
      ],
      {stdio: 'ignore'},
    )
    await waitFor('etcd', async () =>
      (await httpJson<{health?: string}>({server: endpoint, method: 'GET', path: '/health'})).health === 'true'
        ? true
        : undefined,
    )
  })

  afterAll(() => {
    if (proc?.pid !== undefined) process.kill(proc.pid, 'SIGKILL')
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it("the holder's lock record carries its audit anchor; a lock taken over meanwhile is left alone", async () => {
    const a = pdEtcdLock(new PdClient([endpoint]), 'prod-annotate')
    const held = await a.acquire(info('lock-a', 'alice@host1'))
    await held.annotate!({log: 'f'.repeat(64), records: 7, head: 'e'.repeat(64)})
    const state = await a.read()
    expect(state?.info).toMatchObject({id: 'lock-a', audit: {log: 'f'.repeat(64), records: 7, head: 'e'.repeat(64)}})
    expect(state?.text).toContain(`Audit:     7 records, head ${'e'.repeat(64)}`)
    // Force-unlocked and taken by another run: the first holder's annotate must not touch the new record.
    await a.forceUnlock('lock-a')
    const other = await a.acquire(info('lock-b', 'bob@host2'))
    await held.annotate!({log: 'f'.repeat(64), records: 8, head: 'd'.repeat(64)})
    expect((await a.read())?.info).toMatchObject({id: 'lock-b'})
    expect((await a.read())?.info.audit).toBeUndefined()
    await other.release()
    await held.release()
  })

  it("one holder at a time; the second is refused with the holder's details; release frees it", async () => {
    const a = pdEtcdLock(new PdClient([endpoint]), 'prod-a')
    const b = pdEtcdLock(new PdClient([endpoint]), 'prod-a')
    expect(await a.read()).toBeNull()
    const held = await a.acquire(info('lock-1', 'alice@host1'))
    const err = await b.acquire(info('lock-2', 'bob@host2')).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(LifeboatError)
    expect((err as LifeboatError).code).toBe('LOCK_HELD')
    expect((err as LifeboatError).message).toContain('alice@host1 (ID lock-1)')
    expect((err as LifeboatError).detail).toMatch(/ID:\s+lock-1/)
    expect((err as LifeboatError).detail).toMatch(/Path:\s+etcd \/lifeboat\/locks\/prod-a/)
    expect((err as LifeboatError).detail).toMatch(/Lease:\s+\d+ \(0x[0-9a-f]+\)/)
    const state = await b.read()
    expect(state?.info).toEqual(info('lock-1', 'alice@host1'))
    await held.assertHeld()
    await held.release()
    await held.release()
    expect(await a.read()).toBeNull()
    const again = await b.acquire(info('lock-2', 'bob@host2'))
    await again.assertHeld()
    await again.release()
  })

  it('a holder that died stops renewing its lease; etcd drops the key and the lock can be taken', async () => {
    const pd = new PdClient([endpoint])
    const lock = pdEtcdLock(pd, 'prod-b')
    // A crashed holder: a lease of 2 s that nobody renews, and the lock key on it.
    const lease = await httpJson<{ID: string}>({
      server: endpoint,
      method: 'POST',
      path: '/v3/lease/grant',
      body: {TTL: 2},
    })
    const value = Buffer.from(JSON.stringify(info('dead-1', 'carol@gone'))).toString('base64')
    await httpJson({
      server: endpoint,
      method: 'POST',
      path: '/v3/kv/put',
      body: {key: Buffer.from('/lifeboat/locks/prod-b').toString('base64'), value, lease: lease.ID},
    })
    expect((await lock.read())?.info.who).toBe('carol@gone')
    await expect(lock.acquire(info('live-1', 'dave@host'))).rejects.toMatchObject({code: 'LOCK_HELD'})
    await waitFor("the dead holder's lease to expire", async () => ((await lock.read()) === null ? true : undefined))
    const held = await lock.acquire(info('live-1', 'dave@host'))
    await held.release()
  })

  it('a lock outlives its TTL while held: the keep-alive renews the lease', async () => {
    const lock = pdEtcdLock(new PdClient([endpoint]), 'prod-c', {ttlSeconds: 2})
    const held = await lock.acquire(info('keep-1', 'erin@host'))
    // Wait until etcd has renewed the lease at least twice past its TTL (keep-alives every second).
    const lease = BigInt((await lock.read())!.text.match(/Lease:\s+(\d+)/)![1])
    let renewedPastTtl = 0
    await waitFor('two renewals', async () => {
      const ttl = await httpJson<{TTL?: string; grantedTTL?: string}>({
        server: endpoint,
        method: 'POST',
        path: '/v3/lease/timetolive',
        body: {ID: lease.toString()},
      })
      if (Number(ttl.TTL ?? 0) >= 1) renewedPastTtl++
      await new Promise((r) => setTimeout(r, 400))
      return renewedPastTtl >= 10 ? true : undefined
    })
    await held.assertHeld()
    await held.release()
  })

  it('force-unlock removes only the named lock; the holder then finds it lost', async () => {
    const lock = pdEtcdLock(new PdClient([endpoint]), 'prod-d')
    await expect(lock.forceUnlock('nobody')).rejects.toMatchObject({code: 'LOCK_NOT_HELD'})
    const held = await lock.acquire(info('lock-9', 'frank@host'))
    await expect(lock.forceUnlock('lock-8')).rejects.toMatchObject({code: 'LOCK_ID_MISMATCH'})
    const removed = await lock.forceUnlock('lock-9')
    expect(removed.info.id).toBe('lock-9')
    expect(await lock.read()).toBeNull()
    await expect(held.assertHeld()).rejects.toMatchObject({code: 'LOCK_LOST'})
    await held.release()
  })

  it('values kept beside the lock: absent is null, a write is read back, outlives the lock, stays per cluster', async () => {
    const pd = new PdClient([endpoint])
    const lock = pdEtcdLock(pd, 'prod-f')
    expect(await lock.readValue!('policy')).toBeNull()
    await lock.writeValue!('policy', '{"lossy":2}')
    const held = await lock.acquire(info('lock-f', 'hana@host'))
    await held.release()
    expect(await lock.readValue!('policy')).toBe('{"lossy":2}')
    await lock.writeValue!('policy', '{"lossy":3}')
    expect(await pdEtcdLock(pd, 'prod-f').readValue!('policy')).toBe('{"lossy":3}')
    expect(await pdEtcdLock(pd, 'prod-g').readValue!('policy')).toBeNull()
    // The key as etcd holds it: /lifeboat/policy/<cluster>, without a lease.
    const range = await httpJson<{kvs?: Array<{value: string; lease?: string}>}>({
      server: endpoint,
      method: 'POST',
      path: '/v3/kv/range',
      body: {key: Buffer.from('/lifeboat/policy/prod-f').toString('base64')},
    })
    expect(Buffer.from(range.kvs![0]!.value, 'base64').toString('utf8')).toBe('{"lossy":3}')
    expect(range.kvs![0]!.lease ?? '0').toBe('0')
    await expect(lock.readValue!('../locks')).rejects.toMatchObject({code: 'SPEC_INVALID'})
  })

  it('a PD endpoint that refuses connections is skipped for the next one', async () => {
    const dead = `127.0.0.1:${await freePort()}`
    const lock = pdEtcdLock(new PdClient([dead, endpoint]), 'prod-e')
    const held = await lock.acquire(info('lock-e', 'gina@host'))
    expect((await lock.read())?.info.id).toBe('lock-e')
    await held.release()
  })
})
