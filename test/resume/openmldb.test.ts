// Resume that converges (issue 16 item 4), OpenMLDB: one step kind per case, on one in-process lab
// (real ZooKeeper, nameservers and tablets over brpc HTTP+JSON) driven through apply's own step
// runner. Each case runs a plan to its end, disturbs the effect of one step behind the run's back
// (an RPC to the nameserver, as an operator or a restarted server would), then resumes with every
// step recorded finished, and checks how the run converges: the step runs again (recheck), or the
// run stops before it and says to plan again (plan-again), and the end state is right.
//
// Step kinds and their onResume (src/engines/openmldb/steps.ts):
// - confset (recheck): test/e2e/resume-openmldb.test.ts.
// - change-leaders (plan-again), recover-endpoint (recheck), recover-tables (recheck): here.
// - trust, no fault test: offline-endpoint (recover-endpoint brings its replicas back on purpose),
//   set-alive (the recover steps after it set the same flags again on purpose), load-leaders
//   (recover-tables drops and re-adds the followers it loaded on purpose), accept-lost and verify
//   (no effect of their own: a record and a read-only check).
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {memoryRecorder, runSteps, type RunStepsResult} from '../../src/apply/runner.js'
import type {TaskReporter} from '../../src/apply/ui.js'
import {OpenMLDBClient} from '../../src/engines/openmldb/client.js'
import {createOpenMLDBRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {tablesOf, tabletStatesOf} from '../../src/engines/openmldb/gather.js'
import {normalizeSpec} from '../../src/engines/openmldb/spec.js'
import type {OpenMLDBContext} from '../../src/engines/openmldb/steps.js'
import type {OpenMLDBRecoverySpec, TableFacts} from '../../src/engines/openmldb/types.js'
import type {EngineIo} from '../../src/engines/types.js'
import {ExitCode, LifeboatError} from '../../src/errors.js'
import {OpenMLDBLab} from '../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBScenario} from '../../src/lab/openmldb/scenario.js'
import {verifyOpenMLDBRows} from '../../src/lab/openmldb/verify.js'
import type {PlanBody} from '../../src/plan/types.js'
import {waitFor} from '../cli/helpers.js'
import {restartEveryTablet} from '../openmldb/restart.js'

const engine = createOpenMLDBRecoveryEngine({pollMs: 20})
const io: EngineIo = {env: {}, specDir: '.', progress: () => {}}
let dir: string
let lab: OpenMLDBLab
let root: string
let client: OpenMLDBClient

function specFor(recovery: Record<string, unknown>): OpenMLDBRecoverySpec {
  return normalizeSpec({
    apiVersion: 'lifeboat/v1',
    kind: 'OpenMLDBRecovery',
    metadata: {name: 'resume-test'},
    cluster: {name: 'lab', zookeeper: {hosts: inject('zookeeper'), root}},
    recovery,
  } as unknown as OpenMLDBRecoverySpec)
}

async function planOf(spec: OpenMLDBRecoverySpec): Promise<PlanBody> {
  return engine.plan(spec, await engine.gather(spec, io), {now: '2026-01-01T00:00:00.000Z'})
}

/** Runs the plan's steps through apply's runner; `finishedEarlier` ids are what an earlier run recorded. */
async function run(
  ctx: OpenMLDBContext,
  body: PlanBody,
  finishedEarlier: string[] = [],
): Promise<RunStepsResult & {notes: string[]}> {
  const notes: string[] = []
  const tasks: TaskReporter = {
    update: (id, status, note) => notes.push(`${id}: ${status}${note ? ` (${note})` : ''}`),
    pause() {},
    finish() {},
  }
  const result = await runSteps({
    steps: body.steps,
    executors: new Map(body.steps.map((s) => [s.id, engine.steps[s.kind]])),
    ctx,
    recorder: memoryRecorder(),
    tasks,
    actor: 'test',
    finishedEarlier: new Set(finishedEarlier),
  })
  return {...result, notes}
}

const kindOf = (body: PlanBody, id: string): string => body.steps.find((s) => s.id === id)!.kind
const tables = async (): Promise<TableFacts[]> => tablesOf(await client.ns('ShowTable', {show_all: true}))
const tabletState = async (ep: string): Promise<string | undefined> =>
  tabletStatesOf(await client.ns('ShowTablet', {})).get(ep)

async function expectVerified(ctx: OpenMLDBContext, body: PlanBody): Promise<void> {
  expect((await engine.verify(ctx, body)).filter((f) => f.severity === 'error')).toEqual([])
  const rows = await verifyOpenMLDBRows(lab.layout)
  expect(`${rows.found} of ${rows.total}`).toBe('60 of 60')
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-resume-om-'))
  root = `/openmldb-resume-test-${process.pid}`
  const scenario = parseOpenMLDBScenario(
    {
      engine: 'openmldb',
      name: 'resume',
      nameservers: 2,
      tablets: 3,
      zk_root: root,
      auto_failover: false,
      tables: [{db: 'demo_db', name: 'orders', partitions: 3, replicas: 3, rows: 60}],
    },
    'inline',
  )
  lab = await OpenMLDBLab.up({scenario, stateDir: dir, zkHosts: inject('zookeeper')})
  client = new OpenMLDBClient({nameservers: lab.layout.nameservers.map((n) => n.endpoint), authorization: 'foo'})
})

