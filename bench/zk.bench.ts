/**
 * ZooKeeper benchmark (issue 2, item 6): two local servers; a Pegasus-like 100k-node tree (1000
 * table nodes of 99 partition children, ~300-byte JSON each) is built in the first with multis,
 * read with readTree, copied to the second with copyTree, and checked node for node with diffTrees.
 * Prints nodes/s and the process's peak RSS after each phase (maxRSS only grows, so each figure is
 * the peak so far). Targets on the 2-core machine: read >= 15,000 nodes/s, copy >= 12,000 nodes/s.
 *
 * Absolute rates move with the machine's load, so each fast path is also measured beside a naive
 * baseline in the same run, on the first BASELINE_TABLES tables, and the ratio is printed (issue 17:
 * the pipelined read at least 4x a sequential walk, the streaming copy at least 5x a one-by-one
 * writer). The ratios compare across busy runs; the rates alone do not.
 */
import {startZooKeeper, type RunningZooKeeper} from '../src/lab/zookeeper/server.js'
import {connectZk, copyTree, diffTrees, readTree, type ZkClient, type ZkOp} from '../src/zk/index.js'

const TABLES = 1000
const PARTITIONS = 99
const ROOT = '/pegasus/bench'
const COPY_ROOT = '/pegasus/bench-copy'
const ONE_BY_ONE_ROOT = '/pegasus/bench-one-by-one'
/** Tables the baselines walk and write (about 5,000 nodes: long enough to measure, short enough to wait for). */
const BASELINE_TABLES = 50

/** ~300 bytes of JSON shaped like Pegasus partition metadata, deterministic per index. */
function partitionJson(app: number, pidx: number): Buffer {
  const doc = {
    pid: `${app}.${pidx}`,
    ballot: 3 + (pidx % 5),
    max_replica_count: 3,
    primary: `10.1.${app % 250}.${pidx % 250}:34801`,
    secondaries: [`10.2.${app % 250}.${pidx % 250}:34802`, `10.3.${app % 250}.${pidx % 250}:34803`],
    last_drops: [],
    last_committed_decree: 100_000 + app * 100 + pidx,
    partition_flags: 0,
    hp_primary: `replica-${app % 7}.example.internal:34801`,
  }
  return Buffer.from(JSON.stringify(doc).padEnd(300, ' '))
}

function tableJson(app: number): Buffer {
  const doc = {
    status: 'AS_AVAILABLE',
    app_type: 'pegasus',
    app_name: `table_${String(app).padStart(4, '0')}`,
    app_id: app,
    partition_count: PARTITIONS,
    envs: {},
    is_stateful: true,
    max_replica_count: 3,
    expire_second: 0,
    create_second: 1_700_000_000,
    drop_second: 0,
    duplicating: false,
    init_partition_count: -1,
  }
  return Buffer.from(JSON.stringify(doc).padEnd(300, ' '))
}

function mb(): string {
  return `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`
}

function rate(nodes: number, ms: number): string {
  return `${Math.round((nodes * 1000) / ms).toLocaleString('en-US')} nodes/s`
}

/** Builds the tree in pre-order: multis of 100 creates, 8 in flight, on one session (FIFO keeps parents first). */
async function build(zk: ZkClient): Promise<number> {
  await zk.mkdirp(ROOT)
  let count = 1
  const inFlight: Promise<unknown>[] = []
  let ops: ZkOp[] = []
  const flush = async (): Promise<void> => {
    if (ops.length === 0) return
    inFlight.push(zk.multi(ops))
    ops = []
    if (inFlight.length >= 8) await inFlight.shift()
  }
  for (let t = 0; t < TABLES; t++) {
    const table = `${ROOT}/${String(t).padStart(4, '0')}`
    ops.push({op: 'create', path: table, data: tableJson(t)})
    count++
    for (let p = 0; p < PARTITIONS; p++) {
      ops.push({op: 'create', path: `${table}/${p}`, data: partitionJson(t, p)})
      count++
      if (ops.length >= 100) await flush()
    }
  }
  await flush()
  await Promise.all(inFlight)
  return count
}

/** The naive read: one call at a time, children then data, depth first, as a simple script would walk. */
async function sequentialWalk(zk: ZkClient, path: string): Promise<number> {
  await zk.get(path)
  let count = 1
  for (const child of (await zk.getChildren(path)).sort()) count += await sequentialWalk(zk, `${path}/${child}`)
  return count
}

