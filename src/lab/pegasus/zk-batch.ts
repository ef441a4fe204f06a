/**
 * ZooKeeper plumbing of the lab: path joining, removing a root, bounded parallelism, and the
 * batched creates a bulk metadata write (bring-up, recovery) is made of.
 */
import {ZkError, connectZk, isZkError, removeTree, type ZkClient, type ZkOp} from '../../zk/index.js'
import {mapLimit} from '../../util/map-limit.js'

/** Joins ZooKeeper path parts. */
export function joinZk(base: string, rel: string): string {
  if (base === '/' || base === '') return `/${rel}`
  return `${base.replace(/\/$/, '')}/${rel}`
}

/** How far a long ZooKeeper batch of the lab is: `removing /pegasus/scale`, 12,000 nodes. */
export type BatchProgress = (message: string, count: {done: number; total?: number; unit: string}) => void

let progressSink: BatchProgress | undefined

/**
 * Where the lab's long ZooKeeper batches (removing a root) report their progress; the daemon sets
 * it while a fault runs and shows it as the fault's progress. One lab per process: one sink.
 */
export function onBatchProgress(sink: BatchProgress | undefined): void {
  progressSink = sink
}

/** At most `n` calls in flight; each call holds its slot only while it runs. */
function limiter(n: number): <T>(call: () => Promise<T>) => Promise<T> {
  let active = 0
  const waiting: Array<() => void> = []
  return async <T>(call: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => waiting.push(r))
    active++
    try {
      return await call()
    } finally {
      active--
      waiting.shift()?.()
    }
  }
}

/**
 * Removes the tree at `root` on the ZooKeeper at `hosts` (nothing there: nothing to do), in a
 * session of its own, without reading every node: each node's children are listed and removed as
 * leaves in multis of 100; a multi refused (a child has children of its own, or vanished) removes
 * each of its nodes on its own, children first. A Pegasus root is mostly tables whose partitions
 * are leaves, so its 65,000 nodes cost about 1,000 listings and 1,000 multis, 64 calls in flight,
 * instead of a read of every node. Whatever changed meanwhile is left to a node-by-node pass.
 */
export async function removeRoot(hosts: string, root: string): Promise<void> {
  const zk = await connectZk({hosts})
  try {
    const limit = limiter(64)
    let removed = 0
    const report = (): void => progressSink?.(`removing ${root}`, {done: removed, unit: 'nodes'})
    const removeSubtree = async (path: string): Promise<void> => {
      let children: string[]
      try {
        children = await limit(() => zk.getChildren(path))
      } catch (err) {
        if (isZkError(err, 'ZK_NO_NODE')) return
        throw err
      }
      const paths = children.sort().map((c) => joinZk(path, c))
      const batches: string[][] = []
      for (let k = 0; k < paths.length; k += 100) batches.push(paths.slice(k, k + 100))
      await Promise.all(
        batches.map(async (batch) => {
          try {
            await limit(() => zk.multi(batch.map((p): ZkOp => ({op: 'remove', path: p, version: -1}))))
            removed += batch.length
            report()
          } catch (err) {
            if (!(err instanceof ZkError)) throw err
            await Promise.all(batch.map(removeSubtree))
          }
        }),
      )
      try {
        await limit(() => zk.remove(path, -1))
        removed++
      } catch (err) {
        if (!isZkError(err, 'ZK_NO_NODE')) throw err
      }
    }
    try {
      await removeSubtree(root)
    } catch (err) {
      if (!(err instanceof ZkError)) throw err
    }
    await removeTree(zk, root)
    report()
  } finally {
    await zk.close()
  }
}

/** `<root>_recovery`, `<root>_recovery2`, …: the roots `lab fault zk-loss` moves a cluster to. */
export function recoveryRoot(clusterRoot: string, n: number): string {
  return `${clusterRoot.replace(/\/$/, '')}_recovery${n === 1 ? '' : n}`
}

/**
 * Makes a fresh lab start from nothing in ZooKeeper. `whole`: the lab started this ZooKeeper, so
 * every top-level node but `/zookeeper` goes. Otherwise (a shared ZooKeeper) only the cluster's
 * roots: `clusterRoot` and the `<clusterRoot>_recovery*` roots earlier zk-loss faults made.
 * Returns the paths removed.
 */
export async function freshZooKeeper(hosts: string, clusterRoot: string, whole: boolean): Promise<string[]> {
  const zk = await connectZk({hosts})
  try {
    const removed: string[] = []
    if (whole) {
      for (const child of (await zk.getChildren('/')).sort()) {
        if (child === 'zookeeper') continue
        await removeTree(zk, `/${child}`)
        removed.push(`/${child}`)
      }
      return removed
    }
    const root = clusterRoot.replace(/\/$/, '')
    const slash = root.lastIndexOf('/')
    const parent = slash <= 0 ? '/' : root.slice(0, slash)
    const base = root.slice(slash + 1)
    let siblings: string[] = []
    try {
      siblings = await zk.getChildren(parent)
    } catch (err) {
      if (!(err instanceof ZkError && err.code === 'ZK_NO_NODE')) throw err
    }
    const mine = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(_recovery\\d*)?$`)
    for (const s of siblings.filter((c) => mine.test(c)).sort()) {
      const path = joinZk(parent, s)
      await removeTree(zk, path)
      removed.push(path)
    }
    return removed
  } finally {
    await zk.close()
  }
}

/** The first of `<clusterRoot>_recovery`, `_recovery2`, … with no node in ZooKeeper (from `start` on). */
export async function unusedRecoveryRoot(
  hosts: string,
  clusterRoot: string,
  start: number,
): Promise<{root: string; n: number}> {
  const zk = await connectZk({hosts})
  try {
    for (let n = Math.max(1, start); ; n++) {
      const root = recoveryRoot(clusterRoot, n)
      if ((await zk.exists(root)) === null) return {root, n}
    }
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
