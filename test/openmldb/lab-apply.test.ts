// The OpenMLDBRecovery engine against the OpenMLDB lab (real ZooKeeper, nameservers and tablets
// over brpc HTTP+JSON): gather, plan, run every step with the engine's executors, verify, and
// read every row back through the lab's client path.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {openClient} from '../../src/engines/openmldb/client.js'
import {createOpenMLDBRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {opsOf} from '../../src/engines/openmldb/gather.js'
import {normalizeSpec} from '../../src/engines/openmldb/spec.js'
import type {OpenMLDBLiveState, OpenMLDBRecoverySpec} from '../../src/engines/openmldb/types.js'
import type {EngineIo} from '../../src/engines/types.js'
import {OpenMLDBLab} from '../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBScenario} from '../../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../../src/lab/openmldb/verify.js'
import {restartEveryTablet} from './restart.js'
import type {PlanBody} from '../../src/plan/types.js'

const engine = createOpenMLDBRecoveryEngine({pollMs: 20})
const io: EngineIo = {env: {}, specDir: '.', progress: () => {}}
let dir: string
let lab: OpenMLDBLab
let root: string

function specFor(recovery: Record<string, unknown>): OpenMLDBRecoverySpec {
  return normalizeSpec({
    apiVersion: 'lifeboat/v1',
    kind: 'OpenMLDBRecovery',
    metadata: {name: 'lab-test'},
    cluster: {name: 'lab', zookeeper: {hosts: inject('zookeeper'), root}},
    recovery,
  } as unknown as OpenMLDBRecoverySpec)
}

async function planOf(spec: OpenMLDBRecoverySpec): Promise<{live: OpenMLDBLiveState; body: PlanBody}> {
  const live = await engine.gather(spec, io)
  return {live, body: engine.plan(spec, live, {now: '2026-01-01T00:00:00.000Z'})}
}

/** The ops the nameserver created after the plan was made, as `type pid` (sorted). */
async function opsSincePlan(spec: OpenMLDBRecoverySpec, live: OpenMLDBLiveState): Promise<string[]> {
  const client = await openClient(spec, {})
  const ops = opsOf(await client.ns('ShowOPStatus', {}))
  return ops
    .filter((o) => BigInt(o.op_id) > BigInt(live.last_op_id))
    .map((o) => `${o.op_type} ${o.name}/${o.pid} ${o.status}`)
    .sort()
}

/** The ops a plan predicts, as `type pid` with the child op alternatives of each RecoverTable. */
function predictedOps(body: PlanBody): {exact: string[]; children: string[][]} {
  const exact: string[] = []
  const children: string[][] = []
  for (const s of body.steps) {
    const p = s.params as Record<string, unknown>
    if (s.kind === 'openmldb.change-leaders')
      for (const op of p.ops as {name: string; pid: number}[]) exact.push(`kChangeLeaderOP ${op.name}/${op.pid} kDone`)
    if (s.kind === 'openmldb.offline-endpoint' || s.kind === 'openmldb.recover-endpoint') {
      for (const op of p.predicted as {name: string; pid: number; op_type: string; then?: string}[]) {
        exact.push(`${op.op_type} ${op.name}/${op.pid} kDone`)
        if (op.then) children.push(op.then.split('|').map((t) => `${t} ${op.name}/${op.pid} kDone`))
      }
    }
    if (s.kind === 'openmldb.recover-tables') {
      for (const op of p.ops as {name: string; pid: number; then: string}[]) {
        exact.push(`kRecoverTableOP ${op.name}/${op.pid} kDone`)
        children.push(op.then.split('|').map((t) => `${t} ${op.name}/${op.pid} kDone`))
      }
    }
  }
  return {exact, children}
}

/** The nameserver ran exactly the predicted ops: every exact one, and one of the alternatives for each child. */
function expectOpsAsPredicted(done: string[], body: PlanBody): void {
  const {exact, children} = predictedOps(body)
  const left = [...done]
  for (const e of exact) {
    const i = left.indexOf(e)
    expect(i, `${e} in ${JSON.stringify(done)}`).toBeGreaterThanOrEqual(0)
    left.splice(i, 1)
  }
  for (const alts of children) {
    const i = left.findIndex((x) => alts.includes(x))
    expect(i, `one of ${alts.join(' / ')} in ${JSON.stringify(done)}`).toBeGreaterThanOrEqual(0)
    left.splice(i, 1)
  }
  expect(left).toEqual([])
}

/** After apply: each planned leader is the partition's one alive leader. */
async function expectLeadersAsPlanned(spec: OpenMLDBRecoverySpec, body: PlanBody): Promise<OpenMLDBLiveState> {
  const live = await engine.gather(spec, io)
  for (const p of body.primaries) {
    if (p.after === null) continue
    const [dbName, pid] = p.partition.split('/')
    const t = live.tables.find((x) => `${x.db}.${x.name}` === dbName)!
    const leaders = t.partitions
      .find((x) => x.pid === Number(pid))!
      .replicas.filter((r) => r.is_leader && r.is_alive)
      .map((r) => r.endpoint)
    expect(leaders, p.partition).toEqual([p.after])
  }
  return live
}

async function applyBody(spec: OpenMLDBRecoverySpec, body: PlanBody): Promise<void> {
  const ctx = await engine.connect(spec, io)
  for (const step of body.steps) {
    if (await engine.steps[step.kind].isDone(ctx, step)) continue
    await engine.steps[step.kind]
      .run(ctx, step, () => {})
      .catch((err: unknown) => {
        throw new Error(`${step.id}: ${String(err)} ${(err as {detail?: string}).detail ?? ''}`)
      })
    const bad = (await engine.steps[step.kind].verify(ctx, step)).filter((f) => f.severity === 'error')
    expect(bad, `${step.id}`).toEqual([])
  }
  expect((await engine.verify(ctx, body)).filter((f) => f.severity === 'error')).toEqual([])
  await engine.close(ctx)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-omeng-'))
  root = `/openmldb-engine-test-${process.pid}`
  const scenario = parseOpenMLDBScenario(
    {
      engine: 'openmldb',
      name: 'omeng',
      nameservers: 2,
      tablets: 3,
      zk_root: root,
      auto_failover: true,
      tables: [
        {db: 'demo_db', name: 'orders', partitions: 4, replicas: 3, rows: 200},
        {db: 'demo_db', name: 'users', partitions: 2, replicas: 2, rows: 60},
      ],
    },
    'inline',
  )
  lab = await OpenMLDBLab.up({
    scenario,
    stateDir: dir,
    zkHosts: inject('zookeeper'),
    log: process.env.OMLOG ? (l) => console.log(l) : undefined,
  })
})

