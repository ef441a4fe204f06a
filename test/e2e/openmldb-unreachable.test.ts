// OpenMLDBRecovery end to end (issue 13), an unreachable tablet: tablet3 of a healthy lab hangs
// (`lab fault hang-tablet`: still registered, so kHealthy to the nameserver, but its HTTP never
// answers). The plan returns after one request deadline instead of hanging; without
// skip_bad_nodes the timed-out tablet is an error naming recovery.rpc_timeout_seconds first and
// skip_bad_nodes after it. With skip_bad_nodes its replicas are left out: the partitions it led
// get a new leader by ChangeLeader, its follower replicas are marked not alive. The leaders and
// ops the nameserver ends with equal the plan's, node for node, and `lab verify` finds every row,
// as the plan says (no replica was behind).
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {OpenMLDBClient} from '../../src/engines/openmldb/client.js'
import {confOf, opsOf, tablesOf} from '../../src/engines/openmldb/gather.js'
import {editSpec, labUp, tempDir, writeScenario, type Lab} from './helpers.js'

interface OpenMLDBLabUp {
  nameservers: string[]
  tablets: string[]
  specs: Record<string, string>
}

interface PlanJson {
  applyable: boolean
  primaries: {partition: string; before: string | null; after: string | null; risk: string}[]
  steps: {id: string; kind: string; risk: string; params: Record<string, unknown>}[]
  findings: {code: string; severity: string; subject?: string; message: string; hint?: string}[]
}

const NAME = 'openmldb-hang'
const PARTITIONS = 6
const ROWS = 600

let lab: Lab
let up: OpenMLDBLabUp
let client: OpenMLDBClient
let hung: string

async function planOf(name: string, recovery: Record<string, unknown>): Promise<{plan: PlanJson; code: number | null}> {
  const spec = editSpec(up.specs[`${NAME}-recover-manual`], join(lab.cwd, `${name}.yaml`), recovery)
  const r = await lab.cli(['plan', spec, '--out', `${name}.plan.json`])
  return {plan: JSON.parse(readFileSync(join(lab.cwd, `${name}.plan.json`), 'utf8')) as PlanJson, code: r.code}
}

async function opsSince(since: string): Promise<string[]> {
  return opsOf(await client.ns('ShowOPStatus', {}))
    .filter((o) => BigInt(o.op_id) > BigInt(since))
    .map((o) => `${o.op_type} ${o.name}/${o.pid} ${o.status}`)
    .sort()
}

beforeAll(async () => {
  const cwd = tempDir()
  const scenario = writeScenario(cwd, NAME, {
    engine: 'openmldb',
    name: NAME,
    nameservers: 2,
    tablets: 3,
    auto_failover: false,
    tables: [{name: 'orders', db: 'shop', partitions: PARTITIONS, replicas: 3, rows: ROWS}],
  })
  lab = await labUp(scenario, {zk: inject('zookeeper'), cwd})
  up = lab.endpoints as unknown as OpenMLDBLabUp
  client = new OpenMLDBClient({nameservers: up.nameservers, authorization: 'foo'})
  hung = up.tablets[2]
  await lab.lab('fault', 'hang-tablet', 'tablet3')
})

afterAll(async () => {
  await lab?.down()
})

