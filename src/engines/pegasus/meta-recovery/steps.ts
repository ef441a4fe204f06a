/**
 * Step executors of PegasusMetaRecovery. Every method may be called again after a crash:
 * `isDone` looks at the cluster (is the apps root populated, does the meta serve) rather than at
 * anything remembered.
 */
import {LifeboatError, describeError} from '../../../errors.js'
import {poll, sleepClock} from '../../../util/poll.js'
import type {Finding, Step} from '../../../plan/types.js'
import {walkTree, type ZkClient} from '../../../zk/index.js'
import type {StepExecutor, StepProgress, StepResult} from '../../types.js'
import {firstConfigValue, recoveryFailed, startRecoveryAndWait, type MetaClient} from '../client/index.js'
import {APPS_ROOT_UNLOCKED, parseNodeData} from '../zk-layout.js'
import {readAppsRoot, probeMeta} from './gather.js'
import {STEP_KINDS, splitHintMessage} from './planner.js'
import type {MetaReadParams, MetaRecoverySpec, StartRecoveryParams} from './types.js'
import {VERIFY_CODES, compareHints} from './verify.js'
import {servingGraceMs, watchServing} from '../zk-migration/verify-serving.js'

/** What the executors share during one apply run. */
export interface MetaRecoveryContext {
  spec: MetaRecoverySpec
  zk: ZkClient
  meta: MetaClient
  /** Waits; injected so tests need not sleep. */
  sleep(ms: number): Promise<void>
  /** A meta server's `/config?name=` value, or null when it cannot be read. */
  readMetaConfig(server: string, name: string): Promise<string | null>
  /** The answer start_recovery gave in this run, for its verify. */
  lastRecovery?: {err: string; hintLines: string[]}
}

/** Answers list_apps with ERR_OK: the meta has started its service. */
async function metaServes(ctx: MetaRecoveryContext): Promise<boolean> {
  const state = await probeMeta(ctx.meta)
  return state.error === 'ERR_OK'
}

/** The apps root holds app nodes and is unlocked: a recovery (or an initialisation) has completed. */
async function rootPopulated(ctx: MetaRecoveryContext, appsRoot: string): Promise<boolean> {
  const root = await readAppsRoot(ctx.zk, appsRoot)
  return root.exists && root.children.length > 0 && (root.data === APPS_ROOT_UNLOCKED || root.data === '')
}

function readParams(step: Step): MetaReadParams {
  return step.params as unknown as MetaReadParams
}

/** Lists the available tables and returns the expected `id:name` entries missing from the list. */
async function missingTables(ctx: MetaRecoveryContext, expected: string[]): Promise<string[]> {
  const {server, response} = await ctx.meta.call('RPC_CM_LIST_APPS', {status: 0})
  if (response.err !== 'ERR_OK') {
    throw new LifeboatError(
      'PEGASUS_META_NOT_SERVING',
      `meta server ${server} answered list_apps with ${response.err}`,
      {
        hints: ['The meta server has not started serving; look at its log.'],
      },
    )
  }
  const listed = new Set(response.infos.filter((i) => i.status === 1).map((i) => `${i.app_id}:${i.app_name}`))
  return expected.filter((t) => !listed.has(t))
}

/** Polls `check` once a second for up to `seconds`; true when it held. */
async function pollFor(
  ctx: MetaRecoveryContext,
  seconds: number,
  progress: StepProgress,
  label: string,
  check: () => Promise<boolean>,
): Promise<boolean> {
  const held = await poll(async () => ((await check().catch(() => false)) ? true : undefined), {
    timeoutMs: seconds * 1000,
    intervalMs: 1000,
    clock: sleepClock(ctx.sleep),
    onWait: ({attempt}) => progress(`${label} for ${attempt + 1} seconds`),
  })
  return held === true
}

