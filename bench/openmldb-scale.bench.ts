/**
 * OpenMLDBRecovery at scale (issue 17 item 4): the built-in `openmldb-scale-tables` lab (2
 * nameservers, 20 tablets, 1,000 tables x 8 partitions x 3 replicas, tablet7 down, auto_failover
 * off) brought up in this process, then:
 *
 * 1. lifeboat's gather (ShowTablet, ShowTable, ConfGet, ShowOPStatus, GetTableStatus of every
 *    tablet) and plan in this process, each timed, twice;
 * 2. `lifeboat plan` through the real binary: wall time and peak RSS of that process (GNU time);
 * 3. a same-run baseline: the reads openmldb_ops.py's table check makes (tools/tool.py CheckTable:
 *    per table, ShowTable of that table, then GetTableStatus of every endpoint holding it), timed on
 *    the first BASELINE_TABLES tables and projected linearly to all of them (the whole run would
 *    read every tablet's status about 15,000 times), with the ratio to lifeboat's gather.
 *
 * The load average is printed beside each figure. Prints figures; asserts nothing about time.
 */
import {mkdtempSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import {loadSpecForEngine} from '../src/apply/plan-spec.js'
import {OpenMLDBClient} from '../src/engines/openmldb/client.js'
import {tableStatusOf, tablesOf} from '../src/engines/openmldb/gather.js'
import type {OpenMLDBLiveState} from '../src/engines/openmldb/types.js'
import {OpenMLDBLab} from '../src/lab/openmldb/cluster.js'
import type {OpenMLDBScenario} from '../src/lab/openmldb/scenario.js'
import {loadScenario} from '../src/lab/scenario.js'
import {startZooKeeper} from '../src/lab/zookeeper/server.js'
import {buildPlan} from '../src/plan/build.js'
import {renderPlanText} from '../src/render/text.js'
import {lifeboat, secs, mb} from './lifeboat-cli.js'

const SCENARIO = 'openmldb-scale-tables'
const BASELINE_TABLES = Number(process.env.OPENMLDB_SCALE_BASELINE_TABLES ?? 25)
const NOW = '2026-01-01T00:00:00.000Z'

const load = (): string => `load ${loadavg()[0].toFixed(2)}`

/** openmldb_ops.py's table check on the first `n` tables: ShowTable of the table, GetTableStatus of each of its endpoints. */
async function baselineReads(client: OpenMLDBClient, n: number): Promise<{tables: number; rpcs: number; ms: number}> {
  let rpcs = 1
  const t0 = performance.now()
  const all = tablesOf(await client.ns('ShowTable', {show_all: true}))
  const some = all.slice(0, n)
  for (const t of some) {
    rpcs++
    const [info] = tablesOf(await client.ns('ShowTable', {name: t.name, db: t.db}))
    for (const ep of [...new Set((info ?? t).partitions.flatMap((p) => p.replicas.map((r) => r.endpoint)))].sort()) {
      rpcs++
      try {
        tableStatusOf(await client.tablet(ep, 'GetTableStatus', {}))
      } catch {
        // The killed tablet does not answer; the tool reports it and goes on.
      }
    }
  }
  return {tables: some.length, rpcs, ms: performance.now() - t0}
}

export async function run(): Promise<void> {
  const {scenario} = loadScenario<OpenMLDBScenario>(SCENARIO)
  const zk = await startZooKeeper({heap: '1g'})
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-openmldb-scale-'))
  try {
    const u0 = performance.now()
    const lab = await OpenMLDBLab.up({scenario, stateDir: dir, zkHosts: zk.connectString})
    const upMs = performance.now() - u0
    const partitions = lab.layout.tables.reduce((n, t) => n + t.partitions, 0)
    console.log(
      `lab ${SCENARIO}: ${lab.layout.tablets.length} tablets, ${lab.layout.tables.length.toLocaleString('en')} tables, ${partitions.toLocaleString('en')} partitions x 3 replicas; up in ${secs(upMs)} (${load()})`,
    )
    try {
      const specPath = lab.writeSpecs()[`${SCENARIO}-recover`]
      if (!specPath) throw new Error(`the lab wrote no ${SCENARIO}-recover spec`)
      const ready = await loadSpecForEngine(specPath, process.env)
      const io = {env: process.env, specDir: ready.dir, progress: () => {}}
      let gatherMs = Number.POSITIVE_INFINITY
      for (let round = 1; round <= 2; round++) {
        const g0 = performance.now()
        const live = (await ready.engine.gather(ready.spec, io)) as OpenMLDBLiveState
        const g1 = performance.now()
        const body = ready.engine.plan(ready.spec, live, {now: NOW})
        const g2 = performance.now()
        const plan = buildPlan({
          spec: ready.planSpec,
          cluster: ready.engine.cluster(ready.spec),
          body,
          createdAt: NOW,
          toolVersion: 'bench',
        })
        const g3 = performance.now()
        const text = renderPlanText(plan, {color: false, width: 100})
        const g4 = performance.now()
        gatherMs = Math.min(gatherMs, g1 - g0)
        console.log(
          `  round ${round}: gather ${secs(g1 - g0)} (${live.tables.length} tables, ${live.tablets.length} tablets), ` +
            `planner ${(g2 - g1).toFixed(0)} ms, buildPlan ${(g3 - g2).toFixed(0)} ms, text ${(g4 - g3).toFixed(0)} ms ` +
            `(${plan.steps.length} steps, ${plan.changes.length} changes, ${text.split('\n').length} lines) (${load()})`,
        )
      }

      const cwd = mkdtempSync(join(tmpdir(), 'lifeboat-bench-openmldb-scale-cli-'))
      try {
        const r = await lifeboat(['plan', specPath, '--out', join(cwd, 'plan.json')], cwd)
        if (r.code !== 0) throw new Error(`lifeboat plan exited ${r.code}: ${r.stderr.trim().slice(-1000)}`)
        console.log(`  lifeboat plan (real binary): ${secs(r.wallMs)}, peak RSS ${mb(r.rssKb)} (${load()})`)
      } finally {
        rmSync(cwd, {recursive: true, force: true})
      }

      const client = new OpenMLDBClient({
        nameservers: lab.layout.nameservers.map((n) => n.endpoint),
        authorization: 'foo',
      })
      const b = await baselineReads(client, BASELINE_TABLES)
      const projected = (b.ms / b.tables) * lab.layout.tables.length
      console.log(
        `  openmldb_ops.py-style table check: ${b.tables} tables in ${secs(b.ms)} (${b.rpcs} RPCs); projected to ${lab.layout.tables.length} tables: ${secs(projected)} (${load()})`,
      )
      console.log(`  ratio projected baseline / lifeboat gather: ${(projected / gatherMs).toFixed(0)}x`)
      console.log(
        `  peak RSS of this process (lab and in-process gathers): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
      )
    } finally {
      await lab.down()
    }
  } finally {
    await zk.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}
