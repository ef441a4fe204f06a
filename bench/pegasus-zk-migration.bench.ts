/**
 * PegasusZkMigration benchmark (issue 7): the copy of a 100k-node Pegasus cluster tree between two
 * local ZooKeepers, in nodes/s,
 * 1. through the copy step executor (isDone, run, verify, as apply calls them), and
 * 2. through `lifeboat apply` on a lab cluster whose root carries the same 100k-node tree: plan,
 *    then apply with --auto-approve up to the manual switch; the figure is the copy step's own
 *    rate from the audit log, and the wall time of the whole apply run is printed beside it.
 * Target on the 2-core machine: >= 12,000 nodes/s (zkcopy manages about 2,700).
 */
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {stringify} from 'yaml'

import {closeZkMigrationContext, openZkMigrationContext} from '../src/engines/pegasus/zk-migration/engine.js'
import {zkMigrationSteps} from '../src/engines/pegasus/zk-migration/steps.js'
import {STEP_KINDS, type CopyParams, type ZkMigrationSpec} from '../src/engines/pegasus/zk-migration/types.js'
import {PegasusLab} from '../src/lab/pegasus/cluster.js'
import {startZooKeeper, type RunningZooKeeper} from '../src/lab/zookeeper/server.js'
import type {Step} from '../src/plan/types.js'
import {connectZk, type ZkClient, type ZkOp} from '../src/zk/index.js'
import {lifeboat, lifeboatOk} from './lifeboat-cli.js'

const TABLES = 1000
const PARTITIONS = 99

/** ~300 bytes of Pegasus-like JSON. */
function json(doc: Record<string, unknown>): Buffer {
  return Buffer.from(JSON.stringify(doc).padEnd(300, ' '))
}

/** Builds `<base>/<id>/<pidx>` for 1000 tables of 99 partitions (100,000 nodes with `base`), multis of 100, 8 in flight. */
async function build(zk: ZkClient, base: string): Promise<number> {
  await zk.mkdirp(base)
  let count = 1
  let ops: ZkOp[] = []
  const inFlight: Promise<unknown>[] = []
  const flush = async (): Promise<void> => {
    if (ops.length === 0) return
    inFlight.push(zk.multi(ops))
    ops = []
    if (inFlight.length >= 8) await inFlight.shift()
  }
  for (let t = 1; t <= TABLES; t++) {
    ops.push({
      op: 'create',
      path: `${base}/${t}`,
      data: json({
        status: 'app_status::AS_AVAILABLE',
        app_type: 'pegasus',
        app_name: `table_${t}`,
        app_id: t,
        partition_count: PARTITIONS,
      }),
    })
    count++
    for (let p = 0; p < PARTITIONS; p++) {
      ops.push({
        op: 'create',
        path: `${base}/${t}/${p}`,
        data: json({
          pid: `${t}.${p}`,
          ballot: 3 + (p % 5),
          max_replica_count: 3,
          primary: `10.1.${t % 250}.${p % 250}:34801`,
          secondaries: [`10.2.${t % 250}.${p % 250}:34802`, `10.3.${t % 250}.${p % 250}:34803`],
          last_drops: [],
          last_committed_decree: 100_000 + p,
        }),
      })
      count++
      if (ops.length >= 100) await flush()
    }
  }
  await flush()
  await Promise.all(inFlight)
  return count
}

function rate(nodes: number, ms: number): string {
  return `${Math.round((nodes * 1000) / ms).toLocaleString('en-US')} nodes/s`
}

