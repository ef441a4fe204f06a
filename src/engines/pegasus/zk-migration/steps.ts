/**
 * Step executors of PegasusZkMigration. Every method may be called again after a crash: `isDone`
 * looks at the cluster (the meta's level and ZooKeeper, the trees), never at anything remembered.
 *
 * Manual steps are confirmed by reading the cluster: the lock nodes in the source ZooKeeper, and
 * the meta's own report of its ZooKeeper (`/meta/cluster`, else `/config`), so a confirmation that
 * does not match reality fails with what was seen.
 */

import {LifeboatError, describeError} from '../../../errors.js'
import {poll, sleepClock, type Clock} from '../../../util/poll.js'
import type {Finding, Step} from '../../../plan/types.js'
import {
  ZkError,
  compareTrees as compareZkTrees,
  copyTree,
  removeTree,
  type CopyTreeOptions,
  type CopyTreeResult,
  type ZkClient,
} from '../../../zk/index.js'
import type {StepExecutor, StepProgress, StepResult} from '../../types.js'
import {
  PegasusClientError,
  firstConfigValue,
  getMetaCluster,
  readMetaConfigHttp,
  recoveryFailed,
  resolveIpv4,
  startRecoveryAndWait,
  type MetaClient,
} from '../client/index.js'
import {appsRootPath, metaLeaderLockDirs} from '../zk-layout.js'
import {metaLevelName, metaLevelValue} from '../wire/index.js'
import {listNodeRows, listTables} from './gather.js'
import {servingGraceMs, watchServingOnce} from './verify-serving.js'
import {ensembleKey, normalRoot} from './planner.js'
import {
  STEP_KINDS,
  VERIFY_CODES,
  type ClusterParams,
  type CopyParams,
  type NodeRow,
  type SetLevelParams,
  type SingleMetaParams,
  type StartRecoveryParams,
  type SwitchMetaParams,
  type TableRow,
  type ZkMigrationSpec,
  type ZkPlace,
} from './types.js'

/** What the executors share during one apply run. */
export interface ZkMigrationContext {
  spec: ZkMigrationSpec
  /** A live session on the source or the target ZooKeeper, reopened when the last one died. */
  zk(which: 'source' | 'target'): Promise<ZkClient>
  meta: MetaClient
  /** Waits; injected so tests need not sleep. */
  sleep(ms: number): Promise<void>
  /** A meta server's ZooKeeper as it reports it, or null when it does not answer. */
  metaZookeeper(server: string): Promise<{hosts: string; root: string} | null>
  /** A meta server's `/config?name=` value, or null. */
  readMetaConfig(server: string, name: string): Promise<string | null>
  /** Tuning of the tree copy (the bench sets it; defaults are zookeeper-performance.md's). */
  copyOptions?: Omit<CopyTreeOptions, 'onProgress' | 'ignoreEphemeral'>
  /** The last copy's figures, for the bench and the audit log. */
  lastCopy?: CopyTreeResult
  /** The last comparison, for the verify of verify-copy. */
  lastCompare?: TreeComparison
}

/** How often a manual step's check is retried while the meta restarts. */
const POLL_MS = 1000
/** A meta that answers with the wrong ZooKeeper is asked again for this long before the check fails. */
const WRONG_ANSWER_GRACE_MS = 3000

function params<P>(step: Step): P {
  return step.params as unknown as P
}

function samePlace(seen: {hosts: string; root: string}, want: ZkPlace): boolean {
  return ensembleKey(seen.hosts) === ensembleKey(want.hosts) && normalRoot(seen.root) === normalRoot(want.root)
}

// ------------------------------------------------------------------------------ lock nodes

/** Meta addresses holding a LOCKNODE in the given lock directories, sorted. */
async function lockHolders(zk: ZkClient, dirs: string[]): Promise<string[]> {
  const out: string[] = []
  for (const dir of dirs) {
    let children: string[]
    try {
      children = await zk.getChildren(dir)
    } catch (err) {
      if (err instanceof ZkError && err.code === 'ZK_NO_NODE') continue
      throw err
    }
    for (const c of children.filter((x) => /^LOCKNODE\d+$/.test(x)).sort()) {
      try {
        out.push((await zk.get(`${dir}/${c}`)).data.toString('utf8').trim())
      } catch (err) {
        if (!(err instanceof ZkError && err.code === 'ZK_NO_NODE')) throw err
      }
    }
  }
  return out
}

