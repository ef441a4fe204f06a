/**
 * Step executors of the OpenMLDBRecovery engine. Every write goes through the leader nameserver
 * (or, for LoadTable, the tablet) over brpc HTTP+JSON; every wait polls with a deadline; every
 * step checks the effect itself (`isDone`) so that `apply --resume` repeats nothing that is done.
 *
 * Ops: ChangeLeader, RecoverTable, OfflineEndpoint and RecoverEndpoint only create nameserver ops
 * (kChangeLeaderOP, kRecoverTableOP and the op its task spawns, kOfflineReplicaOP, ...). Up to
 * `concurrency` requests are in flight at once; each is waited on through ShowOPStatus (filtered
 * by table and pid) until every op of its partition newer than the step's start is kDone. A
 * kFailed op fails the step with the op's type and the task it failed in.
 */
import {LifeboatError} from '../../errors.js'
import type {Finding, Step} from '../../plan/types.js'
import type {StepExecutor, StepProgress, StepResult} from '../types.js'
import type {OpenMLDBClient} from './client.js'
import {loadTablesExecutor} from './load.js'
import {compareDecimal, confOf, opsOf, tableStatusOf, tablesOf} from './gather.js'
import {mapLimit} from '../../util/map-limit.js'
import {partitionKey} from './planner.js'
import {
  STEP_ACCEPT_LOST,
  STEP_CHANGE_LEADERS,
  STEP_CONFSET,
  STEP_LOAD_LEADERS,
  STEP_OFFLINE_ENDPOINT,
  STEP_RECOVER_ENDPOINT,
  STEP_RECOVER_TABLES,
  STEP_SET_ALIVE,
  STEP_VERIFY,
  type AcceptLostParams,
  type ChangeLeadersParams,
  type ConfsetParams,
  type EndpointParams,
  type OpFacts,
  type PartitionMetaFacts,
  type PartitionRef,
  type RecoverTableOp,
  type RecoverTablesParams,
  type SetAliveParams,
  type TableFacts,
  type TabletTableStatus,
  type VerifyParams,
} from './types.js'

/** What the executors need: the client, a poll interval and a clock (injected for tests). */
export interface OpenMLDBContext {
  client: OpenMLDBClient
  /** Pause between two polls of a wait. */
  pollMs: number
  /** Monotonic milliseconds. */
  now(): number
  sleep(ms: number): Promise<void>
}

const DONE = 'kDone'
/** Pause between two polls of a partition whose ops are all still queued. */
const QUEUED_POLL_MS = 1000
const FAILED = new Set(['kFailed', 'kCanceled'])

function params<T>(step: Step): T {
  return step.params as unknown as T
}

function aborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) {
    throw new LifeboatError('OPENMLDB_INTERRUPTED', `stopped while ${what}`, {
      hints: ['`lifeboat apply --resume` checks what is done and goes on.'],
    })
  }
}

/** The deadline of a request that creates many ops before it replies: the wait's, at least the client's. */
function longCall(ctx: OpenMLDBContext, waitSeconds: number): number {
  return Math.max(ctx.client.timeoutMs, waitSeconds * 1000)
}

/** ShowTable (show_all) as facts. */
export async function showTables(ctx: OpenMLDBContext, signal?: AbortSignal): Promise<TableFacts[]> {
  return tablesOf(await ctx.client.ns('ShowTable', {show_all: true}, signal))
}

function partitionOf(tables: TableFacts[], ref: PartitionRef): {table: TableFacts; p: PartitionMetaFacts} | undefined {
  const table = tables.find((t) => t.db === ref.db && t.name === ref.name)
  const p = table?.partitions.find((x) => x.pid === ref.pid)
  return table && p ? {table, p} : undefined
}

async function tabletStatus(ctx: OpenMLDBContext, endpoint: string): Promise<TabletTableStatus[]> {
  return tableStatusOf(await ctx.client.tablet(endpoint, 'GetTableStatus', {}))
}

/** The largest op id the nameserver reports: ops above it were created after this point. */
async function opBaseline(ctx: OpenMLDBContext, signal?: AbortSignal): Promise<string> {
  const ops = opsOf(await ctx.client.ns('ShowOPStatus', {}, signal))
  return ops.length > 0 ? ops[ops.length - 1].op_id : '0'
}

