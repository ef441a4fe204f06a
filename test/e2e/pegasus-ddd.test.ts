// PegasusDddRecovery end to end (issue 6): a Pegasus lab on the suite's real ZooKeeper, partitions
// driven into each of the partition guardian's DDD cases with `lab fault ddd`, then plan, apply and
// `lab verify` through the real binary, over the real wire protocol.
//
// Every expectation below is computed here, by hand, from the decrees this file sets up: which node
// Pegasus's rules pick, the guardian's reason, and the rows a client can read afterwards (a replica
// taking the primary role commits what it had prepared, so a recovered partition serves
// min(rows written, the chosen replica's last prepared decree) rows). The plan is also compared with
// the engine's own diagnose_recommend applied to the raw ddd_diagnose answer of the lab's meta.
import {randomUUID} from 'node:crypto'
import {existsSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {MetaClient} from '../../src/engines/pegasus/client/meta-client.js'
import {diagnoseRecommend} from '../../src/engines/pegasus/ddd/planner-recommend.js'
import type {DddPartitionFacts} from '../../src/engines/pegasus/ddd/types.js'
import {configFacts, nodeName} from '../../src/engines/pegasus/ddd/gather.js'
import {connectZk} from '../../src/zk/index.js'

import {expectExit, lifeboat, tempDir, type CliResult} from './helpers.js'

async function ok(args: string[], cwd: string): Promise<CliResult> {
  return expectExit(await lifeboat(args, {cwd}), 0)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

// ---------------------------------------------------------------- the cluster and its faults

const NODES = 10
const PARTITIONS = 8
const ROWS = 8000
/** Rows of partition p, as the lab spreads them (the first ROWS mod n get one more). */
const rowsOf = (p: number): number => Math.floor(ROWS / PARTITIONS) + (p < ROWS % PARTITIONS ? 1 : 0)

/** Partition p sits on replica(p+1), replica(p+2), replica(p+3): the drops below are its own members. */
interface Case {
  gpid: string
  what: string
  drops: [string, string, string]
  /** NODE -> [ballot, last committed, last prepared] */
  decrees: Record<string, [number, number, number]>
  missing?: string[]
  dead?: string
  configLcd?: number
  /** The guardian's reason, or null when the guardian assigns a primary by itself (not DDD). */
  reason: (addr: (n: string) => string) => string | null
  /** The primary the shell's diagnose_recommend picks (null: none); for the guardian's own pick, that node. */
  recommend: string | null
  /** With `undecided: max_last_prepared`: the alive node with the largest last_prepared (null: none). */
  maxLastPrepared: string | null
}

const CASES: Case[] = [
  {
    gpid: '1.0',
    what: 'both last drops alive and consistent: the guardian assigns the larger ballot itself',
    drops: ['replica1', 'replica2', 'replica3'],
    decrees: {replica1: [3, 980, 980], replica2: [4, 990, 995], replica3: [5, 990, 990]},
    reason: () => null,
    recommend: 'replica3',
    maxLastPrepared: null,
  },
  {
    gpid: '1.1',
    what: "both last drops alive and consistent, but the meta's committed decree is ahead of them",
    drops: ['replica2', 'replica3', 'replica4'],
    decrees: {replica2: [3, 900, 900], replica3: [4, 950, 960], replica4: [5, 950, 955]},
    configLcd: 5000,
    reason: () => '',
    recommend: null,
    maxLastPrepared: 'replica3',
  },
  {
    gpid: '1.2',
    what: 'the latest drop has the larger ballot but the smaller committed decree',
    drops: ['replica3', 'replica4', 'replica5'],
    decrees: {replica3: [4, 700, 700], replica4: [5, 900, 920], replica5: [6, 800, 950]},
    reason: () => 'for the last two drops, the node with larger ballot has smaller last committed decree',
    recommend: 'replica4',
    maxLastPrepared: null,
  },
  {
    gpid: '1.3',
    what: 'no replica info collected from the last two drops (their replicas are gone)',
    drops: ['replica4', 'replica5', 'replica6'],
    decrees: {replica4: [3, 640, 660]},
    missing: ['replica5', 'replica6'],
    reason: () => 'no replica info collected from the last two drops',
    recommend: null,
    maxLastPrepared: 'replica4',
  },
  {
    gpid: '1.4',
    what: "consistent last drops behind the meta's committed decree (the override target)",
    drops: ['replica5', 'replica6', 'replica7'],
    decrees: {replica5: [3, 500, 500], replica6: [4, 800, 800], replica7: [5, 800, 800]},
    configLcd: 1500,
    reason: () => '',
    recommend: null,
    maxLastPrepared: 'replica6',
  },
  {
    gpid: '1.7',
    what: 'the latest drop is dead',
    drops: ['replica8', 'replica9', 'replica10'],
    decrees: {replica8: [4, 600, 600], replica9: [5, 850, 870]},
    dead: 'replica10',
    reason: (addr) => `the last dropped node(${addr('replica10')}) hasn't come back yet`,
    recommend: 'replica9',
    maxLastPrepared: null,
  },
]
/** The override of the lossy phase: an older drop than Pegasus (or the guide) would take. */
const OVERRIDE = {gpid: '1.4', node: 'replica5'}
/** Whether the guardian reports the case as DDD (it assigns the others itself). */
const inDdd = (c: Case): boolean => c.reason(() => '') !== null

/** Rows readable in partition `gpid` once `node` serves it: it commits what it had prepared. */
function rowsServedBy(c: Case, node: string): number {
  const p = Number(c.gpid.split('.')[1])
  const d = c.decrees[node]
  return d === undefined ? rowsOf(p) : Math.min(rowsOf(p), d[2])
}

/** The rows `lab verify` must find when `served` maps DDD gpids to the node serving them. */
function expectedRows(served: Record<string, string>): number {
  let total = 0
  for (let p = 0; p < PARTITIONS; p++) {
    const c = CASES.find((x) => x.gpid === `1.${p}`)
    if (c === undefined) total += rowsOf(p)
    else if (served[c.gpid] !== undefined) total += rowsServedBy(c, served[c.gpid])
  }
  return total
}

/** The rows each partition must miss when `served` maps DDD gpids to the node serving them (0s left out). */
function expectedMissing(served: Record<string, string>): Record<string, number> {
  const out: Record<string, number> = {}
  for (let p = 0; p < PARTITIONS; p++) {
    const c = CASES.find((x) => x.gpid === `1.${p}`)
    const readable = c === undefined ? rowsOf(p) : served[c.gpid] !== undefined ? rowsServedBy(c, served[c.gpid]) : 0
    if (readable < rowsOf(p)) out[`1.${p}`] = rowsOf(p) - readable
  }
  return out
}

// ---------------------------------------------------------------- the lab

const zk = inject('zookeeper')
const id = randomUUID().slice(0, 8)
const cluster = `ddd-e2e-${id}`
let work: string
let stateDir: string
let specPath: string
let addresses: string[]
let meta: MetaClient
const addr = (name: string): string => addresses[Number(name.replace('replica', '')) - 1]
const nameOf = (address: string): string => `replica${addresses.indexOf(address) + 1}`

interface PlanFile {
  applyable: boolean
  primaries: {partition: string; after: string; risk: string; reason: string; atStake?: string}[]
  steps: {id: string; kind: string; risk: string; params: Record<string, unknown>}[]
  findings: {code: string; severity: string; subject?: string; message: string}[]
}
const readPlan = (path: string): PlanFile => JSON.parse(readFileSync(path, 'utf8')) as PlanFile

async function configs(pidx: number[]): Promise<Map<string, ReturnType<typeof configFacts>>> {
  const r = await meta.queryPartitionConfigByIndex('temp', pidx)
  expect(r.err).toBe('ERR_OK')
  return new Map(r.partitions.map((pc) => [pc.pid, configFacts(pc)]))
}

/** The partition nodes in ZooKeeper, as the meta persisted them. */
async function zkPartitions(pidx: number[]): Promise<Record<string, string>> {
  const client = await connectZk({hosts: zk})
  try {
    const out: Record<string, string> = {}
    for (const p of pidx) out[`1.${p}`] = (await client.get(`/pegasus/${cluster}/apps/1/${p}`)).data.toString('utf8')
    return out
  } finally {
    await client.close()
  }
}

async function labVerify(): Promise<number> {
  return (await labVerifyJson()).found
}

/** `lab verify --json`: every row read back with a get from its partition's primary over THFT. */
async function labVerifyJson(): Promise<{found: number; tables: {missing?: {pid: string; missing: number}[]}[]}> {
  const r = await lifeboat(['lab', 'verify', '--state-dir', stateDir, '--json'], {cwd: work})
  return JSON.parse(r.stdout) as {found: number; tables: {missing?: {pid: string; missing: number}[]}[]}
}

/** The rows the gets missed, by partition. */
async function missingByPartition(): Promise<Record<string, number>> {
  const v = await labVerifyJson()
  return Object.fromEntries((v.tables[0].missing ?? []).map((m) => [m.pid, m.missing]))
}

async function auditRuns(): Promise<Map<string, string[]>> {
  const runs = new Map<string, string[]>()
  const path = join(work, '.lifeboat', 'audit.jsonl')
  if (!existsSync(path)) return runs
  for (const line of readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')) {
    const rec = JSON.parse(line) as {run: string; event: string}
    runs.set(rec.run, [...(runs.get(rec.run) ?? []), rec.event])
  }
  return runs
}

beforeAll(async () => {
  work = tempDir('lifeboat-ddd-e2e-')
  stateDir = join(work, 'lab')
  const scenario = join(work, 'scenario.yaml')
  writeFileSync(
    scenario,
    stringify({
      engine: 'pegasus',
      name: cluster,
      replica_servers: NODES,
      meta: {lb_interval_ms: 300},
      tables: [{name: 'temp', partitions: PARTITIONS, replicas: 3, rows: ROWS}],
    }),
  )
  const up = await ok(['lab', 'up', scenario, '--detach', '--zk', zk, '--state-dir', stateDir, '--json'], work)
  const info = JSON.parse(up.stdout) as {
    meta_servers: string[]
    replica_servers: string[]
    specs: Record<string, string>
  }
  addresses = info.replica_servers
  specPath = info.specs['pegasus-ddd-recovery']
  meta = new MetaClient({metaServers: info.meta_servers})
  expect(await labVerify()).toBe(ROWS)

  // The dead node last: it must not change the other partitions' cases.
  for (const c of [...CASES].sort((a, b) => Number(a.dead !== undefined) - Number(b.dead !== undefined))) {
    const args = ['lab', 'fault', 'ddd', c.gpid, '--drops', c.drops.join(','), '--state-dir', stateDir]
    for (const [node, [b, lcd, lpd]] of Object.entries(c.decrees)) args.push('--decrees', `${node}=${b}:${lcd}:${lpd}`)
    for (const m of c.missing ?? []) args.push('--missing', m)
    if (c.dead) args.push('--dead', c.dead)
    if (c.configLcd !== undefined) args.push('--config-lcd', String(c.configLcd))
    await ok(args, work)
  }
  // Wait for the guardian's checks: the DDD list complete, and its own pick in place.
  const ddd = CASES.filter((c) => inDdd(c))
    .map((c) => c.gpid)
    .sort()
  for (;;) {
    const diag = await meta.dddDiagnose('-1.-1')
    const listed = diag.partitions.map((p) => p.config.pid).sort()
    const cfg = await configs([0])
    if (JSON.stringify(listed) === JSON.stringify(ddd) && cfg.get('1.0')?.primary) break
    await sleep(200)
  }
})

afterAll(async () => {
  meta?.close()
  if (stateDir) await lifeboat(['lab', 'down', '--state-dir', stateDir], {cwd: work})
  if (work) rmSync(work, {recursive: true, force: true})
})

// ---------------------------------------------------------------- the journey

describe('PegasusDddRecovery against the lab', () => {
  const undecided = CASES.filter((c) => inDdd(c) && c.recommend === null).map((c) => c.gpid)
  const decided = CASES.filter((c) => inDdd(c) && c.recommend !== null)
  let before: {configs: Map<string, unknown>; zk: Record<string, string>}

  it("the lab's guardian reports each case with Pegasus's reason, and assigns the consistent case itself", async () => {
    const diag = await meta.dddDiagnose('-1.-1')
    expect(diag.err).toBe('ERR_OK')
    const reasons = Object.fromEntries(diag.partitions.map((p) => [p.config.pid, p.reason]))
    const expected = Object.fromEntries(CASES.filter((c) => inDdd(c)).map((c) => [c.gpid, c.reason(addr)]))
    expect(reasons).toEqual(expected)
    // The guardian's own pick for consistent drops: the larger ballot.
    expect((await configs([0])).get('1.0')?.primary).toBe(addr('replica3'))
  })

  it("plans each DDD partition with Pegasus's recommendation: the engine's rule on the lab's ddd_diagnose and the hand-computed pick agree", async () => {
    const diag = await meta.dddDiagnose('-1.-1')
    before = {
      configs: await configs(undecided.map((g) => Number(g.split('.')[1]))),
      zk: await zkPartitions(undecided.map((g) => Number(g.split('.')[1]))),
    }
    await ok(['plan', specPath, '--out', join(work, 'plan.json')], work)
    const plan = readPlan(join(work, 'plan.json'))
    expect(plan.applyable).toBe(true)

    for (const c of CASES.filter((x) => inDdd(x))) {
      const raw = diag.partitions.find((p) => p.config.pid === c.gpid)!
      const facts: DddPartitionFacts = {
        config: configFacts(raw.config),
        dropped: raw.dropped.map((d) => ({
          node: nodeName(d.node, d.hp_node),
          drop_time_ms: d.drop_time_ms,
          is_alive: d.is_alive,
          is_collected: d.is_collected,
          ballot: d.ballot,
          last_committed_decree: d.last_committed_decree,
          last_prepared_decree: d.last_prepared_decree,
        })),
        reason: raw.reason,
      }
      const engineRule = diagnoseRecommend(facts).node
      const byHand = c.recommend === null ? null : addr(c.recommend)
      expect({gpid: c.gpid, engineRule}).toEqual({gpid: c.gpid, engineRule: byHand})
      const planned = plan.primaries.find((p) => p.partition === c.gpid)
      expect({gpid: c.gpid, after: planned?.after ?? null}).toEqual({gpid: c.gpid, after: byHand})
      const diagnosis = plan.findings.find((f) => f.code === 'PEGASUS_DDD_DIAGNOSIS' && f.subject === c.gpid)?.message
      expect(diagnosis).toContain(`ddd_reason: ${c.reason(addr)};`)
      expect(diagnosis).toContain(`recommend_primary: ${byHand ?? 'none'}`)
      if (planned) {
        expect(planned.risk).toBe('disruptive')
        expect(planned.reason).toMatch(/^Pegasus's diagnose_recommend: /)
      }
    }
    expect(plan.primaries.map((p) => p.partition).sort()).toEqual(decided.map((c) => c.gpid).sort())
    const untouched = plan.steps.find((s) => s.kind === 'pegasus.ddd.verify')?.params.untouched
    expect(untouched).toEqual(undecided)
    expect(plan.findings.filter((f) => f.code === 'PEGASUS_DDD_UNDECIDED').map((f) => f.subject)).toEqual(undecided)
    expect(plan.steps.map((s) => s.kind)).toEqual([
      ...decided.map(() => 'pegasus.ddd.propose-primary'),
      'pegasus.ddd.wait-primaries',
      'pegasus.ddd.verify',
    ])
  })

  it('apply brings every decided partition back to readable and leaves the undecided ones untouched', async () => {
    const r = await ok(['apply', join(work, 'plan.json'), '--auto-approve'], work)
    expect(r.stdout).toContain(`Proposed count: ${decided.length}/${decided.length}`)
    const now = await configs(CASES.map((c) => Number(c.gpid.split('.')[1])))
    for (const c of decided)
      expect({gpid: c.gpid, primary: now.get(c.gpid)?.primary}).toEqual({gpid: c.gpid, primary: addr(c.recommend!)})
    // Undecided: byte-identical partition nodes in ZooKeeper, and the same configuration from the meta.
    const idx = undecided.map((g) => Number(g.split('.')[1]))
    expect(await zkPartitions(idx)).toEqual(before.zk)
    expect(await configs(idx)).toEqual(before.configs)

    const served = Object.fromEntries([['1.0', 'replica3'], ...decided.map((c) => [c.gpid, c.recommend!])])
    const rows = expectedRows(served)
    expect(rows).toBe(990 + 920 + 870 + 2 * 1000)
    expect(await labVerify()).toBe(rows)
    // Partition by partition, the gets miss exactly the decrees the chosen replicas did not hold.
    expect(await missingByPartition()).toEqual(expectedMissing(served))
    await ok(['audit', 'verify'], work)
  })

  it('max_last_prepared and an override are lossy: refused without --allow-data-loss (exit 4, nothing proposed), applied with it', async () => {
    const spec = parse(readFileSync(specPath, 'utf8')) as {recovery: Record<string, unknown>}
    spec.recovery.undecided = 'max_last_prepared'
    spec.recovery.primaries = {[OVERRIDE.gpid]: addr(OVERRIDE.node)}
    const lossySpec = join(work, 'lossy.yaml')
    writeFileSync(lossySpec, stringify(spec))
    const planPath = join(work, 'lossy-plan.json')
    await ok(['plan', lossySpec, '--out', planPath], work)
    const plan = readPlan(planPath)
    const choice: Record<string, string> = {}
    for (const gpid of undecided) {
      const c = CASES.find((x) => x.gpid === gpid)!
      choice[gpid] = gpid === OVERRIDE.gpid ? OVERRIDE.node : c.maxLastPrepared!
    }
    expect(Object.fromEntries(plan.primaries.map((p) => [p.partition, [nameOf(p.after), p.risk]]))).toEqual(
      Object.fromEntries(Object.entries(choice).map(([g, n]) => [g, [n, 'lossy']])),
    )
    for (const p of plan.primaries) expect(p.atStake ?? '').not.toBe('')
    expect(plan.steps.filter((s) => s.kind === 'pegasus.ddd.propose-primary').every((s) => s.risk === 'lossy')).toBe(
      true,
    )

    const idx = undecided.map((g) => Number(g.split('.')[1]))
    const runsBefore = new Set((await auditRuns()).keys())
    const refused = await lifeboat(['apply', planPath, '--auto-approve'], {cwd: work})
    expect(refused.code).toBe(4)
    expect(refused.stderr).toContain('--allow-data-loss')
    expect(refused.stderr).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/)
    const newRuns = [...(await auditRuns()).entries()].filter(([run]) => !runsBefore.has(run))
    expect(newRuns).toHaveLength(1)
    expect(newRuns[0][1]).toContain('gate.refused')
    expect(newRuns[0][1]).not.toContain('step.started')
    // A proposal would be executed at the meta's next check (every 300 ms here): let a few pass.
    await sleep(1500)
    expect(await zkPartitions(idx)).toEqual(before.zk)
    expect(await configs(idx)).toEqual(before.configs)

    await ok(['apply', planPath, '--auto-approve', '--allow-data-loss'], work)
    const now = await configs(idx)
    for (const [gpid, node] of Object.entries(choice))
      expect({gpid, primary: now.get(gpid)?.primary}).toEqual({gpid, primary: addr(node)})
    const served = Object.fromEntries([
      ['1.0', 'replica3'],
      ...decided.map((c) => [c.gpid, c.recommend!]),
      ...Object.entries(choice),
    ])
    const rows = expectedRows(served)
    expect(rows).toBe(990 + 920 + 870 + 2 * 1000 + 960 + 660 + 500)
    expect(await labVerify()).toBe(rows)
    expect(await missingByPartition()).toEqual(expectedMissing(served))
    await ok(['audit', 'verify'], work)
  })
})
