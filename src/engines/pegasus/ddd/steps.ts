/**
 * Step executors of the PegasusDddRecovery engine: the ASSIGN_PRIMARY proposal (one per decided
 * partition), the wait until every proposed primary serves, and the final read-only verification.
 *
 * The meta accepts a proposal at once and executes it at its next partition check
 * (`check_all_partitions`, every `[replication] lb_interval_ms`), or clears it there when it has
 * become invalid (the target died, the partition got a primary meanwhile). A proposal step
 * therefore only checks that the meta accepted it; the wait step watches the effect and turns a
 * cleared proposal into a failure that says why, in the meta's terms.
 */
import {LifeboatError} from '../../../errors.js'
import type {Finding, Step} from '../../../plan/types.js'
import type {StepExecutor, StepProgress, StepResult} from '../../types.js'
import {isIpv4Address} from '../client/address.js'
import {mapLimit, mapLimitSettled} from '../../../util/map-limit.js'
import {poll} from '../../../util/poll.js'
import type {MetaClient} from '../client/meta-client.js'
import {PegasusClientError} from '../client/errors.js'
import type {ReplicaClient} from '../client/replica-client.js'
import {ConfigType, NodeStatus, PartitionStatus, type ConfigurationProposalAction} from '../wire/index.js'
import {MetaFunctionLevel, metaLevelIdlName} from '../wire/index.js'
import {configFacts, nodeName} from './gather.js'
import {compareGpid, parseGpid} from './planner.js'
import {
  STEP_PROPOSE,
  STEP_VERIFY,
  STEP_WAIT,
  type Assignment,
  type PartitionConfigFacts,
  type ProposeParams,
  type VerifyParams,
  type WaitParams,
} from './types.js'

/** What the executors need: clients, limits and a clock (injected, so tests never wait for real time). */
export interface DddContext {
  meta: MetaClient
  replica: ReplicaClient
  /** Deadline of each RPC. */
  timeoutMs?: number
  /** Tables and replica servers asked at once. */
  concurrency: number
  /** Pause between two polls of the wait step (the shell polls every second). */
  pollMs: number
  /** Monotonic milliseconds. */
  now(): number
  sleep(ms: number): Promise<void>
  /** app_id → app_name, filled on first use. */
  appNames?: Map<number, string>
}

/** The shell's manual equivalent of a proposal, for messages. */
export function proposeCommand(gpid: string, node: string): string {
  return `propose -g ${gpid} -p ASSIGN_PRIMARY -t ${node} -n ${node}`
}

/** `new_proposal_action(node, node, CT_ASSIGN_PRIMARY)`: target and node both set, as address and host_port. */
export function assignPrimaryAction(node: string): ConfigurationProposalAction {
  const address = isIpv4Address(node) ? node : ''
  return {target: address, node: address, type: ConfigType.CT_ASSIGN_PRIMARY, hp_target: node, hp_node: node}
}

async function appNames(ctx: DddContext): Promise<Map<number, string>> {
  if (ctx.appNames) return ctx.appNames
  const r = await ctx.meta.listApps({}, {timeoutMs: ctx.timeoutMs})
  if (r.err !== 'ERR_OK') throw new LifeboatError('PEGASUS_DDD_META_ERROR', `list_apps failed with err = ${r.err}`)
  ctx.appNames = new Map(r.infos.map((a) => [a.app_id, a.app_name]))
  return ctx.appNames
}

/** Current configs of `gpids`, one query per table, bounded. A missing gpid maps to undefined. */
export async function queryConfigs(
  ctx: DddContext,
  gpids: readonly string[],
): Promise<Map<string, PartitionConfigFacts>> {
  const names = await appNames(ctx)
  const byApp = new Map<number, number[]>()
  for (const gpid of gpids) {
    const id = parseGpid(gpid)
    if (!id) continue
    byApp.set(id[0], [...(byApp.get(id[0]) ?? []), id[1]])
  }
  const out = new Map<string, PartitionConfigFacts>()
  await mapLimit([...byApp.entries()], ctx.concurrency, async ([appId, indices]) => {
    const name = names.get(appId)
    if (name === undefined) {
      throw new LifeboatError('PEGASUS_DDD_TABLE_GONE', `table with app_id ${appId} is no longer listed by the meta`, {
        hints: ['The table was dropped or the metadata changed since the plan: plan again.'],
      })
    }
    const r = await ctx.meta.queryPartitionConfigByIndex(name, indices, {timeoutMs: ctx.timeoutMs})
    if (r.err !== 'ERR_OK')
      throw new LifeboatError(
        'PEGASUS_DDD_META_ERROR',
        `query_partition_config_by_index(${name}) failed with err = ${r.err}`,
      )
    for (const pc of r.partitions) out.set(pc.pid, configFacts(pc))
  })
  return out
}