function opLine(o: OpFacts): string {
  return `op ${o.op_id} ${o.op_type} of ${o.db}.${o.name} pid ${o.pid}: ${o.status}${o.task_type && o.task_type !== '-' ? ` (task ${o.task_type})` : ''}`
}

/**
 * Waits until the partition's ops newer than `baseline` include one of `types` and are all kDone.
 * Throws on a kFailed/kCanceled op (with its task) and at the deadline (with what is pending).
 */
export async function waitPartitionOps(
  ctx: OpenMLDBContext,
  ref: PartitionRef,
  types: readonly string[],
  baseline: string,
  deadline: number,
  signal?: AbortSignal,
): Promise<OpFacts[]> {
  for (;;) {
    const ops = opsOf(await ctx.client.ns('ShowOPStatus', {name: ref.name, db: ref.db, pid: ref.pid}, signal)).filter(
      (o) => compareDecimal(o.op_id, baseline) > 0 && o.db === ref.db && o.name === ref.name && o.pid === ref.pid,
    )
    const failed = ops.find((o) => FAILED.has(o.status))
    if (failed) {
      throw new LifeboatError('OPENMLDB_OP_FAILED', `${opLine(failed)}`, {
        detail: ops.map(opLine).join('\n'),
        hints: [
          `Look at the nameserver log for op ${failed.op_id}${failed.task_type !== '-' ? ` and its task ${failed.task_type}` : ''}; fix the cause, then \`lifeboat apply --resume\` submits it again.`,
        ],
      })
    }
    if (ops.some((o) => types.includes(o.op_type)) && ops.every((o) => o.status === DONE)) return ops
    if (ctx.now() >= deadline) {
      const pending = ops.filter((o) => o.status !== DONE)
      throw new LifeboatError(
        'OPENMLDB_OP_TIMEOUT',
        `${partitionKey(ref.db, ref.name, ref.pid)}: ${pending.length > 0 ? opLine(pending[0]) : `no ${types.join('/')} op appeared`} at the deadline`,
        {
          detail: ops.length > 0 ? ops.map(opLine).join('\n') : undefined,
          hints: [
            'The op keeps running in the nameserver: watch it with `showopstatus`, then `lifeboat apply --resume` waits again (raise recovery.wait_seconds if it is merely slow).',
          ],
        },
      )
    }
    aborted(signal, `waiting for the ops of ${partitionKey(ref.db, ref.name, ref.pid)}`)
    // An op still queued behind others (kInited) is far from done: ask again later, so that many
    // waiters do not make the nameserver list its ops many times a second for nothing.
    const queued = !ops.some((o) => o.status === 'kDoing')
    const pause = queued ? Math.max(ctx.pollMs, QUEUED_POLL_MS) : ctx.pollMs
    await ctx.sleep(Math.min(pause, Math.max(0, deadline - ctx.now())))
  }
}

/** `confset auto_failover <value>`; isDone reads ConfGet. Also the always-run restore. */
const confsetExecutor: StepExecutor<OpenMLDBContext> = {
  async isDone(ctx, step) {
    const p = params<ConfsetParams>(step)
    return confOf(await ctx.client.ns('ConfGet', {}))[p.key] === p.value
  },
  async run(ctx, step, _progress, signal): Promise<StepResult> {
    const p = params<ConfsetParams>(step)
    await ctx.client.ns('ConfSet', {conf: {key: p.key, value: p.value}}, signal)
    return {
      summary: `set ${p.key} ok (${p.value})`,
      data: {key: p.key, value: p.value, nameserver: ctx.client.nameserver},
    }
  },
  async verify(ctx, step): Promise<Finding[]> {
    const p = params<ConfsetParams>(step)
    const now = confOf(await ctx.client.ns('ConfGet', {}))[p.key]
    return now === p.value
      ? []
      : [
          {
            code: 'OPENMLDB_CONF_MISMATCH',
            severity: 'error',
            subject: p.key,
            message: `ConfGet says ${p.key} ${now ?? '(unset)'}, not ${p.value}`,
          },
        ]
  },
}

function changeLeaderDone(
  tables: TableFacts[],
  op: {db: string; name: string; pid: number; candidate: string},
): boolean {
  const found = partitionOf(tables, op)
  if (!found) return false
  const alive = found.p.replicas.filter((r) => r.is_leader && r.is_alive)
  return alive.length === 1 && alive[0].endpoint === op.candidate
}

