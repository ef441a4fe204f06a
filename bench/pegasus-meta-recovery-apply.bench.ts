/**
 * PegasusMetaRecovery plan AND apply on the lab's `pegasus-scale` scenario (100 replica servers,
 * 1,000 tables, 64,000 partitions × 3 replicas), end to end against real processes: the lab runs
 * detached (its own ZooKeeper and server process, started through the CLI), and lifeboat's part
 * runs through the library in child processes of this bench, one per part (plan, apply, resume),
 * so that each part's peak RSS is its own and owes nothing to the lab or to the part before it.
 *
 * Journey: lab up → zk-loss → plan (gather 100 servers, predict 65,001 nodes, build, render,
 * write; then once more through the binary, timed whole) → apply (re-plan and stale check,
 * start_recovery: the lab's meta collects, constructs and writes the tree; wait; verify) up to the
 * manual step → the operator's restart (lab fault
 * restart-meta --no-recover) → apply --resume (checks the restarted meta, then verifies the whole
 * tree node for node). Prints, per part, each phase's wall and CPU time and RSS (pegasus-phases.ts),
 * with the load average. Targets (issue 17): plan ≤ 5 s and ≤ 1 GB, apply and resume ≤ 1 GB.
 * Never asserts on time.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {performance} from 'node:perf_hooks'

import {apply, type ApplyResult} from '../src/apply/apply.js'
import {silentReporter, type TaskReporter} from '../src/apply/ui.js'
import {loadSpecForEngine} from '../src/apply/plan-spec.js'
import {buildPlan} from '../src/plan/build.js'
import {writePlanFile} from '../src/plan/file.js'
import {renderPlanText} from '../src/render/text.js'
import {lifeboatOk} from './lifeboat-cli.js'
import {PhaseMeter, load1} from './pegasus-phases.js'

const SCENARIO = 'pegasus-scale'
const MANUAL_STEP = '05-restart-meta-normal-mode'
const PART_ENV = 'LIFEBOAT_BENCH_PART'
const DIR_ENV = 'LIFEBOAT_BENCH_DIR'

/** Polls `lab status` until every partition the meta serves is fully healthy (10 minutes at most). */
async function labSettled(stateDir: string, cwd: string): Promise<void> {
  const until = Date.now() + 600_000
  for (;;) {
    const status = JSON.parse((await lifeboatOk(['lab', 'status', '--json', '--state-dir', stateDir], cwd)).stdout) as {
      partitions?: {total: number; fully_healthy: number}
    }
    const p = status.partitions
    if (p && p.total > 0 && p.fully_healthy === p.total) return
    if (Date.now() > until) throw new Error(`the lab did not settle in 10 minutes: ${JSON.stringify(p)}`)
    await new Promise((r) => setTimeout(r, 2000))
  }
}

/** Runs one part of the journey in a child process (this bench again, PART_ENV set); its output goes to ours. */
function part(name: 'plan' | 'apply' | 'resume', dir: string): Promise<void> {
  const runner = join(fileURLToPath(new URL('.', import.meta.url)), 'run.js')
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [runner, '--one', 'pegasus-meta-recovery-apply'], {
      env: {...process.env, [PART_ENV]: name, [DIR_ENV]: dir},
      stdio: 'inherit',
    })
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolveRun() : reject(new Error(`the ${name} part exited ${code}`))))
  })
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now()
  const v = await fn()
  return [v, (performance.now() - t) / 1000]
}

/** A task reporter that starts a phase of the meter at each step. */
function stepPhases(meter: PhaseMeter): TaskReporter {
  return {
    ...silentReporter,
    update(id, status) {
      if (status === 'running') meter.start(`step ${id}`)
      else if (status !== 'pending') meter.start(`after step ${id} (${status})`)
    },
  }
}

function applyOnce(dir: string, resume: boolean, meter: PhaseMeter): Promise<ApplyResult> {
  const planFile = join(dir, 'plan.json')
  meter.start('read plan, lock, re-gather, re-plan, compare')
  return apply(
    {
      target: planFile,
      autoApprove: true,
      allowDataLoss: false,
      resume,
      confirm: resume ? [MANUAL_STEP] : [],
      auditLog: join(dir, 'audit.jsonl'),
      lockTimeoutMs: 0,
      argv: ['apply', planFile, '--auto-approve', ...(resume ? ['--resume', '--confirm', MANUAL_STEP] : [])],
      toolVersion: 'bench',
      env: process.env,
    },
    {print() {}, showPlan() {}, tasks: () => stepPhases(meter)},
  )
}

