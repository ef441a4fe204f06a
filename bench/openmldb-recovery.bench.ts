/**
 * OpenMLDBRecovery (issue 13): one-click data recovery after every tablet restarted, on the
 * OpenMLDB lab, lifeboat's apply beside a baseline that drives the same lab the way
 * `openmldb_ops.py --cmd=recoverdata` does (tools/openmldb_ops.py + tools/tool.py): table by table,
 * CheckTable, then per partition the last replica flagged is_leader, LoadTable and a 2 s poll
 * until kTableNormal, updatetablealive, recovertable of every other replica, then `sleep(1)` and a
 * 2 s poll of showopstatus while any op is kDoing. The baseline spends nothing on starting
 * ns_client processes (the real tool starts one per command), so the ratio is in its favour.
 *
 * Also the plan time (planner + buildPlan) for 1,000 partitions in the restart-all state.
 *
 * The lab scenario is an inline one sized by OPENMLDB_BENCH_TABLES x OPENMLDB_BENCH_PARTITIONS
 * (default 4 x 4: the baseline's fixed sleeps make it ~2 s per partition), or the lab's
 * `openmldb-scale` with OPENMLDB_BENCH_SCENARIO=openmldb-scale (1,024 partitions: the baseline
 * then runs for more than half an hour). Both restarts happen with auto_failover off (the
 * nameserver would otherwise recover restarted tablets itself), which is then turned on again.
 * OPENMLDB_BENCH_BASELINE=skip times lifeboat alone (to profile apply without the long baseline).
 */
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {OpenMLDBClient} from '../src/engines/openmldb/client.js'
import {createOpenMLDBRecoveryEngine} from '../src/engines/openmldb/engine.js'
import {confOf, opsOf, tableStatusOf, tablesOf, tabletStatesOf} from '../src/engines/openmldb/gather.js'
import {planOpenMLDBRecovery} from '../src/engines/openmldb/planner.js'
import {normalizeSpec} from '../src/engines/openmldb/spec.js'
import type {OpenMLDBLiveState, OpenMLDBRecoverySpec, TableFacts} from '../src/engines/openmldb/types.js'
import type {EngineIo} from '../src/engines/types.js'
import {OpenMLDBLab} from '../src/lab/openmldb/cluster.js'
import {parseOpenMLDBScenario, type OpenMLDBScenario} from '../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../src/lab/openmldb/verify.js'
import {startZooKeeper} from '../src/lab/zookeeper/server.js'
import {packageRoot} from '../src/package-root.js'
import {buildPlan} from '../src/plan/build.js'

/**
 * Every tablet killed and started again, the leader nameserver restarted in between, with
 * auto_failover off meanwhile (else the nameserver recovers restarted tablets itself) and on again
 * after; each stage waits on ShowTablet so that no registration races an old session's node.
 */