/** 01 (copy, manual): only the meta leader runs. */
const singleMetaStep: StepExecutor<ZkMigrationContext> = {
  async isDone(ctx, step) {
    const p = params<SingleMetaParams>(step)
    return (await lockHolders(await ctx.zk('source'), p.lock_dirs)).length === 1
  },
  async run() {
    return {summary: 'done by hand'}
  },
  async verify(ctx, step) {
    const p = params<SingleMetaParams>(step)
    const holders = await lockHolders(await ctx.zk('source'), p.lock_dirs)
    if (holders.length === 1) return []
    return [
      {
        code: VERIFY_CODES.followers,
        severity: 'error',
        subject: holders.join(',') || p.lock_dirs.join(','),
        message:
          holders.length === 0
            ? `no meta server holds a leader lock node under ${p.lock_dirs.join(' or ')}: the leader is not running either`
            : `${holders.length} meta servers still hold leader lock nodes: ${holders.join(', ')}; only the leader (the first) may run`,
        hint:
          holders.length === 0
            ? 'Start the leader meta again (followers stay stopped).'
            : `Stop ${holders.slice(1).join(', ')}.`,
      },
    ]
  },
}

// ------------------------------------------------------------------------------ meta level

async function currentLevel(ctx: ZkMigrationContext): Promise<string> {
  return metaLevelName(await ctx.meta.getMetaLevel())
}

/** set-meta-level: control_meta to the planned level. */
const setLevelStep: StepExecutor<ZkMigrationContext> = {
  // The plan sets the level twice (blind for the copy, then back): a later step changes this one's
  // effect on purpose, so finding it changed proves nothing; step 04 compares the copy node for node.
  onResume: 'trust',
  async isDone(ctx, step) {
    return (await currentLevel(ctx).catch(() => null)) === params<SetLevelParams>(step).level
  },
  async run(ctx, step): Promise<StepResult> {
    const p = params<SetLevelParams>(step)
    const value = metaLevelValue(p.level)
    if (value === undefined)
      throw new LifeboatError('PEGASUS_BAD_LEVEL', `"${p.level}" is not a meta function level`, {
        hints: ['Plan again.'],
      })
    const old = metaLevelName(await ctx.meta.setMetaLevel(value))
    return {
      summary: `meta level ${old} -> ${p.level}${old !== p.from ? ` (the plan saw ${p.from})` : ''}`,
      data: {from: old, to: p.level},
    }
  },
  async verify(ctx, step) {
    const p = params<SetLevelParams>(step)
    const now = await currentLevel(ctx).catch((err: unknown) => `unknown (${describeError(err)})`)
    if (now === p.level) return []
    return [
      {
        code: VERIFY_CODES.levelDiffers,
        severity: 'error',
        subject: ctx.meta.knownLeader ?? p.meta_servers.join(','),
        message: `the meta level is ${now}, not ${p.level}`,
      },
    ]
  },
}

// ------------------------------------------------------------------------------ trees

/** A node-for-node comparison of two subtrees. */
export interface TreeComparison {
  sourceNodes: number
  targetNodes: number
  /** Paths relative to the roots, sorted. */
  missing: string[]
  extra: string[]
  differs: string[]
}

/** Both subtrees compared through zk/'s tree comparison (SHA-1 per node). A missing root is an empty tree. */
export async function compareTrees(
  src: ZkClient,
  srcRoot: string,
  dst: ZkClient,
  dstRoot: string,
  ignoreEphemeral: boolean,
): Promise<TreeComparison> {
  const {aNodes, bNodes, diffs} = await compareZkTrees(src, srcRoot, dst, dstRoot, {ignoreEphemeral})
  const of = (kind: 'missing' | 'extra' | 'data'): string[] =>
    diffs
      .filter((d) => d.kind === kind)
      .map((d) => d.path)
      .sort()
  return {sourceNodes: aNodes, targetNodes: bNodes, missing: of('missing'), extra: of('extra'), differs: of('data')}
}

function clean(cmp: TreeComparison): boolean {
  return cmp.missing.length === 0 && cmp.extra.length === 0 && cmp.differs.length === 0
}