/** The copy step executor on a bare 100k-node tree. */
async function viaExecutor(a: RunningZooKeeper, b: RunningZooKeeper): Promise<void> {
  const root = '/pegasus/bench_exec'
  const zk = await connectZk({hosts: a.connectString})
  const nodes = await build(zk, `${root}/apps`).then((n) => n + 1)
  await zk.close()
  const spec: ZkMigrationSpec = {
    apiVersion: 'lifeboat/v1',
    kind: 'PegasusZkMigration',
    metadata: {name: 'bench'},
    cluster: {name: 'bench', meta_servers: ['127.0.0.1:1'], zookeeper: {hosts: a.connectString, root}},
    migration: {
      method: 'copy',
      target: {hosts: b.connectString, root},
      ignore_ephemeral: true,
      remove_source_after: false,
      wait_seconds: 100,
    },
  }
  const params: CopyParams = {
    source: {hosts: a.connectString, root},
    target: {hosts: b.connectString, root},
    ignore_ephemeral: true,
    expect_nodes: nodes,
    meta_servers: [],
  }
  const step: Step = {
    id: '03-copy-tree',
    kind: STEP_KINDS.copy,
    params: {...params},
    risk: 'safe',
    description: 'copy',
    expect: '',
  }
  const ex = zkMigrationSteps[STEP_KINDS.copy]!
  const ctx = openZkMigrationContext(spec, {env: process.env})
  try {
    const t0 = performance.now()
    const done = await ex.isDone(ctx, step)
    const t1 = performance.now()
    const result = await ex.run(ctx, step, () => {})
    const t2 = performance.now()
    const findings = await ex.verify(ctx, step)
    const t3 = performance.now()
    console.log(
      `copy step executor, ${nodes.toLocaleString('en-US')} nodes: run ${((t2 - t1) / 1000).toFixed(2)} s = ${rate(nodes, t2 - t1)}` +
        ` (isDone ${Math.round(t1 - t0)} ms -> ${done}, verify ${Math.round(t3 - t2)} ms, ${findings.length} finding(s)); ${result.summary}`,
    )
    const cmp = zkMigrationSteps[STEP_KINDS.verifyCopy]!
    const t4 = performance.now()
    await cmp.run(ctx, {...step, kind: STEP_KINDS.verifyCopy}, () => {})
    const bad = (await cmp.verify(ctx, {...step, kind: STEP_KINDS.verifyCopy})).filter((f) => f.severity === 'error')
    console.log(
      `node-for-node verification: ${((performance.now() - t4) / 1000).toFixed(2)} s, ${bad.length === 0 ? 'identical' : bad.map((f) => f.message).join('; ')}`,
    )
  } finally {
    await closeZkMigrationContext(ctx)
  }
}

/** `lifeboat apply` of a copy-method plan on a lab cluster whose root holds the 100k-node tree. */
async function viaApply(a: RunningZooKeeper, b: RunningZooKeeper): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-zkm-bench-'))
  const lab = await PegasusLab.up({
    scenario: {
      engine: 'pegasus',
      name: 'bench_apply',
      meta_servers: 1,
      replica_servers: 3,
      tables: [{name: 'temp', partitions: 8, replicas: 3, rows: 1000}],
      faults: [],
      meta: {},
      replica: {},
    },
    stateDir: dir,
    zkHosts: a.connectString,
  })
  try {
    const root = lab.layout.cluster_root
    const zk = await connectZk({hosts: a.connectString})
    // The 100k-node tree sits beside the lab's own apps (cold-backup metadata, say): the copy moves both.
    await build(zk, `${root}/backup`)
    await zk.close()
    const spec = {
      apiVersion: 'lifeboat/v1',
      kind: 'PegasusZkMigration',
      metadata: {name: 'bench-apply'},
      cluster: {
        name: lab.layout.cluster_name,
        meta_servers: lab.layout.meta_servers.map((m) => m.address),
        zookeeper: {hosts: a.connectString, root},
      },
      migration: {method: 'copy', target: {hosts: b.connectString, root}},
    }
    writeFileSync(join(dir, 'spec.yaml'), stringify(spec))
    // A child process, awaited without blocking this one: the lab's servers live here.
    const planned = await lifeboatOk(['plan', 'spec.yaml', '--out', 'plan.json'], dir)
    const applied = await lifeboat(['apply', 'plan.json', '--auto-approve'], dir)
    if (applied.code !== 3)
      throw new Error(
        `lifeboat apply did not stop at the manual switch (exit ${applied.code}):\n${applied.stdout}${applied.stderr}`,
      )
    const records = readFileSync(join(dir, '.lifeboat', 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as {event: string; data: Record<string, unknown>})
    const copy = records.find((r) => r.event === 'step.finished' && r.data.step === '03-copy-tree')?.data.result as
      {nodes: number; ms: number; nodesPerSecond: number} | undefined
    if (!copy) throw new Error('the audit log has no finished copy step')
    console.log(
      `lifeboat apply, copy step: ${copy.nodes.toLocaleString('en-US')} nodes in ${(copy.ms / 1000).toFixed(2)} s = ${copy.nodesPerSecond.toLocaleString('en-US')} nodes/s` +
        ` (plan ${(planned.wallMs / 1000).toFixed(1)} s; apply up to the manual switch, with re-plan, copy and node-for-node verification: ${(applied.wallMs / 1000).toFixed(1)} s)`,
    )
  } finally {
    await lab.down()
    rmSync(dir, {recursive: true, force: true})
  }
}

/** Entry for bench/run.ts. */
export async function run(): Promise<void> {
  const [a, b] = [await startZooKeeper({heap: '1g'}), await startZooKeeper({heap: '1g'})]
  try {
    await viaExecutor(a, b)
    await viaApply(a, b)
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}