afterAll(async () => {
  await lab?.down()
  rmSync(dir, {recursive: true, force: true})
})

describe('OpenMLDB: each step kind, its effect disturbed after the run, then resumed', () => {
  let victim: string

  it('change-leaders (plan-again): a leader moved since the run; resume stops before it and says to plan again; the new plan converges', async () => {
    victim = lab.layout.tablets[2]!.endpoint
    await lab.fault({type: 'kill-tablet', tablet: victim})
    await waitFor(`${victim} kOffline`, async () => ((await tabletState(victim)) === 'kOffline' ? true : undefined))
    const spec = specFor({auto_failover: false, tables: 'none', offline_endpoints: [victim]})
    const body = await planOf(spec)
    expect(body.steps.map((s) => s.kind)).toEqual([
      'openmldb.change-leaders',
      'openmldb.offline-endpoint',
      'openmldb.confset',
      'openmldb.verify',
    ])
    const ctx = await engine.connect(spec, io)
    try {
      expect((await run(ctx, body)).end).toEqual({kind: 'completed'})
      // An operator moves one planned leader to the partition's other alive follower.
      const op = (body.steps[0]!.params as {ops: {db: string; name: string; pid: number; candidate: string}[]}).ops[0]!
      const other = (await tables())
        .find((t) => t.name === op.name)!
        .partitions[op.pid]!.replicas.find((r) => r.is_alive && !r.is_leader && r.endpoint !== op.candidate)!.endpoint
      await client.ns('ChangeLeader', {name: op.name, db: op.db, pid: op.pid, candidate_leader: other})
      await waitFor(`${other} leads ${op.name}/${op.pid}`, async () => {
        const p = (await tables()).find((t) => t.name === op.name)!.partitions[op.pid]!
        const leaders = p.replicas.filter((r) => r.is_leader && r.is_alive).map((r) => r.endpoint)
        return leaders.length === 1 && leaders[0] === other ? true : undefined
      })

      const resumed = await run(
        ctx,
        body,
        body.steps.map((s) => s.id),
      )
      expect(resumed.end.kind).toBe('failed')
      const err = (resumed.end as {error: LifeboatError}).error
      expect(err.code).toBe('STEP_EFFECT_GONE')
      expect(err.exit).toBe(ExitCode.STALE)
      expect(err.message).toBe(
        `step ${body.steps[0]!.id} was done in an earlier run, but its effect is no longer there, and it cannot be repeated safely from this plan`,
      )
      expect(err.hints.join(' ')).toContain('Plan again from the cluster as it is now')
      // Nothing after it ran; the always step that restores auto_failover still did (its value stands).
      expect(resumed.steps.map((o) => [kindOf(body, o.id), o.status, o.always ?? false])).toEqual([
        ['openmldb.change-leaders', 'failed', false],
        ['openmldb.confset', 'skipped', true],
      ])
      // The operator's leader stands: nothing was forced back.
      const p = (await tables()).find((t) => t.name === op.name)!.partitions[op.pid]!
      expect(p.replicas.filter((r) => r.is_leader && r.is_alive).map((r) => r.endpoint)).toEqual([other])

      // Planned again from the cluster as it is now: nothing left to change, and it verifies.
      const again = await planOf(spec)
      expect(again.steps.map((s) => s.kind)).not.toContain('openmldb.change-leaders')
      expect((await run(ctx, again)).end).toEqual({kind: 'completed'})
      await expectVerified(ctx, again)
    } finally {
      await engine.close(ctx)
    }
  })

  it('recover-endpoint (recheck): a recovered replica marked not alive since the run; resume runs it again and converges', async () => {
    await lab.fault({type: 'start-tablet', tablet: victim})
    await waitFor(`${victim} kHealthy`, async () => ((await tabletState(victim)) === 'kHealthy' ? true : undefined))
    const spec = specFor({auto_failover: false, tables: 'none', recover_endpoints: [victim]})
    const body = await planOf(spec)
    expect(body.steps.map((s) => s.kind)).toEqual(['openmldb.recover-endpoint', 'openmldb.confset', 'openmldb.verify'])
    const ctx = await engine.connect(spec, io)
    try {
      expect((await run(ctx, body)).end).toEqual({kind: 'completed'})
      const recover = body.steps[0]!
      const op = (recover.params as {predicted: {db: string; name: string; pid: number}[]}).predicted[0]!
      await client.ns('UpdateTableAliveStatus', {
        name: op.name,
        db: op.db,
        pid: op.pid,
        endpoint: victim,
        is_alive: false,
      })

      const resumed = await run(
        ctx,
        body,
        body.steps.map((s) => s.id),
      )
      expect(resumed.end, resumed.notes.join('\n')).toEqual({kind: 'completed'})
      expect(resumed.notes).toContain(
        `${recover.id}: running (done in an earlier run, but its effect is no longer there: running it again)`,
      )
      // Only the replica made not alive is recovered again: the nameserver skips the alive ones.
      const predicted = (recover.params as {predicted: unknown[]}).predicted.length
      expect(resumed.steps[0]!.summary).toBe(
        `ran again: recover endpoint ok: 1 op(s) done (${predicted - 1} replica(s) already recovered)`,
      )
      expect(resumed.steps.map((o) => [kindOf(body, o.id), o.status, o.again ?? false])).toEqual([
        ['openmldb.recover-endpoint', 'done', true],
        ['openmldb.confset', 'skipped', false],
        ['openmldb.verify', 'done', false],
      ])
      const p = (await tables()).find((t) => t.name === op.name)!.partitions[op.pid]!
      expect(p.replicas.find((r) => r.endpoint === victim)?.is_alive).toBe(true)
      await expectVerified(ctx, body)
    } finally {
      await engine.close(ctx)
    }
  })

  it('recover-tables (recheck): a recovered follower marked not alive since the run; resume recovers it again and converges', async () => {
    await restartEveryTablet(lab)
    const spec = specFor({auto_failover: false})
    const body = await planOf(spec)
    expect(body.steps.map((s) => s.kind)).toEqual([
      'openmldb.load-leaders',
      'openmldb.recover-tables',
      'openmldb.confset',
      'openmldb.verify',
    ])
    const ctx = await engine.connect(spec, io)
    try {
      expect((await run(ctx, body)).end).toEqual({kind: 'completed'})
      const recover = body.steps[1]!
      const op = (recover.params as {ops: {db: string; name: string; pid: number; endpoint: string}[]}).ops[0]!
      await client.ns('UpdateTableAliveStatus', {
        name: op.name,
        db: op.db,
        pid: op.pid,
        endpoint: op.endpoint,
        is_alive: false,
      })

      const resumed = await run(
        ctx,
        body,
        body.steps.map((s) => s.id),
      )
      expect(resumed.end, resumed.notes.join('\n')).toEqual({kind: 'completed'})
      expect(resumed.steps.map((o) => [kindOf(body, o.id), o.status, o.again ?? false])).toEqual([
        ['openmldb.load-leaders', 'done', false],
        ['openmldb.recover-tables', 'done', true],
        ['openmldb.confset', 'skipped', false],
        ['openmldb.verify', 'done', false],
      ])
      const p = (await tables()).find((t) => t.name === op.name)!.partitions[op.pid]!
      expect(p.replicas.find((r) => r.endpoint === op.endpoint)).toMatchObject({is_alive: true, is_leader: false})
      await expectVerified(ctx, body)
    } finally {
      await engine.close(ctx)
    }
  })
})