afterAll(async () => {
  await lab?.down()
  rmSync(dir, {recursive: true, force: true})
})

describe('OpenMLDBRecovery on the lab', () => {
  it('a healthy lab: nothing to recover', async () => {
    const {live, body} = await planOf(specFor({auto_failover: true}))
    expect(live.auto_failover).toBe(true)
    expect(live.tables.map((t) => `${t.db}.${t.name} ${t.partitions.length}`)).toEqual([
      'demo_db.orders 4',
      'demo_db.users 2',
    ])
    expect(body.steps).toEqual([])
  })

  it('recoverdata after every tablet restarted: leaders loaded, followers recovered, auto_failover restored, every row found', async () => {
    await lab.fault({type: 'auto-failover', on: false})
    await restartEveryTablet(lab)
    await lab.fault({type: 'auto-failover', on: true})
    const spec = specFor({auto_failover: true})
    const {body} = await planOf(spec)
    expect(body.findings.filter((f) => f.severity === 'error')).toEqual([])
    expect(body.steps.map((s) => s.kind)).toEqual([
      'openmldb.confset',
      'openmldb.load-leaders',
      'openmldb.recover-tables',
      'openmldb.confset',
      'openmldb.verify',
    ])
    const before = await engine.gather(spec, io)
    await applyBody(spec, body)
    expectOpsAsPredicted(await opsSincePlan(spec, before), body)
    await expectLeadersAsPlanned(spec, body)
    const rows = await verifyOpenMLDBRows(lab.layout)
    expect(`${rows.found} of ${rows.total}`).toBe('260 of 260')
    const after = await planOf(spec)
    expect(after.body.steps).toEqual([])
    expect(after.live.auto_failover).toBe(true)
  })

  it('a tablet down with auto_failover off: ChangeLeader and OfflineEndpoint as planned, node for node; then the tablet back through RecoverEndpoint', async () => {
    await lab.fault({type: 'auto-failover', on: false})
    const victim = lab.layout.tablets[2].endpoint
    await lab.fault({type: 'kill-tablet', tablet: victim})
    const spec = specFor({auto_failover: false, tables: 'none', offline_endpoints: [victim]})
    // The nameserver sees the tablet kOffline once its ZooKeeper node is gone.
    let planned = await planOf(spec)
    for (let i = 0; i < 200 && planned.live.tablets.find((t) => t.endpoint === victim)?.state !== 'kOffline'; i++) {
      await new Promise((r) => setTimeout(r, 50))
      planned = await planOf(spec)
    }
    const {live, body} = planned
    expect(body.findings.filter((f) => f.severity === 'error')).toEqual([])
    expect(body.steps.map((s) => s.kind)).toEqual([
      'openmldb.change-leaders',
      'openmldb.offline-endpoint',
      'openmldb.confset',
      'openmldb.verify',
    ])
    await applyBody(spec, body)
    expectOpsAsPredicted(await opsSincePlan(spec, live), body)
    await expectLeadersAsPlanned(spec, body)
    const rows = await verifyOpenMLDBRows(lab.layout)
    expect(`${rows.found} of ${rows.total}`).toBe('260 of 260')

    await lab.fault({type: 'start-tablet', tablet: victim})
    const back = specFor({auto_failover: true, tables: 'none', recover_endpoints: [victim]})
    let again = await planOf(back)
    for (let i = 0; i < 200 && again.live.tablets.find((t) => t.endpoint === victim)?.state !== 'kHealthy'; i++) {
      await new Promise((r) => setTimeout(r, 50))
      again = await planOf(back)
    }
    expect(again.body.findings.filter((f) => f.severity === 'error')).toEqual([])
    await applyBody(back, again.body)
    expectOpsAsPredicted(await opsSincePlan(back, again.live), again.body)
    const healthy = await planOf(specFor({auto_failover: true}))
    expect(healthy.body.steps).toEqual([])
  })

  it('two is_leader=true replicas with different offsets: the old leader, with more data, is chosen over the last one flagged, and no row is lost', async () => {
    // Both followers of orders/0 fall behind, then its leader dies: the nameserver fails over to a follower with fewer rows.
    const live0 = await engine.gather(specFor({}), io)
    const part = live0.tables.find((t) => t.name === 'orders')!.partitions[0]
    const leader = part.replicas.find((r) => r.is_leader && r.is_alive)!.endpoint
    for (const r of part.replicas.filter((x) => !x.is_leader))
      await lab.fault({type: 'lag', replica: `demo_db.orders/0@${r.endpoint}`, offset: 3})
    await lab.fault({type: 'auto-failover', on: true})
    await lab.fault({type: 'kill-tablet', tablet: leader})
    await lab.fault({type: 'settle'})
    await lab.fault({type: 'auto-failover', on: false})
    await lab.fault({type: 'start-tablet', tablet: leader})
    const spec = specFor({auto_failover: true, tables: ['demo_db.orders']})
    let planned = await planOf(spec)
    for (let i = 0; i < 200 && planned.live.tablets.find((t) => t.endpoint === leader)?.state !== 'kHealthy'; i++) {
      await new Promise((r) => setTimeout(r, 50))
      planned = await planOf(spec)
    }
    const {live, body} = planned
    const p0 = body.primaries.find((p) => p.partition === 'demo_db.orders/0')!
    expect(p0.after).toBe(leader)
    expect(p0.candidates.filter((c) => c.facts.is_leader === true).length).toBe(2)
    expect(
      body.findings.find((f) => f.code === 'OPENMLDB_UPSTREAM_LEADER_DIFFERS' && f.subject === 'demo_db.orders/0')
        ?.message,
    ).toMatch(/would lose \d+ offset/)
    await applyBody(spec, body)
    expectOpsAsPredicted(await opsSincePlan(spec, live), body)
    await expectLeadersAsPlanned(spec, body)
    const rows = await verifyOpenMLDBRows(lab.layout)
    expect(`${rows.found} of ${rows.total}`).toBe('260 of 260')
  })
})