/** The plan part: what `lifeboat plan SPEC --out FILE` does, phase by phase. */
async function planPart(dir: string): Promise<void> {
  const meter = new PhaseMeter()
  const now = new Date().toISOString()
  const ready = await meter.time('load spec', () => loadSpecForEngine(join(dir, 'spec.yaml'), process.env))
  const live = await meter.time('gather', () =>
    ready.engine.gather(ready.spec, {env: process.env, specDir: ready.dir, progress: () => undefined}),
  )
  const body = await meter.time('predict', () => ready.engine.plan(ready.spec, live, {now}))
  const plan = await meter.time('build (normalise, digest)', () =>
    buildPlan({
      spec: ready.planSpec,
      cluster: ready.engine.cluster(ready.spec),
      body,
      createdAt: now,
      toolVersion: 'bench',
    }),
  )
  const text = await meter.time('render text', () => renderPlanText(plan, {color: false, width: 100}))
  await meter.time('write plan file', () => writePlanFile(join(dir, 'plan.json'), plan))
  meter.stop()
  const summary = plan.observed.summary as Record<string, number | string>
  const planning = ['gather', 'predict', 'build (normalise, digest)']
  const planS = meter.phases.filter((p) => planning.includes(p.name)).reduce((s, p) => s + p.wallS, 0)
  console.log(
    `plan: ${planS.toFixed(2)} s wall for gather + predict + build (target ≤ 5 s); ${summary.nodes_reached}/${summary.nodes_listed} replica servers, ` +
      `${summary.replicas_collected} replicas; ${plan.changes.length} changes, ${plan.primaries.length} primaries, ${plan.findings.length} findings, ` +
      `applyable ${plan.applyable}; ${text.split('\n').length} lines of text`,
  )
  for (const line of meter.report('plan (whole part, target ≤ 1024 MB)')) console.log(line)
}

/** The apply part (to the manual step) or the resume part. */
async function applyPart(dir: string, resume: boolean): Promise<void> {
  const meter = new PhaseMeter()
  const result = await applyOnce(dir, resume, meter).catch((err: unknown) => {
    // A refusal (a stale plan, say) is a LifeboatError whose detail says why.
    const detail = (err as {detail?: string}).detail
    if (detail) console.error(detail)
    throw err
  })
  meter.stop()
  const what = resume ? 'apply --resume' : 'apply to the manual step'
  console.log(`${what}: exit ${result.exit} (${result.message.split('\n')[0]})`)
  for (const line of meter.report(`${what} (target ≤ 1024 MB)`)) console.log(line)
  const want = resume ? 0 : 3
  if (result.exit !== want)
    throw new Error(
      `${what} ended with exit ${result.exit}, not ${want}: ${result.message}\n${result.findings.map((f) => f.message).join('\n')}`,
    )
}

/** Brings the scale lab up, plans and applies a metadata recovery part by part, prints the figures, tears down. */
export async function run(): Promise<void> {
  const partName = process.env[PART_ENV]
  const partDir = process.env[DIR_ENV]
  if (partName !== undefined && partDir !== undefined) {
    if (partName === 'plan') return planPart(partDir)
    return applyPart(partDir, partName === 'resume')
  }
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-meta-recovery-'))
  const stateDir = join(dir, 'lab')
  let up = false
  try {
    const [, tUp] = await timed(() => lifeboatOk(['lab', 'up', SCENARIO, '--detach', '--state-dir', stateDir], dir))
    up = true
    const [, tLoss] = await timed(() => lifeboatOk(['lab', 'fault', 'zk-loss', '--state-dir', stateDir], dir))
    console.log(
      `lab ${SCENARIO}: up in ${tUp.toFixed(1)} s, metadata lost (zk-loss) in ${tLoss.toFixed(1)} s (lab process, not measured below; load ${load1()})`,
    )
    // The lab's spec waits 100 s for start_recovery; at this size give it more room.
    const specPath = join(stateDir, 'specs', 'pegasus-meta-recovery.yaml')
    writeFileSync(
      join(dir, 'spec.yaml'),
      readFileSync(specPath, 'utf8').replace(/wait_seconds: \d+/, 'wait_seconds: 600'),
    )

    await part('plan', dir)
    // The same plan through the binary, as an operator runs it: process start-up, every phase of
    // the part above, and the text plan written to stdout. Its wall time is the part's sum of
    // phases plus start-up, not the gather + predict + build figure alone.
    const [, tCli] = await timed(() => lifeboatOk(['plan', 'spec.yaml', '--out', 'plan-cli.json'], dir))
    console.log(
      `plan through the binary (lifeboat plan spec.yaml --out FILE): ${tCli.toFixed(2)} s wall, start-up to exit (load ${load1()})`,
    )
    const [, tApply] = await timed(() => part('apply', dir))
    // The operator restarts the meta once the recovered cluster has settled. Right after the
    // recovery the lab's one process is busy with 100 replica servers' config syncs and the
    // guardian's 64,000 partitions for a minute or so, long enough to starve its own ZooKeeper
    // sessions (a real meta has a process of its own); a restart then would fail.
    const [, tSettle] = await timed(() => labSettled(stateDir, dir))
    console.log(`the lab settles after the recovery (lab process, not measured): ${tSettle.toFixed(1)} s`)
    const [, tRestart] = await timed(() =>
      lifeboatOk(['lab', 'fault', 'restart-meta', '--no-recover', '--state-dir', stateDir], dir),
    )
    console.log(`operator's restart of the meta (lab): ${tRestart.toFixed(1)} s (load ${load1()})`)
    const [, tResume] = await timed(() => part('resume', dir))
    console.log(
      `apply wall time: ${(tApply + tResume).toFixed(2)} s including two process start-ups, excluding the operator's restart (load ${load1()})`,
    )
  } finally {
    if (up)
      await lifeboatOk(['lab', 'down', '--state-dir', stateDir], dir).catch((err: Error) =>
        console.error(`lab down failed: ${err.message}`),
      )
    rmSync(dir, {recursive: true, force: true})
  }
}
