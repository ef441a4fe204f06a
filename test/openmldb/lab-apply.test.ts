// The OpenMLDBRecovery engine against the OpenMLDB lab (real ZooKeeper, nameservers and tablets
// over brpc HTTP+JSON): gather, plan, run every step with the engine's executors, verify, and
// read every row back through the lab's client path.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {createOpenMLDBRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {normalizeSpec} from '../../src/engines/openmldb/spec.js'
import type {OpenMLDBLiveState, OpenMLDBRecoverySpec} from '../../src/engines/openmldb/types.js'
import type {EngineIo} from '../../src/engines/types.js'
import {OpenMLDBLab} from '../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBScenario} from '../../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../../src/lab/openmldb/verify.js'
import type {PlanBody} from '../../src/plan/types.js'

const engine = createOpenMLDBRecoveryEngine({pollMs: 20})
const io: EngineIo = {env: {}, specDir: '.', progress: () => {}}
let dir: string
let lab: OpenMLDBLab
let root: string

function specFor(recovery: Record<string, unknown>): OpenMLDBRecoverySpec {
  return normalizeSpec({apiVersion: 'lifeboat/v1', kind: 'OpenMLDBRecovery', metadata: {name: 'lab-test'}, cluster: {name: 'lab', zookeeper: {hosts: inject('zookeeper'), root}}, recovery} as unknown as OpenMLDBRecoverySpec)
}

async function planOf(spec: OpenMLDBRecoverySpec): Promise<{live: OpenMLDBLiveState; body: PlanBody}> {
  const live = await engine.gather(spec, io)
  return {live, body: engine.plan(spec, live, {now: '2026-01-01T00:00:00.000Z'})}
}

async function applyBody(spec: OpenMLDBRecoverySpec, body: PlanBody): Promise<void> {
  const ctx = await engine.connect(spec, io)
  for (const step of body.steps) {
    if (await engine.steps[step.kind].isDone(ctx, step)) continue
    await engine.steps[step.kind].run(ctx, step, () => {}).catch((err: unknown) => { throw new Error(`${step.id}: ${String(err)} ${(err as {detail?: string}).detail ?? ""}`) })
    const bad = (await engine.steps[step.kind].verify(ctx, step)).filter((f) => f.severity === 'error')
    expect(bad, `${step.id}`).toEqual([])
  }
  expect((await engine.verify(ctx, body)).filter((f) => f.severity === 'error')).toEqual([])
  await engine.close(ctx)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-omeng-'))
  root = `/openmldb-engine-test-${process.pid}`
  const scenario = parseOpenMLDBScenario({
    engine: 'openmldb', name: 'omeng', nameservers: 2, tablets: 3, zk_root: root, auto_failover: true,
    tables: [{db: 'demo_db', name: 'orders', partitions: 4, replicas: 3, rows: 200}, {db: 'demo_db', name: 'users', partitions: 2, replicas: 2, rows: 60}],
  }, 'inline')
  lab = await OpenMLDBLab.up({scenario, stateDir: dir, zkHosts: inject('zookeeper'), log: process.env.OMLOG ? (l) => console.log(l) : undefined})
}, 120_000)

afterAll(async () => {
  await lab?.down()
  rmSync(dir, {recursive: true, force: true})
})

describe('OpenMLDBRecovery on the lab', () => {
  it('a healthy lab: nothing to recover', async () => {
    const {live, body} = await planOf(specFor({auto_failover: true}))
    expect(live.auto_failover).toBe(true)
    expect(live.tables.map((t) => `${t.db}.${t.name} ${t.partitions.length}`)).toEqual(['demo_db.orders 4', 'demo_db.users 2'])
    expect(body.steps).toEqual([])
  })

  it('recoverdata after restart-all: leaders loaded, followers recovered, auto_failover restored, every row found', async () => {
    await lab.fault({type: 'restart-all'})
    const spec = specFor({auto_failover: true})
    const {body} = await planOf(spec)
    expect(body.findings.filter((f) => f.severity === 'error')).toEqual([])
    expect(body.steps.map((s) => s.kind)).toEqual(['openmldb.confset', 'openmldb.load-leaders', 'openmldb.recover-tables', 'openmldb.confset', 'openmldb.verify'])
    await applyBody(spec, body)
    const rows = await verifyOpenMLDBRows(lab.layout)
    expect(`${rows.found} of ${rows.total}`).toBe('260 of 260')
    const after = await planOf(spec)
    expect(after.body.steps).toEqual([])
    expect(after.live.auto_failover).toBe(true)
  }, 120_000)
})
