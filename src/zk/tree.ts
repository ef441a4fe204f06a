/**
 * Whole-subtree work over a ZkClient: pipelined read, streaming copy into multi batches, diff and
 * recursive delete (the client's own removeRecursive only goes one level deep under async 3.x).
 *
 * Every function keeps a bounded number of requests in flight (an unbounded backlog slows the
 * client and can expire the session, zookeeper-performance.md section 5 #5) and stops issuing
 * requests at the first error.
 */
import {createHash} from 'node:crypto'

import {LifeboatError} from '../errors.js'
import {MAX_REQUEST_BYTES, joinPath, opBytes, type ZkClient, type ZkOp, type ZkStat} from './client.js'
import {ZkError, isZkError} from './errors.js'

/** Code-unit order of paths: the same on every machine, whatever its locale. */
function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** One node of a tree read. */
export interface TreeEntry {
  /** Absolute path. */
  path: string
  data: Buffer
  stat: ZkStat
}

export interface ReadTreeOptions {
  /** Nodes in flight at once (default 1000). */
  inFlight?: number
  /** Include ephemeral nodes (default false: they belong to live sessions, not to the metadata). */
  includeEphemeral?: boolean
  /**
   * Streams each node instead of collecting them (readTree then returns an empty list). Nodes come
   * parents before children. A returned promise holds that node's children back until it settles
   * (back-pressure).
   */
  onNode?: (entry: TreeEntry) => void | Promise<void>
}

/** Counts of a walk. */
export interface WalkResult {
  /** Nodes delivered to onNode. */
  nodes: number
  skippedEphemeral: number
  /** Nodes listed by their parent but gone by the time we read them. */
  vanished: number
}

/**
 * Walks the subtree at `root`: getData on every node, getChildren only when numChildren > 0
 * (most metadata nodes are leaves, so this nearly halves the requests), at most `inFlight` nodes
 * in flight. Children are discovered only after their parent was delivered to onNode, so a
 * consumer sees every parent before its children. A missing root is ZK_NO_NODE.
 */
export function walkTree(client: ZkClient, root: string, opts: ReadTreeOptions = {}): Promise<WalkResult> {
  const inFlight = Math.max(1, opts.inFlight ?? 1000)
  const result: WalkResult = {nodes: 0, skippedEphemeral: 0, vanished: 0}
  let queue: string[] = [root]
  let head = 0
  let active = 0
  let failed = false
  return new Promise<WalkResult>((resolve, reject) => {
    const fail = (err: unknown): void => {
      if (failed) return
      failed = true
      reject(err)
    }
    const finish = (): void => {
      active--
      pump()
    }
    const expand = (path: string): void => {
      client.getChildren(path).then(
        (children) => {
          if (failed) return
          children.sort()
          for (const child of children) queue.push(joinPath(path, child))
          finish()
        },
        (err: unknown) => {
          if (isZkError(err, 'ZK_NO_NODE')) finish()
          else fail(err)
        },
      )
    }
    const visit = (path: string): void => {
      client.get(path).then(
        ({data, stat}) => {
          if (failed) return
          if (stat.ephemeralOwner !== 0n && opts.includeEphemeral !== true) {
            result.skippedEphemeral++
            finish()
            return
          }
          result.nodes++
          let held: void | Promise<void>
          try {
            held = opts.onNode?.({path, data, stat})
          } catch (err) {
            fail(err)
            return
          }
          const next = (): void => (stat.numChildren > 0 ? expand(path) : finish())
          if (held instanceof Promise) held.then(() => (failed ? undefined : next()), fail)
          else next()
        },
        (err: unknown) => {
          if (isZkError(err, 'ZK_NO_NODE') && path !== root) {
            result.vanished++
            finish()
          } else fail(err)
        },
      )
    }
    const pump = (): void => {
      if (failed) return
      while (active < inFlight && head < queue.length) {
        active++
        visit(queue[head++])
      }
      // Drop consumed paths now and then so the queue does not hold the whole tree.
      if (head > 65_536 && head * 2 > queue.length) {
        queue = queue.slice(head)
        head = 0
      }
      if (active === 0 && head >= queue.length) resolve(result)
    }
    pump()
  })
}

/**
 * Reads the subtree at `root` into `{path, data, stat}` entries sorted by path (or streams them
 * through onNode and returns []). Ephemeral nodes are left out unless includeEphemeral.
 */
