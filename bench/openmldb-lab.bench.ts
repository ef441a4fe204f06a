/**
 * OpenMLDB lab at scale: the built-in `openmldb-scale` scenario (2 nameservers, 20 tablets, 1,024
 * partitions with 3 replicas, 3,000 rows written through Put over HTTP) brought up on a fresh
 * ZooKeeper, then read back over HTTP+JSON. Prints the bring-up time (target < 30 s), ShowTable's
 * time and size, `lab verify`'s time and the peak RSS.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {BrpcClient} from '../src/lab/openmldb/brpc.js'
import {OpenMLDBLab} from '../src/lab/openmldb/cluster.js'
import type {OpenMLDBScenario} from '../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../src/lab/openmldb/verify.js'
import {loadScenario} from '../src/lab/scenario.js'
import {startZooKeeper} from '../src/lab/zookeeper/server.js'

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const {scenario} = loadScenario<OpenMLDBScenario>('openmldb-scale')
  const zk = await startZooKeeper({heap: '1g'})
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-omlab-'))
  const client = new BrpcClient()
  try {
    const t0 = performance.now()
    const lab = await OpenMLDBLab.up({scenario, stateDir: dir, zkHosts: zk.connectString})
    const upMs = performance.now() - t0
    const ns = lab.leader()?.endpoint as string
    const t1 = performance.now()
    const shown = await client.call(ns, 'NameServer', 'ShowTable', {show_all: true}, 30_000)
    const showMs = performance.now() - t1
    const t2 = performance.now()
    const v = await verifyOpenMLDBRows(lab.layout)
    const verifyMs = performance.now() - t2
    const partitions = lab.layout.tables.reduce((n, t) => n + t.partitions, 0)
    const rows = lab.layout.tables.reduce((n, t) => n + t.rows, 0)
    console.log(
      `openmldb lab: ${lab.layout.nameservers.length} nameservers, ${lab.layout.tablets.length} tablets, ${lab.layout.tables.length} tables, ${partitions} partitions x 3 replicas, ${rows} rows`,
    )
    console.log(
      `  bring-up (ZooKeeper layout, tablets, election, ${rows} Puts over HTTP, kill-tablet): ${(upMs / 1000).toFixed(2)} s  (target < 30 s)`,
    )
    console.log(`  ShowTable show_all: ${(shown.table_info as unknown[]).length} tables in ${showMs.toFixed(0)} ms`)
    console.log(
      `  lab verify: ${v.found} of ${v.total} found in ${(verifyMs / 1000).toFixed(2)} s (a tablet is down: its led partitions have no serving leader)`,
    )
    console.log(`  peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)
    await lab.down()
  } finally {
    client.close()
    await zk.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}
