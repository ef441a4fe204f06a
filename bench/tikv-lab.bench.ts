/**
 * TiKV lab at scale: the built-in `tikv-scale` scenario (100 stores, 100,000 regions x 3 replicas,
 * 100,000 rows, stores 1-3 failed) brought up in this process, read over PD's HTTP API, then a full
 * Online Unsafe Recovery (raw POST, `show` polled until Finished) and `lab verify`.
 * Prints the bring-up time, API times, the recovery's stages and time, and the peak RSS.
 */
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse} from 'yaml'

import {builtinScenarioDir} from '../src/lab/scenario.js'
import {TikvLab} from '../src/lab/tikv/cluster.js'
import {parseTikvScenario} from '../src/lab/tikv/scenario.js'
import {scanRegions, verifyTikvRows} from '../src/lab/tikv/verify.js'

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const path = join(builtinScenarioDir(), 'tikv-scale.yaml')
  const scenario = parseTikvScenario(parse(readFileSync(path, 'utf8')), path)
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-tikv-'))
  try {
    const t0 = performance.now()
    const lab = await TikvLab.up(scenario, dir, () => {})
    const upMs = performance.now() - t0
    const pd = `http://${lab.layout.pd}/pd/api/v1`
    const t1 = performance.now()
    const stores = (await (await fetch(`${pd}/stores`)).json()) as {count: number}
    const storesMs = performance.now() - t1
    const t2 = performance.now()
    const regions = await scanRegions(lab.layout.pd)
    const scanMs = performance.now() - t2
    console.log(
      `tikv lab: ${scenario.stores} stores, ${regions.length} regions x ${scenario.replicas} replicas, stores ${lab.layout.failed_stores.join(', ')} failed`,
    )
    console.log(`  bring-up: ${(upMs / 1000).toFixed(2)} s  (target < 30 s)`)
    console.log(
      `  GET stores (${stores.count}): ${storesMs.toFixed(0)} ms; regions/key paged by 10240: ${(scanMs / 1000).toFixed(2)} s`,
    )
    const t4 = performance.now()
    const post = await fetch(`${pd}/admin/unsafe/remove-failed-stores`, {
      method: 'POST',
      body: JSON.stringify({stores: lab.layout.failed_stores}),
    })
    if (post.status !== 200) throw new Error(`remove-failed-stores answered ${post.status}: ${await post.text()}`)
    let show: {info?: string; details?: string[]}[] = []
    for (;;) {
      show = (await (await fetch(`${pd}/admin/unsafe/remove-failed-stores/show`)).json()) as typeof show
      const last = show.at(-1)?.info ?? ''
      if (
        last.startsWith('Unsafe recovery Finished') ||
        last.startsWith('Unsafe recovery Failed') ||
        performance.now() - t4 > 300_000
      )
        break
      await new Promise((r) => setTimeout(r, 200))
    }
    const recMs = performance.now() - t4
    const created = (show.at(-1)?.details ?? []).find((d) => d.startsWith('newly created empty regions: '))
    console.log(
      `  unsafe recovery: ${show.at(-1)?.info} in ${(recMs / 1000).toFixed(2)} s  (target < 60 s); stages ${lab.pd.controller.history.join(' -> ')}`,
    )
    console.log(`    ${created ? created.split(', ').length : 0} empty regions created`)
    const t5 = performance.now()
    let v = await verifyTikvRows(lab.layout)
    for (let i = 0; i < 50 && v.note?.includes(' 0 without a leader') !== true; i++)
      v = await verifyTikvRows(lab.layout)
    console.log(
      `  lab verify: ${v.found} of ${v.total} found in ${((performance.now() - t5) / 1000).toFixed(2)} s (${v.note})`,
    )
    console.log(`  peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`)
    await lab.down()
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}