function shortList(paths: string[], root: string): string {
  const shown = paths.slice(0, 10).map((p) => `${root}${p}` || '/')
  return shown.join(', ') + (paths.length > 10 ? `, ... (${paths.length} in all)` : '')
}

/** 03: streaming copy of the cluster root; a partial target from an interrupted copy is completed. */
const copyStep: StepExecutor<ZkMigrationContext> = {
  // Once the metas run on the target they write to it: a target that differs from the source is
  // then expected, and copying again would overwrite their writes. The copy is checked by step 04.
  onResume: 'trust',
  async isDone(ctx, step) {
    const p = params<CopyParams>(step)
    const dst = await ctx.zk('target')
    if ((await dst.exists(p.target.root)) === null) return false
    return clean(await compareTrees(await ctx.zk('source'), p.source.root, dst, p.target.root, p.ignore_ephemeral))
  },
  async run(ctx, step, progress): Promise<StepResult> {
    const p = params<CopyParams>(step)
    const src = await ctx.zk('source')
    const dst = await ctx.zk('target')
    let resumed = false
    if ((await dst.exists(p.target.root)) !== null) {
      // The plan saw the target absent or empty: what is there now must be an earlier copy of ours.
      const cmp = await compareTrees(src, p.source.root, dst, p.target.root, p.ignore_ephemeral)
      if (cmp.extra.length > 0) {
        throw new LifeboatError(
          'PEGASUS_ZK_TARGET_NOT_EMPTY',
          `the target ${p.target.hosts}${p.target.root} holds ${cmp.extra.length} node(s) the source does not have: ${shortList(cmp.extra, p.target.root)}`,
          {
            detail:
              'They are not from an earlier run of this copy (or the source lost them since): the copy does not overwrite or delete what it did not write.',
            hints: [
              'Find out who wrote them; remove them if they are yours to discard, then `lifeboat apply PLAN --resume`.',
            ],
          },
        )
      }
      resumed = cmp.targetNodes > 0
      if (resumed) progress(`resuming: ${cmp.targetNodes} of ${cmp.sourceNodes} node(s) are on the target already`)
    }
    const result = await copyTree(src, p.source.root, dst, p.target.root, {
      ...ctx.copyOptions,
      ignoreEphemeral: p.ignore_ephemeral,
      // The count carries the rate and ETA (the task list computes them); the message stays the same.
      onProgress: (c) =>
        progress(`copying ${p.source.root} to ${p.target.root}`, {
          done: c.nodesRead,
          total: p.expect_nodes,
          unit: 'nodes',
        }),
    })
    ctx.lastCopy = result
    const rate = Math.round(result.nodesPerSecond)
    return {
      summary: `copied ${result.nodesRead} node(s) in ${(result.ms / 1000).toFixed(1)} s (${rate} nodes/s): ${result.created} created, ${result.updated} updated, ${result.unchanged} already there${result.skippedEphemeral > 0 ? `, ${result.skippedEphemeral} ephemeral left out` : ''}`,
      data: {
        nodes: result.nodesRead,
        created: result.created,
        updated: result.updated,
        unchanged: result.unchanged,
        skippedEphemeral: result.skippedEphemeral,
        vanished: result.vanished,
        multis: result.multis,
        fallbacks: result.fallbacks,
        ms: Math.round(result.ms),
        nodesPerSecond: rate,
        resumed,
      },
    }
  },
  async verify(ctx, step) {
    const p = params<CopyParams>(step)
    // The node-for-node comparison is its own step (04); here: the root is there and the count is plausible.
    const findings: Finding[] = []
    if ((await (await ctx.zk('target')).exists(p.target.root)) === null) {
      findings.push({
        code: VERIFY_CODES.copyDiffers,
        severity: 'error',
        subject: `${p.target.hosts}${p.target.root}`,
        message: `${p.target.root} does not exist on ${p.target.hosts} after the copy`,
      })
    }
    const read = ctx.lastCopy?.nodesRead
    if (read !== undefined && read !== p.expect_nodes) {
      findings.push({
        code: VERIFY_CODES.copyCount,
        severity: 'warning',
        subject: `${p.source.hosts}${p.source.root}`,
        message: `the copy read ${read} node(s) where the plan saw ${p.expect_nodes}: the source changed since the plan (DDL is still served at level blind)`,
      })
    }
    return findings
  },
}

