// OpenMLDBRecovery end to end (issue 13), a tablet down with auto_failover off: the built-in
// `openmldb-failover` lab (tablet2 killed; shop.audit has one replica per partition) through the
// real binary. A partition whose only replica is on the dead tablet: an error, then with
// skip_lost_partitions a lossy step; then offlineendpoint (ChangeLeader first for the partitions it
// led), and recoverendpoint once the tablet is back. The ops and leaders the nameserver ends with
// are compared with the plan's, and `lab verify` must find exactly the rows the plan says survive.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {OpenMLDBClient} from '../../src/engines/openmldb/client.js'
import {confOf, opsOf, tablesOf, tabletStatesOf} from '../../src/engines/openmldb/gather.js'
import {pidOfKey, rowKey} from '../../src/lab/openmldb/cluster.js'
import {waitFor} from '../cli/helpers.js'
import {editSpec, expectExit, labUp, type Lab} from './helpers.js'

interface OpenMLDBLabUp {
  zookeeper: {hosts: string; root: string}
  nameservers: string[]
  tablets: string[]
  specs: Record<string, string>
}

interface PlanJson {
  applyable: boolean
  primaries: {partition: string; before: string | null; after: string | null; risk: string}[]
  steps: {id: string; kind: string; risk: string; params: Record<string, unknown>}[]
  findings: {code: string; severity: string; subject?: string; message: string}[]
}

/** The scenario's tables (src/lab/scenarios/openmldb-failover.yaml). */
const TABLES = [
  {name: 'orders', partitions: 8, rows: 2000},
  {name: 'users', partitions: 4, rows: 600},
  {name: 'audit', partitions: 3, rows: 150},
]
const TOTAL = TABLES.reduce((n, t) => n + t.rows, 0)

/** Rows the lab wrote into `table` pid `pid` (its key spread, as a client computes it). */
function rowsIn(table: string, pid: number): number {
  const t = TABLES.find((x) => x.name === table)!
  let n = 0
  for (let i = 0; i < t.rows; i++) if (pidOfKey(rowKey(t.name, i), t.partitions) === pid) n++
  return n
}

let lab: Lab
let up: OpenMLDBLabUp
let client: OpenMLDBClient
let dead: string

async function planOf(
  name: string,
  recovery: Record<string, unknown>,
): Promise<{file: string; plan: PlanJson; code: number | null; out: string}> {
  const spec = editSpec(up.specs['openmldb-failover-recover'], join(lab.cwd, `${name}.yaml`), recovery)
  const r = await lab.cli(['plan', spec, '--out', `${name}.plan.json`])
  const file = join(lab.cwd, `${name}.plan.json`)
  return {file, plan: JSON.parse(readFileSync(file, 'utf8')) as PlanJson, code: r.code, out: r.stdout + r.stderr}
}

async function opsSince(since: string): Promise<string[]> {
  return opsOf(await client.ns('ShowOPStatus', {}))
    .filter((o) => BigInt(o.op_id) > BigInt(since))
    .map((o) => `${o.op_type} ${o.name}/${o.pid} ${o.status}`)
    .sort()
}

async function lastOpId(): Promise<string> {
  return opsOf(await client.ns('ShowOPStatus', {})).at(-1)?.op_id ?? '0'
}

async function aliveLeaders(): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>()
  for (const t of tablesOf(await client.ns('ShowTable', {show_all: true}))) {
    for (const p of t.partitions)
      out.set(
        `${t.db}.${t.name}/${p.pid}`,
        p.replicas.filter((r) => r.is_leader && r.is_alive).map((r) => r.endpoint),
      )
  }
  return out
}

beforeAll(async () => {
  lab = await labUp('openmldb-failover', {zk: inject('zookeeper')})
  up = lab.endpoints as unknown as OpenMLDBLabUp
  client = new OpenMLDBClient({nameservers: up.nameservers, authorization: 'foo'})
  dead = up.tablets[1]
  await waitFor('tablet2 kOffline in ShowTablet', async () =>
    tabletStatesOf(await client.ns('ShowTablet', {})).get(dead) === 'kOffline' ? true : undefined,
  )
})

afterAll(async () => {
  await lab?.down()
})