async function aliveNodes(ctx: DddContext): Promise<Map<string, boolean>> {
  const r = await ctx.meta.listNodes(NodeStatus.NS_INVALID, {timeoutMs: ctx.timeoutMs})
  if (r.err !== 'ERR_OK') throw new LifeboatError('PEGASUS_DDD_META_ERROR', `list_nodes failed with err = ${r.err}`)
  const out = new Map<string, boolean>()
  for (const n of r.infos) {
    const alive = n.status === NodeStatus.NS_ALIVE
    out.set(nodeName(n.node, n.hp_node), alive)
    if (n.node !== '') out.set(n.node, alive)
  }
  return out
}

/** The meta's own words when it clears an invalid proposal (partition_guardian from_proposals). */
function clearedMessage(a: Assignment, why: string): string {
  return `proposal action(CT_ASSIGN_PRIMARY target=${a.node} node=${a.node}) for gpid(${a.gpid}) is invalid, clear all proposal actions: ${why}`
}

/** Where each assignment stands now. */
interface Standing {
  inPlace: Assignment[]
  /** Has a primary, but another one. */
  other: {a: Assignment; primary: string}[]
  /** No primary yet. */
  pending: Assignment[]
  /** No primary and the target is dead: the meta clears (or has cleared) the proposal. */
  cleared: Assignment[]
}

async function standing(ctx: DddContext, partitions: readonly Assignment[]): Promise<Standing> {
  const configs = await queryConfigs(
    ctx,
    partitions.map((p) => p.gpid),
  )
  const s: Standing = {inPlace: [], other: [], pending: [], cleared: []}
  const waiting: Assignment[] = []
  for (const a of partitions) {
    const primary = configs.get(a.gpid)?.primary ?? null
    if (primary === a.node) s.inPlace.push(a)
    else if (primary !== null) s.other.push({a, primary})
    else waiting.push(a)
  }
  if (waiting.length > 0) {
    const alive = await aliveNodes(ctx)
    for (const a of waiting) (alive.get(a.node) === true ? s.pending : s.cleared).push(a)
  }
  return s
}

function otherPrimaryError(others: Standing['other']): LifeboatError {
  const list = others.map((o) => `partition(${o.a.gpid}) has primary ${o.primary}, not ${o.a.node}`)
  return new LifeboatError(
    'PEGASUS_DDD_OTHER_PRIMARY',
    `${list[0]}${list.length > 1 ? ` (and ${list.length - 1} more)` : ''}`,
    {
      detail: list.join('\n'),
      hints: [
        'Something else assigned a primary (the meta guardian, an operator, another run): plan again to see the cluster as it is now.',
      ],
    },
  )
}

function clearedError(cleared: Assignment[]): LifeboatError {
  const lines = cleared.map((a) => clearedMessage(a, `node(${a.node}) is not alive`))
  return new LifeboatError(
    'PEGASUS_DDD_PROPOSAL_CLEARED',
    lines[0] + (lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''),
    {
      detail: lines.join('\n'),
      hints: ['The chosen node died after the plan: bring it back, or plan again to choose among the nodes alive now.'],
    },
  )
}

function proposeParams(step: Step): ProposeParams {
  return step.params as unknown as ProposeParams
}