async function restartEveryTablet(lab: OpenMLDBLab): Promise<void> {
  const client = new OpenMLDBClient({nameservers: lab.layout.nameservers.map((n) => n.endpoint), authorization: 'foo'})
  const states = async (): Promise<string[]> => [...tabletStatesOf(await client.ns('ShowTablet', {})).values()]
  const until = async (what: string, cond: () => Promise<boolean>): Promise<void> => {
    const end = Date.now() + 60_000
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting: ${what}`)
      await sleep(25)
    }
  }
  await lab.fault({type: 'auto-failover', on: false})
  for (const t of lab.layout.tablets) await lab.fault({type: 'kill-tablet', tablet: t.endpoint})
  await until('every tablet kOffline', async () => (await states()).every((s) => s === 'kOffline'))
  await lab.fault({type: 'kill-nameserver'})
  await lab.fault({type: 'start-nameserver'})
  for (const t of lab.layout.tablets) await lab.fault({type: 'start-tablet', tablet: t.endpoint})
  await until('every tablet kHealthy', async () => {
    const s = await states()
    return s.length === lab.layout.tablets.length && s.every((x) => x === 'kHealthy')
  })
  await lab.fault({type: 'auto-failover', on: true})
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const NOW = '2026-01-01T00:00:00.000Z'

/** A restart-all live state with `tables` x `partitions` x 3 replicas over 30 tablets. */
function syntheticLive(tables: number, partitions: number): OpenMLDBLiveState {
  const eps = Array.from({length: 30}, (_, i) => `10.0.${Math.floor(i / 10)}.${i % 10}:10921`)
  let slot = 0
  const facts: TableFacts[] = Array.from({length: tables}, (_, t) => ({
    db: 'bench',
    name: `t${t}`,
    tid: t + 1,
    storage_mode: 'kMemory',
    partitions: Array.from({length: partitions}, (_, pid) => {
      const s = slot++
      return {
        pid,
        replicas: [0, 1, 2].map((r) => ({
          endpoint: eps[(s + r) % eps.length],
          is_leader: r === 0,
          is_alive: true,
          offset: String(100_000 + ((pid * 7 + r * 13) % 50)),
        })),
      }
    }),
  }))
  return {
    nameserver: '10.0.9.9:7527',
    auto_failover: true,
    tablets: eps.map((endpoint) => ({endpoint, state: 'kHealthy', reachable: true, tables: []})),
    tables: facts,
    running_ops: [],
    last_op_id: '0',
  }
}

function planTime(): void {
  const spec = normalizeSpec({
    apiVersion: 'lifeboat/v1',
    kind: 'OpenMLDBRecovery',
    metadata: {name: 'bench'},
    cluster: {name: 'bench', zookeeper: {hosts: '10.0.9.9:2181', root: '/openmldb'}},
    recovery: {},
  } as unknown as OpenMLDBRecoverySpec)
  const live = syntheticLive(10, 100)
  const times: number[] = []
  let steps = 0
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now()
    const body = planOpenMLDBRecovery(spec, live, {now: NOW})
    const plan = buildPlan({
      spec: {kind: spec.kind, name: 'bench', sha256: '0'.repeat(64), source: '', document: {}},
      cluster: {name: 'bench', facts: []},
      body,
      createdAt: NOW,
      toolVersion: 'bench',
    })
    times.push(performance.now() - t0)
    steps = plan.steps.length
  }
  times.sort((a, b) => a - b)
  console.log(
    `plan 1,000 partitions (planner + buildPlan, restart-all state): median ${times[2].toFixed(0)} ms, min ${times[0].toFixed(0)} ms, ${steps} steps`,
  )
}

function scenario(root: string): OpenMLDBScenario {
  const file = join(packageRoot(), 'src', 'lab', 'scenarios', 'openmldb-scale.yaml')
  if (process.env.OPENMLDB_BENCH_SCENARIO === 'openmldb-scale' && existsSync(file))
    return {...parseOpenMLDBScenario(parse(readFileSync(file, 'utf8')), file), zk_root: root, faults: []}
  const tables = Number(process.env.OPENMLDB_BENCH_TABLES ?? 4)
  const partitions = Number(process.env.OPENMLDB_BENCH_PARTITIONS ?? 4)
  return parseOpenMLDBScenario(
    {
      engine: 'openmldb',
      name: 'openmldb-bench',
      nameservers: 2,
      tablets: 6,
      zk_root: root,
      auto_failover: true,
      tables: Array.from({length: tables}, (_, i) => ({
        db: 'bench',
        name: `t${i}`,
        partitions,
        replicas: 3,
        rows: partitions * 20,
      })),
    },
    'inline',
  )
}

/** openmldb_ops.py --cmd=recoverdata, RPC for RPC, with its sleeps. */
async function baseline(client: OpenMLDBClient): Promise<{rpcs: number}> {
  let rpcs = 0
  const ns = async (m: string, b: unknown) => (rpcs++, client.ns(m, b))
  const tablet = async (ep: string, m: string, b: unknown) => (rpcs++, client.tablet(ep, m, b))
  const conf = confOf(await ns('ConfGet', {}))
  if (conf.auto_failover === 'true') await ns('ConfSet', {conf: {key: 'auto_failover', value: 'false'}})
  const tables = tablesOf(await ns('ShowTable', {show_all: true}))
  for (const t of tables) {
    // CheckTable: showtable + gettablestatus of every endpoint.
    const statusOf = async (): Promise<Map<string, Set<string>>> => {
      const out = new Map<string, Set<string>>()
      for (const ep of new Set(t.partitions.flatMap((p) => p.replicas.map((r) => r.endpoint)))) {
        out.set(ep, new Set(tableStatusOf(await tablet(ep, 'GetTableStatus', {})).map((s) => `${s.tid}_${s.pid}`)))
      }
      return out
    }
    const status = await statusOf()
    for (const p of t.partitions) {
      let leader: (typeof p.replicas)[number] | undefined
      for (const r of p.replicas) if (r.is_leader) leader = r
      if (!leader) continue
      if (!status.get(leader.endpoint)?.has(`${t.tid}_${p.pid}`)) {
        await tablet(leader.endpoint, 'LoadTable', {
          table_meta: {name: t.name, tid: t.tid, pid: p.pid, ttl: 0, seg_cnt: 8, storage_mode: t.storage_mode},
        })
        for (;;) {
          const s = tableStatusOf(await tablet(leader.endpoint, 'GetTableStatus', {tid: t.tid, pid: p.pid})).find(
            (x) => x.tid === t.tid && x.pid === p.pid,
          )
          if (s?.state === 'kTableNormal') break
          await sleep(2000)
        }
      }
      if (!leader.is_alive)
        await ns('UpdateTableAliveStatus', {
          name: t.name,
          db: t.db,
          pid: p.pid,
          endpoint: leader.endpoint,
          is_alive: true,
        })
      for (const r of p.replicas) {
        if (r === leader) continue
        if (r.is_alive)
          await ns('UpdateTableAliveStatus', {
            name: t.name,
            db: t.db,
            pid: p.pid,
            endpoint: r.endpoint,
            is_alive: false,
          })
        await ns('RecoverTable', {name: t.name, db: t.db, pid: p.pid, endpoint: r.endpoint})
      }
    }
    await sleep(1000)
    for (;;) {
      const ops = opsOf(await ns('ShowOPStatus', {name: t.name, db: t.db}))
      if (!ops.some((o) => o.status === 'kDoing')) break
      await sleep(2000)
    }
    await statusOf()
  }
  if (conf.auto_failover === 'true') await ns('ConfSet', {conf: {key: 'auto_failover', value: 'true'}})
  return {rpcs}
}

export async function run(): Promise<void> {
  planTime()

  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-openmldb-bench-'))
  const zk = await startZooKeeper({})
  const root = '/openmldb-bench'
  const sc = scenario(root)
  const lab = await OpenMLDBLab.up({
    scenario: sc,
    stateDir: dir,
    zkHosts: zk.connectString,
    log: process.env.OPENMLDB_BENCH_LOG ? (l) => console.log(l) : undefined,
  })
  try {
    const partitions = lab.layout.tables.reduce((n, t) => n + t.partitions, 0)
    console.log(
      `lab ${sc.name}: ${lab.layout.tablets.length} tablets, ${lab.layout.tables.length} tables, ${partitions} partitions`,
    )
    const spec = normalizeSpec({
      apiVersion: 'lifeboat/v1',
      kind: 'OpenMLDBRecovery',
      metadata: {name: 'bench'},
      cluster: {name: 'bench', zookeeper: {hosts: zk.connectString, root}},
      recovery: {auto_failover: true},
    } as unknown as OpenMLDBRecoverySpec)
    const engine = createOpenMLDBRecoveryEngine({pollMs: 50})
    const io: EngineIo = {env: {}, specDir: dir, progress: () => {}}

    await restartEveryTablet(lab)
    const t0 = performance.now()
    const live = await engine.gather(spec, io)
    const body = engine.plan(spec, live, {now: NOW})
    const tPlan = performance.now() - t0
    const ctx = await engine.connect(spec, io)
    const stepTimes: string[] = []
    for (const step of body.steps) {
      const s0 = performance.now()
      if (!(await engine.steps[step.kind].isDone(ctx, step))) await engine.steps[step.kind].run(ctx, step, () => {})
      stepTimes.push(`${step.id} ${(performance.now() - s0).toFixed(0)} ms`)
    }
    const tApply = performance.now() - t0
    console.log(`  steps: ${stepTimes.join(', ')}`)
    const rowsA = await verifyOpenMLDBRows(lab.layout)
    console.log(
      `lifeboat: gather + plan ${tPlan.toFixed(0)} ms, apply (incl. verify step) ${tApply.toFixed(0)} ms; lab verify ${rowsA.found} of ${rowsA.total} found`,
    )

    if (process.env.OPENMLDB_BENCH_BASELINE === 'skip') {
      console.log('openmldb_ops.py-style baseline skipped (OPENMLDB_BENCH_BASELINE=skip)')
      return
    }
    await restartEveryTablet(lab)
    const b0 = performance.now()
    const {rpcs} = await baseline(ctx.client)
    const tBase = performance.now() - b0
    const rowsB = await verifyOpenMLDBRows(lab.layout)
    console.log(
      `openmldb_ops.py-style baseline: ${tBase.toFixed(0)} ms, ${rpcs} RPCs; lab verify ${rowsB.found} of ${rowsB.total} found`,
    )
    console.log(`ratio baseline / lifeboat apply: ${(tBase / tApply).toFixed(1)}x (target >= 20x)`)
  } finally {
    await lab.down()
    await zk.stop()
    rmSync(dir, {recursive: true, force: true})
  }
}