/** Checks the tables are listed and the apps root holds what the plan said, as findings. */
async function checkRecovered(ctx: MetaRecoveryContext, p: MetaReadParams): Promise<Finding[]> {
  const findings: Finding[] = []
  const children = new Map<string, number>()
  const apps = new Set<string>()
  let rootEntry: {data: Buffer} | undefined
  // Counted as the tree is read, never held (65,001 nodes at 64,000 partitions).
  await walkTree(ctx.zk, p.apps_root, {
    onNode: (e) => {
      if (e.path === p.apps_root) rootEntry = e
      const rel = e.path.slice(p.apps_root.length + 1)
      if (rel === '' || e.path === p.apps_root) return
      const parts = rel.split('/')
      if (parts.length === 1) apps.add(parts[0]!)
      else if (parts.length === 2 && /^\d+$/.test(parts[1]!))
        children.set(parts[0]!, (children.get(parts[0]!) ?? 0) + 1)
    },
  })
  for (const id of p.expect_app_ids) {
    if (!apps.has(id))
      findings.push({
        code: VERIFY_CODES.missing,
        severity: 'error',
        subject: `${p.apps_root}/${id}`,
        message: `${p.apps_root}/${id} is missing`,
      })
    const want = p.expect_partition_counts[id] ?? 0
    const got = children.get(id) ?? 0
    if (apps.has(id) && got !== want) {
      findings.push({
        code: VERIFY_CODES.differs,
        severity: 'error',
        subject: `${p.apps_root}/${id}`,
        message: `${p.apps_root}/${id} has ${got} partition node(s), planned ${want}`,
      })
    }
  }
  for (const id of [...apps].filter((a) => !p.expect_app_ids.includes(a)).sort()) {
    findings.push({
      code: VERIFY_CODES.unexpected,
      severity: 'error',
      subject: `${p.apps_root}/${id}`,
      message: `${p.apps_root}/${id} exists but the plan did not expect it`,
    })
  }
  if (rootEntry && parseNodeData(rootEntry.data.toString('utf8')) !== APPS_ROOT_UNLOCKED) {
    findings.push({
      code: VERIFY_CODES.differs,
      severity: 'error',
      subject: p.apps_root,
      message: `${p.apps_root} holds "${rootEntry.data.toString('utf8')}", not "unlock": the meta stopped half way and will crash at its next start (invalid transaction state)`,
    })
  }
  for (const t of await missingTables(ctx, p.expect_tables)) {
    findings.push({
      code: VERIFY_CODES.notListed,
      severity: 'error',
      subject: t,
      message: `table ${t} is not listed by the meta server`,
    })
  }
  return findings
}

/** 01: the meta waits for a recovery and the apps root is empty. */
const checkStep: StepExecutor<MetaRecoveryContext> = {
  // A check of preconditions that step 02 ends on purpose: on resume there is nothing to look for again.
  onResume: 'trust',
  async isDone(ctx, step) {
    // After a crash past start_recovery the preconditions no longer hold, by design: skip.
    return (await rootPopulated(ctx, readParams(step).apps_root)) && (await metaServes(ctx))
  },
  async run(ctx, step): Promise<StepResult> {
    const p = readParams(step)
    const meta = await probeMeta(ctx.meta)
    if (!meta.recovering) {
      throw new LifeboatError(
        'PEGASUS_NOT_IN_RECOVERY',
        `the meta server answered ${meta.error} instead of ERR_UNDER_RECOVERY`,
        {
          detail: meta.detail,
          hints: [
            `Set [meta_server] recover_from_replica_server = true and restart the meta server against an empty ${p.apps_root}.`,
          ],
        },
      )
    }
    const root = await readAppsRoot(ctx.zk, p.apps_root)
    if (root.children.length > 0) {
      throw new LifeboatError(
        'PEGASUS_ROOT_NOT_EMPTY',
        `${p.apps_root} already holds ${root.children.length} app node(s)`,
        {
          hints: ['Plan again: the cluster changed since the plan was made.'],
        },
      )
    }
    return {
      summary: `meta ${meta.address ?? ''} waits for a recovery; ${p.apps_root} is empty`,
      data: {meta: meta.address ?? null},
    }
  },
  async verify() {
    return []
  },
}

