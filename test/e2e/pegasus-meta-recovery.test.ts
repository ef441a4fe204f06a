// PegasusMetaRecovery end to end (issue 5), through the CLI against the lab: for each outcome of
// the meta server's start_recovery, the plan's findings match the hint the simulated meta returns,
// and the plan's changes equal the tree the meta wrote, node for node.
//
// This file: all nodes good, duplicate names, soft-deleted tables, a missing table id (drop
// holder), a replica server down with and without skip_bad_nodes, partitions with 2/3 replicas.
// One lab, three recoveries (each `lab fault zk-loss` moves the cluster to a fresh root).
//
// The scenario sets a long lb_interval_ms: the partition guardian then leaves the partition nodes
// as start_recovery wrote them, so the tree can be compared exactly (otherwise the meta adds
// secondaries at once and rewrites them). Rows are served by the primaries the recovery assigns.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {callRpc} from '../../src/lab/pegasus/rpc-call.js'
import {
  auditRecords,
  diffPlannedTree,
  editSpec,
  expectExit,
  labUp,
  readPlan,
  readZkTree,
  stepFinished,
  tempDir,
  writeScenario,
  type Lab,
  type PlanDoc,
} from './helpers.js'

const zk = inject('zookeeper')
const NAME = `e2e_mr_${process.pid}_${Date.now() % 100000}`
/** Findings that carry a start_recovery hint line in Pegasus's words. */
const HINT_CODES = new Set([
  'PEGASUS_BAD_NODE',
  'PEGASUS_APP_RENAMED',
  'PEGASUS_PARTITION_UNDER_REPLICATED',
  'PEGASUS_PARTITION_LOST',
])

/** Text with every run of whitespace made one space: the terminal rendering wraps long lines. */
function squash(text: string): string {
  return text.replace(/\s+/g, ' ')
}

/** A hint_message as lines: some upstream messages end in a newline and some do not. */
function hintLines(message: string): string[] {
  return message
    .split('\n')
    .flatMap((l) => l.split(/(?=(?:WARNING|ERROR): )/))
    .map((l) => l.trim())
    .filter((l) => l !== '')
}

interface StartParams {
  meta_servers: string[]
  recovery_nodes: string[]
  recovery_addresses: string[]
  skip_bad_nodes: boolean
  skip_lost_partitions: boolean
  apps_root: string
  expect_err: string
  expect_hints: string[]
}

function startParams(plan: PlanDoc): StartParams {
  return plan.steps.find((s) => s.id === '02-start-recovery')!.params as unknown as StartParams
}

/** Fields the plan marks as time-dependent, by change address. */
function volatileFields(plan: PlanDoc): Map<string, string[]> {
  const p = plan.steps.find((s) => s.id === '04-verify-metadata')!.params as {
    volatile: {address: string; fields: string[]}[]
  }
  return new Map(p.volatile.map((v) => [v.address, v.fields]))
}

/** The plan's findings in Pegasus's words equal the meta's lines (as multisets); the start step predicted them in order. */
function expectHintsMatch(plan: PlanDoc, err: string, lines: string[]): void {
  const sp = startParams(plan)
  expect({err, lines}).toEqual({err: sp.expect_err, lines: sp.expect_hints})
  const worded = plan.findings.filter((f) => HINT_CODES.has(f.code)).map((f) => f.message)
  expect(worded.sort()).toEqual([...lines].sort())
}

/** Sends start_recovery exactly as the plan's step would, straight to the lab's meta server. */
async function askMeta(plan: PlanDoc): Promise<{err: string; lines: string[]}> {
  const sp = startParams(plan)
  const res = await callRpc(
    sp.meta_servers[0]!,
    'RPC_CM_START_RECOVERY',
    {
      recovery_nodes: sp.recovery_addresses,
      skip_bad_nodes: sp.skip_bad_nodes,
      skip_lost_partitions: sp.skip_lost_partitions,
      hp_recovery_nodes: sp.recovery_nodes,
    },
    30_000,
  )
  expect(res.err).toBe('ERR_OK')
  const response = res.response as {err: string; hint_message: string}
  return {err: response.err, lines: hintLines(response.hint_message)}
}

/** The answer start_recovery gave in the apply run, as the audit log recorded it. */
function recordedAnswer(lab: Lab): {err: string; lines: string[]} {
  const rec = stepFinished(auditRecords(lab.auditLog), '02-start-recovery')
  expect(rec, 'step.finished of 02-start-recovery in the audit log').toBeDefined()
  const result = rec!.data.result as {err: string; hints: string[]}
  return {err: result.err, lines: result.hints}
}

