/**
 * Pegasus lab at scale: the built-in `pegasus-scale` scenario (100 replica servers, 1,000 tables,
 * 64,000 partitions with 3 replicas) brought up on a fresh ZooKeeper, then queried over THFT.
 * Prints the bring-up time, query times, gather rounds of all 100 replica servers (both collect
 * RPCs, with the engine's deadline and concurrency) before and after `lab fault zk-loss`, the
 * fault's own time, the ZooKeeper node count and the peak RSS.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ReplicaClient} from '../src/engines/pegasus/client/replica-client.js'
import {COLLECT_CONCURRENCY} from '../src/engines/pegasus/meta-recovery/gather.js'
import {AppStatus} from '../src/engines/pegasus/wire/index.js'
import {PegasusLab} from '../src/lab/pegasus/cluster.js'
import {callRpc} from '../src/lab/pegasus/rpc-call.js'
import {verifyRows} from '../src/lab/pegasus/verify.js'
import {loadScenario} from '../src/lab/scenario.js'
import {startZooKeeper} from '../src/lab/zookeeper/server.js'

/** The gatherer's default deadline per node (rDSN's RPC timeout). */
const COLLECT_TIMEOUT_MS = 5000

/** One gather round as the meta-recovery gatherer makes it: both collect RPCs on every node. */
async function gatherRound(nodes: string[]): Promise<string> {
  const client = new ReplicaClient({timeoutMs: COLLECT_TIMEOUT_MS})
  try {
    const t = performance.now()
    const res = await client.collectAll(nodes, {timeoutMs: COLLECT_TIMEOUT_MS, concurrency: COLLECT_CONCURRENCY})
    const ms = performance.now() - t
    const replicas = res.reduce((n, r) => n + (r.ok ? r.replicas.length : 0), 0)
    return `${res.filter((r) => r.ok).length} of ${nodes.length} servers answered (${replicas} replicas) in ${(ms / 1000).toFixed(2)} s`
  } finally {
    client.close()
  }
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const {scenario} = loadScenario('pegasus-scale')
  const zk = await startZooKeeper({heap: '1g'})
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-lab-'))
  const lines: string[] = []
  try {
    const t0 = performance.now()
    const lab = await PegasusLab.up({scenario, stateDir: dir, zkHosts: zk.connectString, log: (l) => lines.push(l)})
    const upMs = performance.now() - t0
    const meta = lab.layout.meta_servers[0].address
    const nodes = lab.layout.replica_servers.map((r) => r.address)
    const t1 = performance.now()
    const apps = await callRpc(meta, 'RPC_CM_LIST_APPS', {status: AppStatus.AS_AVAILABLE}, 30_000)
    const listMs = performance.now() - t1
    const t2 = performance.now()
    const cfg = await callRpc(
      meta,
      'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX',
      {app_name: 't0500', partition_indices: []},
      30_000,
    )
    const cfgMs = performance.now() - t2
    const t3 = performance.now()
    const v = await verifyRows(meta, lab.layout.tables, 60_000)
    const verifyMs = performance.now() - t3
    const partitions = lab.layout.tables.reduce((n, t) => n + t.partitions, 0)
    console.log(
      `pegasus lab: ${lab.layout.replica_servers.length} replica servers, ${lab.layout.tables.length} tables, ${partitions} partitions x 3 replicas`,
    )
    console.log(
      `  bring-up (metadata ${partitions + lab.layout.tables.length} znodes, replicas, servers): ${(upMs / 1000).toFixed(2)} s  (target < 30 s)`,
    )
    const warm = lines.filter((l) => l.includes('collect replies of'))
    console.log(`  of which ${warm[0] ?? 'no collect replies encoded'}`)
    console.log(
      `  list_apps: ${apps.response?.infos.length ?? 0} apps in ${listMs.toFixed(0)} ms; query_cfg t0500: ${cfg.response?.partitions.length ?? 0} partitions in ${cfgMs.toFixed(0)} ms`,
    )
    console.log(`  lab verify: ${v.found} of ${v.total} found in ${(verifyMs / 1000).toFixed(2)} s`)
    console.log(`  gather round after bring-up: ${await gatherRound(nodes)}`)
    console.log(`  gather round again: ${await gatherRound(nodes)}`)
    const t4 = performance.now()
    await lab.fault({type: 'zk-loss'})
    console.log(`  lab fault zk-loss: ${((performance.now() - t4) / 1000).toFixed(2)} s`)
    for (const l of lines.filter((x) => x.includes('zk-loss:') || x.includes('collect replies of')).slice(1))
      console.log(`    ${l}`)
    console.log(`  gather round after zk-loss: ${await gatherRound(nodes)}`)
    console.log(`  peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)
    await lab.down()
  } finally {
    await zk.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}