export async function readTree(client: ZkClient, root: string, opts: ReadTreeOptions = {}): Promise<TreeEntry[]> {
  if (opts.onNode) {
    await walkTree(client, root, opts)
    return []
  }
  const entries: TreeEntry[] = []
  await walkTree(client, root, {...opts, onNode: (e) => void entries.push(e)})
  return entries.sort((a, b) => comparePaths(a.path, b.path))
}

/**
 * Deletes the subtree at `path`, children first, at most `inFlight` removes in flight. A missing
 * path is fine. Nodes created meanwhile under it (NOT_EMPTY) make it list and try again, a few times.
 */
export async function removeTree(client: ZkClient, path: string, opts: {inFlight?: number} = {}): Promise<number> {
  if (path === '/' || path === '') {
    throw new LifeboatError('ZK_REMOVE_ROOT', 'refusing to remove the ZooKeeper root /', {
      hints: ['Name the subtree to remove.'],
    })
  }
  const inFlight = Math.max(1, opts.inFlight ?? 1000)
  let removed = 0
  for (let attempt = 0; ; attempt++) {
    const paths: string[] = []
    try {
      await walkTree(client, path, {inFlight, includeEphemeral: true, onNode: (e) => void paths.push(e.path)})
    } catch (err) {
      if (isZkError(err, 'ZK_NO_NODE')) return removed
      throw err
    }
    // Deepest first; one session runs requests in order, so a parent's remove is processed after
    // its children's even though we do not wait for their replies.
    const depth = (p: string): number => p.split('/').length
    paths.sort((a, b) => depth(b) - depth(a) || comparePaths(a, b))
    let notEmpty = false
    await runBounded(paths, inFlight, async (p) => {
      try {
        await client.remove(p, -1)
        removed++
      } catch (err) {
        if (isZkError(err, 'ZK_NO_NODE')) return
        if (isZkError(err, 'ZK_NOT_EMPTY')) {
          notEmpty = true
          return
        }
        throw err
      }
    })
    if (!notEmpty) return removed
    if (attempt >= 4) {
      throw new ZkError('ZK_NOT_EMPTY', {
        server: client.server,
        path,
        op: 'removeTree',
        reason: 'nodes keep being created under it while it is removed',
      })
    }
  }
}

/** Runs `fn` over items in order with at most `limit` in flight; rejects at the first failure. */
async function runBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  let failure: unknown
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]
      try {
        await fn(item)
      } catch (err) {
        failure ??= err
      }
    }
  }
  await Promise.all(Array.from({length: Math.min(limit, items.length)}, worker))
  if (failure !== undefined) throw failure
}

export interface CopyTreeOptions {
  /** Operations per multi (default 100). */
  batchOps?: number
  /** Bytes per multi, framing included (default 512 KiB; ZooKeeper drops requests over ~1 MiB). */
  batchBytes?: number
  /** Multis in flight on the destination (default 8). */
  inFlightMultis?: number
  /** Source nodes in flight (default 1000). */
  readInFlight?: number
  /** Leave ephemeral nodes out (default true). */
  ignoreEphemeral?: boolean
  /** Called every 1000 nodes read and at the end. */
  onProgress?: (progress: CopyProgress) => void
}

/** Counts while a copy runs. */
export interface CopyProgress {
  nodesRead: number
  created: number
  updated: number
  unchanged: number
  skippedEphemeral: number
}

export interface CopyTreeResult extends CopyProgress {
  /** Source nodes listed but gone before they were read. */
  vanished: number
  /** Multis sent, and how many fell back to per-node writes (a partly copied target). */
  multis: number
  fallbacks: number
  ms: number
  nodesPerSecond: number
}

/**
 * Copies the subtree `srcRoot` of `src` to `dstRoot` of `dst`, streaming: each source node, as its
 * data arrives, becomes a create in the destination's current multi batch (capped by op count and
 * bytes), and batches are sent in order on one session with a few in flight, so parents are
 * always created before their children without waiting for replies.
 *
 * Resumable and idempotent: a batch that fails because some node exists (or its parent is missing
 * after an earlier failed batch) is redone node by node in order, creating what is missing and
 * setting data where it differs. Nodes only in the target are left alone (see diffTrees).
 * On any other error (connection loss, deadline) it stops issuing requests and throws
 * ZK_COPY_INCOMPLETE; running it again completes the copy.
 */