/** 02: start_recovery, waiting up to wait_seconds like the shell's `recover`. */
const startStep: StepExecutor<MetaRecoveryContext> = {
  // Its effect is the populated, unlocked apps root (the meta may still be starting: step 03 waits
  // for that). When that is gone after an earlier run finished the step, the recovery must be
  // planned again from the replicas as they are now; start_recovery is never sent twice from one plan.
  onResume: 'plan-again',
  async isDone(ctx, step) {
    const p = step.params as unknown as StartRecoveryParams
    return rootPopulated(ctx, p.apps_root)
  },
  async run(ctx, step, progress): Promise<StepResult> {
    const p = step.params as unknown as StartRecoveryParams
    progress(
      `Wait seconds: ${p.wait_seconds}; Skip bad nodes: ${p.skip_bad_nodes}; Skip lost partitions: ${p.skip_lost_partitions}; ${p.recovery_nodes.length} node(s)`,
    )
    let waited = 0
    const ticker = setInterval(() => progress(`Wait recovery for ${++waited} seconds`), 1000)
    ticker.unref()
    let response
    try {
      response = await startRecoveryAndWait(
        ctx.meta,
        {
          recovery_nodes: p.recovery_addresses,
          skip_bad_nodes: p.skip_bad_nodes,
          skip_lost_partitions: p.skip_lost_partitions,
          hp_recovery_nodes: p.recovery_nodes,
        },
        p.wait_seconds,
        'Look at the meta server log. If the apps root gets populated, `apply --resume` sees the step as done; otherwise raise recovery.wait_seconds and plan again.',
      )
    } finally {
      clearInterval(ticker)
    }
    const hintLines = splitHintMessage(response.hint_message ?? '')
    ctx.lastRecovery = {err: response.err, hintLines}
    if (response.err !== 'ERR_OK') {
      throw recoveryFailed(
        response.err,
        hintLines.join('\n'),
        response.err === 'ERR_SERVICE_ALREADY_RUNNING'
          ? ['The meta server has already started; check the apps root and plan again.']
          : ['Nothing was written to ZooKeeper; the recovery can be retried. Plan again to see why.'],
      )
    }
    return {
      summary: `Recover result: ERR_OK${hintLines.length > 0 ? ` (${hintLines.length} hint line(s))` : ''}`,
      data: {err: response.err, hints: hintLines},
    }
  },
  async verify(ctx, step) {
    const p = step.params as unknown as StartRecoveryParams
    const findings: Finding[] = []
    if (ctx.lastRecovery) findings.push(...compareHints(p.expect_hints, ctx.lastRecovery.hintLines))
    if (!(await rootPopulated(ctx, p.apps_root))) {
      findings.push({
        code: VERIFY_CODES.missing,
        severity: 'error',
        subject: p.apps_root,
        message: `${p.apps_root} holds no app node after start_recovery answered ERR_OK`,
      })
    }
    return findings
  },
}

/** 03: the meta serves (cluster_info answers ERR_OK). */
const waitStep: StepExecutor<MetaRecoveryContext> = {
  async isDone(ctx) {
    return (await ctx.meta.clusterInfo().catch(() => undefined))?.err === 'ERR_OK'
  },
  async run(ctx, step, progress): Promise<StepResult> {
    const p = readParams(step)
    const ok = await pollFor(
      ctx,
      p.wait_seconds,
      progress,
      'Wait for the meta server to serve',
      async () => (await ctx.meta.clusterInfo()).err === 'ERR_OK',
    )
    if (!ok) {
      throw new LifeboatError(
        'PEGASUS_META_NOT_SERVING',
        `the meta server does not answer cluster_info after ${p.wait_seconds} s`,
        {
          hints: ['Look at the meta server log; `apply --resume` continues from this step.'],
        },
      )
    }
    return {summary: 'the meta server serves'}
  },
  async verify() {
    return []
  },
}