describe('OpenMLDB unreachable tablet through the CLI', () => {
  it('without skip_bad_nodes: the plan returns after the deadline with an error naming rpc_timeout_seconds, then skip_bad_nodes', async () => {
    const {plan, code} = await planOf('strict', {auto_failover: false, rpc_timeout_seconds: 1})
    expect(code).toBe(1)
    expect(plan.applyable).toBe(false)
    const f = plan.findings.filter((x) => x.severity === 'error')
    expect(f.map((x) => `${x.code} ${x.subject}`)).toEqual([`OPENMLDB_TABLET_TIMEOUT ${hung}`])
    expect(f[0].message).toContain('did not answer GetTableStatus within 1 s (recovery.rpc_timeout_seconds)')
    const hint = f[0].hint ?? ''
    expect(hint.indexOf('raise recovery.rpc_timeout_seconds')).toBeGreaterThanOrEqual(0)
    expect(hint.indexOf('skip_bad_nodes')).toBeGreaterThan(hint.indexOf('raise recovery.rpc_timeout_seconds'))
  })

  it('with skip_bad_nodes: new leaders for its partitions by ChangeLeader, its replicas not alive, ops and leaders as planned, every row found', async () => {
    const since = opsOf(await client.ns('ShowOPStatus', {})).at(-1)?.op_id ?? '0'
    const {plan, code} = await planOf('skip', {auto_failover: false, rpc_timeout_seconds: 1, skip_bad_nodes: true})
    expect(code).toBe(0)
    expect(plan.applyable).toBe(true)
    expect(plan.findings.find((x) => x.subject === hung)).toMatchObject({
      code: 'OPENMLDB_TABLET_TIMEOUT',
      severity: 'warning',
    })
    const changes = (plan.steps.find((s) => s.kind === 'openmldb.change-leaders')?.params.ops ?? []) as {
      name: string
      pid: number
      candidate: string
    }[]
    // The lab places partition i's leader on tablet (i mod 3) + 1: tablet3 led pids 2 and 5.
    expect(changes.map((c) => `${c.name}/${c.pid}`).sort()).toEqual(['orders/2', 'orders/5'])
    const alive = plan.steps.find((s) => s.kind === 'openmldb.set-alive')!.params.updates as {
      pid: number
      endpoint: string
      is_alive: boolean
    }[]
    expect(alive.filter((u) => u.endpoint === hung && !u.is_alive).map((u) => u.pid)).toEqual(
      Array.from({length: PARTITIONS}, (_, i) => i),
    )
    expect(plan.primaries.every((p) => p.risk !== 'lossy')).toBe(true)

    const r = await lab.cli(['apply', 'skip.plan.json', '--auto-approve'])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    // Node for node: a kChangeLeaderOP per planned change, a kRecoverTableOP and its predicted child per
    // follower re-added to a new leader, nothing else.
    const recovers = (plan.steps.find((s) => s.kind === 'openmldb.recover-tables')?.params.ops ?? []) as {
      name: string
      pid: number
      then: string
    }[]
    const left = await opsSince(since)
    const all = [...left]
    const take = (choices: string[]): void => {
      const i = left.findIndex((o) => choices.includes(o))
      expect(i, `one of ${choices.join(' | ')} in ${all.join(', ')}`).toBeGreaterThanOrEqual(0)
      left.splice(i, 1)
    }
    for (const c of changes) take([`kChangeLeaderOP ${c.name}/${c.pid} kDone`])
    for (const o of recovers) {
      take([`kRecoverTableOP ${o.name}/${o.pid} kDone`])
      take(o.then.split('|').map((t) => `${t} ${o.name}/${o.pid} kDone`))
    }
    expect(left).toEqual([])
    const tables = tablesOf(await client.ns('ShowTable', {show_all: true}))
    for (const p of tables[0].partitions) {
      const key = `shop.orders/${p.pid}`
      const leaders = p.replicas.filter((x) => x.is_leader && x.is_alive).map((x) => x.endpoint)
      expect(leaders, key).toEqual([plan.primaries.find((x) => x.partition === key)?.after ?? leaders[0]])
      expect(leaders, key).not.toContain(hung)
      expect(p.replicas.find((x) => x.endpoint === hung)?.is_alive, key).toBe(false)
    }
    for (const c of changes) {
      const p = tables[0].partitions.find((x) => x.pid === c.pid)!
      expect(p.replicas.filter((x) => x.is_leader && x.is_alive).map((x) => x.endpoint)).toEqual([c.candidate])
    }
    const rows = await lab.verify()
    expect(`${rows.found} of ${rows.total}`).toBe(`${ROWS} of ${ROWS}`)
    expect(confOf(await client.ns('ConfGet', {})).auto_failover).toBe('false')
  })
})
