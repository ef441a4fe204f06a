/**
 * ZooKeeper plumbing of the lab: path joining, removing a root, bounded parallelism, and the
 * batched creates a bulk metadata write (bring-up, recovery) is made of.
 */
import {ZkError, connectZk, removeTree, type ZkClient, type ZkOp} from '../../zk/index.js'
import {mapLimit} from '../../util/map-limit.js'

/** Joins ZooKeeper path parts. */
export function joinZk(base: string, rel: string): string {
  if (base === '/' || base === '') return `/${rel}`
  return `${base.replace(/\/$/, '')}/${rel}`
}

/** Removes the tree at `root` on the ZooKeeper at `hosts` (nothing there: nothing to do), in a session of its own. */
export async function removeRoot(hosts: string, root: string): Promise<void> {
  const zk = await connectZk({hosts})
  try {
    await removeTree(zk, root)
  } finally {
    await zk.close()
  }
}

/**
 * Creates nodes in multis of 100 with up to 8 in flight (the fastest shape on this machine, see
 * reference/zookeeper-performance.md). A batch that fails because a node exists is redone one
 * create at a time, tolerating the existing nodes as Pegasus does.
 */
export async function createTolerant(zk: ZkClient, ops: ZkOp[]): Promise<void> {
  const batches: ZkOp[][] = []
  for (let k = 0; k < ops.length; k += 100) batches.push(ops.slice(k, k + 100))
  await mapLimit(batches, 8, async (batch) => {
    try {
      await zk.multi(batch)
    } catch (err) {
      if (!(err instanceof ZkError && err.code === 'ZK_NODE_EXISTS')) throw err
      for (const op of batch) {
        if (op.op !== 'create') continue
        try {
          await zk.create(op.path, op.data ?? null)
        } catch (e) {
          if (!(e instanceof ZkError && e.code === 'ZK_NODE_EXISTS')) throw e
        }
      }
    }
  })
}
