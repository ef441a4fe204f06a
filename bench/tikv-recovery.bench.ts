/**
 * TiKVUnsafeRecovery at scale (issue 15).
 *
 * 1. The pure planner on 100,000 regions over 100 stores (3 replicas, placed round-robin so that
 *    every pair of stores shares regions), two stores failed: the time of planUnsafeRecovery, of
 *    buildPlan (canonical JSON and digest) and of the text rendering, and the process's peak RSS.
 * 2. Where the TiKV lab is built in (`tikv-scale`, 100,000 regions): `lifeboat plan` through the
 *    real binary against the lab's PD (gather over HTTP, paged regions, plan, render), and
 *    `lifeboat apply` end to end, with the wall time and peak RSS of each process.
 * Prints figures; asserts nothing about time.
 */
import {createHash} from 'node:crypto'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse, stringify} from 'yaml'

import {planUnsafeRecovery} from '../src/engines/tikv/planner.js'
import {tikvClusterIdentity} from '../src/engines/tikv/spec.js'
import type {RegionFacts, StoreFacts, TiKVLiveState, TiKVSpec} from '../src/engines/tikv/types.js'
import {buildPlan} from '../src/plan/build.js'
import {renderPlanText} from '../src/render/text.js'
import {lifeboat, secs, mb} from './lifeboat-cli.js'

const REGIONS = 100_000
const STORES = 100

function hexKey(table: number, handle: number): string {
  // Memcomparable `t{table}_r{handle}`: 19 raw bytes in three 8-byte groups.
  const raw = Buffer.alloc(19)
  raw[0] = 0x74
  raw.writeBigUInt64BE(BigInt(table) ^ 0x8000000000000000n, 1)
  raw[9] = 0x5f
  raw[10] = 0x72
  raw.writeBigUInt64BE(BigInt(handle) ^ 0x8000000000000000n, 11)
  const out: number[] = []
  for (let i = 0; i <= raw.length; i += 8) {
    const g = [...raw.subarray(i, i + 8)]
    const pad = 8 - g.length
    out.push(...g, ...Array<number>(pad).fill(0), 0xff - pad)
  }
  return Buffer.from(out).toString('hex').toUpperCase()
}

export function syntheticLive(): TiKVLiveState {
  const stores: StoreFacts[] = []
  for (let s = 1; s <= STORES; s++)
    stores.push({
      id: String(s),
      address: `10.0.${Math.floor(s / 250)}.${s % 250}:20160`,
      state_name: s <= 2 ? 'Disconnected' : 'Up',
      engine: 'tikv',
      tiflash_compute: false,
      physically_destroyed: false,
    })
  const regions: RegionFacts[] = []
  const keys: string[] = ['']
  for (let i = 1; i < REGIONS; i++) keys.push(hexKey(100 + Math.floor(i / 1000), (i % 1000) * 1000))
  keys.push('')
  for (let i = 0; i < REGIONS; i++) {
    // Stores a, a+1+k, ... so that stores 1 and 2 share a few hundred regions with a third store.
    const a = i % STORES
    const b = (a + 1 + (Math.floor(i / STORES) % (STORES - 1))) % STORES
    let c = (b + 1) % STORES
    if (c === a) c = (c + 1) % STORES
    const ids = [a + 1, b + 1, c + 1].sort((x, y) => x - y)
    const id = 1000 + i
    regions.push({
      id: String(id),
      start_key: keys[i],
      end_key: keys[i + 1],
      epoch: {conf_ver: '5', version: '10'},
      peers: ids.map((s) => ({
        id: String(id * 1000 + s),
        store_id: String(s),
        role: 'Voter' as const,
        pending: false,
        down: false,
      })),
      leader_store: String(ids[0]),
      approximate_size: 96,
      approximate_keys: 1000,
    })
  }
  return {
    pd: {endpoint: '127.0.0.1:2379', members: ['pd-1'], leader: 'pd-1', version: '8.5.0'},
    stores,
    regions,
    schedule: {halt_scheduling: false, max_store_down_time: '30m0s'},
    recovery: {state: 'idle', info: 'No on-going recovery.'},
  }
}

const spec: TiKVSpec = {
  apiVersion: 'lifeboat/v1',
  kind: 'TiKVUnsafeRecovery',
  metadata: {name: 'bench'},
  cluster: {name: 'bench', pd: ['127.0.0.1:2379']},
  recovery: {failed_stores: ['1', '2'], auto_detect: false, timeout_seconds: 300, skip_lost_partitions: true},
}

