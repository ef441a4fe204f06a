/**
 * TiKVUnsafeRecovery at scale (issue 17 item 4): the built-in `tikv-scale` lab (100 stores, 100,000
 * regions x 3 replicas, stores 1-3 failed) brought up in this process, then:
 *
 * 1. lifeboat's gather (PD's stores, then every region through /regions/key paged by 10,240) and
 *    plan in this process, each timed, twice;
 * 2. `lifeboat plan` through the real binary: wall time and peak RSS of that process (GNU time);
 * 3. a same-run baseline: what `pd-ctl region` reads, every region in one GET /pd/api/v1/regions
 *    parsed as JSON, with the ratio of lifeboat's gather to it.
 *
 * The apply end to end is bench/tikv-recovery.bench.ts's. The load average is printed beside each
 * figure. Prints figures; asserts nothing about time.
 */
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {loadSpecForEngine} from '../src/apply/plan-spec.js'
import type {TiKVLiveState} from '../src/engines/tikv/types.js'
import {builtinScenarioDir} from '../src/lab/scenario.js'
import {TikvLab} from '../src/lab/tikv/cluster.js'
import {parseTikvScenario} from '../src/lab/tikv/scenario.js'
import {buildPlan} from '../src/plan/build.js'
import {renderPlanText} from '../src/render/text.js'
import {lifeboat, secs, mb} from './lifeboat-cli.js'

const SCENARIO = 'tikv-scale'
const NOW = '2026-01-01T00:00:00.000Z'

const load = (): string => `load ${loadavg()[0].toFixed(2)}`

/** `pd-ctl region`: every region in one answer. */
async function pdCtlRegions(pd: string): Promise<{count: number; ms: number; bytes: number}> {
  const t0 = performance.now()
  const res = await fetch(`http://${pd}/pd/api/v1/regions`)
  const text = await res.text()
  const body = JSON.parse(text) as {count: number}
  return {count: body.count, ms: performance.now() - t0, bytes: text.length}
}

export async function run(): Promise<void> {
  const path = join(builtinScenarioDir(), `${SCENARIO}.yaml`)
  const scenario = parseTikvScenario(parse(readFileSync(path, 'utf8')), path)
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-tikv-scale-'))
  try {
    const u0 = performance.now()
    const lab = await TikvLab.up(scenario, dir, () => {})
    const upMs = performance.now() - u0
    try {
      console.log(
        `lab ${SCENARIO}: ${scenario.stores} stores, ${scenario.replicas} replicas, stores ${lab.layout.failed_stores.join(', ')} failed; up in ${secs(upMs)} (${load()})`,
      )
      const specPath = lab.writeSpecs()['tikv-unsafe-recovery']
      if (!specPath) throw new Error('the lab wrote no tikv-unsafe-recovery spec')
      const ready = await loadSpecForEngine(specPath, process.env)
      const io = {env: process.env, specDir: ready.dir, progress: () => {}}
      let gatherMs = Number.POSITIVE_INFINITY
      for (let round = 1; round <= 2; round++) {
        const g0 = performance.now()
        const live = (await ready.engine.gather(ready.spec, io)) as TiKVLiveState
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
          `  round ${round}: gather ${secs(g1 - g0)} (${live.regions.length.toLocaleString('en')} regions, ${live.stores.length} stores), ` +
            `planner ${(g2 - g1).toFixed(0)} ms, buildPlan ${(g3 - g2).toFixed(0)} ms, text ${(g4 - g3).toFixed(0)} ms ` +
            `(${plan.primaries.length} force leaders, ${plan.changes.length} changes, ${text.split('\n').length} lines) (${load()})`,
        )
      }

      const cwd = mkdtempSync(join(tmpdir(), 'lifeboat-bench-tikv-scale-cli-'))
      try {
        const r = await lifeboat(['plan', specPath, '--out', join(cwd, 'plan.json')], cwd)
        // A plan with error findings (lost regions without skip_lost_partitions) exits 1 but is saved; both count.
        if (!existsSync(join(cwd, 'plan.json')))
          throw new Error(`lifeboat plan exited ${r.code}: ${r.stderr.trim().slice(-1000)}`)
        console.log(`  lifeboat plan (real binary): ${secs(r.wallMs)}, peak RSS ${mb(r.rssKb)} (${load()})`)
      } finally {
        rmSync(cwd, {recursive: true, force: true})
      }

      const b = await pdCtlRegions(lab.layout.pd)
      console.log(
        `  pd-ctl region (GET /regions, ${b.count.toLocaleString('en')} regions, ${(b.bytes / 2 ** 20).toFixed(0)} MB of JSON): ${secs(b.ms)} (${load()})`,
      )
      console.log(`  ratio lifeboat gather / pd-ctl region: ${(gatherMs / b.ms).toFixed(1)}x`)
      console.log(
        `  peak RSS of this process (lab and in-process gathers): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`,
      )
    } finally {
      await lab.down()
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
