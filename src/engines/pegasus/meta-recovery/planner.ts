/**
 * The PegasusMetaRecovery planner: predicts exactly what the meta server's start_recovery will
 * build from the replica servers' reports (reference/pegasus.md 2.3-2.6) and turns it into a plan.
 *
 * PURE (DESIGN.md section 3): no I/O, no clock, no randomness; `now` comes in through the options.
 * The lint purity rule (every `planner*.ts` under src/engines) covers this file and its three seams.
 *
 * Its seams: planner-prediction.ts (what start_recovery does), planner-wording.ts (Pegasus's
 * words), planner-fingerprint.ts (the observed fingerprint); this file turns them into the plan.
 *
 * The prediction follows server_state.cpp step for step:
 * 1. collection: a node fails when either RPC failed; without skip_bad_nodes any failure makes the
 *    meta answer ERR_TRY_AGAIN before it builds anything;
 * 2. construct_apps: the first node to report an app id defines it, an incompatible report from
 *    another node is a CHECK failure (the meta crashes); missing ids up to the largest become
 *    `__drop_holder__<id>`; names are made unique from the highest id down (`name__id`);
 * 3. construct_partitions: each partition's collected replicas are ordered by (ballot, last
 *    committed decree, last prepared decree), the greatest is the primary, the next ones (up to
 *    max_replica_count - 1) are last_drops in ascending order, secondaries stay empty and
 *    last_committed_decree stays 0; a partition with no replica is an error or, with
 *    skip_lost_partitions, is left empty.
 * Ties in the order are broken the way the meta's sorted insertion breaks them: among equal
 * replicas the one collected first (earlier node in the request) ranks highest.
 */
import type {PlanOptions} from '../../types.js'
import type {Candidate, Change, FactValue, PlanBody, PrimaryChange, RiskClass, Step} from '../../../plan/types.js'
import {compareFindings, compareNatural} from '../../../plan/order.js'
import {sortKeysShallow} from '../../../plan/canonical.js'
import {
  APPS_ROOT_UNLOCKED,
  DEFAULT_ZK_LAYOUT,
  appPath,
  emptyPartitionConfig,
  encodeAppInfo,
  encodePartitionConfig,
  partitionPath,
  zkAddress,
  type PartitionConfigInput,
  type ZkLayout,
} from '../zk-layout.js'
import {FACT, NOUN, PEGASUS_VOCABULARY} from '../vocabulary.js'
import type {AppInfo} from '../wire/types.js'
import type {
  MetaReadParams,
  MetaRecoveryLive,
  MetaRecoveryPlanTunables,
  MetaRecoverySpec,
  StartRecoveryParams,
  VolatileFields,
} from './types.js'
import {fingerprintOf} from './planner-fingerprint.js'
import {
  AS_AVAILABLE,
  AS_DROPPED,
  DEFAULT_MAX_RESERVED_DROPPED_REPLICAS,
  outsideNodeFindings,
  predictRecovery,
  recoveryNodes,
  type Collected,
} from './planner-prediction.js'
import {FINDING_CODES} from './planner-wording.js'

export {
  DEFAULT_MAX_RESERVED_DROPPED_REPLICAS,
  predictRecovery,
  recoveryNodes,
  type RecoveryPrediction,
} from './planner-prediction.js'
export {
  FINDING_CODES,
  hintBadNode,
  hintLost,
  hintRenamed,
  hintUnderReplicated,
  splitHintMessage,
} from './planner-wording.js'

/** Step kinds of this engine. */
export const STEP_KINDS = {
  check: 'pegasus.meta-recovery.check',
  start: 'pegasus.meta-recovery.start',
  wait: 'pegasus.meta-recovery.wait',
  verify: 'pegasus.meta-recovery.verify',
  restart: 'pegasus.meta-recovery.restart-meta',
} as const

/** Options of planMetaRecovery: the plan time plus meta-server tunables the spec does not carry. */
export interface MetaRecoveryPlanOptions extends PlanOptions, MetaRecoveryPlanTunables {
  /** The field set the meta writes (default: Pegasus master). */
  layout?: ZkLayout
}

/** The plan time in whole seconds since the epoch: the best guess of the holders' expire_second. */
function nowSeconds(now: string): number {
  const ms = Date.parse(now)
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0
}