export async function run(): Promise<void> {
  let peak = process.memoryUsage().rss
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20)
  const live = syntheticLive()
  const t0 = performance.now()
  const body = planUnsafeRecovery(spec, live, {now: '2026-01-01T00:00:00.000Z'})
  const t1 = performance.now()
  const source = JSON.stringify(spec)
  const plan = buildPlan({
    spec: {
      kind: spec.kind,
      name: 'bench',
      sha256: createHash('sha256').update(source).digest('hex'),
      source,
      document: spec as unknown as Record<string, unknown>,
    },
    cluster: tikvClusterIdentity(spec),
    body,
    createdAt: '2026-01-01T00:00:00.000Z',
    toolVersion: 'bench',
  })
  const t2 = performance.now()
  const text = renderPlanText(plan, {color: false, width: 100})
  const t3 = performance.now()
  clearInterval(sampler)
  peak = Math.max(peak, process.memoryUsage().rss)
  console.log(`planner, ${REGIONS.toLocaleString('en')} regions over ${STORES} stores, stores 1 and 2 failed:`)
  console.log(
    `  regions without quorum: ${body.observed.summary['regions without quorum']}, force leaders: ${plan.primaries.length}, changes: ${plan.changes.length}`,
  )
  console.log(
    `  planUnsafeRecovery ${(t1 - t0).toFixed(0)} ms, buildPlan ${(t2 - t1).toFixed(0)} ms, text render ${(t3 - t2).toFixed(0)} ms (${text.split('\n').length} lines); peak RSS ${(peak / 2 ** 20).toFixed(0)} MB`,
  )
  await runLabPart()
}

/**
 * Part 2: the built-in `tikv-scale` lab (100 stores, 100,000 regions, stores 1-3 failed) through the
 * real binary: `lab up`, `plan` (gather over PD's HTTP API with paged regions, plan, render), then
 * `apply` end to end (POST, follow, verify) and `lab verify`.
 */
async function runLabPart(): Promise<void> {
  const cwd = mkdtempSync(join(tmpdir(), 'lifeboat-bench-tikv-'))
  const state = join(cwd, 'lab')
  const ok = async (args: string[]): Promise<Awaited<ReturnType<typeof lifeboat>>> => {
    const r = await lifeboat(args, cwd)
    if (r.code !== 0)
      throw new Error(
        `lifeboat ${args.join(' ')} exited ${r.code}: ${(r.stderr.trim() || r.stdout.trim()).slice(-2000)}`,
      )
    return r
  }
  try {
    const up = await ok(['lab', 'up', 'tikv-scale', '--detach', '--json', '--state-dir', state])
    console.log(`lab tikv-scale up in ${secs(up.wallMs)}`)
    const written = (JSON.parse(up.stdout) as {specs: Record<string, string>}).specs['tikv-unsafe-recovery']
    const doc = parse(readFileSync(written, 'utf8')) as {recovery: Record<string, unknown>}
    writeFileSync(
      join(cwd, 'spec.yaml'),
      stringify({...doc, recovery: {...doc.recovery, skip_lost_partitions: true, timeout_seconds: 600}}),
    )
    const plan = await ok(['plan', 'spec.yaml', '--out', 'plan.json'])
    const body = JSON.parse(readFileSync(join(cwd, 'plan.json'), 'utf8')) as {
      primaries: unknown[]
      changes: Array<{action: string}>
      observed: {summary: Record<string, unknown>}
    }
    console.log(
      `plan (gather ${body.observed.summary.regions} regions from PD, plan, render): ${secs(plan.wallMs)}, peak RSS ${mb(plan.rssKb)}; ` +
        `${body.primaries.length} force leaders, ${body.changes.filter((c) => c.action === 'create').length} empty regions`,
    )
    const apply = await ok(['apply', 'plan.json', '--auto-approve', '--allow-data-loss'])
    console.log(
      `apply end to end (re-plan, POST, follow the stages, verify): ${secs(apply.wallMs)}, peak RSS ${mb(apply.rssKb)}`,
    )
    const verify = await lifeboat(['lab', 'verify', '--state-dir', state], cwd)
    console.log(`lab verify: ${/^\d+ of \d+ found/m.exec(verify.stdout)?.[0] ?? verify.stdout.trim().split('\n')[0]}`)
  } finally {
    await lifeboat(['lab', 'down', '--state-dir', state], cwd)
    rmSync(cwd, {recursive: true, force: true})
  }
}