export async function copyTree(
  src: ZkClient,
  srcRoot: string,
  dst: ZkClient,
  dstRoot: string,
  opts: CopyTreeOptions = {},
): Promise<CopyTreeResult> {
  const batchOps = Math.max(1, opts.batchOps ?? 100)
  const batchBytes = Math.min(MAX_REQUEST_BYTES - 1024, Math.max(1, opts.batchBytes ?? 512 * 1024))
  const inFlightMultis = Math.max(1, opts.inFlightMultis ?? 8)
  const started = performance.now()
  const counts = {nodesRead: 0, created: 0, updated: 0, unchanged: 0, skippedEphemeral: 0}
  let multis = 0
  let fallbacks = 0
  let lastReport = 0
  const report = (): void => {
    if (!opts.onProgress) return
    try {
      opts.onProgress({...counts})
    } catch {
      // Progress display must never break the copy.
    }
  }

  const fail = (err: unknown): never => {
    const cause = err instanceof LifeboatError ? err : undefined
    throw new LifeboatError(
      'ZK_COPY_INCOMPLETE',
      `copy of ${src.server}:${srcRoot} to ${dst.server}:${dstRoot} stopped after ${counts.nodesRead} nodes read: ${err instanceof Error ? err.message : String(err)}`,
      {
        detail: cause?.detail,
        hints: [
          ...(cause?.hints ?? []),
          'Nothing is lost: run the same copy again once ZooKeeper is reachable; it resumes, skipping nodes already copied.',
        ],
        cause: err,
      },
    )
  }

  // The destination's parent must exist; the root itself is created by the stream.
  const parent = dstRoot.slice(0, dstRoot.lastIndexOf('/'))
  try {
    if (parent !== '') await dst.mkdirp(parent)
  } catch (err) {
    fail(err)
  }

  type Sent = {ops: ZkOp[]; result: Promise<ZkError | LifeboatError | null>}
  const inFlight: Sent[] = []
  let batch: ZkOp[] = []
  let bytes = 16

  const send = (): void => {
    if (batch.length === 0) return
    const ops = batch
    batch = []
    bytes = 16
    multis++
    const result = dst.multi(ops).then(
      () => null,
      (err: unknown) =>
        err instanceof LifeboatError
          ? err
          : new ZkError('ZK_OTHER', {server: dst.server, op: 'multi', reason: String(err)}),
    )
    inFlight.push({ops, result})
  }

  // Redo one failed batch node by node, in order (pipelined on one session, so parents first).
  const fallback = async (ops: ZkOp[]): Promise<void> => {
    fallbacks++
    const creates = ops.map((op) => {
      const data = op.op === 'create' ? (op.data ?? Buffer.alloc(0)) : Buffer.alloc(0)
      return dst.create(op.path, data).then(
        () => 'created' as const,
        (err: unknown) => {
          if (isZkError(err, 'ZK_NODE_EXISTS')) return 'exists' as const
          throw err
        },
      )
    })
    const outcomes = await Promise.allSettled(creates)
    const existing: Array<{path: string; data: Buffer}> = []
    for (let i = 0; i < ops.length; i++) {
      const o = outcomes[i]
      if (o.status === 'rejected') throw o.reason
      const op = ops[i]
      if (o.value === 'created') counts.created++
      else if (op.op === 'create') existing.push({path: op.path, data: op.data ?? Buffer.alloc(0)})
    }
    await Promise.all(
      existing.map(async ({path, data}) => {
        const current = await dst.get(path)
        if (current.data.equals(data)) {
          counts.unchanged++
          return
        }
        await dst.set(path, data, current.stat.version)
        counts.updated++
      }),
    )
  }

  const recoverable = (err: ZkError | LifeboatError): boolean => isZkError(err, 'ZK_NODE_EXISTS', 'ZK_NO_NODE')

  // Settles the oldest batch. After a recoverable failure, every later batch is awaited too and
  // then redone in order where it failed, so a child's fallback never runs before its parent's.
  const settleOldest = async (): Promise<void> => {
    const first = inFlight.shift()
    if (!first) return
    const err = await first.result
    if (err === null) {
      counts.created += first.ops.length
      return
    }
    if (!recoverable(err)) throw err
    const rest = inFlight.splice(0, inFlight.length)
    const restResults = await Promise.all(rest.map((s) => s.result))
    await fallback(first.ops)
    for (let i = 0; i < rest.length; i++) {
      const e = restResults[i]
      if (e === null) counts.created += rest[i].ops.length
      else if (recoverable(e)) await fallback(rest[i].ops)
      else throw e
    }
  }

  // Settling is serialized: the recovery path above relies on seeing batches strictly in order.
  let chain: Promise<void> = Promise.resolve()
  const settle = (): Promise<void> => (chain = chain.then(settleOldest))

  const ignoreEphemeral = opts.ignoreEphemeral ?? true
  let stopped = false
  const rel = (p: string): string => p.slice(srcRoot === '/' ? 0 : srcRoot.length)
  let walk: WalkResult
  try {
    walk = await walkTree(src, srcRoot, {
      inFlight: opts.readInFlight ?? 1000,
      includeEphemeral: !ignoreEphemeral,
      onNode: (entry) => {
        // After a failure nothing more is queued: a multi queued while disconnected would be sent on reconnect.
        if (stopped) return undefined
        counts.nodesRead++
        const target = dstRoot === '/' ? rel(entry.path) || '/' : `${dstRoot}${rel(entry.path)}`
        const op: ZkOp = {op: 'create', path: target, data: entry.data}
        const size = opBytes(op)
        if (batch.length >= batchOps || (batch.length > 0 && bytes + size > batchBytes)) send()
        batch.push(op)
        bytes += size
        if (counts.nodesRead - lastReport >= 1000) {
          lastReport = counts.nodesRead
          report()
        }
        // Back-pressure: hold the reader while the destination has too many multis in flight.
        if (inFlight.length >= inFlightMultis) return settle()
        return undefined
      },
    })
    send()
    await chain
    while (inFlight.length > 0) await settle()
  } catch (err) {
    stopped = true
    // Later replies (or deadlines) of what is still in flight are ignored: we report the first failure.
    for (const s of inFlight) void s.result
    return fail(err)
  }
  counts.skippedEphemeral = walk.skippedEphemeral
  report()
  const ms = performance.now() - started
  return {
    ...counts,
    vanished: walk.vanished,
    multis,
    fallbacks,
    ms,
    nodesPerSecond: ms > 0 ? (counts.nodesRead * 1000) / ms : 0,
  }
}