const changeLeadersExecutor: StepExecutor<OpenMLDBContext> = {
  // The candidates were chosen by their offsets when the plan was made: a partition whose leader
  // moved since the step finished needs a new choice (plan again), not the old one forced.
  onResume: 'plan-again',
  async isDone(ctx, step) {
    const tables = await showTables(ctx)
    return params<ChangeLeadersParams>(step).ops.every((op) => changeLeaderDone(tables, op))
  },
  async run(ctx, step, progress, signal): Promise<StepResult> {
    const p = params<ChangeLeadersParams>(step)
    const tables = await showTables(ctx, signal)
    const todo = p.ops.filter((op) => !changeLeaderDone(tables, op))
    const baseline = await opBaseline(ctx, signal)
    const deadline = ctx.now() + p.wait_seconds * 1000
    let done = p.ops.length - todo.length
    await mapLimit(todo, p.concurrency, async (op) => {
      aborted(signal, 'changing leaders')
      await ctx.client.ns(
        'ChangeLeader',
        {name: op.name, db: op.db, pid: op.pid, candidate_leader: op.candidate},
        signal,
      )
      await waitPartitionOps(ctx, op, ['kChangeLeaderOP'], baseline, deadline, signal)
      progress(`change leader ${++done}/${p.ops.length}`, {done, total: p.ops.length, unit: 'ops'})
    })
    return {
      summary: `${p.ops.length} leader(s) changed (${p.ops.length - todo.length} already in place)`,
      data: {changed: todo.length, already: p.ops.length - todo.length},
    }
  },
  async verify(ctx, step): Promise<Finding[]> {
    const tables = await showTables(ctx)
    return params<ChangeLeadersParams>(step)
      .ops.filter((op) => !changeLeaderDone(tables, op))
      .map((op) => ({
        code: 'OPENMLDB_LEADER_NOT_IN_PLACE',
        severity: 'error' as const,
        subject: partitionKey(op.db, op.name, op.pid),
        message: `${op.candidate} is not the one alive leader of ${partitionKey(op.db, op.name, op.pid)}`,
      }))
  },
}

/** OfflineEndpoint / RecoverEndpoint: one request, then the ops it created, partition by partition. */
function endpointExecutor(method: 'OfflineEndpoint' | 'RecoverEndpoint'): StepExecutor<OpenMLDBContext> {
  const offline = method === 'OfflineEndpoint'
  /** The predicted ops whose effect is not there yet: the replica is still alive (offline) or not alive (recover). */
  const missing = (tables: TableFacts[], p: EndpointParams): EndpointParams['predicted'] =>
    p.predicted.filter((op) => {
      const r = partitionOf(tables, op)?.p.replicas.find((x) => x.endpoint === p.endpoint)
      return r !== undefined && (offline ? r.is_alive : !r.is_alive)
    })
  const effect = (tables: TableFacts[], p: EndpointParams): string[] =>
    missing(tables, p).map(
      (op) => `${partitionKey(op.db, op.name, op.pid)} on ${p.endpoint} is_alive=${offline ? 'yes' : 'no'}`,
    )
  return {
    // RecoverEndpoint after it brings the replicas that OfflineEndpoint took out back on purpose.
    onResume: offline ? 'trust' : 'recheck',
    async isDone(ctx, step) {
      const p = params<EndpointParams>(step)
      // Nothing predicted: the request changes nothing, and sending it again is harmless; never skipped as done.
      if (p.predicted.length === 0) return false
      return effect(await showTables(ctx), p).length === 0
    },
    async run(ctx, step, progress, signal): Promise<StepResult> {
      const p = params<EndpointParams>(step)
      // The nameserver creates ops only for the replicas still to change (RecoverEndpoint skips an
      // alive one): run again on resume after part of the effect was undone, only those are waited for.
      const todo = missing(await showTables(ctx, signal), p)
      const baseline = await opBaseline(ctx, signal)
      const deadline = ctx.now() + p.wait_seconds * 1000
      aborted(signal, method)
      // The nameserver creates every op of the endpoint before it replies: on a large cluster that takes a while.
      await ctx.client.ns(
        method,
        {endpoint: p.endpoint, concurrency: p.concurrency},
        signal,
        longCall(ctx, p.wait_seconds),
      )
      let done = p.predicted.length - todo.length
      await mapLimit(todo, p.concurrency, async (op) => {
        await waitPartitionOps(ctx, op, [op.op_type], baseline, deadline, signal)
        progress(`${offline ? 'offline' : 'recover'} ${p.endpoint}: ${++done}/${p.predicted.length} ops done`, {
          done,
          total: p.predicted.length,
          unit: 'ops',
        })
      })
      return {
        summary: `${offline ? 'offline' : 'recover'} endpoint ok: ${todo.length} op(s) done${todo.length < p.predicted.length ? ` (${p.predicted.length - todo.length} replica(s) already ${offline ? 'offline' : 'recovered'})` : ''}`,
        data: {endpoint: p.endpoint, ops: todo.length},
      }
    },
    async verify(ctx, step): Promise<Finding[]> {
      const p = params<EndpointParams>(step)
      return effect(await showTables(ctx), p).map((m) => ({
        code: offline ? 'OPENMLDB_REPLICA_STILL_ALIVE' : 'OPENMLDB_REPLICA_NOT_ALIVE',
        severity: 'error' as const,
        subject: p.endpoint,
        message: m,
      }))
    },
  }
}

