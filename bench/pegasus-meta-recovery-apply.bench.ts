/**
 * PegasusMetaRecovery plan AND apply on the lab's `pegasus-scale` scenario (100 replica servers,
 * 1,000 tables, 64,000 partitions × 3 replicas), end to end against real processes: the lab runs
 * detached (its own ZooKeeper and server process, started through the CLI), and this process plans
 * and applies through the library, so its peak RSS is lifeboat's alone.
 *
 * Journey: lab up → zk-loss → plan (gather 100 servers, predict 65,001 nodes) → apply
 * (start_recovery; the lab's meta collects, constructs and writes the tree; wait; verify) up to the
 * manual step → the operator's restart (lab fault restart-meta --no-recover) → apply --resume
 * (checks the restarted meta, then verifies the whole tree node for node).
 * Prints each wall time and the peak RSS. Targets: plan under 5 s and 1 GB. Never asserts on time.
 */
import {spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {performance} from 'node:perf_hooks'

import {apply, type ApplyResult} from '../src/apply/apply.js'
import {silentReporter} from '../src/apply/ui.js'
import {loadSpecForEngine} from '../src/apply/plan-spec.js'
import {packageRoot} from '../src/package-root.js'
import {buildPlan} from '../src/plan/build.js'
import {writePlanFile} from '../src/plan/file.js'

const SCENARIO = 'pegasus-scale'
const MANUAL_STEP = '05-restart-meta-normal-mode'

function peakMb(): number {
  return process.resourceUsage().maxRSS / 1024
}

/** Runs `lifeboat ARGS` as a child process; rejects on a non-zero exit with what it printed. */
function lifeboat(args: string[], cwd: string): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'run.js'), ...args], {
      cwd,
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) =>
      code === 0 ? resolveRun(out) : reject(new Error(`lifeboat ${args.join(' ')} exited ${code}:\n${out.trim()}`)),
    )
  })
}

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now()
  const v = await fn()
  return [v, (performance.now() - t) / 1000]
}

function applyOnce(planFile: string, auditLog: string, resume: boolean): Promise<ApplyResult> {
  return apply(
    {
      target: planFile,
      autoApprove: true,
      allowDataLoss: false,
      resume,
      confirm: resume ? [MANUAL_STEP] : [],
      auditLog,
      lockTimeoutMs: 0,
      argv: ['apply', planFile, '--auto-approve', ...(resume ? ['--resume', '--confirm', MANUAL_STEP] : [])],
      toolVersion: 'bench',
      env: process.env,
    },
    {print() {}, showPlan() {}, tasks: () => silentReporter},
  )
}

/** Brings the scale lab up, plans and applies a metadata recovery, prints the figures, tears down. */
export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-meta-recovery-'))
  const stateDir = join(dir, 'lab')
  const auditLog = join(dir, 'audit.jsonl')
  let up = false
  try {
    const [, tUp] = await timed(() => lifeboat(['lab', 'up', SCENARIO, '--detach', '--state-dir', stateDir], dir))
    up = true
    const [, tLoss] = await timed(() => lifeboat(['lab', 'fault', 'zk-loss', '--state-dir', stateDir], dir))
    console.log(
      `lab ${SCENARIO}: up in ${tUp.toFixed(1)} s, metadata lost (zk-loss) in ${tLoss.toFixed(1)} s (lab process, not measured below)`,
    )

    // The lab's spec waits 100 s for start_recovery; at this size give it more room.
    const specPath = join(stateDir, 'specs', 'pegasus-meta-recovery.yaml')
    const spec = join(dir, 'spec.yaml')
    writeFileSync(spec, readFileSync(specPath, 'utf8').replace(/wait_seconds: \d+/, 'wait_seconds: 600'))

    // What `lifeboat plan` does (src/apply/plan-spec.ts), timed part by part.
    const rssBefore = peakMb()
    const now = new Date().toISOString()
    const t0 = performance.now()
    const ready = await loadSpecForEngine(spec, process.env)
    const [live, tGather] = await timed(() =>
      ready.engine.gather(ready.spec, {env: process.env, specDir: ready.dir, progress: () => undefined}),
    )
    const [body, tPredict] = await timed(async () => ready.engine.plan(ready.spec, live, {now}))
    const [plan, tBuild] = await timed(async () =>
      buildPlan({
        spec: ready.planSpec,
        cluster: ready.engine.cluster(ready.spec),
        body,
        createdAt: now,
        toolVersion: 'bench',
      }),
    )
    const tPlan = (performance.now() - t0) / 1000
    const rssPlan = peakMb()
    const planFile = join(dir, 'plan.json')
    const [, tWrite] = await timed(() => writePlanFile(planFile, plan))
    const summary = plan.observed.summary as Record<string, number | string>
    console.log(
      `plan: ${tPlan.toFixed(2)} s (target < 5 s) = gather ${tGather.toFixed(2)} s (${summary.nodes_reached}/${summary.nodes_listed} replica servers, ${summary.replicas_collected} replicas) ` +
        `+ predict ${tPredict.toFixed(2)} s + build (normalise, digest) ${tBuild.toFixed(2)} s; ` +
        `${plan.changes.length} changes, ${plan.primaries.length} primaries, ${plan.findings.length} findings, applyable ${plan.applyable}; plan file written in ${tWrite.toFixed(2)} s`,
    )
    console.log(`peak RSS after plan: ${rssPlan.toFixed(0)} MB (target < 1024 MB; ${rssBefore.toFixed(0)} MB before)`)

    const [first, tApply] = await timed(() => applyOnce(planFile, auditLog, false))
    console.log(
      `apply to the manual step (re-plan + stale check, start_recovery writing ${plan.changes.length} nodes, wait, verify): ${tApply.toFixed(2)} s, exit ${first.exit} (${first.message})`,
    )
    if (first.exit !== 3 && first.exit !== 0)
      throw new Error(
        `apply ended with exit ${first.exit}: ${first.message}\n${first.findings.map((f) => f.message).join('\n')}`,
      )
    let tResume = 0
    let tRestart = 0
    if (first.exit === 3) {
      ;[, tRestart] = await timed(() =>
        lifeboat(['lab', 'fault', 'restart-meta', '--no-recover', '--state-dir', stateDir], dir),
      )
      const [second, t] = await timed(() => applyOnce(planFile, auditLog, true))
      tResume = t
      console.log(
        `operator's restart of the meta (lab): ${tRestart.toFixed(1)} s; apply --resume (check the restarted meta, verify ${plan.changes.length} nodes): ${tResume.toFixed(2)} s, exit ${second.exit} (${second.message})`,
      )
      if (second.exit !== 0)
        throw new Error(
          `apply --resume ended with exit ${second.exit}: ${second.message}\n${second.findings.map((f) => f.message).join('\n')}`,
        )
    }
    console.log(`apply wall time: ${(tApply + tResume).toFixed(2)} s (excluding the operator's restart)`)
    console.log(`peak RSS (plan and apply): ${peakMb().toFixed(0)} MB (target < 1024 MB)`)
  } finally {
    if (up)
      await lifeboat(['lab', 'down', '--state-dir', stateDir], dir).catch((err: Error) =>
        console.error(`lab down failed: ${err.message}`),
      )
    rmSync(dir, {recursive: true, force: true})
  }
}
