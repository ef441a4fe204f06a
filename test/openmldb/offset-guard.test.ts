// The load step's offset guard. A replica no tablet has loaded is planned by the offset the
// nameserver last saw; its disk may hold less (a binlog deleted by an op, a disk lost). Once the
// load step has loaded every replica from its own disk the real offsets are known: a leader below
// the plan, or a follower above its leader, stops the apply before RecoverTable drops and re-sends
// the followers (which would destroy the rows the plan meant to keep), and a new plan picks the
// largest. Pure cases on offsetProblems, then the whole path on the lab over the wire.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {createOpenMLDBRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {offsetProblems} from '../../src/engines/openmldb/load.js'
import {normalizeSpec} from '../../src/engines/openmldb/spec.js'
import type {LoadOp, OpenMLDBRecoverySpec, TabletTableStatus} from '../../src/engines/openmldb/types.js'
import type {EngineIo} from '../../src/engines/types.js'
import {OpenMLDBLab} from '../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBScenario} from '../../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../../src/lab/openmldb/verify.js'
import type {PlanBody} from '../../src/plan/types.js'

const load = (endpoint: string, role: 'leader' | 'follower', offset: number, leader: number): LoadOp => ({
  db: 'db',
  name: 't',
  pid: 0,
  tid: 1,
  endpoint,
  storage_mode: 'kMemory',
  mode: role === 'leader' ? 'kTableLeader' : 'kTableFollower',
  role,
  offset: String(offset),
  leader_offset: String(leader),
})
const loaded = (offset: number): TabletTableStatus =>
  ({tid: 1, pid: 0, offset: String(offset), mode: 'kTableFollower', state: 'kTableNormal'}) as TabletTableStatus

describe('offsetProblems (pure)', () => {
  it('nothing when every replica loads what the plan counted on, or the plan could not know (offset 0 everywhere)', () => {
    const loads = [load('a:1', 'leader', 100, 100), load('b:1', 'follower', 100, 100), load('c:1', 'follower', 90, 100)]
    expect(offsetProblems(loads, [loaded(100), loaded(100), loaded(90)])).toEqual([])
    // A new nameserver read its offsets from ZooKeeper, where none were written: the loads tell.
    const blind = [load('a:1', 'leader', 0, 0), load('b:1', 'follower', 0, 0)]
    expect(offsetProblems(blind, [loaded(100), loaded(100)])).toEqual([])
    // A lower follower is re-sent from its leader: nothing lost.
    expect(offsetProblems(loads, [loaded(100), loaded(40), loaded(0)])).toEqual([])
    // A loss the plan predicted (recovery.leaders names a shorter replica) is not a surprise.
    const named = [load('a:1', 'leader', 80, 80), load('b:1', 'follower', 100, 80)]
    expect(offsetProblems(named, [loaded(80), loaded(100)])).toEqual([])
    // Not loaded yet: nothing to say.
    expect(offsetProblems(loads, [undefined, undefined, undefined])).toEqual([])
  })

  it('a leader below the plan, a follower above its leader', () => {
    const loads = [load('a:1', 'leader', 100, 100), load('b:1', 'follower', 100, 100)]
    expect(offsetProblems(loads, [loaded(0), loaded(100)]).map((f) => [f.code, f.message])).toEqual([
      [
        'OPENMLDB_LEADER_BELOW_PLAN',
        'a:1 loaded db.t/0 as its leader at offset 0, not the 100 the plan counted on: 100 offset(s) are not on its disk',
      ],
    ])
    const followerMore = [load('a:1', 'leader', 100, 100), load('b:1', 'follower', 90, 100)]
    expect(offsetProblems(followerMore, [loaded(100), loaded(120)]).map((f) => [f.code, f.message])).toEqual([
      [
        'OPENMLDB_FOLLOWER_ABOVE_PLAN',
        "b:1 loaded db.t/0 at offset 120, more than its leader's 100 and the 90 the plan saw on it: re-adding it to that leader would drop 20 offset(s) the plan did not count as lost",
      ],
    ])
    // Blind offsets (0): the leader's own load is the measure.
    const blind = [load('a:1', 'leader', 0, 0), load('b:1', 'follower', 0, 0)]
    expect(offsetProblems(blind, [loaded(5), loaded(100)]).map((f) => f.code)).toEqual(['OPENMLDB_FOLLOWER_ABOVE_PLAN'])
  })
})

const engine = createOpenMLDBRecoveryEngine({pollMs: 20})
const io: EngineIo = {env: {}, specDir: '.', progress: () => {}}
let dir: string
let lab: OpenMLDBLab
const root = `/openmldb-offset-guard-${process.pid}`

