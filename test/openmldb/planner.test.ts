// The pure OpenMLDBRecovery planner on fixture folders: golden plan.json, plan.txt and plan.md
// (rendered by the real renderers), and the facts each case must state.
import {createHash} from 'node:crypto'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {openmldbRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {planOpenMLDBRecovery} from '../../src/engines/openmldb/planner.js'
import {buildPlan} from '../../src/plan/build.js'
import type {Plan, PlanBody} from '../../src/plan/types.js'
import {renderPlanMarkdown} from '../../src/render/markdown.js'
import {renderPlanText} from '../../src/render/text.js'
import {FIXTURES, NOW, loadFixture} from './helpers.js'

const scenarios = readdirSync(FIXTURES, {withFileTypes: true})
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()

async function full(name: string): Promise<{body: PlanBody; plan: Plan}> {
  const {source, spec, document, live} = await loadFixture(name)
  const body = planOpenMLDBRecovery(spec, live, {now: NOW})
  const plan = buildPlan({
    spec: {
      kind: spec.kind,
      name: spec.metadata.name,
      ticket: spec.metadata.ticket,
      sha256: createHash('sha256').update(source).digest('hex'),
      source,
      document,
    },
    cluster: openmldbRecoveryEngine.cluster(spec),
    body,
    createdAt: NOW,
    toolVersion: '0.0.0-test',
  })
  return {body, plan}
}

const codes = (b: PlanBody | Plan, severity: string): string[] =>
  b.findings.filter((f) => f.severity === severity).map((f) => `${f.code} ${f.subject ?? ''}`.trim())
const stepsOf = (b: Plan): string[] => b.steps.map((s) => `${s.id} ${s.kind} ${s.risk}${s.always ? ' always' : ''}`)
const T1 = '127.0.0.1:10921'
const T2 = '127.0.0.1:10922'
const T3 = '127.0.0.1:10923'

describe('OpenMLDBRecovery planner: golden plans', () => {
  it('has a fixture for each case of the issue', async () => {
    expect(scenarios).toEqual(
      expect.arrayContaining([
        'tablet-down-auto-failover-off',
        'recoverdata-restart-all',
        'two-leaders-different-offsets',
        'lagging-follower',
        'unreachable-tablet',
        'unreachable-tablet-skip-bad-nodes',
        'lost-partition',
        'lost-partition-skip-lost-partitions',
      ]),
    )
  })
  for (const name of scenarios) {
    it(`${name}: matches plan.json, plan.txt and plan.md; deterministic whatever the list order`, async () => {
      const {plan} = await full(name)
      const dir = join(FIXTURES, name)
      const json = `${JSON.stringify(plan, null, 2)}\n`
      const {spec, live} = await loadFixture(name)
      live.tablets.reverse()
      live.tables.reverse()
      const again = buildPlan({
        spec: plan.spec,
        cluster: plan.cluster,
        body: planOpenMLDBRecovery(spec, live, {now: NOW}),
        createdAt: NOW,
        toolVersion: '0.0.0-test',
      })
      expect(`${JSON.stringify(again, null, 2)}\n`).toBe(json)
      await expect(json).toMatchFileSnapshot(join(dir, 'plan.json'))
      await expect(renderPlanText(plan, {color: false, width: 100})).toMatchFileSnapshot(join(dir, 'plan.txt'))
      await expect(renderPlanMarkdown(plan).join('')).toMatchFileSnapshot(join(dir, 'plan.md'))
    })
  }
})

describe('OpenMLDBRecovery planner: what each case says', () => {
  it('a tablet down with auto_failover off: ChangeLeader to the follower with the largest offset, then OfflineEndpoint creates kOfflineReplicaOP for the follower replica', async () => {
    const {plan} = await full('tablet-down-auto-failover-off')
    expect(plan.applyable).toBe(true)
    expect(plan.primaries.map((p) => [p.partition, p.before, p.after, p.risk])).toEqual([
      ['demo_db.orders/0', T3, T2, 'disruptive'],
    ])
    expect(stepsOf(plan)).toEqual([
      '01-change-leaders openmldb.change-leaders disruptive',
      `02-offline-${T3} openmldb.offline-endpoint disruptive`,
      '03-auto-failover-restore openmldb.confset safe always',
      '04-verify openmldb.verify read',
    ])
    expect(plan.steps[1].params.predicted).toEqual([
      {db: 'demo_db', name: 'orders', pid: 1, endpoint: T3, op_type: 'kOfflineReplicaOP'},
    ])
    expect(plan.changes.find((c) => c.address === 'conf:auto_failover')).toMatchObject({
      action: 'update',
      before: false,
      after: true,
    })
  })

  it('recoverdata after restart-all: auto_failover off first, every leader loaded, followers recovered, the setting restored as an always step', async () => {
    const {plan} = await full('recoverdata-restart-all')
    expect(stepsOf(plan)).toEqual([
      '01-auto-failover-off openmldb.confset safe',
      '02-load-leaders openmldb.load-leaders disruptive',
      '03-recover-tables openmldb.recover-tables safe',
      '04-auto-failover-restore openmldb.confset safe always',
      '05-verify openmldb.verify read',
    ])
    expect(
      (plan.steps[1].params.loads as Array<{endpoint: string; pid: number; name: string}>).map(
        (l) => `${l.name}/${l.pid} ${l.endpoint}`,
      ),
    ).toEqual([
      `orders/0 ${T1}`,
      `orders/0 ${T2}`,
      `orders/0 ${T3}`,
      `orders/1 ${T1}`,
      `orders/1 ${T2}`,
      `orders/1 ${T3}`,
      `users/0 ${T1}`,
      `users/0 ${T3}`,
    ])
    // The followers are loaded from their own disks beside the leaders: each RecoverTable then finds
    // the table and re-adds it (Simplify), or drops and re-sends it when its terms do not match.
    const loads = plan.steps[1].params.loads as Array<{endpoint: string; pid: number; name: string; mode: string}>
    const ops = plan.steps[2].params.ops as Array<{
      name: string
      pid: number
      endpoint: string
      then: string
      mark_dead: boolean
    }>
    expect(ops).toHaveLength(5)
    expect(ops.every((o) => o.then === 'kReAddReplicaSimplifyOP|kReAddReplicaWithDropOP' && o.mark_dead)).toBe(true)
    for (const o of ops)
      expect(loads).toContainEqual(
        expect.objectContaining({name: o.name, pid: o.pid, endpoint: o.endpoint, mode: 'kTableFollower'}),
      )
    expect(loads.filter((l) => l.mode === 'kTableLeader')).toHaveLength(3)
    expect(codes(plan, 'warning')).toEqual([])
  })

  it('two is_leader=true replicas with different offsets: the larger offset wins, and the upstream pick and its loss are named', async () => {
    const {plan} = await full('two-leaders-different-offsets')
    const p0 = plan.primaries.find((p) => p.partition === 'demo_db.orders/0')!
    expect([p0.before, p0.after]).toEqual([T2, T1])
    expect(p0.candidates.map((c) => [c.node, c.facts.offset, c.facts.is_leader])).toEqual([
      [T1, '1500', true],
      [T2, '1420', true],
      [T3, '1420', false],
    ])
    // pid 1 keeps its serving leader: no leader to assign, only the dead follower to recover.
    expect(plan.primaries.map((p) => p.partition)).toEqual(['demo_db.orders/0'])
    expect(plan.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'no-op conf:auto_failover',
      'update partition:demo_db.orders/0',
    ])
    const diff = plan.findings.find((f) => f.code === 'OPENMLDB_UPSTREAM_LEADER_DIFFERS')!
    expect(diff.message).toContain(`would pick ${T2} (the last replica flagged is_leader, offset 1420)`)
    expect(diff.message).toContain('would lose 80 offset(s)')
  })

  it('a lagging follower stays a follower; a follower ahead of its flagged leader becomes leader through ChangeLeader', async () => {
    const {plan} = await full('lagging-follower')
    expect(plan.primaries.map((p) => [p.partition, p.after])).toEqual([
      ['demo_db.orders/0', T1],
      ['demo_db.orders/1', T2],
    ])
    expect(plan.steps.find((s) => s.kind === 'openmldb.change-leaders')!.params.ops).toEqual([
      {db: 'demo_db', name: 'orders', pid: 1, candidate: T2},
    ])
    const loads = plan.steps.find((s) => s.kind === 'openmldb.load-leaders')!.params.loads as Array<{
      pid: number
      mode: string
    }>
    // The leaders (orders/1's loaded as follower until ChangeLeader), then the followers to recover.
    expect(loads.map((l) => `${l.pid} ${l.mode}`)).toEqual([
      '0 kTableLeader',
      '0 kTableFollower',
      '0 kTableFollower',
      '1 kTableFollower',
      '1 kTableFollower',
      '1 kTableFollower',
    ])
    // auto_failover was off and the spec keeps it off: no confset off, the restore still runs.
    expect(
      plan.steps.filter((s) => s.kind === 'openmldb.confset').map((s) => `${s.params.value} ${s.always === true}`),
    ).toEqual(['false true'])
  })

  it('an unreachable tablet: an error without skip_bad_nodes; with it, a warning and its replicas marked not alive', async () => {
    expect((await full('unreachable-tablet')).plan.applyable).toBe(false)
    expect(codes((await full('unreachable-tablet')).plan, 'error')).toEqual([`OPENMLDB_TABLET_UNREACHABLE ${T3}`])
    const {plan} = await full('unreachable-tablet-skip-bad-nodes')
    expect(plan.applyable).toBe(true)
    expect(codes(plan, 'warning')).toContain(`OPENMLDB_TABLET_UNREACHABLE ${T3}`)
    const updates = plan.steps.find((s) => s.kind === 'openmldb.set-alive')!.params.updates as Array<{
      endpoint: string
      is_alive: boolean
      pid: number
    }>
    expect(updates.filter((u) => u.endpoint === T3).map((u) => `${u.pid} ${u.is_alive}`)).toEqual([
      '0 false',
      '1 false',
    ])
  })

  it('a tablet that timed out is slow or hung: the deadline setting is named first, skip_bad_nodes after it', async () => {
    for (const [name, severity] of [
      ['unreachable-tablet', 'error'],
      ['unreachable-tablet-skip-bad-nodes', 'warning'],
    ] as const) {
      const {spec, live} = await loadFixture(name)
      const t3 = live.tablets.find((t) => t.endpoint === T3)!
      t3.timed_out = true
      t3.error = `${T3} did not answer POST /TabletServer/GetTableStatus within 5000 ms`
      const body = planOpenMLDBRecovery({...spec, recovery: {...spec.recovery, rpc_timeout_seconds: 5}}, live, {
        now: NOW,
      })
      const f = body.findings.find((x) => x.subject === T3)!
      expect(f).toMatchObject({code: 'OPENMLDB_TABLET_TIMEOUT', severity})
      expect(f.message).toContain('did not answer GetTableStatus within 5 s (recovery.rpc_timeout_seconds)')
      const hint = f.hint ?? ''
      expect(hint).toMatch(new RegExp(`^If ${T3} is only slow .*raise recovery\\.rpc_timeout_seconds`))
      if (severity === 'error')
        expect(hint.indexOf('skip_bad_nodes')).toBeGreaterThan(hint.indexOf('raise recovery.rpc_timeout_seconds'))
      else expect(hint).not.toContain('skip_bad_nodes')
    }
  })

  it('a partition with no surviving replica: an error without skip_lost_partitions; with it, a lossy step naming what is lost', async () => {
    expect(codes((await full('lost-partition')).plan, 'error')).toEqual(['OPENMLDB_PARTITION_LOST demo_db.orders/1'])
    const {plan} = await full('lost-partition-skip-lost-partitions')
    expect(plan.applyable).toBe(true)
    const lossy = plan.steps.filter((s) => s.risk === 'lossy')
    expect(lossy.map((s) => s.kind)).toEqual(['openmldb.accept-lost-partitions'])
    expect(lossy[0].riskReason).toContain('demo_db.orders/1 (offset 450)')
    expect(plan.primaries.find((p) => p.partition === 'demo_db.orders/1')).toMatchObject({after: null, risk: 'lossy'})
  })

  it('a leader override and a tablet to recover: ChangeLeader then RecoverTable of the old leader; RecoverEndpoint predicts its ops', async () => {
    const {plan} = await full('override-and-recover-endpoint')
    expect(plan.steps.find((s) => s.kind === 'openmldb.change-leaders')!.params.ops).toEqual([
      {db: 'demo_db', name: 'orders', pid: 0, candidate: T2},
    ])
    expect(plan.steps.find((s) => s.kind === 'openmldb.recover-endpoint')!.params.predicted).toEqual([
      {
        db: 'demo_db',
        name: 'orders',
        pid: 1,
        endpoint: T3,
        op_type: 'kRecoverTableOP',
        then: 'kReAddReplicaNoSendOP|kReAddReplicaOP',
      },
    ])
    expect(plan.steps.find((s) => s.kind === 'openmldb.recover-tables')!.params.ops).toMatchObject([
      {pid: 0, endpoint: T1},
    ])
  })

  it('ops still running block the plan; op ids past 2^53 stay exact', async () => {
    const {plan} = await full('ops-running')
    expect(plan.applyable).toBe(false)
    expect(plan.findings.find((f) => f.code === 'OPENMLDB_OP_RUNNING')!.message).toContain(
      'op 18446744073709551600 kRecoverTableOP',
    )
  })

  it('a healthy cluster: nothing to do', async () => {
    const {plan} = await full('healthy')
    expect(plan.steps).toEqual([])
    expect(codes(plan, 'info')).toEqual(['OPENMLDB_NOTHING_TO_RECOVER'])
  })
})