describe('OpenMLDB tablet down with auto_failover off, through the CLI', () => {
  it('a partition with no surviving replica: an error without skip_lost_partitions; with it a lossy step, and exactly the other rows readable', async () => {
    const refused = await planOf('lost', {auto_failover: false, tables: ['shop.audit']})
    expect(refused.code).toBe(1)
    expect(refused.plan.applyable).toBe(false)
    const lostPids = refused.plan.findings.filter((f) => f.code === 'OPENMLDB_PARTITION_LOST').map((f) => f.subject)
    expect(lostPids.length).toBe(1)

    const {file, plan} = await planOf('lost-skip', {
      auto_failover: false,
      tables: ['shop.audit'],
      skip_lost_partitions: true,
    })
    expect(plan.applyable).toBe(true)
    expect(plan.steps.filter((s) => s.risk === 'lossy').map((s) => s.kind)).toEqual(['openmldb.accept-lost-partitions'])
    const r = await lab.cli(['apply', file, '--auto-approve'])
    expect(r.code, r.stdout).toBe(4)
    expectExit(await lab.cli(['apply', file, '--auto-approve', '--allow-data-loss']), 0)
    const lost = rowsIn('audit', Number(lostPids[0]!.split('/')[1]))
    const rows = await lab.verify()
    expect(`${rows.found} of ${rows.total}`).toBe(`${TOTAL - lost - rowsUnserved(await aliveLeaders())} of ${TOTAL}`)
  })

  it('offlineendpoint: ChangeLeader to the follower with the largest offset, then the ops the plan predicts, node for node', async () => {
    const since = await lastOpId()
    const {file, plan} = await planOf('offline', {auto_failover: false, tables: 'none', offline_endpoints: [dead]})
    expect(plan.applyable).toBe(true)
    expect(plan.steps.map((s) => s.kind)).toEqual([
      'openmldb.change-leaders',
      'openmldb.offline-endpoint',
      'openmldb.confset',
      'openmldb.verify',
    ])
    const changes = plan.steps[0].params.ops as {name: string; pid: number; candidate: string}[]
    const predicted = plan.steps[1].params.predicted as {name: string; pid: number; op_type: string}[]
    expect(predicted.filter((p) => p.op_type === 'kUpdatePartitionStatusOP').map((p) => p.name)).toEqual(['audit'])
    expect(plan.findings.some((f) => f.code === 'OPENMLDB_ONLY_REPLICA_OFFLINE')).toBe(true)

    expectExit(await lab.cli(['apply', file, '--auto-approve']), 0)
    const expected = [
      ...changes.map((c) => `kChangeLeaderOP ${c.name}/${c.pid} kDone`),
      ...predicted.map((p) => `${p.op_type} ${p.name}/${p.pid} kDone`),
    ].sort()
    expect(await opsSince(since)).toEqual(expected)
    const leaders = await aliveLeaders()
    for (const p of plan.primaries) expect(leaders.get(p.partition), p.partition).toEqual([p.after])
    for (const [partition, eps] of leaders) expect(eps, partition).not.toContain(dead)
    // Every partition but the single-replica one on the dead tablet is served again.
    const rows = await lab.verify()
    const audit = rowsIn('audit', Number(predicted.find((p) => p.op_type === 'kUpdatePartitionStatusOP')!.pid))
    expect(`${rows.found} of ${rows.total}`).toBe(`${TOTAL - audit} of ${TOTAL}`)
    expect(confOf(await client.ns('ConfGet', {})).auto_failover).toBe('false')
  })

  it('recoverendpoint once the tablet is back: kRecoverTableOP per replica with its predicted child op; every row readable, auto_failover on', async () => {
    await lab.lab('fault', 'start-tablet', 'tablet2')
    await waitFor('tablet2 kHealthy', async () =>
      tabletStatesOf(await client.ns('ShowTablet', {})).get(dead) === 'kHealthy' ? true : undefined,
    )
    const since = await lastOpId()
    const {file, plan} = await planOf('recover', {auto_failover: true, tables: 'none', recover_endpoints: [dead]})
    expect(plan.applyable).toBe(true)
    const predicted = plan.steps.find((s) => s.kind === 'openmldb.recover-endpoint')!.params.predicted as {
      name: string
      pid: number
      op_type: string
      then: string
    }[]
    expect(predicted.length).toBe(TABLES.reduce((n, t) => n + t.partitions, 0) - 2)
    expectExit(await lab.cli(['apply', file, '--auto-approve']), 0)
    const left = await opsSince(since)
    const all = [...left]
    for (const p of predicted) {
      const i = left.indexOf(`kRecoverTableOP ${p.name}/${p.pid} kDone`)
      expect(i, `kRecoverTableOP ${p.name}/${p.pid} in ${all.join(', ')}`).toBeGreaterThanOrEqual(0)
      left.splice(i, 1)
      const j = left.findIndex((o) => p.then.split('|').some((t) => o === `${t} ${p.name}/${p.pid} kDone`))
      expect(j, `one of ${p.then} for ${p.name}/${p.pid} in ${all.join(', ')}`).toBeGreaterThanOrEqual(0)
      left.splice(j, 1)
    }
    expect(left).toEqual([])
    const rows = await lab.verify()
    expect(`${rows.found} of ${rows.total}`).toBe(`${TOTAL} of ${TOTAL}`)
    expect(confOf(await client.ns('ConfGet', {})).auto_failover).toBe('true')
  })
})

/** Rows of the orders and users partitions no alive tablet serves now (their alive leader is the dead tablet). */
function rowsUnserved(leaders: Map<string, string[]>): number {
  let n = 0
  for (const [partition, eps] of leaders) {
    const [dbTable, pid] = partition.split('/')
    const table = dbTable.split('.')[1]
    if (table === 'audit' || (eps.length === 1 && eps[0] !== dead)) continue
    n += rowsIn(table, Number(pid))
  }
  return n
}