function specFor(): OpenMLDBRecoverySpec {
  return normalizeSpec({
    apiVersion: 'lifeboat/v1',
    kind: 'OpenMLDBRecovery',
    metadata: {name: 'offset-guard'},
    cluster: {name: 'lab', zookeeper: {hosts: inject('zookeeper'), root}},
    recovery: {auto_failover: false},
  } as unknown as OpenMLDBRecoverySpec)
}

/** Runs the plan's steps in order; the first failure is returned, not thrown. */
async function applyBody(
  spec: OpenMLDBRecoverySpec,
  body: PlanBody,
): Promise<{step: string; error: unknown} | undefined> {
  const ctx = await engine.connect(spec, io)
  try {
    for (const step of body.steps) {
      const x = engine.steps[step.kind]
      if (await x.isDone(ctx, step)) continue
      try {
        await x.run(ctx, step, () => {})
      } catch (error) {
        return {step: step.id, error}
      }
      expect(
        (await x.verify(ctx, step)).filter((f) => f.severity === 'error'),
        step.id,
      ).toEqual([])
    }
    expect((await engine.verify(ctx, body)).filter((f) => f.severity === 'error')).toEqual([])
    return undefined
  } finally {
    await engine.close(ctx)
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-omguard-'))
  lab = await OpenMLDBLab.up({
    scenario: parseOpenMLDBScenario(
      {
        engine: 'openmldb',
        name: 'omguard',
        nameservers: 1,
        tablets: 3,
        zk_root: root,
        auto_failover: false,
        tables: [{db: 'db1', name: 't1', partitions: 2, replicas: 3, rows: 100}],
        settings: {task_ms: 5, load_ms: 30, tablet_heartbeat_timeout_ms: 300, table_status_interval_ms: 100},
      },
      'inline',
    ),
    stateDir: dir,
    zkHosts: inject('zookeeper'),
  })
})

afterAll(async () => {
  await lab?.down()
  rmSync(dir, {recursive: true, force: true})
})

describe('the offset guard on the lab', () => {
  it('a leader whose disk lost its binlog stops the apply before the followers are touched; the next plan keeps every row', async () => {
    // The nameserver's offsets are the tablets' (a status round after the last write) before they die.
    await lab.settle()
    for (const t of lab.layout.tablets) await lab.fault({type: 'kill-tablet', tablet: t.name})
    await lab.settle()
    for (const t of lab.layout.tablets) await lab.fault({type: 'start-tablet', tablet: t.name})
    await lab.settle()
    // tablet1 leads pid 0: its disk keeps 5 entries, while the nameserver still shows the old offset.
    await lab.fault({type: 'lag', replica: 'db1.t1/0@tablet1', offset: 5})
    const spec = specFor()
    const live = await engine.gather(spec, io)
    const p0 = live.tables[0].partitions.find((p) => p.pid === 0)!
    const nsOffset = p0.replicas.find((r) => r.endpoint === lab.layout.tablets[0].endpoint)!.offset
    expect(Number(nsOffset)).toBeGreaterThan(5)
    const body = engine.plan(spec, live, {now: '2026-01-01T00:00:00.000Z'})
    expect(body.primaries.find((x) => x.partition === 'db1.t1/0')?.after).toBe(lab.layout.tablets[0].endpoint)

    const failed = await applyBody(spec, body)
    expect(failed?.step).toBe('01-load-leaders')
    const err = failed?.error as {code?: string; message?: string; detail?: string}
    expect(err.code).toBe('OPENMLDB_OFFSET_NOT_AS_PLANNED')
    expect(err.detail).toContain(
      `db1.t1/0: ${lab.layout.tablets[0].endpoint} loaded db1.t1/0 as its leader at offset 5, not the ${nsOffset} the plan counted on`,
    )
    // The followers were loaded from their own disks and nothing dropped them.
    for (const t of lab.tablets.slice(1))
      expect(t.replicaFor(1, 0)?.stored.entries.length, t.name).toBe(Number(nsOffset))

    // Planned again: the loaded replicas' real offsets pick another leader, and every row is there.
    const again = engine.plan(spec, await engine.gather(spec, io), {now: '2026-01-01T00:00:00.000Z'})
    expect(again.primaries.find((x) => x.partition === 'db1.t1/0')?.after).not.toBe(lab.layout.tablets[0].endpoint)
    expect(await applyBody(spec, again)).toBeUndefined()
    const rows = await verifyOpenMLDBRows(lab.layout)
    expect(`${rows.found} of ${rows.total}`).toBe('100 of 100')
  })
})