/** 04: source and target compared node for node. */
const verifyCopyStep: StepExecutor<ZkMigrationContext> = {
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(ctx, step): Promise<StepResult> {
    const p = params<CopyParams>(step)
    const cmp = await compareTrees(
      await ctx.zk('source'),
      p.source.root,
      await ctx.zk('target'),
      p.target.root,
      p.ignore_ephemeral,
    )
    ctx.lastCompare = cmp
    return {
      summary: `${cmp.sourceNodes} source node(s), ${cmp.targetNodes} target node(s): ${cmp.missing.length} missing, ${cmp.extra.length} extra, ${cmp.differs.length} different`,
      data: {
        sourceNodes: cmp.sourceNodes,
        targetNodes: cmp.targetNodes,
        missing: cmp.missing.length,
        extra: cmp.extra.length,
        differs: cmp.differs.length,
      },
    }
  },
  async verify(ctx, step) {
    const p = params<CopyParams>(step)
    const cmp =
      ctx.lastCompare ??
      (await compareTrees(
        await ctx.zk('source'),
        p.source.root,
        await ctx.zk('target'),
        p.target.root,
        p.ignore_ephemeral,
      ))
    const findings: Finding[] = []
    const add = (paths: string[], what: string) => {
      if (paths.length === 0) return
      findings.push({
        code: VERIFY_CODES.copyDiffers,
        severity: 'error',
        subject: `${p.target.hosts}${p.target.root}`,
        message: `${paths.length} node(s) ${what}: ${shortList(paths, p.target.root)}`,
        hint: 'Run the copy again (`apply --resume` after fixing the cause): it completes a partial target.',
      })
    }
    add(cmp.missing, 'missing on the target')
    add(cmp.extra, 'on the target only')
    add(cmp.differs, 'with different data')
    if (cmp.sourceNodes !== p.expect_nodes) {
      findings.push({
        code: VERIFY_CODES.copyCount,
        severity: 'warning',
        subject: `${p.source.hosts}${p.source.root}`,
        message: `the source holds ${cmp.sourceNodes} node(s) now where the plan saw ${p.expect_nodes}`,
      })
    }
    return findings
  },
}

// ------------------------------------------------------------------------------ metas on the target

/** What the meta servers report about their ZooKeeper and state now. */
interface MetaSight {
  /** Servers that answered, with the ZooKeeper they report. */
  answers: Array<{server: string; hosts: string; root: string}>
  /** The leader's answer to list_apps (`ERR_OK`, `ERR_UNDER_RECOVERY`, or the transport error). */
  listApps: string
  /** recover_from_replica_server as `/config` reports it, or null. */
  recoverFlag: string | null
}

async function lookAtMetas(ctx: ZkMigrationContext, servers: string[]): Promise<MetaSight> {
  const answers: MetaSight['answers'] = []
  for (const server of servers) {
    const zk = await ctx.metaZookeeper(server).catch(() => null)
    if (zk) answers.push({server, ...zk})
  }
  let listApps: string
  try {
    listApps = (await ctx.meta.call('RPC_CM_LIST_APPS', {status: 0})).response.err
  } catch (err) {
    listApps = err instanceof PegasusClientError ? err.pegasusError : describeError(err)
  }
  const recoverFlag = await firstConfigValue(
    ctx.readMetaConfig,
    answers.map((a) => a.server),
    'recover_from_replica_server',
  )
  return {answers, listApps, recoverFlag}
}

/** A way the metas differ from what the step wants, with its finding code assigned where it is found. */
interface SwitchProblem {
  code: string
  message: string
}