function aliveMatches(tables: TableFacts[], u: SetAliveParams['updates'][number]): boolean {
  const r = partitionOf(tables, u)?.p.replicas.find((x) => x.endpoint === u.endpoint)
  return r !== undefined && r.is_alive === u.is_alive
}

const setAliveExecutor: StepExecutor<OpenMLDBContext> = {
  // The recover steps after it set these flags again on purpose (a recovered replica is alive).
  onResume: 'trust',
  async isDone(ctx, step) {
    const tables = await showTables(ctx)
    return params<SetAliveParams>(step).updates.every((u) => aliveMatches(tables, u))
  },
  async run(ctx, step, progress, signal): Promise<StepResult> {
    const p = params<SetAliveParams>(step)
    const tables = await showTables(ctx, signal)
    const todo = p.updates.filter((u) => !aliveMatches(tables, u))
    let done = 0
    await mapLimit(todo, p.concurrency, async (u) => {
      aborted(signal, 'updating alive flags')
      await ctx.client.ns(
        'UpdateTableAliveStatus',
        {name: u.name, db: u.db, pid: u.pid, endpoint: u.endpoint, is_alive: u.is_alive},
        signal,
      )
      progress(`update ok ${++done}/${todo.length}`, {done, total: todo.length, unit: 'partitions'})
    })
    return {
      summary: `${todo.length} alive flag(s) updated (${p.updates.length - todo.length} already set)`,
      data: {updated: todo.length},
    }
  },
  async verify(ctx, step): Promise<Finding[]> {
    const tables = await showTables(ctx)
    return params<SetAliveParams>(step)
      .updates.filter((u) => !aliveMatches(tables, u))
      .map((u) => ({
        code: 'OPENMLDB_ALIVE_MISMATCH',
        severity: 'error' as const,
        subject: partitionKey(u.db, u.name, u.pid),
        message: `${u.endpoint} is not is_alive=${u.is_alive ? 'yes' : 'no'}`,
      }))
  },
}

/**
 * A replica counts as recovered when it is an alive follower and its partition has had, since the
 * plan, at least as many kDone kRecoverTableOPs as it has targets that are alive followers now:
 * targets are marked not alive before their op, so each alive one was brought back by one of them.
 */
async function recoveredOps(ctx: OpenMLDBContext, p: RecoverTablesParams, signal?: AbortSignal): Promise<boolean[]> {
  const tables = await showTables(ctx, signal)
  const ops = opsOf(await ctx.client.ns('ShowOPStatus', {}, signal)).filter(
    (o) => o.op_type === 'kRecoverTableOP' && o.status === DONE && compareDecimal(o.op_id, p.since_op_id) > 0,
  )
  const doneOps = new Map<string, number>()
  for (const o of ops)
    doneOps.set(partitionKey(o.db, o.name, o.pid), (doneOps.get(partitionKey(o.db, o.name, o.pid)) ?? 0) + 1)
  const follower = p.ops.map((op) => {
    const r = partitionOf(tables, op)?.p.replicas.find((x) => x.endpoint === op.endpoint)
    return r !== undefined && r.is_alive && !r.is_leader
  })
  const aliveTargets = new Map<string, number>()
  p.ops.forEach((op, i) => {
    if (follower[i])
      aliveTargets.set(
        partitionKey(op.db, op.name, op.pid),
        (aliveTargets.get(partitionKey(op.db, op.name, op.pid)) ?? 0) + 1,
      )
  })
  return p.ops.map((op, i) => {
    const key = partitionKey(op.db, op.name, op.pid)
    return follower[i] && (doneOps.get(key) ?? 0) >= (aliveTargets.get(key) ?? 0)
  })
}

