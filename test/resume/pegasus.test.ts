// Resume that converges (issue 16 item 4), Pegasus: one step kind per case, all on one in-process
// lab (real ZooKeeper, a simulated meta and replica servers speaking THFT) driven through apply's
// own step runner. Each case runs a plan, disturbs the effect of one step behind the run's back (a
// node down, a tree back, a tree lost, the meta down), then resumes with the steps recorded
// finished, and checks how the run converges: the step runs again, saying so (recheck), or the run
// stops before it and says to plan again (plan-again), and the end state is right.
//
// The cases follow one another on the lab: a ZooKeeper migration by recovery (the cluster moves to
// <root>_new), then one by copy with the source removed (to <root>_new_copy), then the first plan
// resumed once more (its target is gone), then the metadata lost and a meta recovery.
//
// Step kinds and their onResume:
// - PegasusZkMigration (src/engines/pegasus/zk-migration/steps.ts): wait-nodes (recheck),
//   remove-source (recheck, lossy: again only with --allow-data-loss) and start-recovery
//   (plan-again): here. Trust, no fault test: record-cluster and verify-copy and verify-tables
//   (checks with no effect of their own), set-meta-level (the restore step sets the level back on
//   purpose), copy (verify-copy checks it; the metas then write to the target on purpose, and the
//   source is removed by remove-source). single-meta and switch-meta are manual: the runner trusts a
//   manual step the operator confirmed (src/apply/runner.ts), its work is done by hand; the case of
//   remove-source below shows a switch undone after it was confirmed: the removal refuses.
// - PegasusMetaRecovery (src/engines/pegasus/meta-recovery/steps.ts): wait (recheck): here;
//   start_recovery (plan-again): test/e2e/resume-pegasus.test.ts. Trust: check-preconditions (step
//   02 ends them on purpose), verify (read-only). restart-meta is manual (trusted, as above).
// - PegasusDddRecovery: propose and wait (recheck) in test/pegasus/ddd/engine.test.ts; verify is trust.
import {writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {stringify} from 'yaml'

import {memoryRecorder, runSteps, type RunStepsResult} from '../../src/apply/runner.js'
import type {TaskReporter} from '../../src/apply/ui.js'
import {metaRecoveryEngine} from '../../src/engines/pegasus/meta-recovery/engine.js'
import type {MetaRecoveryContext} from '../../src/engines/pegasus/meta-recovery/steps.js'
import type {MetaRecoverySpec} from '../../src/engines/pegasus/meta-recovery/types.js'
import {
  closeZkMigrationContext,
  openZkMigrationContext,
  zkMigrationEngine,
} from '../../src/engines/pegasus/zk-migration/engine.js'
import {gatherZkMigration} from '../../src/engines/pegasus/zk-migration/gather.js'
import {planZkMigration} from '../../src/engines/pegasus/zk-migration/planner.js'
import {zkMigrationSteps, type ZkMigrationContext} from '../../src/engines/pegasus/zk-migration/steps.js'
import type {StepExecutor} from '../../src/engines/types.js'
import {ExitCode, LifeboatError} from '../../src/errors.js'
import type {PegasusLab} from '../../src/lab/pegasus/cluster.js'
import {verifyRows} from '../../src/lab/pegasus/verify.js'
import type {PlanBody, Step} from '../../src/plan/types.js'
import {loadSpecFile} from '../../src/spec/index.js'
import {connectZk, type ZkClient} from '../../src/zk/index.js'
import {waitFor} from '../cli/helpers.js'
import {NOW, errorsOf, scenario, specFor, startLab} from '../pegasus/zk-migration/helpers.js'

const zkHosts = inject('zookeeper')
const io = {env: process.env, specDir: '.', progress: () => {}}
let lab: PegasusLab
let close: () => Promise<void>
let zk: ZkClient

beforeAll(async () => {
  ;({lab, close} = await startLab(zkHosts, scenario([{name: 'temp', partitions: 4, replicas: 3, rows: 200}])))
  zk = await connectZk({hosts: zkHosts})
})

afterAll(async () => {
  await zk?.close()
  await close?.()
})

const AGAIN = 'done in an earlier run, but its effect is no longer there: running it again'

/** Runs a plan's steps through apply's runner, the operator playing manual steps; notes are what the task list showed. */
async function run<C>(
  body: PlanBody,
  executors: Record<string, StepExecutor<C>>,
  ctx: C,
  opts: {finishedEarlier?: string[]; operator?: (step: Step) => Promise<void>; allowDataLoss?: boolean} = {},
  notes: string[] = [],
): Promise<RunStepsResult> {
  const tasks: TaskReporter = {
    update: (id, status, note) => notes.push(`${id}: ${status}${note ? ` (${note})` : ''}`),
    pause() {},
    finish() {},
  }
  const operator = opts.operator
  return runSteps({
    steps: body.steps,
    executors: new Map(body.steps.map((s) => [s.id, executors[s.kind]])),
    ctx,
    recorder: memoryRecorder(),
    tasks,
    actor: 'test',
    finishedEarlier: new Set(opts.finishedEarlier ?? []),
    allowDataLoss: opts.allowDataLoss,
    askManual: operator
      ? async (step) => {
          await operator(step)
          return true
        }
      : undefined,
  })
}

/** specFor with a short serving watch: the resume, not the cluster's steadiness, is under test here. */
function migrationSpec(...args: Parameters<typeof specFor>): ReturnType<typeof specFor> {
  const spec = specFor(...args)
  return {...spec, cluster: {...spec.cluster, timeouts: {serving_seconds: 1}}} as ReturnType<typeof specFor>
}

const ids = (body: PlanBody): string[] => body.steps.map((s) => s.id)
const stopError = (r: RunStepsResult): LifeboatError => {
  expect(r.end.kind).toBe('failed')
  return (r.end as {error: LifeboatError}).error
}
const rowsFound = async (): Promise<string> => {
  const rows = await verifyRows(lab.leader()!.address, lab.layout.tables)
  return `${rows.found} of ${rows.total}`
}

describe('Pegasus: each step kind, its effect disturbed after the run, then resumed', () => {
  let recoveryPlan: PlanBody
  let recoveryCtx: ZkMigrationContext
  let firstRoot: string

  afterAll(async () => {
    if (recoveryCtx) await closeZkMigrationContext(recoveryCtx)
  })

  it('zk-migration wait-nodes (recheck): a node down after the run; resume waits for the node list again and converges once it is back', async () => {
    firstRoot = lab.layout.cluster_root
    const target = {hosts: zkHosts, root: `${firstRoot}_new`}
    const spec = migrationSpec(lab, 'recovery', target)
    const body = planZkMigration(spec, await gatherZkMigration(spec, io), {now: NOW})
    expect(errorsOf(body.findings)).toEqual([])
    expect(ids(body)).toEqual([
      '01-record-cluster',
      '02-restart-meta-in-recovery-mode',
      '03-start-recovery',
      '04-wait-for-nodes',
      '05-restart-metas-normal-mode',
      '06-restore-meta-level',
      '07-verify-tables',
    ])
    recoveryPlan = body
    const ctx = (recoveryCtx = openZkMigrationContext(spec, {env: process.env}))
    const first = await run(body, zkMigrationSteps, ctx, {
      operator: async (step) => {
        if (step.id === '02-restart-meta-in-recovery-mode')
          await lab.restartMeta({zk: target.hosts, root: target.root, recover: true})
        if (step.id === '05-restart-metas-normal-mode')
          await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
      },
    })
    expect(first.end).toEqual({kind: 'completed'})

    // A replica server goes down after the run: the node list no longer matches the recorded one.
    const wait = body.steps[3]!
    const node = lab.layout.replica_servers[0]!.address
    await lab.fault({type: 'kill-node', node})
    await waitFor('the meta sees the node gone', async () =>
      (await zkMigrationSteps[wait.kind]!.isDone(ctx, wait)) ? undefined : true,
    )
    const notes: string[] = []
    const resuming = run(body, zkMigrationSteps, ctx, {finishedEarlier: ids(body)}, notes)
    await waitFor('04 running again', () => (notes.includes(`${wait.id}: running (${AGAIN})`) ? true : undefined))
    await lab.fault({type: 'start-node', node})
    const resumed = await resuming
    expect(resumed.end, notes.join('\n')).toEqual({kind: 'completed'})
    expect(resumed.steps.map((o) => [o.id, o.status, o.again ?? false])).toEqual([
      ['01-record-cluster', 'done', false],
      ['02-restart-meta-in-recovery-mode', 'done', false],
      ['03-start-recovery', 'done', false],
      ['04-wait-for-nodes', 'done', true],
      ['05-restart-metas-normal-mode', 'done', false],
      ['06-restore-meta-level', 'done', false],
      ['07-verify-tables', 'done', false],
    ])
    expect(errorsOf(await zkMigrationEngine.verify(ctx, body))).toEqual([])
    expect(await rowsFound()).toBe('200 of 200')
  })

  it('zk-migration switch-meta (manual, trusted) undone before the removal: remove-source refuses; remove-source (recheck, lossy), the source tree back after the run: resume refuses without --allow-data-loss, deletes it again with it', async () => {
    const source = lab.layout.cluster_root
    const target = {hosts: zkHosts, root: `${source}_copy`}
    const spec = migrationSpec(lab, 'copy', target, true)
    const body = planZkMigration(spec, await gatherZkMigration(spec, io), {now: NOW})
    expect(errorsOf(body.findings)).toEqual([])
    const remove = body.steps.at(-1)!
    expect(remove.kind).toBe('pegasus.zk-migration.remove-source')
    const ctx = openZkMigrationContext(spec, {env: process.env})
    try {
      // The run stops before the removal; then the operator's switch is undone (the metas back on
      // the source). Resume trusts the confirmed manual switch, and the removal, which checks where
      // the metas run before it deletes anything, refuses and says what to do.
      const beforeRemoval = {...body, steps: body.steps.slice(0, -1)}
      const first = await run(beforeRemoval, zkMigrationSteps, ctx, {
        operator: async (step) => {
          if (step.id === '05-switch-metas-to-target')
            await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
        },
      })
      expect(first.end).toEqual({kind: 'completed'})
      await lab.restartMeta({zk: zkHosts, root: source, recover: false})
      const onSource = await run(body, zkMigrationSteps, ctx, {finishedEarlier: ids(beforeRemoval)})
      expect(onSource.steps.find((o) => o.id === '05-switch-metas-to-target')).toMatchObject({
        status: 'done',
        earlier: true,
      })
      expect(stopError(onSource).message).toBe(
        `step ${remove.id} failed: refusing to delete the source tree: the metas do not all report the target ZooKeeper`,
      )
      expect(stopError(onSource).hints.join(' ')).toContain('Finish the switch of every meta to the target first')
      expect(await zk.exists(source)).not.toBeNull()
      // Switched again, the resume removes the source.
      await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
      const removed = await run(body, zkMigrationSteps, ctx, {finishedEarlier: ids(beforeRemoval)})
      expect(removed.end).toEqual({kind: 'completed'})
      expect(await zk.exists(source)).toBeNull()

      // Something writes the source root again (an old meta started against it, a restore).
      await zk.mkdirp(`${source}/apps`)
      const refused = await run(body, zkMigrationSteps, ctx, {finishedEarlier: ids(body)})
      const err = stopError(refused)
      expect(err.code).toBe('STEP_EFFECT_GONE')
      expect(err.exit).toBe(ExitCode.APPROVAL)
      expect(err.message).toBe(
        `step ${remove.id} was done in an earlier run, but its effect is no longer there, and running it again may lose data`,
      )
      expect(err.hints.join(' ')).toContain('To run it again, resume with --allow-data-loss')
      expect(refused.steps.at(-1)).toMatchObject({id: remove.id, status: 'failed'})
      expect(await zk.exists(`${source}/apps`)).not.toBeNull()

      const notes: string[] = []
      const resumed = await run(body, zkMigrationSteps, ctx, {finishedEarlier: ids(body), allowDataLoss: true}, notes)
      expect(resumed.end, notes.join('\n')).toEqual({kind: 'completed'})
      expect(notes).toContain(`${remove.id}: running (${AGAIN})`)
      expect(resumed.steps.filter((o) => o.again).map((o) => o.id)).toEqual([remove.id])
      expect(await zk.exists(source)).toBeNull()
      expect(errorsOf(await zkMigrationEngine.verify(ctx, body))).toEqual([])
      expect(await rowsFound()).toBe('200 of 200')
    } finally {
      await closeZkMigrationContext(ctx)
    }
  })

  it('zk-migration start-recovery (plan-again): its target tree gone after the run; resume stops before it and says to plan again', async () => {
    // The recovery's target, <root>_new, was removed as the source of the copy since.
    expect(await zk.exists(`${firstRoot}_new`)).toBeNull()
    const resumed = await run(recoveryPlan, zkMigrationSteps, recoveryCtx, {finishedEarlier: ids(recoveryPlan)})
    const err = stopError(resumed)
    expect(err.code).toBe('STEP_EFFECT_GONE')
    expect(err.exit).toBe(ExitCode.STALE)
    expect(err.message).toBe(
      'step 03-start-recovery was done in an earlier run, but its effect is no longer there, and it cannot be repeated safely from this plan',
    )
    expect(err.hints.join(' ')).toContain('Plan again from the cluster as it is now')
    expect(resumed.steps.map((o) => [o.id, o.status])).toEqual([
      ['01-record-cluster', 'done'],
      ['02-restart-meta-in-recovery-mode', 'done'],
      ['03-start-recovery', 'failed'],
    ])
    // Nothing was sent: the cluster still serves from the copy, every row readable.
    expect(lab.layout.cluster_root).toBe(`${firstRoot}_new_copy`)
    expect(await rowsFound()).toBe('200 of 200')
  })

  it('meta-recovery wait (recheck): the meta down after the run; resume waits for it again and converges once it serves', async () => {
    await lab.fault({type: 'zk-loss'})
    const file = join(tmpdir(), `lifeboat-resume-pegasus-${process.pid}.yaml`)
    writeFileSync(
      file,
      stringify({
        apiVersion: 'lifeboat/v1',
        kind: 'PegasusMetaRecovery',
        metadata: {name: 'resume-meta-recovery'},
        cluster: {
          name: lab.layout.cluster_name,
          meta_servers: lab.layout.meta_servers.map((m) => m.address),
          zookeeper: {hosts: lab.layout.zk_hosts, root: lab.layout.cluster_root},
        },
        recovery: {target_nodes: lab.layout.replica_servers.map((r) => r.address), wait_seconds: 30},
      }),
    )
    const loaded = await loadSpecFile(file)
    expect(loaded.diagnostics).toEqual([])
    const spec = loaded.spec!.spec as unknown as MetaRecoverySpec
    const body = metaRecoveryEngine.plan(spec, await metaRecoveryEngine.gather(spec, io), {now: NOW})
    expect(errorsOf(body.findings)).toEqual([])
    expect(body.steps.map((s) => s.kind)).toEqual([
      'pegasus.meta-recovery.check',
      'pegasus.meta-recovery.start',
      'pegasus.meta-recovery.wait',
      'pegasus.meta-recovery.verify',
      'pegasus.meta-recovery.restart-meta',
    ])
    const ctx: MetaRecoveryContext = await metaRecoveryEngine.connect(spec, io)
    try {
      // Stopped at the manual restart, as apply without a terminal stops.
      const first = await run(body, metaRecoveryEngine.steps, ctx)
      expect(first.end.kind).toBe('waiting')
      const wait = body.steps[2]!

      // The meta goes down after the run.
      await lab.leader()!.stop()
      expect(await metaRecoveryEngine.steps[wait.kind]!.isDone(ctx, wait)).toBe(false)
      const notes: string[] = []
      const resuming = run(body, metaRecoveryEngine.steps, ctx, {finishedEarlier: ids(body).slice(0, 4)}, notes)
      await waitFor('the wait running again', () =>
        notes.includes(`${wait.id}: running (${AGAIN})`) ? true : undefined,
      )
      // The operator brings it back, in normal mode (the restart the plan's last step asks for).
      await lab.restartMeta({recover: false})
      const resumed = await resuming
      expect(resumed.end, notes.join('\n')).toEqual({kind: 'completed'})
      expect(resumed.steps.map((o) => [o.id, o.status, o.again ?? false])).toEqual([
        [body.steps[0]!.id, 'done', false],
        [body.steps[1]!.id, 'done', false],
        [wait.id, 'done', true],
        [body.steps[3]!.id, 'done', false],
        [body.steps[4]!.id, 'skipped', false],
      ])
      expect(errorsOf(await metaRecoveryEngine.verify(ctx, body))).toEqual([])
      expect(await rowsFound()).toBe('200 of 200')
    } finally {
      await metaRecoveryEngine.close(ctx)
    }
  })
})