/** What is wrong with the metas for `p`; empty when they run as the step wants. */
function switchProblems(p: SwitchMetaParams, sight: MetaSight): SwitchProblem[] {
  const problems: SwitchProblem[] = []
  if (sight.answers.length === 0)
    return [
      {
        code: VERIFY_CODES.metaNotSwitched,
        message: `no meta server of ${p.meta_servers.join(', ')} answers /meta/cluster or /config`,
      },
    ]
  for (const a of sight.answers) {
    if (!samePlace(a, p.zookeeper)) {
      problems.push({
        code: VERIFY_CODES.metaNotSwitched,
        message: `meta ${a.server} reports zookeeper_hosts ${a.hosts} and zookeeper_root ${a.root}, not ${p.zookeeper.hosts} and ${p.zookeeper.root}`,
      })
    }
  }
  const wantApps = p.recover ? 'ERR_UNDER_RECOVERY' : 'ERR_OK'
  if (sight.listApps !== wantApps) {
    problems.push({
      code: VERIFY_CODES.metaNotServing,
      message: p.recover
        ? `the meta answers list_apps with ${sight.listApps}, not ERR_UNDER_RECOVERY: it is not waiting for a recovery`
        : `the meta answers list_apps with ${sight.listApps}, not ERR_OK: it does not serve`,
    })
  }
  if (sight.recoverFlag !== null && sight.recoverFlag !== String(p.recover)) {
    problems.push({
      code: VERIFY_CODES.recoveryFlag,
      message: `recover_from_replica_server is ${sight.recoverFlag}, not ${String(p.recover)}`,
    })
  }
  return problems
}

/** Manual: the metas run on the planned ZooKeeper and root, with the planned recovery flag. */
const switchMetaStep: StepExecutor<ZkMigrationContext> = {
  async isDone(ctx, step) {
    const p = params<SwitchMetaParams>(step)
    return switchProblems(p, await lookAtMetas(ctx, p.meta_servers)).length === 0
  },
  async run() {
    return {summary: 'done by hand'}
  },
  async verify(ctx, step) {
    const p = params<SwitchMetaParams>(step)
    // A restarted meta needs a moment: wait while none answers or it is still loading; a meta that
    // answers with the wrong ZooKeeper is asked again briefly, then the confirmation fails.
    const clock: Clock = {now: () => Date.now(), sleep: ctx.sleep}
    let wrongSince: number | undefined
    let problems: SwitchProblem[] = []
    await poll(
      async () => {
        const sight = await lookAtMetas(ctx, p.meta_servers)
        problems = switchProblems(p, sight)
        if (problems.length === 0) return true
        if (!sight.answers.some((a) => !samePlace(a, p.zookeeper))) wrongSince = undefined
        else wrongSince ??= clock.now()
        return wrongSince !== undefined && clock.now() - wrongSince >= WRONG_ANSWER_GRACE_MS ? false : undefined
      },
      {timeoutMs: p.wait_seconds * 1000, intervalMs: POLL_MS, clock},
    )
    const findings: Finding[] = problems.map(({code, message}) => ({
      code,
      severity: 'error' as const,
      subject: p.meta_servers.join(','),
      message,
    }))
    if (p.recover && findings.length === 0) {
      // A meta in recovery mode crashes if the apps root already holds apps.
      const dst = await ctx.zk('target')
      const apps = appsRootPath(normalRoot(p.zookeeper.root))
      const children = await dst.getChildren(apps).catch(() => [] as string[])
      if (children.length > 0) {
        findings.push({
          code: VERIFY_CODES.metaNotSwitched,
          severity: 'error',
          subject: apps,
          message: `${apps} already holds ${children.length} app node(s): the recovery cannot write there`,
        })
      }
    }
    return findings
  },
}

// ------------------------------------------------------------------------------ recovery

/** The available tables now, as `id:name:partitions`, and the node list, compared with the recorded ones. */
async function clusterDifferences(ctx: ZkMigrationContext, p: ClusterParams, withNodes: boolean): Promise<string[]> {
  const tables = await listTables(ctx.meta)
  const out = tableDifferences(
    p.tables,
    tables.filter((t) => t.status === 'AVAILABLE'),
  )
  if (withNodes) out.push(...nodeDifferences(p.nodes, await listNodeRows(ctx.meta, tables)))
  return out
}

function tableDifferences(want: TableRow[], now: TableRow[]): string[] {
  const key = (t: TableRow) => `${t.app_id}:${t.app_name} (${t.partition_count} partitions)`
  const have = new Set(now.map(key))
  const wanted = new Set(want.map(key))
  return [
    ...want.filter((t) => !have.has(key(t))).map((t) => `table ${key(t)} is not listed`),
    ...now.filter((t) => !wanted.has(key(t))).map((t) => `table ${key(t)} is listed but was not recorded`),
  ]
}