/** 04: the apps root holds the planned nodes and the tables are listed. */
const verifyStep: StepExecutor<MetaRecoveryContext> = {
  // Read-only: apply's final verify checks the same again.
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(_ctx, step): Promise<StepResult> {
    const p = readParams(step)
    return {summary: `${p.expect_app_ids.length} app node(s) and ${p.expect_tables.length} table(s) to check`}
  },
  async verify(ctx, step) {
    return checkRecovered(ctx, readParams(step))
  },
}

/** The recovery flag as the meta's HTTP `/config` reports it: 'true', 'false', or null when unreadable. */
function recoveryFlag(ctx: MetaRecoveryContext): Promise<string | null> {
  return firstConfigValue(ctx.readMetaConfig, ctx.spec.cluster.meta_servers, 'recover_from_replica_server')
}

/** 05 (manual): the meta restarted with recover_from_replica_server = false. */
const restartStep: StepExecutor<MetaRecoveryContext> = {
  async isDone(ctx, step) {
    // Strict: only a flag read as false proves the restart; otherwise the operator confirms.
    if ((await recoveryFlag(ctx)) !== 'false') return false
    return (await missingTables(ctx, readParams(step).expect_tables).catch(() => ['?'])).length === 0
  },
  async run(): Promise<StepResult> {
    return {summary: 'done by hand'}
  },
  async verify(ctx, step) {
    const p = readParams(step)
    const findings: Finding[] = []
    const serving = await pollFor(
      ctx,
      p.wait_seconds,
      () => {},
      'Wait for the restarted meta server',
      async () => (await ctx.meta.clusterInfo()).err === 'ERR_OK',
    )
    if (!serving) {
      return [
        {
          code: 'PEGASUS_META_NOT_SERVING',
          severity: 'error',
          subject: p.meta_servers.join(','),
          message: `the meta server does not answer cluster_info ${p.wait_seconds} s after the restart`,
        },
      ]
    }
    const flag = await recoveryFlag(ctx)
    if (flag === 'true') {
      findings.push({
        code: 'PEGASUS_STILL_IN_RECOVERY_MODE',
        severity: 'error',
        subject: p.meta_servers.join(','),
        message:
          'the meta server still runs with recover_from_replica_server = true: its next restart would crash ("find apps from remote storage, but [meta_server].recover_from_replica_server = true")',
      })
    } else if (flag === null) {
      findings.push({
        code: 'PEGASUS_RECOVERY_FLAG_UNKNOWN',
        severity: 'warning',
        subject: p.meta_servers.join(','),
        message:
          "could not read recover_from_replica_server from the meta server's /config endpoint; make sure it is false on every meta server",
      })
    }
    try {
      for (const t of await missingTables(ctx, p.expect_tables)) {
        findings.push({
          code: VERIFY_CODES.notListed,
          severity: 'error',
          subject: t,
          message: `table ${t} is not listed by the meta server after the restart`,
        })
      }
    } catch (err) {
      findings.push({
        code: 'PEGASUS_META_NOT_SERVING',
        severity: 'error',
        subject: p.meta_servers.join(','),
        message: describeError(err),
      })
    }
    if (findings.some((f) => f.severity === 'error')) return findings
    // Answering once is not serving: the restarted meta must keep answering and listing the tables.
    const tables = p.expect_tables.map((t) => {
      const at = t.indexOf(':')
      return {app_id: Number(t.slice(0, at)), app_name: t.slice(at + 1)}
    })
    const steady = await watchServing(
      {meta: ctx.meta, sleep: ctx.sleep, graceMs: servingGraceMs(ctx.spec.cluster)},
      {tables, nodes: [], meta_servers: p.meta_servers},
    )
    return [...findings, ...steady]
  },
}

/** The executors by step kind. */
export const metaRecoverySteps: Record<string, StepExecutor<MetaRecoveryContext>> = {
  [STEP_KINDS.check]: checkStep,
  [STEP_KINDS.start]: startStep,
  [STEP_KINDS.wait]: waitStep,
  [STEP_KINDS.verify]: verifyStep,
  [STEP_KINDS.restart]: restartStep,
}
