// The promise client against the suite's real ZooKeeper: stats, versioned writes, multi, size
// checks, digest auth, connect deadline against a dead port.
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {freePort} from '../../src/lab/zookeeper/server.js'
import {LifeboatError} from '../../src/errors.js'
import {
  MAX_REQUEST_BYTES,
  ZK_PERMS,
  ZkError,
  connectZk,
  digestId,
  removeTree,
  type ZkClient,
} from '../../src/zk/index.js'

const hosts = inject('zookeeper')
const root = `/t-${randomUUID()}`
let zk: ZkClient

beforeAll(async () => {
  zk = await connectZk({hosts, deadlineMs: 10_000})
  await zk.mkdirp(root)
})

afterAll(async () => {
  await removeTree(zk, root)
  await zk.close()
})

async function rejection(p: Promise<unknown>): Promise<ZkError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ZkError)
  return err as ZkError
}

describe('connectZk', () => {
  it('fails within its deadline against a port nobody listens on, naming the server', async () => {
    const port = await freePort()
    const err = await rejection(connectZk({hosts: `127.0.0.1:${port}`, deadlineMs: 700}))
    expect(err.code).toBe('ZK_TIMEOUT')
    expect(err.message).toContain(`127.0.0.1:${port}`)
    expect(err.hints.length).toBeGreaterThan(0)
  })

  it('names a missing credentials variable and never prints the secret', async () => {
    const missing = await connectZk({hosts, auth: {scheme: 'digest', credentials_env: 'LB_TEST_NOPE'}, env: {}}).catch(
      (e: unknown) => e,
    )
    expect(missing).toBeInstanceOf(LifeboatError)
    expect((missing as LifeboatError).message).toContain('LB_TEST_NOPE')
    const malformed = await connectZk({
      hosts,
      auth: {scheme: 'digest', credentials_env: 'LB_TEST_BAD'},
      env: {LB_TEST_BAD: 'secretwithoutcolon'},
    }).catch((e: unknown) => e)
    expect(malformed).toBeInstanceOf(LifeboatError)
    expect(JSON.stringify(malformed)).not.toContain('secretwithoutcolon')
    expect((malformed as LifeboatError).message).toContain('LB_TEST_BAD')
  })
})