/** ASSIGN_PRIMARY, not forced: the meta validates it and executes it at its next partition check. */
export const proposeExecutor: StepExecutor<DddContext> = {
  async isDone(ctx, step) {
    const p = proposeParams(step)
    const configs = await queryConfigs(ctx, [p.gpid])
    return configs.get(p.gpid)?.primary === p.node
  },

  async run(ctx, step, progress: StepProgress): Promise<StepResult> {
    const p = proposeParams(step)
    const command = proposeCommand(p.gpid, p.node)
    const {server, response} = await ctx.meta.call(
      'RPC_CM_PROPOSE_BALANCER',
      {gpid: p.gpid, action_list: [assignPrimaryAction(p.node)], force: false},
      {timeoutMs: ctx.timeoutMs},
    )
    if (response.err !== 'ERR_OK') {
      // A proposal from an interrupted earlier run may have been executed meanwhile.
      if (await proposeExecutor.isDone(ctx, step))
        return {
          summary: `${p.node} is already primary of ${p.gpid}`,
          data: {gpid: p.gpid, node: p.node, propose_response: response.err},
        }
      // The meta refuses a second proposal while one is pending for the partition
      // (register_proposals: lb_actions not empty). With the table listed, the partition still
      // without a primary and the target alive, that pending one is the earlier run's: the wait
      // step watches it being executed, or cleared, and says which.
      if (response.err === 'ERR_INVALID_PARAMETERS') {
        const s = await standing(ctx, [{gpid: p.gpid, node: p.node}])
        if (s.pending.length === 1)
          return {
            summary: `the meta already holds a proposal for ${p.gpid} (propose_response: ${response.err}); the wait step checks that ${p.node} becomes primary`,
            data: {gpid: p.gpid, node: p.node, propose_response: response.err, pending: true},
          }
      }
      const hints =
        response.err === 'ERR_INVALID_PARAMETERS'
          ? [
              'The meta refuses a proposal when the table is not available, the partition index is out of range, or the partition already has a proposal pending.',
              'If an earlier run proposed it, the meta executes or clears it at its next partition check ([replication] lb_interval_ms): wait for that, then `lifeboat apply --resume`.',
            ]
          : [`Look at the log of the meta server ${server} for ${response.err}.`]
      throw new LifeboatError(
        'PEGASUS_DDD_PROPOSAL_REJECTED',
        `the meta ${server} rejected \`${command}\`: propose_response: ${response.err}`,
        {hints},
      )
    }
    progress(`Proposed count: ${p.index}/${p.total}`)
    return {
      summary: `propose_response: ERR_OK (Proposed count: ${p.index}/${p.total})`,
      data: {gpid: p.gpid, node: p.node, meta: server, propose_response: 'ERR_OK'},
    }
  },

  async verify(ctx, step): Promise<Finding[]> {
    const p = proposeParams(step)
    const s = await standing(ctx, [{gpid: p.gpid, node: p.node}])
    if (s.other.length > 0)
      return [
        {
          code: 'PEGASUS_DDD_OTHER_PRIMARY',
          severity: 'error',
          subject: p.gpid,
          message: `partition(${p.gpid}) has primary ${s.other[0].primary}, not ${p.node}`,
        },
      ]
    if (s.cleared.length > 0)
      return [
        {
          code: 'PEGASUS_DDD_PROPOSAL_CLEARED',
          severity: 'error',
          subject: p.gpid,
          message: clearedMessage(s.cleared[0], `node(${p.node}) is not alive`),
        },
      ]
    return []
  },
}

/** Waits until each proposed partition has its primary, with a deadline and progress. */
export const waitExecutor: StepExecutor<DddContext> = {
  async isDone(ctx, step) {
    const p = step.params as unknown as WaitParams
    const s = await standing(ctx, p.partitions)
    return s.inPlace.length === p.partitions.length
  },

  async run(ctx, step, progress: StepProgress): Promise<StepResult> {
    const p = step.params as unknown as WaitParams
    const total = p.partitions.length
    const level = metaLevelIdlName(await ctx.meta.getMetaLevel({timeoutMs: ctx.timeoutMs}))
    if (MetaFunctionLevel[level] < MetaFunctionLevel.fl_steady) {
      throw new LifeboatError(
        'PEGASUS_META_LEVEL_BELOW_STEADY',
        `meta level is ${level}: the meta executes proposals only at fl_steady or above`,
        {
          hints: ['Raise it in the Pegasus shell (set_meta_level steady), then `lifeboat apply --resume`.'],
        },
      )
    }
    let last: Awaited<ReturnType<typeof standing>> | undefined
    const done = await poll(
      async ({elapsedMs}) => {
        const s = await standing(ctx, p.partitions)
        last = s
        if (s.other.length > 0) throw otherPrimaryError(s.other)
        if (s.cleared.length > 0) throw clearedError(s.cleared)
        progress(`Proposed count: ${total}/${total}, primaries in place: ${s.inPlace.length}/${total}`, {
          done: s.inPlace.length,
          total,
          unit: 'partitions',
        })
        return s.inPlace.length === total
          ? {summary: `${total}/${total} partitions have their primary`, data: {in_place: total, waited_ms: elapsedMs}}
          : undefined
      },
      {
        timeoutMs: p.wait_seconds * 1000,
        intervalMs: ctx.pollMs,
        clock: {now: () => ctx.now(), sleep: (ms) => ctx.sleep(ms)},
      },
    )
    if (done) return done
    const s = last as NonNullable<typeof last>
    const missing = s.pending.map((a) => `partition(${a.gpid}): no primary yet (proposed ${a.node})`)
    throw new LifeboatError(
      'PEGASUS_DDD_WAIT_TIMEOUT',
      `after ${p.wait_seconds} s, ${s.inPlace.length} of ${total} partitions have their primary`,
      {
        detail: missing.join('\n'),
        hints: [
          'The meta executes proposals at its partition check ([replication] lb_interval_ms, 10 s by default) while its level is steady or lively.',
          'Look at the meta log for "proposal action(...) is invalid"; `lifeboat apply --resume` waits again.',
        ],
      },
    )
  },

  async verify(ctx, step): Promise<Finding[]> {
    const p = step.params as unknown as WaitParams
    return assignmentFindings(ctx, p.partitions)
  },
}