const recoverTablesExecutor: StepExecutor<OpenMLDBContext> = {
  async isDone(ctx, step) {
    return (await recoveredOps(ctx, params<RecoverTablesParams>(step))).every(Boolean)
  },
  async run(ctx, step, progress, signal): Promise<StepResult> {
    const p = params<RecoverTablesParams>(step)
    const baseline = await opBaseline(ctx, signal)
    const tables = await showTables(ctx, signal)
    const already = await recoveredOps(ctx, p, signal)
    const todo = p.ops.filter((_op, i) => !already[i])
    const deadline = ctx.now() + p.wait_seconds * 1000
    let done = p.ops.length - todo.length

    /** Waits for an earlier, interrupted run's op on this partition; true when it recovered this replica. */
    const finishedEarlier = async (op: RecoverTableOp): Promise<boolean> => {
      const earlier = opsOf(
        await ctx.client.ns('ShowOPStatus', {name: op.name, db: op.db, pid: op.pid}, signal),
      ).filter(
        (o) =>
          compareDecimal(o.op_id, p.since_op_id) > 0 &&
          compareDecimal(o.op_id, baseline) <= 0 &&
          o.db === op.db &&
          o.name === op.name &&
          o.pid === op.pid,
      )
      if (!earlier.some((o) => o.status !== DONE && !FAILED.has(o.status))) return false
      await waitPartitionOps(
        ctx,
        op,
        earlier.map((o) => o.op_type),
        p.since_op_id,
        deadline,
        signal,
      )
      const now = partitionOf(await showTables(ctx, signal), op)?.p.replicas.find((x) => x.endpoint === op.endpoint)
      return now !== undefined && now.is_alive && !now.is_leader
    }
    /** RecoverTable refuses an alive replica (311 "table is alive, need not recover"). */
    const markDead = async (op: RecoverTableOp): Promise<void> => {
      const r = partitionOf(tables, op)?.p.replicas.find((x) => x.endpoint === op.endpoint)
      if (r?.is_alive)
        await ctx.client.ns(
          'UpdateTableAliveStatus',
          {name: op.name, db: op.db, pid: op.pid, endpoint: op.endpoint, is_alive: false},
          signal,
        )
    }

    // Endpoints whose every replica to recover is in this step: one RecoverEndpoint each, whose ops the
    // nameserver spreads over `concurrency` queues (RecoverTable ops share name_server_task_concurrency's).
    const byEndpoint = new Set(p.by_endpoint ?? [])
    // False when an earlier run's op already recovered `op` (counted as done); else its replica is marked dead first.
    const startRecovery = async (op: RecoverTableOp): Promise<boolean> => {
      aborted(signal, 'recovering tables')
      if (await finishedEarlier(op)) {
        progress(`recover table ${++done}/${p.ops.length} (finished by an earlier run's op)`, {
          done,
          total: p.ops.length,
          unit: 'ops',
        })
        return false
      }
      await markDead(op)
      return true
    }
    const viaEndpoint: RecoverTableOp[] = []
    await mapLimit(
      todo.filter((op) => byEndpoint.has(op.endpoint)),
      p.concurrency,
      async (op) => {
        if (await startRecovery(op)) viaEndpoint.push(op)
      },
    )
    for (const ep of [...byEndpoint].sort()) {
      if (!viaEndpoint.some((op) => op.endpoint === ep)) continue
      aborted(signal, 'recovering tables')
      await ctx.client.ns(
        'RecoverEndpoint',
        {endpoint: ep, concurrency: p.concurrency},
        signal,
        longCall(ctx, p.wait_seconds),
      )
    }
    await mapLimit(viaEndpoint, p.concurrency, async (op) => {
      await waitPartitionOps(ctx, op, ['kRecoverTableOP'], baseline, deadline, signal)
      progress(`recover table ${++done}/${p.ops.length}`, {done, total: p.ops.length, unit: 'ops'})
    })

    await mapLimit(
      todo.filter((op) => !byEndpoint.has(op.endpoint)),
      p.concurrency,
      async (op) => {
        if (!(await startRecovery(op))) return
        await ctx.client.ns('RecoverTable', {name: op.name, db: op.db, pid: op.pid, endpoint: op.endpoint}, signal)
        await waitPartitionOps(ctx, op, ['kRecoverTableOP'], baseline, deadline, signal)
        progress(`recover table ${++done}/${p.ops.length}`, {done, total: p.ops.length, unit: 'ops'})
      },
    )
    return {
      summary: `recover table ok: ${todo.length} replica(s) (${p.ops.length - todo.length} already recovered)`,
      data: {recovered: todo.length, by_endpoint: [...byEndpoint]},
    }
  },
  async verify(ctx, step): Promise<Finding[]> {
    const p = params<RecoverTablesParams>(step)
    const ok = await recoveredOps(ctx, p)
    return p.ops
      .filter((_op, i) => !ok[i])
      .map((op) => ({
        code: 'OPENMLDB_REPLICA_NOT_RECOVERED',
        severity: 'error' as const,
        subject: partitionKey(op.db, op.name, op.pid),
        message: `${op.endpoint} is not an alive follower recovered by a kRecoverTableOP`,
      }))
  },
}