describe('ZkClient', () => {
  it('converts the 8-byte stat fields and keeps the data', async () => {
    const path = `${root}/stat`
    await zk.create(path, Buffer.from('hello'))
    const {data, stat} = await zk.get(path)
    expect(data.toString()).toBe('hello')
    expect(typeof stat.mzxid).toBe('bigint')
    expect(stat.mzxid > 0n).toBe(true)
    expect(stat.czxid).toBe(stat.mzxid)
    expect(stat.ephemeralOwner).toBe(0n)
    expect(typeof stat.ctime).toBe('number')
    expect(Math.abs(stat.ctime - Date.now())).toBeLessThan(3_600_000)
    expect(stat).toMatchObject({version: 0, dataLength: 5, numChildren: 0})
    expect(await zk.exists(`${root}/nope`)).toBeNull()
    const eph = await zk.create(`${root}/eph`, null, {mode: 'ephemeral'})
    expect((await zk.get(eph)).stat.ephemeralOwner).toBe(zk.sessionId)
    const seq = await zk.create(`${root}/seq-`, null, {mode: 'sequential'})
    expect(seq).toMatch(/seq-\d{10}$/)
    expect((await zk.getChildren(root)).sort()).toEqual(['eph', seq.slice(root.length + 1), 'stat'].sort())
  })

  it('maps server errors to typed codes that name server and path', async () => {
    const path = `${root}/errors`
    await zk.create(path, Buffer.from('v0'))
    const exists = await rejection(zk.create(path))
    expect(exists.code).toBe('ZK_NODE_EXISTS')
    expect(exists.message).toContain(hosts)
    expect(exists.message).toContain(path)
    expect((await rejection(zk.get(`${path}/missing`))).code).toBe('ZK_NO_NODE')
    await zk.create(`${path}/child`)
    expect((await rejection(zk.remove(path, -1))).code).toBe('ZK_NOT_EMPTY')
    expect((await rejection(zk.get('no-slash'))).code).toBe('ZK_BAD_ARGUMENTS')
  })

  it('does versioned writes: a stale version is ZK_BAD_VERSION and changes nothing', async () => {
    const path = `${root}/cas`
    await zk.create(path, Buffer.from('a'))
    const stat = await zk.set(path, Buffer.from('b'), 0)
    expect(stat.version).toBe(1)
    const stale = await rejection(zk.set(path, Buffer.from('c'), 0))
    expect(stale.code).toBe('ZK_BAD_VERSION')
    expect(stale.hints.join(' ')).toMatch(/plan/)
    expect((await zk.get(path)).data.toString()).toBe('b')
    expect((await rejection(zk.remove(path, 0))).code).toBe('ZK_BAD_VERSION')
    await zk.remove(path, 1)
    expect(await zk.exists(path)).toBeNull()
  })

  it('runs multi atomically and maps a stale check to ZK_BAD_VERSION with the failing op', async () => {
    const path = `${root}/multi`
    await zk.create(path, Buffer.from('x'))
    const results = await zk.multi([
      {op: 'check', path, version: 0},
      {op: 'setData', path, data: Buffer.from('y'), version: 0},
      {op: 'create', path: `${path}/a`, data: Buffer.from('1')},
    ])
    expect(results[0]).toEqual({op: 'check', path})
    expect(results[1]).toMatchObject({op: 'setData', path})
    expect(results[1].op === 'setData' && results[1].stat.version).toBe(1)
    expect(typeof (results[1].op === 'setData' && results[1].stat.mzxid)).toBe('bigint')
    expect(results[2]).toEqual({op: 'create', path: `${path}/a`})

    // Version 0 is a real version: the client itself would turn it into -1 (any version).
    const err = await rejection(
      zk.multi([
        {op: 'create', path: `${path}/b`},
        {op: 'check', path, version: 0},
        {op: 'setData', path, data: Buffer.from('z'), version: -1},
      ]),
    )
    expect(err.code).toBe('ZK_BAD_VERSION')
    expect(err.opIndex).toBe(1)
    expect(err.path).toBe(path)
    expect(await zk.exists(`${path}/b`)).toBeNull()
    expect((await zk.get(path)).data.toString()).toBe('y')

    const dup = await rejection(
      zk.multi([
        {op: 'create', path: `${path}/c`},
        {op: 'create', path: `${path}/a`},
      ]),
    )
    expect(dup.code).toBe('ZK_NODE_EXISTS')
    expect(dup.opIndex).toBe(1)
    expect(await zk.exists(`${path}/c`)).toBeNull()
  })

  it('rejects an oversize write before sending it, and the session stays usable', async () => {
    const path = `${root}/big`
    // The client's own check allows 1,048,576 bytes of data, which the server refuses by dropping the connection.
    const tooBig = await rejection(zk.create(path, Buffer.alloc(1_048_576)))
    expect(tooBig.code).toBe('ZK_REQUEST_TOO_LARGE')
    expect(tooBig.detail).toContain('Nothing was sent')
    const ops = Array.from({length: 4000}, (_, i) => ({
      op: 'create' as const,
      path: `${path}-${i}`,
      data: Buffer.alloc(300),
    }))
    expect((await rejection(zk.multi(ops))).code).toBe('ZK_REQUEST_TOO_LARGE')
    // Just under the limit goes through.
    await zk.create(path, Buffer.alloc(MAX_REQUEST_BYTES - 200))
    expect((await zk.exists(path))?.dataLength).toBe(MAX_REQUEST_BYTES - 200)
    expect(zk.state).toBe('connected')
    await zk.remove(path, -1)
  })

  it('fires a one-shot watch', async () => {
    const path = `${root}/watched`
    await zk.create(path, Buffer.from('1'))
    const event = new Promise((resolve) => void zk.get(path, {watch: resolve}))
    await zk.set(path, Buffer.from('2'), -1)
    expect(await event).toEqual({type: 'dataChanged', path})
  })
})

describe('digest auth', () => {
  it('reads credentials from the named variable and passes an ACL that others fail', async () => {
    const env = {LB_ZK_AUTH: 'lifeboat:s3cret-pw'}
    const authed = await connectZk({hosts, auth: {scheme: 'digest', credentials_env: 'LB_ZK_AUTH'}, env})
    const other = await connectZk({hosts})
    const wrong = await connectZk({
      hosts,
      auth: {scheme: 'digest', credentials_env: 'LB_ZK_AUTH'},
      env: {LB_ZK_AUTH: 'lifeboat:wrong'},
    })
    try {
      const path = `${root}/secured`
      await authed.create(path, Buffer.from('private'), {
        acl: [{perms: ZK_PERMS.ALL, scheme: 'digest', id: digestId(env.LB_ZK_AUTH)}],
      })
      expect((await authed.get(path)).data.toString()).toBe('private')
      for (const c of [other, wrong]) {
        const err = await rejection(c.get(path))
        expect(err.code).toBe('ZK_NO_AUTH')
        expect(err.message).toContain(path)
        expect(JSON.stringify({...err, message: err.message, hints: err.hints})).not.toContain('s3cret-pw')
      }
      await authed.remove(path, -1)
    } finally {
      await Promise.all([authed.close(), other.close(), wrong.close()])
    }
  })
})