async function assignmentFindings(ctx: DddContext, partitions: readonly Assignment[]): Promise<Finding[]> {
  const s = await standing(ctx, partitions)
  const out: Finding[] = []
  for (const o of s.other)
    out.push({
      code: 'PEGASUS_DDD_OTHER_PRIMARY',
      severity: 'error',
      subject: o.a.gpid,
      message: `partition(${o.a.gpid}) has primary ${o.primary}, not ${o.a.node}`,
    })
  for (const a of s.cleared)
    out.push({
      code: 'PEGASUS_DDD_PROPOSAL_CLEARED',
      severity: 'error',
      subject: a.gpid,
      message: clearedMessage(a, `node(${a.node}) is not alive`),
    })
  for (const a of s.pending)
    out.push({
      code: 'PEGASUS_DDD_NO_PRIMARY',
      severity: 'error',
      subject: a.gpid,
      message: `partition(${a.gpid}) has no primary yet (proposed ${a.node}): it is still unreadable`,
    })
  return out
}

/**
 * The final check: every decided partition is served by the chosen primary, which itself reports
 * the replica as PS_PRIMARY; undecided partitions got nothing from this plan.
 */
export async function verifyDdd(ctx: DddContext, params: VerifyParams): Promise<Finding[]> {
  const findings = await assignmentFindings(ctx, params.partitions)
  const failed = new Set(findings.map((f) => f.subject))
  const served = params.partitions.filter((a) => !failed.has(a.gpid))

  // Ask each chosen node whether it really serves its partitions as primary.
  const byNode = new Map<string, string[]>()
  for (const a of served) byNode.set(a.node, [...(byNode.get(a.node) ?? []), a.gpid])
  const nodes = [...byNode.keys()].sort()
  const answers = await mapLimitSettled(nodes, ctx.concurrency, (n) =>
    ctx.replica.queryReplicaInfo(n, {timeoutMs: ctx.timeoutMs}),
  )
  nodes.forEach((node, i) => {
    const r = answers[i]
    if (r.status === 'rejected' || r.value.err !== 'ERR_OK') {
      const why =
        r.status === 'rejected'
          ? r.reason instanceof PegasusClientError
            ? r.reason.pegasusError
            : String(r.reason)
          : r.value.err
      findings.push({
        code: 'PEGASUS_DDD_PRIMARY_UNCONFIRMED',
        severity: 'warning',
        subject: node,
        message: `query_replica_info to node(${node}) failed with ${why}: the meta names it primary, but the node could not confirm it`,
      })
      return
    }
    const status = new Map(r.value.replicas.map((x) => [x.pid, x.status]))
    for (const gpid of byNode.get(node) ?? []) {
      if (status.get(gpid) !== PartitionStatus.PS_PRIMARY) {
        findings.push({
          code: 'PEGASUS_DDD_PRIMARY_NOT_SERVING',
          severity: 'warning',
          subject: gpid,
          message: `the meta names node(${node}) primary of ${gpid}, but the node does not report its replica as PS_PRIMARY yet`,
        })
      }
    }
  })

  if (params.untouched.length > 0) {
    const configs = await queryConfigs(ctx, params.untouched)
    for (const gpid of params.untouched) {
      const primary = configs.get(gpid)?.primary ?? null
      if (primary !== null) {
        findings.push({
          code: 'PEGASUS_DDD_UNDECIDED_CHANGED',
          severity: 'info',
          subject: gpid,
          message: `undecided partition(${gpid}) now has primary ${primary}; this plan proposed nothing for it`,
        })
      }
    }
  }
  return findings.sort(
    (a, b) => compareGpid(a.subject ?? '', b.subject ?? '') || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0),
  )
}

/** The read-only verification step. */
export const verifyExecutor: StepExecutor<DddContext> = {
  // Read-only: apply's final verify checks the same again.
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(ctx, step): Promise<StepResult> {
    const p = step.params as unknown as VerifyParams
    const findings = await verifyDdd(ctx, p)
    const errors = findings.filter((f) => f.severity === 'error').length
    return {
      summary: `${p.partitions.length - errors}/${p.partitions.length} partitions served by the chosen primary; ${p.untouched.length} undecided untouched`,
      data: {findings: findings.length, errors},
    }
  },
  async verify(ctx, step) {
    return verifyDdd(ctx, step.params as unknown as VerifyParams)
  },
}

/** The executors by step kind. */
export const dddSteps: Record<string, StepExecutor<DddContext>> = {
  [STEP_PROPOSE]: proposeExecutor,
  [STEP_WAIT]: waitExecutor,
  [STEP_VERIFY]: verifyExecutor,
}