/** The tree under the plan's apps root equals the plan's changes, and start_recovery wrote each node once. */
async function expectTreeIsPlan(lab: Lab, plan: PlanDoc): Promise<void> {
  const appsRoot = startParams(plan).apps_root
  const tree = await readZkTree(lab.endpoints.zookeeper.hosts, appsRoot)
  expect(tree.size).toBeGreaterThan(1)
  expect(diffPlannedTree(plan.changes, tree, volatileFields(plan))).toEqual([])
  const rewritten = [...tree].filter(([path, n]) => path !== appsRoot && n.version !== 0).map(([path]) => path)
  expect(rewritten).toEqual([])
  expect(tree.get(appsRoot)!.data).toBe('unlock')
}

/** apply (exit 3 at the manual step), the operator's restart, apply --resume (exit 0). */
async function applyThroughRestart(
  lab: Lab,
  planFile: string,
  applyArgs: string[] = ['--auto-approve'],
): Promise<PlanDoc> {
  const plan = readPlan(`${lab.cwd}/${planFile}`)
  const first = expectExit(await lab.cli(['apply', planFile, ...applyArgs]), 3)
  expect(first.stdout).toContain('Waiting for manual step 05-restart-meta-normal-mode')
  const answer = recordedAnswer(lab)
  expectHintsMatch(plan, answer.err, answer.lines)
  await expectTreeIsPlan(lab, plan)
  await lab.lab('fault', 'restart-meta', '--no-recover')
  const resumed = expectExit(
    await lab.cli(['apply', planFile, '--resume', '--auto-approve', '--confirm', '05-restart-meta-normal-mode']),
    0,
  )
  expect(resumed.stdout).toContain('Verified: the cluster matches the plan.')
  return plan
}

/** `lab verify` until the count stops growing short of `want` (replicas take their roles at their next config sync). */
async function rowsFound(
  lab: Lab,
  want: number,
): Promise<{found: number; total: number; tables: {app_id: number; found: number; total: number}[]}> {
  let v = await lab.verify()
  for (let i = 0; i < 40 && v.found < want; i++) {
    await new Promise((r) => setTimeout(r, 250))
    v = await lab.verify()
  }
  return v
}