const acceptLostExecutor: StepExecutor<OpenMLDBContext> = {
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(_ctx, step): Promise<StepResult> {
    const p = params<AcceptLostParams>(step)
    return {
      summary: `${p.partitions.length} partition(s) left without a leader`,
      data: {partitions: p.partitions.map((x) => partitionKey(x.db, x.name, x.pid))},
    }
  },
  async verify() {
    return []
  },
}

/**
 * The final check: each planned partition has exactly one alive leader, the planned one; its
 * followers are alive, kTableNormal in the follower role on their tablets and within the binlog
 * delta of the leader; replicas on endpoints taken out are not alive; auto_failover is as the spec says.
 */
export async function verifyOpenMLDB(ctx: OpenMLDBContext, p: VerifyParams): Promise<Finding[]> {
  const findings: Finding[] = []
  const tables = await showTables(ctx)
  const endpoints = new Set<string>()
  for (const e of p.partitions) {
    endpoints.add(e.leader)
    for (const x of e.followers) endpoints.add(x)
  }
  const eps = [...endpoints].sort()
  const statuses = new Map<string, Map<string, TabletTableStatus> | string>()
  await mapLimit(eps, 16, async (ep) => {
    try {
      statuses.set(ep, new Map((await tabletStatus(ctx, ep)).map((s) => [`${s.tid}_${s.pid}`, s])))
    } catch (err) {
      statuses.set(ep, err instanceof Error ? err.message : String(err))
    }
  })
  const status = (ep: string, tid: number, pid: number): TabletTableStatus | string => {
    const m = statuses.get(ep)
    if (typeof m === 'string' || m === undefined) return `tablet ${ep} did not answer: ${m ?? 'not asked'}`
    return m.get(`${tid}_${pid}`) ?? `${tid}_${pid} is not loaded on ${ep}`
  }
  for (const e of p.partitions) {
    const key = partitionKey(e.db, e.name, e.pid)
    const err = (code: string, message: string): void =>
      void findings.push({code, severity: 'error', subject: key, message})
    const found = partitionOf(tables, e)
    if (!found) {
      err('OPENMLDB_PARTITION_GONE', `ShowTable no longer lists ${key}`)
      continue
    }
    const leaders = found.p.replicas.filter((r) => r.is_leader && r.is_alive).map((r) => r.endpoint)
    if (leaders.length !== 1 || leaders[0] !== e.leader)
      err('OPENMLDB_LEADER_WRONG', `alive leader(s) ${leaders.join(', ') || 'none'}; planned ${e.leader}`)
    const ls = status(e.leader, e.tid, e.pid)
    if (typeof ls === 'string') err('OPENMLDB_LEADER_NOT_SERVING', ls)
    else if (ls.mode !== 'kTableLeader' || ls.state !== 'kTableNormal')
      err('OPENMLDB_LEADER_NOT_SERVING', `${e.leader} has it as ${ls.mode} ${ls.state}`)
    else if (e.leader_offset !== undefined && BigInt(ls.offset) < BigInt(e.leader_offset))
      err(
        'OPENMLDB_LEADER_BELOW_PLAN',
        `${e.leader} serves it at offset ${ls.offset}, not the ${e.leader_offset} the plan counted on: ${BigInt(e.leader_offset) - BigInt(ls.offset)} offset(s) the plan kept are gone`,
      )
    for (const fep of e.followers) {
      const r = found.p.replicas.find((x) => x.endpoint === fep)
      if (!r || !r.is_alive || r.is_leader) {
        err(
          'OPENMLDB_FOLLOWER_NOT_ALIVE',
          `${fep} is ${r ? `is_alive=${r.is_alive ? 'yes' : 'no'}${r.is_leader ? ', flagged leader' : ''}` : 'no longer a replica'} in the nameserver`,
        )
        continue
      }
      const fs = status(fep, e.tid, e.pid)
      if (typeof fs === 'string') err('OPENMLDB_FOLLOWER_NOT_LOADED', fs)
      else if (fs.mode !== 'kTableFollower' || fs.state !== 'kTableNormal')
        err('OPENMLDB_FOLLOWER_ROLE', `${fep} has it as ${fs.mode} ${fs.state}`)
      else if (typeof ls !== 'string' && BigInt(ls.offset) - BigInt(fs.offset) > BigInt(p.binlog_delta)) {
        err(
          'OPENMLDB_FOLLOWER_BEHIND',
          `${fep} is at offset ${fs.offset}, ${BigInt(ls.offset) - BigInt(fs.offset)} behind its leader (${ls.offset}); the binlog delta is ${p.binlog_delta}`,
        )
      }
    }
  }
  for (const ep of p.offline_endpoints) {
    for (const t of tables) {
      for (const part of t.partitions) {
        const r = part.replicas.find((x) => x.endpoint === ep)
        if (r?.is_alive && part.replicas.length > 1)
          findings.push({
            code: 'OPENMLDB_REPLICA_STILL_ALIVE',
            severity: 'error',
            subject: partitionKey(t.db, t.name, part.pid),
            message: `${ep} was taken out but is still is_alive=yes`,
          })
      }
    }
  }
  const af = confOf(await ctx.client.ns('ConfGet', {})).auto_failover
  if (af !== String(p.auto_failover))
    findings.push({
      code: 'OPENMLDB_CONF_MISMATCH',
      severity: 'error',
      subject: 'auto_failover',
      message: `auto_failover is ${af ?? '(unset)'}, not ${p.auto_failover}`,
    })
  return findings
}