/** The naive writer: one create at a time, each awaited before the next, parents first. */
async function oneByOneCopy(src: ZkClient, from: string, dst: ZkClient, to: string): Promise<number> {
  const {data} = await src.get(from)
  await dst.create(to, data)
  let count = 1
  for (const child of (await src.getChildren(from)).sort()) {
    count += await oneByOneCopy(src, `${from}/${child}`, dst, `${to}/${child}`)
  }
  return count
}

/** The first BASELINE_TABLES tables of ROOT as their own subtree paths. */
function baselineTables(): string[] {
  return Array.from({length: BASELINE_TABLES}, (_, t) => `${ROOT}/${String(t).padStart(4, '0')}`)
}

function ratio(fast: {nodes: number; ms: number}, slow: {nodes: number; ms: number}): string {
  return `${(fast.nodes / fast.ms / (slow.nodes / slow.ms)).toFixed(1)}x`
}

export async function run(): Promise<void> {
  const servers: RunningZooKeeper[] = []
  const clients: ZkClient[] = []
  try {
    const [a, b] = await Promise.all([startZooKeeper({heap: '1g'}), startZooKeeper({heap: '1g'})])
    servers.push(a, b)
    const [src, dst] = await Promise.all([connectZk({hosts: a.connectString}), connectZk({hosts: b.connectString})])
    clients.push(src, dst)
    console.log(`servers: source ${a.connectString}, destination ${b.connectString}`)

    let t0 = performance.now()
    const built = await build(src)
    let ms = performance.now() - t0
    console.log(
      `build  ${built} nodes (multi 100 x 8)   ${(ms / 1000).toFixed(2)} s  ${rate(built, ms)}  peak RSS ${mb()}`,
    )

    t0 = performance.now()
    const entries = await readTree(src, ROOT, {inFlight: 1000})
    ms = performance.now() - t0
    const bytes = entries.reduce((n, e) => n + e.data.length, 0)
    console.log(
      `read   ${entries.length} nodes, ${(bytes / 1e6).toFixed(1)} MB (readTree, 1000 in flight)   ${(ms / 1000).toFixed(2)} s  ${rate(entries.length, ms)}  peak RSS ${mb()}`,
    )
    if (entries.length !== built) throw new Error(`read ${entries.length} nodes, built ${built}`)
    entries.length = 0
    const pipelinedRead = {nodes: built, ms}

    t0 = performance.now()
    let walked = 0
    for (const table of baselineTables()) walked += await sequentialWalk(src, table)
    const walk = {nodes: walked, ms: performance.now() - t0}
    console.log(
      `walk   ${walked} nodes, one call at a time (baseline)   ${(walk.ms / 1000).toFixed(2)} s  ${rate(walked, walk.ms)}  pipelined read ${ratio(pipelinedRead, walk)} faster (target >= 4x)`,
    )

    const copy = await copyTree(src, ROOT, dst, COPY_ROOT)
    console.log(
      `copy   ${copy.nodesRead} nodes read, ${copy.created} created, ${copy.multis} multis (copyTree 100 ops/512 KiB x 8)   ${(copy.ms / 1000).toFixed(2)} s  ${rate(copy.nodesRead, copy.ms)}  peak RSS ${mb()}`,
    )

    await dst.mkdirp(ONE_BY_ONE_ROOT)
    t0 = performance.now()
    let written = 0
    for (const table of baselineTables()) {
      written += await oneByOneCopy(src, table, dst, `${ONE_BY_ONE_ROOT}/${table.slice(ROOT.length + 1)}`)
    }
    const oneByOne = {nodes: written, ms: performance.now() - t0}
    console.log(
      `write  ${written} nodes, one create at a time (baseline)   ${(oneByOne.ms / 1000).toFixed(2)} s  ${rate(written, oneByOne.ms)}  streaming copy ${ratio({nodes: copy.nodesRead, ms: copy.ms}, oneByOne)} faster (target >= 5x)`,
    )

    t0 = performance.now()
    const diffs = await diffTrees(src, ROOT, dst, COPY_ROOT)
    ms = performance.now() - t0
    console.log(
      `verify ${diffs.length === 0 ? 'copy equals source, node for node' : `${diffs.length} differences, first: ${JSON.stringify(diffs.slice(0, 3))}`} (diffTrees ${(ms / 1000).toFixed(2)} s)`,
    )
    if (diffs.length > 0 || copy.created !== built) throw new Error('the copy does not equal the source')
  } finally {
    await Promise.all(clients.map((c) => c.close()))
    await Promise.all(servers.map((s) => s.stop()))
  }
}
