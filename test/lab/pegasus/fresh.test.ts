// Fresh labs (issue 11 item 4): lab up starts without an earlier lab's ZooKeeper trees unless told
// to keep them, and zk-loss moves the metadata to a root nobody used, confirming the meta waits.
import {describe, expect, inject, it} from 'vitest'

import {connectZk, removeTree} from '../../../src/zk/index.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {LifeboatError} from '../../../src/errors.js'
import {freshZooKeeper} from '../../../src/lab/pegasus/zk-batch.js'
import {scenario, startLab} from './helpers.js'

const zk = inject('zookeeper')

/** Leaves a tree at `path` that looks like a Pegasus root with one app (what an earlier run leaves). */
async function plantOldTree(path: string): Promise<void> {
  const c = await connectZk({hosts: zk})
  try {
    await c.mkdirp(`${path}/apps/1`)
  } finally {
    await c.close()
  }
}

async function exists(path: string): Promise<boolean> {
  const c = await connectZk({hosts: zk})
  try {
    return (await c.exists(path)) !== null
  } finally {
    await c.close()
  }
}

describe('fresh labs', () => {
  it('lab up removes the cluster root and the recovery roots of an earlier run; other roots stay', async () => {
    const s = scenario([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    const root = `/pegasus/${s.name}`
    await plantOldTree(`${root}_recovery`)
    await plantOldTree(`${root}_recovery3`)
    await plantOldTree(`${root}_other`)
    const {lab, close} = await startLab(zk, s)
    try {
      expect(await exists(`${root}_recovery`)).toBe(false)
      expect(await exists(`${root}_recovery3`)).toBe(false)
      expect(await exists(`${root}_other`)).toBe(true)
      expect(lab.leader()?.phase).toBe('serving')
      // zk-loss takes the first recovery root, which is now unused, and the meta waits there.
      const line = await lab.fault({type: 'zk-loss'})
      expect(line).toContain(`the meta waits in recovery mode on ${root}_recovery `)
      const r = await callRpc(lab.layout.meta_servers[0].address, 'RPC_CM_LIST_APPS', {status: 0}, 5000)
      expect(r.response?.err).toBe('ERR_UNDER_RECOVERY')
    } finally {
      await close()
      await freshZooKeeper(zk, root, false)
    }
  })

  it('keep_zookeeper keeps old trees, and zk-loss skips a used recovery root instead of crashing the meta on it', async () => {
    const s = scenario([{name: 'temp', partitions: 2, replicas: 3, rows: 10}], {keep_zookeeper: true})
    const root = `/pegasus/${s.name}`
    await plantOldTree(`${root}_recovery`)
    const {lab, close} = await startLab(zk, s)
    try {
      expect(await exists(`${root}_recovery/apps/1`)).toBe(true)
      const line = await lab.fault({type: 'zk-loss'})
      expect(line).toContain(`on ${root}_recovery2 `)
      expect(lab.layout.cluster_root).toBe(`${root}_recovery2`)
      expect(lab.leader()?.phase).toBe('recovering')
      // Named explicitly, the used root makes the meta crash: the fault says so instead of "waits".
      await plantOldTree(`${root}_used`)
      const err = await lab.fault({type: 'zk-loss', root: `${root}_used`}).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(LifeboatError)
      expect((err as LifeboatError).code).toBe('LAB_ZK_LOSS_FAILED')
      expect((err as LifeboatError).message).toContain('recover_from_replica_server = true')
    } finally {
      await close()
      await freshZooKeeper(zk, root, false)
      const c = await connectZk({hosts: zk})
      try {
        await removeTree(c, `${root}_used`)
      } finally {
        await c.close()
      }
    }
  })
})
