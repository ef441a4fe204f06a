// Issue 18, hole 7: where the spec uses ZooKeeper digest auth, the apply lock is not
// world-writable: a client without the spec's credentials can read who holds it but cannot
// delete it, overwrite it or create a lock of its own beside it; the holder still releases it.
import {randomUUID} from 'node:crypto'

import {describe, expect, it} from 'vitest'

import {zookeeperLock} from '../../src/apply/lock.js'
import {connectZk, isZkError} from '../../src/zk/index.js'
import {testStore} from '../cli/helpers.js'

const store = testStore()

async function zkCode(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return isZkError(err, 'ZK_NO_AUTH') ? 'ZK_NO_AUTH' : String((err as {code?: unknown}).code ?? err)
  }
}

describe('the lock node under digest auth', () => {
  it("carries the spec's digest ACL: others read it, cannot delete or replace it", async () => {
    const cluster = `acl-${randomUUID().slice(0, 8)}`
    const env = {LB_TEST_ZK_AUTH: 'lifeboat:s3cret'}
    const provider = zookeeperLock(
      {hosts: store.zk, root: '/', auth: {scheme: 'digest', credentials_env: 'LB_TEST_ZK_AUTH'}},
      cluster,
      {env},
    )
    const held = await provider.acquire({
      id: randomUUID(),
      operation: 'apply',
      who: 'test@host',
      created: new Date().toISOString(),
    })
    const outsider = await connectZk({hosts: store.zk})
    try {
      const path = provider.where
      expect(JSON.parse((await outsider.get(path)).data.toString('utf8')).who).toBe('test@host')
      expect(await zkCode(outsider.remove(path, -1))).toBe('ZK_NO_AUTH')
      expect(await zkCode(outsider.set(path, Buffer.from('{}'), -1))).toBe('ZK_NO_AUTH')
      expect(await zkCode(outsider.create(`${path.slice(0, path.lastIndexOf('/'))}/other`, Buffer.from('x')))).toBe(
        'ZK_NO_AUTH',
      )
    } finally {
      await outsider.close()
      await held.release()
    }
    expect(await provider.read()).toBeNull()
  })
})