const verifyExecutor: StepExecutor<OpenMLDBContext> = {
  // Read-only: apply's final verify checks the same again.
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(ctx, step): Promise<StepResult> {
    const p = params<VerifyParams>(step)
    const findings = await verifyOpenMLDB(ctx, p)
    const bad = new Set(findings.filter((f) => f.severity === 'error').map((f) => f.subject)).size
    return {
      summary: `${p.partitions.length - Math.min(bad, p.partitions.length)}/${p.partitions.length} partitions as planned`,
      data: {findings: findings.length},
    }
  },
  async verify(ctx, step) {
    return verifyOpenMLDB(ctx, params<VerifyParams>(step))
  },
}

/** The executors by step kind. */
export const openmldbSteps: Record<string, StepExecutor<OpenMLDBContext>> = {
  [STEP_CONFSET]: confsetExecutor,
  [STEP_CHANGE_LEADERS]: changeLeadersExecutor,
  [STEP_OFFLINE_ENDPOINT]: endpointExecutor('OfflineEndpoint'),
  [STEP_RECOVER_ENDPOINT]: endpointExecutor('RecoverEndpoint'),
  [STEP_SET_ALIVE]: setAliveExecutor,
  // recover-tables, after it, drops and re-adds the followers it loaded on purpose: finding one of
  // them not loaded proves nothing, and loading it again would race the op (verify checks the end state).
  [STEP_LOAD_LEADERS]: {...loadTablesExecutor, onResume: 'trust'},
  [STEP_RECOVER_TABLES]: recoverTablesExecutor,
  [STEP_ACCEPT_LOST]: acceptLostExecutor,
  [STEP_VERIFY]: verifyExecutor,
}

export type {StepProgress}