/** `nodes -d` columns 1-3 (address, status, replica_count), as the migration script diffs them. */
function nodeDifferences(want: NodeRow[], now: NodeRow[]): string[] {
  const row = (n: NodeRow) => `${n.address} ${n.status} ${n.replica_count}`
  const have = new Set(now.map(row))
  const wanted = new Set(want.map(row))
  return [
    ...want
      .filter((n) => !have.has(row(n)))
      .map(
        (n) =>
          `recorded "${row(n)}", now ${now.find((x) => x.address === n.address) ? `"${row(now.find((x) => x.address === n.address)!)}"` : 'not listed'}`,
      ),
    ...now
      .filter((n) => !wanted.has(row(n)) && !want.some((w) => w.address === n.address))
      .map((n) => `"${row(n)}" was not recorded`),
  ]
}

/** 01 (recovery): the cluster still shows the recorded tables and nodes. */
const recordStep: StepExecutor<ZkMigrationContext> = {
  // A check of the cluster before the recovery, which the recovery then changes on purpose.
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(ctx, step): Promise<StepResult> {
    const p = params<ClusterParams>(step)
    const diffs = await clusterDifferences(ctx, p, true)
    if (diffs.length > 0) {
      throw new LifeboatError('PEGASUS_CLUSTER_CHANGED', 'the tables or nodes differ from what the plan recorded', {
        detail: diffs.join('\n'),
        hints: ['Plan again: the recovery must be started with the node list as it is now.'],
      })
    }
    return {
      summary: `${p.tables.length} table(s) and ${p.nodes.length} node(s) as recorded`,
      data: {tables: p.tables.length, nodes: p.nodes.length},
    }
  },
  async verify() {
    return []
  },
}

/** 03 (recovery): start_recovery with the recorded alive nodes, as `recover -f nodes` does. */
const startRecoveryStep: StepExecutor<ZkMigrationContext> = {
  // Its effect is the populated, unlocked apps root on the target (the meta may still be starting:
  // step 04 waits for the nodes). Gone after an earlier run finished it: plan again, never a second start_recovery.
  onResume: 'plan-again',
  async isDone(ctx, step) {
    const p = params<StartRecoveryParams>(step)
    return appsRootPopulated(ctx, p.target)
  },
  async run(ctx, step, progress): Promise<StepResult> {
    const p = params<StartRecoveryParams>(step)
    const addresses = await Promise.all(p.recovery_nodes.map(async (n) => (await resolveIpv4(n)) ?? n))
    progress(
      `Wait seconds: ${p.wait_seconds}; Skip bad nodes: false; Skip lost partitions: false; ${p.recovery_nodes.length} node(s)`,
    )
    const response = await startRecoveryAndWait(
      ctx.meta,
      {
        recovery_nodes: addresses,
        skip_bad_nodes: false,
        skip_lost_partitions: false,
        hp_recovery_nodes: p.recovery_nodes,
      },
      p.wait_seconds,
      'Look at the meta server log; if the apps root gets populated, `apply --resume` sees the step as done.',
    )
    if (response.err !== 'ERR_OK') {
      throw recoveryFailed(response.err, response.hint_message, [
        "The source tree is untouched: to roll back, restore the metas' old config (source hosts_list, recover_from_replica_server = false) and restart them, as the migration script's undo does.",
      ])
    }
    return {summary: 'Recover result: ERR_OK', data: {err: response.err, hint: response.hint_message ?? ''}}
  },
  async verify(ctx, step) {
    const p = params<StartRecoveryParams>(step)
    if (await appsRootPopulated(ctx, p.target)) return []
    return [
      {
        code: VERIFY_CODES.tableMissing,
        severity: 'error',
        subject: `${p.target.hosts}${p.target.root}`,
        message: `${p.target.root}/apps holds no app node after start_recovery answered ERR_OK`,
      },
    ]
  },
}