describe('PegasusMetaRecovery through the CLI: nodes and names', () => {
  let lab: Lab

  beforeAll(async () => {
    // The scenario file sits in the lab's working directory, which down() removes.
    const cwd = tempDir()
    const scenario = writeScenario(cwd, NAME, {
      engine: 'pegasus',
      name: NAME,
      replica_servers: 4,
      meta: {lb_interval_ms: 600_000},
      tables: [
        // Soft-deleted, same name as the live table: comes back as temp__1.
        {name: 'temp', app_id: 1, partitions: 4, replicas: 3, rows: 100, dropped: true},
        // Table id 2 exists on no replica server: a drop holder.
        {name: 'temp', app_id: 3, partitions: 8, replicas: 3, rows: 10000},
        // Soft-deleted with a name of its own: comes back as it was.
        {name: 'archive', app_id: 4, partitions: 2, replicas: 3, rows: 20, dropped: true},
      ],
    })
    lab = await labUp(scenario, {zk, cwd})
  })
  afterAll(async () => {
    await lab?.down()
  })

  it('all nodes good: duplicate names, soft-deleted tables and a drop holder are predicted, applied and serve', async () => {
    expect((await lab.verify()).found).toBe(10000)
    await lab.lab('fault', 'zk-loss')
    const spec = lab.endpoints.specs['pegasus-meta-recovery']!
    const planned = expectExit(await lab.cli(['plan', spec, '--out', 'all-good.json']), 0)
    expect(squash(planned.stdout)).toContain(
      "WARNING: app(1)'s old name(temp) is conflict with others, rename it to (temp__1)",
    )
    const plan = readPlan(`${lab.cwd}/all-good.json`)
    expect(plan.applyable).toBe(true)
    expect(plan.findings.filter((f) => f.severity === 'error')).toEqual([])
    expect(plan.findings.map((f) => f.code)).toContain('PEGASUS_SOFT_DELETED_RESTORED')
    expect(plan.changes.find((c) => c.address.endsWith('/apps/2'))!.after).toMatchObject({
      app_name: '__drop_holder__2',
      status: 'app_status::AS_DROPPED',
    })

    await applyThroughRestart(lab, 'all-good.json')
    const v = await rowsFound(lab, 10000)
    expect(v).toMatchObject({found: 10000, total: 10000})
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })

  it('a replica server down without skip_bad_nodes: plan fails with the Pegasus error, exit 1; the meta answers the same', async () => {
    await lab.lab('fault', 'kill-node', 'replica4')
    await lab.lab('fault', 'zk-loss')
    const dead = lab.endpoints.replica_servers[3]!
    const spec = lab.endpoints.specs['pegasus-meta-recovery']!
    const planned = expectExit(await lab.cli(['plan', spec, '--out', 'bad-node.json']), 1)
    const wording = `ERROR: collect app and replica info from node(${dead}) failed with err(ERR_NETWORK_FAILURE), you can skip it by set skip_bad_nodes option`
    expect(squash(planned.stdout)).toContain(wording)
    expect(squash(planned.stderr)).toContain('the plan has error findings')
    const plan = readPlan(`${lab.cwd}/bad-node.json`)
    expect(plan.applyable).toBe(false)
    expect(plan.findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([wording])
    expect(plan.changes).toEqual([])

    // apply refuses it and writes nothing.
    const refused = expectExit(await lab.cli(['apply', 'bad-node.json', '--auto-approve']), 1)
    expect(squash(refused.stderr)).toContain('cannot be applied')
    const appsRoot = startParams(plan).apps_root
    expect((await readZkTree(lab.endpoints.zookeeper.hosts, appsRoot)).size).toBe(0)

    // The meta itself, asked exactly as the plan would: ERR_TRY_AGAIN with the predicted lines, nothing written.
    const answer = await askMeta(plan)
    expect(answer.err).toBe('ERR_TRY_AGAIN')
    expectHintsMatch(plan, answer.err, answer.lines)
    expect((await readZkTree(lab.endpoints.zookeeper.hosts, appsRoot)).size).toBe(0)
  })

  it('with skip_bad_nodes: plan warns (2/3 replicas where the node held one), apply succeeds, every partition serves', async () => {
    const dead = lab.endpoints.replica_servers[3]!
    const spec = editSpec(lab.endpoints.specs['pegasus-meta-recovery']!, `${lab.cwd}/skip-bad.yaml`, {
      skip_bad_nodes: true,
    })
    const planned = expectExit(await lab.cli(['plan', spec, '--out', 'skip-bad.json']), 0)
    expect(squash(planned.stdout)).toContain(
      `WARNING: collect app and replica info from node(${dead}) failed with err(ERR_NETWORK_FAILURE), skip the bad node`,
    )
    const plan = readPlan(`${lab.cwd}/skip-bad.json`)
    expect(plan.applyable).toBe(true)
    expect(plan.findings.filter((f) => f.severity === 'error')).toEqual([])
    const underReplicated = plan.findings.filter((f) => f.code === 'PEGASUS_PARTITION_UNDER_REPLICATED')
    expect(underReplicated.length).toBeGreaterThan(0)
    for (const f of underReplicated)
      expect(f.message).toMatch(/^WARNING: partition\(\d+\.\d+\) only collects 2\/3 of replicas, may lost data$/)
    // No primary on the dead node.
    expect(JSON.stringify(plan.changes)).not.toContain(`"hp_primary":"${dead}"`)

    await applyThroughRestart(lab, 'skip-bad.json')
    // Three replicas on four servers: every partition kept two, so every row serves.
    const v = await rowsFound(lab, 10000)
    expect(v).toMatchObject({found: 10000, total: 10000})
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })
})

describe('PegasusMetaRecovery through the CLI: replicas lost, and a root that is not empty', () => {
  let lab: Lab
  const name = `${NAME}_lossy`

  beforeAll(async () => {
    // The scenario file sits in the lab's working directory, which down() removes.
    const cwd = tempDir()
    const scenario = writeScenario(cwd, name, {
      engine: 'pegasus',
      name,
      replica_servers: 3,
      meta: {lb_interval_ms: 600_000},
      tables: [{name: 'orders', partitions: 4, replicas: 3, rows: 400}],
      faults: [
        {type: 'remove-replica', gpid: '1.1', node: 'replica2'},
        {type: 'remove-replica', gpid: '1.2', node: 'replica3'},
        {type: 'remove-replica', gpid: '1.2', node: 'replica1'},
        {type: 'lose-partition', gpid: '1.3'},
        {type: 'zk-loss'},
      ],
    })
    lab = await labUp(scenario, {zk, cwd})
  })
  afterAll(async () => {
    await lab?.down()
  })

  it('a partition with no replica, without skip_lost_partitions: plan fails, exit 1; the meta answers the same', async () => {
    const spec = lab.endpoints.specs['pegasus-meta-recovery']!
    const planned = expectExit(await lab.cli(['plan', spec, '--out', 'lost.json']), 1)
    const wording =
      'ERROR: partition(1.3) has no replica collected, you can force recover it by set skip_lost_partitions option'
    expect(squash(planned.stdout)).toContain(wording)
    const plan = readPlan(`${lab.cwd}/lost.json`)
    expect(plan.applyable).toBe(false)
    expect(plan.findings.filter((f) => f.severity === 'error').map((f) => f.message)).toEqual([wording])
    // 2/3 and 1/3 replicas: warnings in Pegasus's words.
    expect(squash(planned.stdout)).toContain('WARNING: partition(1.1) only collects 2/3 of replicas, may lost data')
    expect(squash(planned.stdout)).toContain('WARNING: partition(1.2) only collects 1/3 of replicas, may lost data')

    const answer = await askMeta(plan)
    expect(answer.err).toBe('ERR_TRY_AGAIN')
    expectHintsMatch(plan, answer.err, answer.lines)
    expect((await readZkTree(lab.endpoints.zookeeper.hosts, startParams(plan).apps_root)).size).toBe(0)
  })

  it('with skip_lost_partitions: apply refuses without --allow-data-loss (exit 4, nothing written) and succeeds with it', async () => {
    const spec = editSpec(lab.endpoints.specs['pegasus-meta-recovery']!, `${lab.cwd}/skip-lost.yaml`, {
      skip_lost_partitions: true,
    })
    const planned = expectExit(await lab.cli(['plan', spec, '--out', 'skip-lost.json']), 0)
    expect(squash(planned.stdout)).toContain(
      'WARNING: partition(1.3) has no replica collected, force recover the lost partition to empty',
    )
    const plan = readPlan(`${lab.cwd}/skip-lost.json`)
    expect(plan.applyable).toBe(true)
    expect(plan.steps.find((s) => s.id === '02-start-recovery')!.risk).toBe('lossy')
    const appsRoot = startParams(plan).apps_root

    const refused = await lab.cli(['apply', 'skip-lost.json', '--auto-approve'])
    expectExit(refused, 4)
    expect(refused.stdout + refused.stderr).toContain('--allow-data-loss')
    expect((await readZkTree(lab.endpoints.zookeeper.hosts, appsRoot)).size).toBe(0)
    const records = auditRecords(lab.auditLog)
    expect(records.map((r) => r.event)).toContain('gate.refused')
    expect(records.filter((r) => r.event === 'step.started')).toEqual([])
    // The meta still waits for a recovery.
    expect((await lab.status()).meta_servers[0]!.phase).toBe('recovering')

    await applyThroughRestart(lab, 'skip-lost.json', ['--auto-approve', '--allow-data-loss'])
    // The lost partition is recovered empty; the others, with 3, 2 and 1 replicas, serve every row.
    const v = await rowsFound(lab, 300)
    expect(v).toMatchObject({found: 300, total: 400})
    // The plan's prediction against the gets: the partitions it puts at stake whole are exactly the
    // ones whose rows the gets miss, all of them.
    const atStake = (plan as unknown as {primaries: {partition: string; atStake?: string}[]}).primaries
      .filter((p) => p.atStake?.startsWith('every row of partition'))
      .map((p) => p.partition)
    const missing = (v.tables[0] as {missing?: {pid: string; missing: number; total: number}[]}).missing ?? []
    expect(atStake).toEqual(['1.3'])
    expect(missing.map((m) => [m.pid, m.missing === m.total])).toEqual(atStake.map((pid) => [pid, true]))
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })

  it('a non-empty apps root: plan fails, exit 1, with the reason the meta server gives', async () => {
    // A meta restarted with recover_from_replica_server = true on a root that holds apps crashes.
    await lab.lab('fault', 'restart-meta', '--recover')
    const status = await lab.status()
    const crash = status.meta_servers[0]!.crash
    expect(crash).toBe('find apps from remote storage, but [meta_server].recover_from_replica_server = true')
    const spec = lab.endpoints.specs['pegasus-meta-recovery']!
    const appsRoot = `${status.zookeeper.root}/apps`
    const before = await readZkTree(lab.endpoints.zookeeper.hosts, appsRoot)
    expect(before.size).toBeGreaterThan(1)

    const planned = expectExit(await lab.cli(['plan', spec, '--out', 'not-empty.json']), 1)
    const plan = readPlan(`${lab.cwd}/not-empty.json`)
    expect(plan.applyable).toBe(false)
    const notEmpty = plan.findings.find((f) => f.code === 'PEGASUS_ROOT_NOT_EMPTY')
    expect(notEmpty?.severity).toBe('error')
    expect(notEmpty?.hint).toContain(`"${crash}"`)
    const apps = [...before.keys()].filter((p) => p.split('/').length === appsRoot.split('/').length + 1)
    expect(notEmpty?.message).toContain(`already holds ${apps.length} app node(s)`)
    expect(squash(planned.stderr)).toContain('the plan has error findings')
    expect(plan.changes).toEqual([])
    // Nothing changed.
    expect(await readZkTree(lab.endpoints.zookeeper.hosts, appsRoot)).toEqual(before)
  })
})