/**
 * A collected replica's facts, keys in code-unit order, the order the plan keeps facts in (buildPlan
 * then keeps this object). The keys are FACT's names written out: a computed key makes V8 build
 * each of 192,000 objects property by property instead of from the literal's template.
 */
function candidateFacts(
  c: Collected,
): Record<
  typeof FACT.ballot | typeof FACT.collected | typeof FACT.lastCommitted | typeof FACT.lastPrepared,
  FactValue
> {
  return {ballot: c.ballot, collected: true, last_committed_decree: c.lcd, last_prepared_decree: c.lpd}
}

/** A primary change's FACT.lastDrops, written out for the reason candidateFacts gives. */
function lastDropsFact(nodes: string[]): Record<typeof FACT.lastDrops, FactValue> {
  return {last_drops: nodes.join(', ')}
}

/**
 * Plans a PegasusMetaRecovery: findings in Pegasus's words, every ZooKeeper node start_recovery
 * will create with its JSON, every partition's primary and last_drops, and the steps of apply.
 */
export function planMetaRecovery(
  spec: MetaRecoverySpec,
  live: MetaRecoveryLive,
  opts: MetaRecoveryPlanOptions,
): PlanBody {
  const layout = opts.layout ?? DEFAULT_ZK_LAYOUT
  const appsRoot = live.appsRoot.path
  const {nodes: order, duplicates} = recoveryNodes(spec, live)
  const prediction = predictRecovery(spec, live, opts)
  const findings = [...prediction.findings]
  const skipLost = spec.recovery.skip_lost_partitions

  for (const d of duplicates) {
    findings.push({
      code: FINDING_CODES.duplicateNode,
      severity: 'info',
      subject: d,
      message: `duplicate replica node ${d}, just ingore it`,
      hint: 'It is sent once. A duplicate often means another node is missing from the list.',
    })
  }
  if (!live.meta.recovering) {
    const unreachable = live.meta.error === 'ERR_NETWORK_FAILURE' || live.meta.error === 'ERR_TIMEOUT'
    findings.push(
      unreachable
        ? {
            code: FINDING_CODES.metaUnreachable,
            severity: 'error',
            subject: live.meta.address ?? spec.cluster.meta_servers.join(','),
            message: `no meta server answered (${live.meta.error}${live.meta.detail ? `: ${live.meta.detail}` : ''})`,
            hint: 'Start a meta server with [meta_server] recover_from_replica_server = true and an empty apps root, then plan again.',
          }
        : {
            code: FINDING_CODES.notInRecovery,
            severity: 'error',
            subject: live.meta.address ?? spec.cluster.meta_servers.join(','),
            message: `the meta server answered ${live.meta.error} instead of ERR_UNDER_RECOVERY: it is not waiting for a recovery`,
            hint: `Set [meta_server] recover_from_replica_server = true in the meta server's config and restart it against an empty ${appsRoot}.`,
          },
    )
  }
  const metaRoot = live.meta.zookeeper?.root.replace(/(.)\/+$/, '$1')
  if (metaRoot !== undefined && `${metaRoot}/apps` !== appsRoot && !(metaRoot === '/' && appsRoot === '/apps')) {
    findings.push({
      code: FINDING_CODES.metaElsewhere,
      severity: 'error',
      subject: live.meta.address ?? spec.cluster.meta_servers.join(','),
      message: `the meta server runs on cluster root ${metaRoot}, not ${appsRoot.replace(/\/apps$/, '') || '/'}: start_recovery would write the tables under ${metaRoot}`,
      hint: "Make the spec's cluster.zookeeper.root the meta servers' [meta_server] cluster_root (or restart them on the spec's root), then plan again.",
    })
  }
  if (live.appsRoot.children.length > 0) {
    const shown = live.appsRoot.children.slice(0, 10).join(', ')
    findings.push({
      code: FINDING_CODES.rootNotEmpty,
      severity: 'error',
      subject: appsRoot,
      message: `${appsRoot} already holds ${live.appsRoot.children.length} app node(s): ${shown}${live.appsRoot.children.length > 10 ? ', ...' : ''}`,
      hint: `The meta server only recovers into an empty apps root ("find apps from remote storage, but [meta_server].recover_from_replica_server = true"). Point [meta_server] cluster_root and the spec's zookeeper.root at a new path, or save and delete ${appsRoot}.`,
    })
  }

  const changes: Change[] = []
  const primaries: PrimaryChange[] = []
  // Words repeated in every partition are made once per plan: 64,000 copies of one sentence would
  // only be more for the GC to move.
  const MARK_PRIMARY = ['primary']
  const MARK_LAST_DROPS = ['last_drops']
  const droppedMarks = new Map<number, string[]>()
  const marksDropped = (keep: number): string[] => {
    let marks = droppedMarks.get(keep)
    if (!marks) {
      marks = [`kept in the meta's dropped list only (max_replica_count + max_reserved_dropped_replicas = ${keep})`]
      droppedMarks.set(keep, marks)
    }
    return marks
  }
  const reasons = new Map<string, string>()
  const primaryReason = (collected: number, drops: number): string => {
    const key = `${collected} ${drops}`
    let reason = reasons.get(key)
    if (reason === undefined) {
      reason = `greatest (ballot, last_committed_decree, last_prepared_decree) of ${collected} collected replica(s); the next ${drops} become last_drops; secondaries are added by the meta afterwards`
      reasons.set(key, reason)
    }
    return reason
  }
  const volatile: VolatileFields[] = []
  const lossReasons: string[] = []
  let partitions = 0
  let full = 0
  let under = 0
  let lostCount = 0
  let replicasCollected = 0
  const ok = prediction.err === 'ERR_OK'
  const reserved = opts.maxReservedDroppedReplicas ?? DEFAULT_MAX_RESERVED_DROPPED_REPLICAS

  if (ok) {
    const rootData = live.appsRoot.data ?? ''
    changes.push(
      !live.appsRoot.exists
        ? {
            address: zkAddress(appsRoot),
            noun: NOUN.zkNode,
            action: 'create',
            reason: 'the apps root, unlocked once every node is written',
            before: null,
            after: APPS_ROOT_UNLOCKED,
          }
        : {
            address: zkAddress(appsRoot),
            noun: NOUN.zkNode,
            action: rootData === APPS_ROOT_UNLOCKED ? 'no-op' : 'update',
            reason: 'start_recovery locks the apps root while it writes and unlocks it at the end',
            before: rootData,
            after: APPS_ROOT_UNLOCKED,
          },
    )
    const expireSecond = nowSeconds(opts.now)
    for (const app of prediction.apps) {
      const info: AppInfo = {
        ...app.info,
        app_name: app.name,
        expire_second: app.holder ? expireSecond : app.info.expire_second,
      }
      const address = zkAddress(appPath(appsRoot, app.id))
      if (app.holder) volatile.push({address, fields: ['expire_second']})
      changes.push({
        address,
        noun: NOUN.table,
        action: 'create',
        reason: app.holder
          ? `placeholder for dropped table id ${app.id} (no replica server reported it)`
          : app.available
            ? `table ${app.name}${app.name !== app.originalName ? ` (was ${app.originalName})` : ''}, reported first by ${app.from}`
            : `table ${app.name} reported as not available by ${app.from}: kept as dropped`,
        before: null,
        after: sortKeysShallow(encodeAppInfo(info, app.available ? AS_AVAILABLE : AS_DROPPED, layout)),
      })
      const max = app.info.max_replica_count
      for (let p = 0; p < app.info.partition_count; p++) {
        partitions++
        const partition = `${app.id}.${p}`
        const pc: PartitionConfigInput = emptyPartitionConfig(app.id, p, max)
        if (app.available) {
          const list = app.parts[p]!
          replicasCollected += list.length
          if (list.length === 0) {
            lostCount++
            lossReasons.push(partition)
            primaries.push({
              partition,
              table: app.name,
              before: null,
              after: null,
              risk: 'lossy',
              reason:
                'no replica collected: force recovered to empty (skip_lost_partitions); the meta then assigns an empty primary',
              atStake: `every row of partition ${partition} of ${app.name}`,
              candidates: [],
            })
          } else {
            const primary = list[0]!
            // last_drops: the next max_replica_count - 1 replicas, lowest first.
            const drops = Math.min(list.length, max) - 1
            for (let i = drops; i >= 1; i--) {
              pc.lastDrops.push(list[i]!.ip)
              pc.hpLastDrops.push(list[i]!.node)
            }
            pc.ballot = primary.ballot
            pc.primary = primary.ip
            pc.hpPrimary = primary.node
            const n = Math.min(list.length, max)
            if (n < max) under++
            else full++
            // The replica with the highest last_committed_decree beyond what the primary prepared (the first such, on a tie).
            let top: Collected | undefined
            for (let i = 1; i < list.length; i++) {
              const c = list[i]!
              if (c.lcd > primary.lpd && (top === undefined || c.lcd > top.lcd)) top = c
            }
            let risk: RiskClass = 'disruptive'
            let atStake: string | undefined
            if (top !== undefined) {
              risk = 'lossy'
              atStake = `decrees ${primary.lpd + 1}..${top.lcd} committed on ${top.node} but not prepared on the chosen primary ${primary.node}`
              lossReasons.push(partition)
              findings.push({
                code: FINDING_CODES.primaryBehind,
                severity: 'warning',
                subject: partition,
                message: `partition(${partition}): the primary chosen by ballot, ${primary.node} (ballot ${primary.ballot}, last prepared ${primary.lpd}), is behind ${top.node} (ballot ${top.ballot}, last committed ${top.lcd})`,
                hint: 'Pegasus picks the highest ballot first; the decrees only the other replica committed may be lost.',
              })
            }
            const candidates = list.map((c, i): Candidate => ({
              node: c.node,
              facts: candidateFacts(c),
              // One marks array per distinct mark, shared by the candidates that carry it (plan data is never changed in place).
              marks: i === 0 ? MARK_PRIMARY : i < max ? MARK_LAST_DROPS : marksDropped(max + reserved),
            }))
            const reason = primaryReason(list.length, drops)
            // Keys in the order the plan keeps them, nothing undefined, so that buildPlan keeps this object.
            const change: PrimaryChange =
              atStake === undefined
                ? {partition, table: app.name, before: null, after: primary.node, risk, reason, candidates}
                : {partition, table: app.name, before: null, after: primary.node, risk, reason, atStake, candidates}
            if (drops > 0) change.facts = lastDropsFact(pc.hpLastDrops)
            primaries.push(change)
          }
        }
        changes.push({
          address: zkAddress(partitionPath(appsRoot, app.id, p)),
          noun: NOUN.partition,
          action: 'create',
          before: null,
          // Keys sorted as the plan keeps them, so that buildPlan keeps this document instead of copying it.
          after: sortKeysShallow(encodePartitionConfig(pc, layout)),
        })
      }
    }
  } else {
    findings.push({
      code: FINDING_CODES.outcome,
      severity: 'info',
      subject: spec.cluster.name,
      message:
        prediction.err === 'CRASH'
          ? 'start_recovery would crash the meta server (a CHECK fails) before anything is written'
          : 'start_recovery would answer ERR_TRY_AGAIN and write nothing to ZooKeeper',
      hint: 'Resolve the errors above and plan again.',
    })
  }
  if (ok) findings.push(...outsideNodeFindings(live, prediction.apps, new Set(order)))

  const available = prediction.apps.filter((a) => a.available)
  const readParams: MetaReadParams = {
    meta_servers: [...spec.cluster.meta_servers],
    apps_root: appsRoot,
    wait_seconds: spec.recovery.wait_seconds,
    expect_tables: available.map((a) => `${a.id}:${a.name}`),
    expect_app_ids: prediction.apps.map((a) => String(a.id)),
    expect_partition_counts: Object.fromEntries(prediction.apps.map((a) => [String(a.id), a.info.partition_count])),
    volatile,
  }
  const byAddress = new Map(live.nodes.map((n) => [n.address, n]))
  const startParams: StartRecoveryParams = {
    meta_servers: [...spec.cluster.meta_servers],
    recovery_nodes: order,
    recovery_addresses: order.map((n) => byAddress.get(n)?.ip ?? n),
    skip_bad_nodes: spec.recovery.skip_bad_nodes,
    skip_lost_partitions: skipLost,
    wait_seconds: spec.recovery.wait_seconds,
    apps_root: appsRoot,
    expect_err: prediction.err,
    expect_hints: prediction.hints,
  }
  const lossy = lossReasons.length > 0
  const shownLoss =
    lossReasons.slice(0, 20).join(', ') + (lossReasons.length > 20 ? `, ... (${lossReasons.length} in all)` : '')
  const steps: Step[] = [
    {
      id: '01-check-preconditions',
      kind: STEP_KINDS.check,
      risk: 'read',
      params: {...readParams},
      description: `Check the meta server waits for a recovery (ERR_UNDER_RECOVERY) and ${appsRoot} holds no app`,
      expect: 'list_apps answers ERR_UNDER_RECOVERY and the apps root has no children',
    },
    {
      id: '02-start-recovery',
      kind: STEP_KINDS.start,
      risk: lossy ? 'lossy' : 'disruptive',
      params: {...startParams},
      description: `start_recovery from ${order.length} replica server(s)${spec.recovery.skip_bad_nodes ? ', skipping bad nodes' : ''}${skipLost ? ', forcing lost partitions empty' : ''}`,
      expect: `the meta answers ${prediction.err === 'CRASH' ? 'nothing (it crashes)' : prediction.err}, writes ${prediction.apps.length} app node(s) and ${partitions} partition node(s), and starts serving`,
      riskReason: lossy
        ? `the meta server rebuilds its metadata and starts serving; data may be lost in partitions ${shownLoss}` +
          (lostCount > 0 ? ` (${lostCount} recovered empty: every row in them is lost)` : '')
        : 'the meta server rebuilds its metadata from the replica servers and starts serving with the primaries below',
    },
    {
      id: '03-wait-meta-serving',
      kind: STEP_KINDS.wait,
      risk: 'read',
      params: {...readParams},
      description: `Wait up to ${spec.recovery.wait_seconds} s for the meta server to serve`,
      expect: 'cluster_info answers ERR_OK',
    },
    {
      id: '04-verify-metadata',
      kind: STEP_KINDS.verify,
      risk: 'read',
      params: {...readParams},
      description: `Verify ${appsRoot} holds the planned app and partition nodes and the tables are listed`,
      expect: `${prediction.apps.length} app node(s), ${partitions} partition node(s), ${available.length} table(s) listed`,
    },
    {
      id: '05-restart-meta-normal-mode',
      kind: STEP_KINDS.restart,
      risk: 'disruptive',
      params: {...readParams},
      description: 'Restart the meta servers with recover_from_replica_server = false',
      expect: 'after the restart cluster_info answers and every recovered table is listed',
      riskReason: 'the meta servers restart: DDL and reconfiguration pause until a leader is elected again',
      manual: {
        instructions: [
          'On every meta server, set [meta_server] recover_from_replica_server = false in its config.ini.',
          `Keep [meta_server] cluster_root pointing at the recovered root (${appsRoot.replace(/\/apps$/, '') || '/'}).`,
          'Restart the meta servers (the one that ran the recovery last), so that duplication, split and the remote commands a recovery skips start normally.',
          'Confirm the step: lifeboat then checks that cluster_info answers and every recovered table is listed.',
        ],
      },
    },
  ]

  findings.sort(compareFindings)
  changes.sort((a, b) => compareNatural(a.address, b.address))
  primaries.sort((a, b) => compareNatural(a.partition, b.partition))
  const reached = live.nodes.filter((n) => n.ok).length
  return {
    vocabulary: PEGASUS_VOCABULARY,
    observed: {
      fingerprint: fingerprintOf(live, order),
      summary: {
        nodes_listed: order.length,
        nodes_reached: reached,
        nodes_failed: order.length - reached,
        outcome: prediction.err,
        tables: available.length,
        dropped_tables: prediction.apps.length - available.length,
        partitions,
        partitions_full: full,
        partitions_under_replicated: under,
        partitions_lost: lostCount,
        replicas_collected: replicasCollected,
        // Where the meta runs and its level, when the gather read them (a human reads what moved).
        ...(live.meta.zookeeper ? {meta_zookeeper: `${live.meta.zookeeper.hosts}${live.meta.zookeeper.root}`} : {}),
        ...(live.meta.level ? {meta_level: live.meta.level} : {}),
      },
    },
    changes,
    primaries,
    steps,
    findings,
  }
}