async function appsRootPopulated(ctx: ZkMigrationContext, target: ZkPlace): Promise<boolean> {
  const zk = await ctx.zk('target')
  const apps = appsRootPath(normalRoot(target.root))
  try {
    const [{data}, children] = await Promise.all([zk.get(apps), zk.getChildren(apps)])
    const marker = data.toString('utf8')
    return children.length > 0 && (marker === 'unlock' || marker === '')
  } catch (err) {
    if (err instanceof ZkError && err.code === 'ZK_NO_NODE') return false
    throw err
  }
}

/** 04 (recovery): poll until `nodes -d` (address, status, replica_count) matches the recorded list. */
const waitNodesStep: StepExecutor<ZkMigrationContext> = {
  async isDone(ctx, step) {
    const p = params<ClusterParams>(step)
    return (await clusterDifferences(ctx, p, true).catch(() => ['?'])).length === 0
  },
  async run(ctx, step, progress: StepProgress): Promise<StepResult> {
    const p = params<ClusterParams>(step)
    let diffs: string[] = []
    const matched = await poll(
      async ({attempt}) => {
        diffs = await clusterDifferences(ctx, p, true).catch((err: unknown) => [describeError(err)])
        return diffs.length === 0
          ? {summary: `the node list matches after ${attempt} s`, data: {seconds: attempt}}
          : undefined
      },
      {
        timeoutMs: p.wait_seconds * 1000,
        intervalMs: 1000,
        clock: sleepClock(ctx.sleep),
        onWait: ({attempt}) =>
          progress(
            `waiting for the node list (${attempt + 1} s): ${diffs[0]}${diffs.length > 1 ? ` and ${diffs.length - 1} more` : ''}`,
          ),
      },
    )
    if (matched) return matched
    throw new LifeboatError(
      'PEGASUS_NODES_DIFFER',
      `the node list does not match the recorded one after ${p.wait_seconds} s`,
      {
        detail: diffs.join('\n'),
        hints: [
          'The meta may still be curing partitions: `apply --resume` waits again. Check the meta log for nodes that do not come back.',
        ],
      },
    )
  },
  async verify() {
    return []
  },
}

/** The tables the meta lists, checked against the recorded ones. */
const verifyTablesStep: StepExecutor<ZkMigrationContext> = {
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(_ctx, step): Promise<StepResult> {
    return {summary: `${params<ClusterParams>(step).tables.length} table(s) to check`}
  },
  async verify(ctx, step) {
    const p = params<ClusterParams>(step)
    let now: TableRow[]
    try {
      now = await listTables(ctx.meta)
    } catch (err) {
      return [
        {
          code: VERIFY_CODES.metaNotServing,
          severity: 'error',
          subject: p.meta_servers.join(','),
          message: `list_apps failed: ${describeError(err)}`,
        },
      ]
    }
    const available = now.filter((t) => t.status === 'AVAILABLE')
    const findings: Finding[] = []
    for (const t of p.tables) {
      const got = available.find((x) => x.app_id === t.app_id)
      if (!got)
        findings.push({
          code: VERIFY_CODES.tableMissing,
          severity: 'error',
          subject: `${t.app_id}:${t.app_name}`,
          message: `table ${t.app_name} (id ${t.app_id}) is not listed as available`,
        })
      else if (got.app_name !== t.app_name || got.partition_count !== t.partition_count) {
        findings.push({
          code: VERIFY_CODES.tableDiffers,
          severity: 'error',
          subject: `${t.app_id}:${t.app_name}`,
          message: `table id ${t.app_id} is listed as ${got.app_name} with ${got.partition_count} partitions, recorded as ${t.app_name} with ${t.partition_count}`,
        })
      }
    }
    for (const t of available.filter((x) => !p.tables.some((y) => y.app_id === x.app_id))) {
      findings.push({
        code: VERIFY_CODES.tableDiffers,
        severity: 'warning',
        subject: `${t.app_id}:${t.app_name}`,
        message: `table ${t.app_name} (id ${t.app_id}) is listed but was not recorded (a dropped table brought back?)`,
      })
    }
    if (findings.some((f) => f.severity === 'error')) return findings
    // Listed once is not serving: the meta must keep answering, with its nodes alive (verify-serving.ts).
    const serving = await watchServingOnce(
      step,
      {meta: ctx.meta, sleep: ctx.sleep, graceMs: servingGraceMs(ctx.spec.cluster)},
      {
        tables: p.tables.filter((t) => t.status === 'AVAILABLE'),
        nodes: p.nodes.filter((n) => n.status === 'ALIVE').map((n) => n.address),
        meta_servers: p.meta_servers,
        minPrimaries: p.nodes.reduce((sum, n) => sum + n.primary_count, 0),
      },
    )
    return [...findings, ...serving]
  },
}