export interface DiffTreesOptions {
  /** Leave ephemeral nodes out of the comparison (default true). */
  ignoreEphemeral?: boolean
  inFlight?: number
}

/** One difference between two trees; `path` is relative to the roots ('' for the roots themselves). */
export interface TreeDiff {
  path: string
  /** missing: in a, not in b. extra: in b, not in a. data: in both, data differs. */
  kind: 'missing' | 'extra' | 'data'
}

/** Two subtrees compared: how many nodes each has, and the differences sorted by path. */
export interface TreeComparison {
  aNodes: number
  bNodes: number
  diffs: TreeDiff[]
}

/**
 * Compares the subtree `aRoot` of `a` with `bRoot` of `b` node for node (paths and data; not
 * stats or ACLs). Keeps a SHA-1 per node, not the data. Returns the differences sorted by path.
 */
export async function diffTrees(
  a: ZkClient,
  aRoot: string,
  b: ZkClient,
  bRoot: string,
  opts: DiffTreesOptions = {},
): Promise<TreeDiff[]> {
  return (await compareTrees(a, aRoot, b, bRoot, opts)).diffs
}

/** {@link diffTrees} with the node counts of both sides; a missing root is an empty tree. */
export async function compareTrees(
  a: ZkClient,
  aRoot: string,
  b: ZkClient,
  bRoot: string,
  opts: DiffTreesOptions = {},
): Promise<TreeComparison> {
  const includeEphemeral = !(opts.ignoreEphemeral ?? true)
  const collect = async (client: ZkClient, root: string): Promise<Map<string, string>> => {
    const out = new Map<string, string>()
    const cut = root === '/' ? 0 : root.length
    try {
      await walkTree(client, root, {
        inFlight: opts.inFlight ?? 1000,
        includeEphemeral,
        onNode: (e) => void out.set(e.path.slice(cut), createHash('sha1').update(e.data).digest('base64')),
      })
    } catch (err) {
      // A missing root is an empty tree: everything on the other side differs.
      if (!(isZkError(err, 'ZK_NO_NODE') && err.path === root)) throw err
    }
    return out
  }
  const [left, right] = await Promise.all([collect(a, aRoot), collect(b, bRoot)])
  const diffs: TreeDiff[] = []
  for (const [path, hash] of left) {
    const other = right.get(path)
    if (other === undefined) diffs.push({path, kind: 'missing'})
    else if (other !== hash) diffs.push({path, kind: 'data'})
  }
  for (const path of right.keys()) if (!left.has(path)) diffs.push({path, kind: 'extra'})
  return {aNodes: left.size, bNodes: right.size, diffs: diffs.sort((x, y) => comparePaths(x.path, y.path))}
}