// ------------------------------------------------------------------------------ source removal

/** Lossy: delete the source tree once the metas run on the target. */
const removeSourceStep: StepExecutor<ZkMigrationContext> = {
  async isDone(ctx, step) {
    const p = params<CopyParams>(step)
    return (await (await ctx.zk('source')).exists(p.source.root)) === null
  },
  async run(ctx, step, progress): Promise<StepResult> {
    const p = params<CopyParams>(step)
    const sight = await lookAtMetas(ctx, p.meta_servers)
    const onTarget = sight.answers.length > 0 && sight.answers.every((a) => samePlace(a, p.target))
    if (!onTarget) {
      throw new LifeboatError(
        'PEGASUS_META_NOT_SWITCHED',
        'refusing to delete the source tree: the metas do not all report the target ZooKeeper',
        {
          detail:
            sight.answers.length === 0
              ? 'No meta server answered.'
              : sight.answers.map((a) => `${a.server}: ${a.hosts} ${a.root}`).join('\n'),
          hints: ['Finish the switch of every meta to the target first, then `apply --resume`.'],
        },
      )
    }
    const src = await ctx.zk('source')
    const holders = await lockHolders(src, metaLeaderLockDirs(p.source.root))
    if (holders.length > 0) {
      throw new LifeboatError(
        'PEGASUS_META_ON_SOURCE',
        `refusing to delete the source tree: ${holders.join(', ')} still hold a leader lock node in it`,
        {
          hints: [
            'A meta still runs against the source ZooKeeper; stop it or point it at the target, then `apply --resume`.',
          ],
        },
      )
    }
    progress(`deleting ${p.source.root} on ${p.source.hosts}`)
    const removed = await removeTree(src, p.source.root)
    return {summary: `deleted ${removed} node(s) under ${p.source.root}`, data: {removed}}
  },
  async verify(ctx, step) {
    const p = params<CopyParams>(step)
    if ((await (await ctx.zk('source')).exists(p.source.root)) === null) return []
    return [
      {
        code: VERIFY_CODES.sourceLeft,
        severity: 'error',
        subject: `${p.source.hosts}${p.source.root}`,
        message: `${p.source.root} still exists on ${p.source.hosts}`,
      },
    ]
  },
}

/** The executors by step kind. */
export const zkMigrationSteps: Record<string, StepExecutor<ZkMigrationContext>> = {
  [STEP_KINDS.singleMeta]: singleMetaStep,
  [STEP_KINDS.setLevel]: setLevelStep,
  [STEP_KINDS.copy]: copyStep,
  [STEP_KINDS.verifyCopy]: verifyCopyStep,
  [STEP_KINDS.switchMeta]: switchMetaStep,
  [STEP_KINDS.record]: recordStep,
  [STEP_KINDS.startRecovery]: startRecoveryStep,
  [STEP_KINDS.waitNodes]: waitNodesStep,
  [STEP_KINDS.verifyTables]: verifyTablesStep,
  [STEP_KINDS.removeSource]: removeSourceStep,
}

/**
 * A meta server's ZooKeeper as it reports it: `/meta/cluster` (zookeeper_hosts, zookeeper_root),
 * else `/config` (hosts_list, cluster_root) for a meta whose HTTP meta service is not up.
 */
export async function metaZookeeperHttp(server: string): Promise<{hosts: string; root: string} | null> {
  try {
    const c = await getMetaCluster(server, {timeoutMs: 3000})
    if (typeof c.zookeeper_hosts === 'string' && typeof c.zookeeper_root === 'string')
      return {hosts: c.zookeeper_hosts, root: c.zookeeper_root}
  } catch {
    // fall back to /config below
  }
  const [hosts, root] = await Promise.all([
    readMetaConfigHttp(server, 'hosts_list'),
    readMetaConfigHttp(server, 'cluster_root'),
  ])
  return hosts !== null && root !== null ? {hosts: hosts.trim(), root: root.trim()} : null
}
