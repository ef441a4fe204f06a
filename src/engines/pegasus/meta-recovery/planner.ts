/**
 * The PegasusMetaRecovery planner: predicts exactly what the meta server's start_recovery will
 * build from the replica servers' reports (reference/pegasus.md 2.3-2.6) and turns it into a plan.
 *
 * PURE (DESIGN.md section 3): no I/O, no clock, no randomness; `now` comes in through the options.
 * The lint purity glob matches `src/engines/<engine>/planner*.ts` only, so this file, one level
 * deeper, keeps the rule by discipline: it imports types, the pure ZooKeeper layout and the pure
 * plan helpers, nothing else.
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
import type {Candidate, Change, Finding, PlanBody, PrimaryChange, RiskClass, Step} from '../../../plan/types.js'
import {createHash} from 'node:crypto'

import {canonicalJson} from '../../../plan/canonical.js'
import {compareFindings, compareNatural} from '../../../plan/order.js'
import {LifeboatError} from '../../../errors.js'
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
import type {AppInfo} from '../wire/types.js'
import {FACT, NOUN, PEGASUS_VOCABULARY} from '../vocabulary.js'
import type {
  MetaReadParams,
  MetaRecoveryLive,
  MetaRecoveryNode,
  MetaRecoveryPlanTunables,
  MetaRecoverySpec,
  StartRecoveryParams,
  VolatileFields,
} from './types.js'
import {gpidParts} from '../wire/protocol.js'

/** app_status values the planner needs (dsn.layer2.app_status). */
const AS_AVAILABLE = 1
const AS_DROPPED = 6
/** partition_status::PS_ERROR. */
const PS_ERROR = 2

/** `[meta_server] max_reserved_dropped_replicas` when the spec's cluster does not say: Pegasus's default. */
export const DEFAULT_MAX_RESERVED_DROPPED_REPLICAS = 1

/** Step kinds of this engine. */
export const STEP_KINDS = {
  check: 'pegasus.meta-recovery.check',
  start: 'pegasus.meta-recovery.start',
  wait: 'pegasus.meta-recovery.wait',
  verify: 'pegasus.meta-recovery.verify',
  restart: 'pegasus.meta-recovery.restart-meta',
} as const

/** Stable finding codes. */
export const FINDING_CODES = {
  badNode: 'PEGASUS_BAD_NODE',
  underReplicated: 'PEGASUS_PARTITION_UNDER_REPLICATED',
  lost: 'PEGASUS_PARTITION_LOST',
  renamed: 'PEGASUS_APP_RENAMED',
  softDeleted: 'PEGASUS_SOFT_DELETED_RESTORED',
  conflict: 'PEGASUS_APP_CONFLICT',
  invalidAppId: 'PEGASUS_INVALID_APP_ID',
  unknownApp: 'PEGASUS_REPLICA_UNKNOWN_APP',
  invalidBallot: 'PEGASUS_INVALID_BALLOT',
  rootNotEmpty: 'PEGASUS_ROOT_NOT_EMPTY',
  notInRecovery: 'PEGASUS_NOT_IN_RECOVERY',
  metaUnreachable: 'PEGASUS_META_UNREACHABLE',
  outsideNode: 'PEGASUS_NODE_OUTSIDE_LIST',
  duplicateNode: 'PEGASUS_DUPLICATE_NODE',
  primaryBehind: 'PEGASUS_PRIMARY_BEHIND',
  outcome: 'PEGASUS_RECOVERY_OUTCOME',
} as const

// ---------------------------------------------------------------------------------------------
// Pegasus's own words (server_state.cpp; shell recovery.cpp). Trailing newlines are not part of
// a finding: some of these end in std::endl upstream and some do not, depending on the version.

/** The hint for a node whose app or replica query failed. */
export function hintBadNode(node: string, err: string, skipBadNodes: boolean): string {
  return skipBadNodes
    ? `WARNING: collect app and replica info from node(${node}) failed with err(${err}), skip the bad node`
    : `ERROR: collect app and replica info from node(${node}) failed with err(${err}), you can skip it by set skip_bad_nodes option`
}

/** The hint for a renamed app. */
export function hintRenamed(appId: number, oldName: string, newName: string): string {
  return `WARNING: app(${appId})'s old name(${oldName}) is conflict with others, rename it to (${newName})`
}

/** The hint for a partition that collected fewer replicas than max_replica_count. */
export function hintUnderReplicated(appId: number, pidx: number, n: number, max: number): string {
  return `WARNING: partition(${appId}.${pidx}) only collects ${n}/${max} of replicas, may lost data`
}

/** The hint for a partition with no replica collected. */
export function hintLost(appId: number, pidx: number, skipLostPartitions: boolean): string {
  return skipLostPartitions
    ? `WARNING: partition(${appId}.${pidx}) has no replica collected, force recover the lost partition to empty`
    : `ERROR: partition(${appId}.${pidx}) has no replica collected, you can force recover it by set skip_lost_partitions option`
}

/**
 * Splits a start_recovery hint_message into its lines. Upstream versions differ in which
 * messages end in a newline (master builds some with fmt::format and no `\n`), so a message may
 * also start in the middle of a line: split before every `WARNING: ` / `ERROR: ` as well.
 */
export function splitHintMessage(message: string): string[] {
  return message
    .split('\n')
    .flatMap((line) => line.split(/(?=(?:WARNING|ERROR): )/))
    .map((l) => l.trim())
    .filter((l) => l !== '')
}

// ---------------------------------------------------------------------------------------------

/** Options of planMetaRecovery: the plan time plus meta-server tunables the spec does not carry. */
export interface MetaRecoveryPlanOptions extends PlanOptions, MetaRecoveryPlanTunables {
  /** The field set the meta writes (default: Pegasus master). */
  layout?: ZkLayout
}

/** One collected replica of a partition, as the meta's dropped list holds it. */
interface Collected {
  node: string
  ip: string
  ballot: number
  lcd: number
  lpd: number
  /** Collection order: among equal replicas the earlier one ranks higher. */
  seq: number
}

/** An app as construct_apps leaves it. */
interface PredictedApp {
  id: number
  info: AppInfo
  /** The node whose report defined the app (the first to report it); undefined for a holder. */
  from?: string
  originalName: string
  name: string
  holder: boolean
  /** Written as AS_AVAILABLE (constructed) or AS_DROPPED (holder or not available on the replicas). */
  available: boolean
  /** Collected replicas per partition index (available apps only). */
  parts: Collected[][]
}

/** The result of a prediction: what the meta answers and what it writes. */
export interface RecoveryPrediction {
  /** `ERR_OK`, `ERR_TRY_AGAIN`, or `CRASH` when a CHECK in the meta would fail. */
  err: 'ERR_OK' | 'ERR_TRY_AGAIN' | 'CRASH'
  /** hint_message lines in the meta's order. */
  hints: string[]
  findings: Finding[]
  /** Apps by ascending id; empty unless the collection passed. */
  apps: PredictedApp[]
}

const COMPATIBLE_FIELDS: readonly (keyof AppInfo)[] = ['status', 'app_type', 'app_name', 'app_id', 'partition_count', 'is_stateful', 'max_replica_count',
  'expire_second', 'create_second', 'drop_second', 'atomic_idempotent']

/** The fields app_info_compatible_equal compares that differ between two reports of one app id. */
function incompatibleFields(a: AppInfo, b: AppInfo): (keyof AppInfo)[] {
  const out: (keyof AppInfo)[] = []
  for (const f of COMPATIBLE_FIELDS) {
    const x = f === 'atomic_idempotent' || f === 'is_stateful' ? Boolean(a[f]) : a[f]
    const y = f === 'atomic_idempotent' || f === 'is_stateful' ? Boolean(b[f]) : b[f]
    if (x !== y) out.push(f)
  }
  return out
}

/** `app.pidx` → [app, pidx], or undefined when malformed. */
const parseGpid = gpidParts

/** Greatest first: (ballot, lcd, lpd) descending, then collection order. */
function compareCollectedDesc(x: Collected, y: Collected): number {
  return y.ballot - x.ballot || y.lcd - x.lcd || y.lpd - x.lpd || x.seq - y.seq
}

/** The node list the request carries: the spec's (or the gathered node-list file's), deduplicated. */
export function recoveryNodes(spec: MetaRecoverySpec, live: MetaRecoveryLive): {nodes: string[]; duplicates: string[]} {
  const listed = spec.recovery.target_nodes ?? live.targetNodes
  const seen = new Set<string>()
  const nodes: string[] = []
  const duplicates: string[] = []
  for (const n of listed) {
    if (seen.has(n)) duplicates.push(n)
    else {
      seen.add(n)
      nodes.push(n)
    }
  }
  return {nodes, duplicates}
}

/**
 * Predicts start_recovery: its answer, its hint lines and, when it succeeds, the apps and the
 * collected replicas of every partition. Findings carry Pegasus's own words where it has them.
 */
export function predictRecovery(spec: MetaRecoverySpec, live: MetaRecoveryLive, opts: MetaRecoveryPlanTunables = {}): RecoveryPrediction {
  const skipBad = spec.recovery.skip_bad_nodes
  const skipLost = spec.recovery.skip_lost_partitions
  const reserved = opts.maxReservedDroppedReplicas ?? DEFAULT_MAX_RESERVED_DROPPED_REPLICAS
  const findings: Finding[] = []
  const hints: string[] = []
  const {nodes: order} = recoveryNodes(spec, live)
  const byAddress = new Map(live.nodes.map((n) => [n.address, n]))
  const nodes: MetaRecoveryNode[] = order.map((address) => {
    const n = byAddress.get(address)
    if (!n) {
      throw new LifeboatError('PEGASUS_LIVE_INCOMPLETE', `the live state has no record of target node ${address}`, {
        hints: ['Gather again: the live state must describe every node of the spec\'s list.'],
      })
    }
    return n
  })

  // 1. Collection.
  let failed = 0
  for (const n of nodes) {
    if (n.ok) continue
    failed++
    const err = n.error ?? 'ERR_UNKNOWN'
    const message = hintBadNode(n.address, err, skipBad)
    hints.push(message)
    findings.push({
      code: FINDING_CODES.badNode,
      severity: skipBad ? 'warning' : 'error',
      subject: n.address,
      message,
      hint: skipBad
        ? 'Its replicas are not collected. Keep this node stopped until the recovered meta has taken over: if it comes back holding a table id the others did not report, the meta server crashes at its config_sync.'
        : 'Bring the node back and plan again, or set recovery.skip_bad_nodes: true to recover without its replicas.',
    })
  }
  if (failed > 0 && !skipBad) return {err: 'ERR_TRY_AGAIN', hints, findings, apps: []}
  const okNodes = nodes.filter((n) => n.ok)

  // 2. construct_apps.
  const apps = new Map<number, PredictedApp>()
  let maxAppId = 0
  let crash = false
  for (const n of okNodes) {
    for (const info of n.apps) {
      if (!(info.app_id >= 1)) {
        crash = true
        findings.push({code: FINDING_CODES.invalidAppId, severity: 'error', subject: n.address,
          message: `node(${n.address}) reports an app with id ${info.app_id}: the meta server would crash (CHECK_GE "invalid app id")`,
          hint: 'Find and move aside the replica directories of that app on the node before recovering.'})
        continue
      }
      const known = apps.get(info.app_id)
      if (!known) {
        apps.set(info.app_id, {id: info.app_id, info, from: n.address, originalName: info.app_name, name: info.app_name,
          holder: false, available: info.status === AS_AVAILABLE, parts: []})
        maxAppId = Math.max(maxAppId, info.app_id)
        continue
      }
      const diff = incompatibleFields(info, known.info)
      if (diff.length > 0) {
        crash = true
        findings.push({
          code: FINDING_CODES.conflict, severity: 'error', subject: `app(${info.app_id})`,
          message: `conflict app info from (${n.address}) for id(${info.app_id}): ${diff.map((f) => `${f} ${JSON.stringify(info[f])} here, ${JSON.stringify(known.info[f])} from (${known.from})`).join('; ')}`,
          hint: 'The meta server would crash on this (CHECK app_info_compatible_equal) and write nothing. Find which node holds stale replicas of this app id and move them aside, or leave that node out of the list.',
        })
      }
    }
  }
  if (crash) return {err: 'CRASH', hints, findings, apps: []}

  for (let id = 1; id <= maxAppId; id++) {
    if (apps.has(id)) continue
    const name = `__drop_holder__${id}`
    apps.set(id, {
      id, holder: true, available: false, originalName: name, name, parts: [],
      info: {status: 4, app_type: 'pegasus', app_name: name, app_id: id, partition_count: 1, envs: {}, is_stateful: true,
        max_replica_count: 3, expire_second: 0, create_second: 0, drop_second: 0, duplicating: false, init_partition_count: -1,
        is_bulk_loading: false, atomic_idempotent: false},
    })
  }

  // Names: from the highest id down, so the newest table keeps the name.
  const taken = new Set<string>()
  for (let id = maxAppId; id >= 1; id--) {
    const app = apps.get(id)!
    let name = app.name
    while (taken.has(name)) name = `${name}__${id}`
    if (name !== app.name) {
      const message = hintRenamed(id, app.name, name)
      hints.push(message)
      findings.push({code: FINDING_CODES.renamed, severity: 'warning', subject: `app(${id})`, message,
        hint: `Clients of "${app.name}" reach app ${highestWithName(apps, app.originalName, id)} after recovery. Rename or drop ${name} once the cluster serves again.`})
      app.name = name
    }
    taken.add(name)
  }

  // Soft-deleted tables come back: replicas keep the status they were created with.
  for (const app of apps.values()) {
    if (app.holder || !app.available) continue
    const newer = highestWithName(apps, app.originalName, app.id)
    if (app.info.drop_second > 0) {
      findings.push({code: FINDING_CODES.softDeleted, severity: 'warning', subject: `app(${app.id})`,
        message: `app(${app.id}) "${app.originalName}" was dropped (drop_second ${app.info.drop_second}) but its replicas still exist: recovery brings it back as AVAILABLE${app.name !== app.originalName ? ` named ${app.name}` : ''}; the deletion is lost, the data is intact`,
        hint: `Drop ${app.name} again after the recovery if it should stay deleted.`})
    } else if (newer !== app.id && !apps.get(newer)!.holder) {
      findings.push({code: FINDING_CODES.softDeleted, severity: 'warning', subject: `app(${app.id})`,
        message: `app(${app.id}) shares the name "${app.originalName}" with app(${newer}): only one table per name can be live, so app(${app.id}) was most likely dropped; recovery brings it back as AVAILABLE named ${app.name}; the deletion is lost, the data is intact`,
        hint: `Drop ${app.name} again after the recovery if it should stay deleted.`})
    }
  }

  // 3. construct_partitions: collect every replica report.
  for (const app of apps.values()) {
    if (app.available) app.parts = Array.from({length: app.info.partition_count}, () => [])
  }
  let seq = 0
  const unknown = new Set<string>()
  for (const n of okNodes) {
    const ip = n.ip ?? n.address
    for (const r of n.replicas) {
      const gpid = parseGpid(r.pid)
      const app = gpid ? apps.get(gpid[0]) : undefined
      if (!gpid || !app || gpid[1] < 0 || gpid[1] >= app.info.partition_count) {
        const key = `${n.address} ${r.pid}`
        if (!unknown.has(key)) {
          unknown.add(key)
          crash = true
          findings.push({code: FINDING_CODES.unknownApp, severity: 'error', subject: `${r.pid}@${n.address}`,
            message: `node(${n.address}) reports replica ${r.pid}, which no reported app info covers: the meta server would crash constructing partitions`,
            hint: 'Move the stray replica directory aside on that node (it may be partition-split garbage) and plan again.'})
        }
        continue
      }
      if (!app.available) continue
      const list = app.parts[gpid[1]]!
      const again = list.findIndex((c) => c.node === n.address)
      if (again >= 0) list.splice(again, 1)
      list.push({node: n.address, ip, ballot: r.ballot, lcd: r.last_committed_decree, lpd: r.last_prepared_decree, seq: seq++})
    }
  }
  if (crash) return {err: 'CRASH', hints, findings, apps: []}

  let lost = 0
  const sorted = [...apps.values()].sort((a, b) => a.id - b.id)
  for (const app of sorted) {
    if (!app.available) continue
    const max = app.info.max_replica_count
    const keep = max + reserved
    for (let p = 0; p < app.parts.length; p++) {
      const list = app.parts[p]!
      if (list.length === 0) {
        lost++
        const message = hintLost(app.id, p, skipLost)
        hints.push(message)
        findings.push({code: FINDING_CODES.lost, severity: skipLost ? 'warning' : 'error', subject: `${app.id}.${p}`, message,
          hint: skipLost
            ? `Every row of partition ${app.id}.${p} of ${app.name} is lost: the meta assigns it an empty primary.`
            : 'Bring back a node holding a replica of it, or set recovery.skip_lost_partitions: true to recover it empty (its data is lost).'})
        continue
      }
      list.sort(compareCollectedDesc)
      if (list.length > keep) list.length = keep
      if (list[0]!.ballot === -1) {
        crash = true
        findings.push({code: FINDING_CODES.invalidBallot, severity: 'error', subject: `${app.id}.${p}`,
          message: `the best replica of partition(${app.id}.${p}) on ${list[0]!.node} has an invalid ballot (-1): the meta server would crash (CHECK_NE "the ballot of server must not be invalid_ballot")`,
          hint: 'Leave that node out of the list or move the replica aside.'})
        continue
      }
      const n = Math.min(list.length, max)
      if (n < max) {
        const message = hintUnderReplicated(app.id, p, n, max)
        hints.push(message)
        findings.push({code: FINDING_CODES.underReplicated, severity: 'warning', subject: `${app.id}.${p}`, message,
          hint: `Only ${n} of ${max} replicas answered: writes acknowledged only by the missing replicas may be lost.`})
      }
    }
  }
  if (crash) return {err: 'CRASH', hints, findings, apps: []}
  if (lost > 0 && !skipLost) return {err: 'ERR_TRY_AGAIN', hints, findings, apps: sorted}
  return {err: 'ERR_OK', hints, findings, apps: sorted}
}

/** The highest app id whose original name is `name` (the one that keeps it), at least `id`. */
function highestWithName(apps: Map<number, PredictedApp>, name: string, id: number): number {
  let best = id
  for (const a of apps.values()) if (a.originalName === name && a.id > best) best = a.id
  return best
}

/** Replicas of outside nodes that the recovered meta will not know: each crashes it at config_sync. */
function outsideNodeFindings(live: MetaRecoveryLive, apps: PredictedApp[], listed: Set<string>): Finding[] {
  const out: Finding[] = []
  const byId = new Map(apps.map((a) => [a.id, a]))
  for (const n of live.outsideNodes ?? []) {
    if (listed.has(n.address) || !n.ok) continue
    const bad: string[] = []
    for (const r of n.replicas) {
      const gpid = parseGpid(r.pid)
      if (!gpid) continue
      const app = byId.get(gpid[0])
      const count = app?.info.partition_count ?? 0
      const garbage = r.status === PS_ERROR && gpid[1] < 2 * count
      if (!app || (gpid[1] >= count && !garbage)) bad.push(r.pid)
    }
    if (bad.length === 0) continue
    bad.sort(compareNatural)
    out.push({code: FINDING_CODES.outsideNode, severity: 'error', subject: n.address,
      message: `gpid(${bad[0]}) on node(${n.address}) is not exist on meta server, administrator should check consistency of meta data` +
        (bad.length > 1 ? ` (and ${bad.length - 1} more replicas of tables the recovery will not know)` : ''),
      hint: `Add ${n.address} to the node list, or keep it stopped: the recovered meta server crashes at its first config_sync.`})
  }
  return out
}

/** The plan time in whole seconds since the epoch: the best guess of the holders' expire_second. */
function nowSeconds(now: string): number {
  const ms = Date.parse(now)
  return Number.isFinite(ms) ? Math.floor(ms / 1000) : 0
}

/**
 * sha256 of the decision-relevant live state: what the prediction reads (node answers, app infos,
 * each replica's gpid, ballot, decrees and whether it is an error replica), never times or the
 * statuses it ignores. Hashed incrementally: a canonical JSON string of 192,000 replicas would
 * cost more than the whole prediction.
 */
function fingerprintOf(live: MetaRecoveryLive, nodes: string[]): string {
  const hash = createHash('sha256')
  hash.update(canonicalJson({
    meta: {recovering: live.meta.recovering, error: live.meta.error},
    appsRoot: {path: live.appsRoot.path, exists: live.appsRoot.exists, data: live.appsRoot.data ?? null, children: live.appsRoot.children},
    nodes,
  }))
  const feed = (tag: string, list: MetaRecoveryNode[]) => {
    // By address, so that the order the gather happened to record them in does not count.
    for (const n of [...list].sort((a, b) => compareNatural(a.address, b.address))) {
      hash.update(`\n${tag} ${JSON.stringify([n.address, n.ip, n.ok, n.error ?? null])}\n`)
      let chunk = ''
      for (const a of n.apps) {
        // Every app_info field in IDL order; envs canonical (key order carries no meaning).
        chunk += `${JSON.stringify([a.status, a.app_type, a.app_name, a.app_id, a.partition_count, a.is_stateful, a.max_replica_count,
          a.expire_second, a.create_second, a.drop_second, a.duplicating ?? null, a.init_partition_count, a.is_bulk_loading ?? null,
          a.atomic_idempotent ?? null])}${canonicalJson(a.envs ?? {})};`
      }
      for (const r of n.replicas) {
        chunk += `${r.pid} ${r.ballot} ${r.last_committed_decree} ${r.last_prepared_decree} ${r.status === PS_ERROR ? 1 : 0};`
        if (chunk.length > 65536) {
          hash.update(chunk)
          chunk = ''
        }
      }
      hash.update(chunk)
    }
  }
  feed('node', live.nodes)
  feed('outside', live.outsideNodes ?? [])
  return hash.digest('hex')
}

/**
 * Plans a PegasusMetaRecovery: findings in Pegasus's words, every ZooKeeper node start_recovery
 * will create with its JSON, every partition's primary and last_drops, and the steps of apply.
 */
export function planMetaRecovery(spec: MetaRecoverySpec, live: MetaRecoveryLive, opts: MetaRecoveryPlanOptions): PlanBody {
  const layout = opts.layout ?? DEFAULT_ZK_LAYOUT
  const appsRoot = live.appsRoot.path
  const {nodes: order, duplicates} = recoveryNodes(spec, live)
  const prediction = predictRecovery(spec, live, opts)
  const findings = [...prediction.findings]
  const skipLost = spec.recovery.skip_lost_partitions

  for (const d of duplicates) {
    findings.push({code: FINDING_CODES.duplicateNode, severity: 'info', subject: d, message: `duplicate replica node ${d}, just ingore it`,
      hint: 'It is sent once. A duplicate often means another node is missing from the list.'})
  }
  if (!live.meta.recovering) {
    const unreachable = live.meta.error === 'ERR_NETWORK_FAILURE' || live.meta.error === 'ERR_TIMEOUT'
    findings.push(unreachable
      ? {code: FINDING_CODES.metaUnreachable, severity: 'error', subject: live.meta.address ?? spec.cluster.meta_servers.join(','),
          message: `no meta server answered (${live.meta.error}${live.meta.detail ? `: ${live.meta.detail}` : ''})`,
          hint: 'Start a meta server with [meta_server] recover_from_replica_server = true and an empty apps root, then plan again.'}
      : {code: FINDING_CODES.notInRecovery, severity: 'error', subject: live.meta.address ?? spec.cluster.meta_servers.join(','),
          message: `the meta server answered ${live.meta.error} instead of ERR_UNDER_RECOVERY: it is not waiting for a recovery`,
          hint: `Set [meta_server] recover_from_replica_server = true in the meta server's config and restart it against an empty ${appsRoot}.`})
  }
  if (live.appsRoot.children.length > 0) {
    const shown = live.appsRoot.children.slice(0, 10).join(', ')
    findings.push({code: FINDING_CODES.rootNotEmpty, severity: 'error', subject: appsRoot,
      message: `${appsRoot} already holds ${live.appsRoot.children.length} app node(s): ${shown}${live.appsRoot.children.length > 10 ? ', ...' : ''}`,
      hint: `The meta server only recovers into an empty apps root ("find apps from remote storage, but [meta_server].recover_from_replica_server = true"). Point [meta_server] cluster_root and the spec's zookeeper.root at a new path, or save and delete ${appsRoot}.`})
  }

  const changes: Change[] = []
  const primaries: PrimaryChange[] = []
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
    changes.push(!live.appsRoot.exists
      ? {address: zkAddress(appsRoot), noun: NOUN.zkNode, action: 'create', before: null, after: APPS_ROOT_UNLOCKED, reason: 'the apps root, unlocked once every node is written'}
      : {address: zkAddress(appsRoot), noun: NOUN.zkNode, action: rootData === APPS_ROOT_UNLOCKED ? 'no-op' : 'update', before: rootData, after: APPS_ROOT_UNLOCKED,
          reason: 'start_recovery locks the apps root while it writes and unlocks it at the end'})
    const expireSecond = nowSeconds(opts.now)
    for (const app of prediction.apps) {
      const info: AppInfo = {...app.info, app_name: app.name, expire_second: app.holder ? expireSecond : app.info.expire_second}
      const address = zkAddress(appPath(appsRoot, app.id))
      if (app.holder) volatile.push({address, fields: ['expire_second']})
      changes.push({address, noun: NOUN.table, action: 'create', before: null, after: encodeAppInfo(info, app.available ? AS_AVAILABLE : AS_DROPPED, layout),
        reason: app.holder ? `placeholder for dropped table id ${app.id} (no replica server reported it)`
          : app.available ? `table ${app.name}${app.name !== app.originalName ? ` (was ${app.originalName})` : ''}, reported first by ${app.from}`
            : `table ${app.name} reported as not available by ${app.from}: kept as dropped`})
      const max = app.info.max_replica_count
      for (let p = 0; p < app.info.partition_count; p++) {
        partitions++
        let pc: PartitionConfigInput = emptyPartitionConfig(app.id, p, max)
        if (app.available) {
          const list = app.parts[p]!
          replicasCollected += list.length
          if (list.length === 0) {
            lostCount++
            lossReasons.push(`${app.id}.${p}`)
            primaries.push({partition: `${app.id}.${p}`, table: app.name, before: null, after: null, candidates: [], risk: 'lossy',
              reason: 'no replica collected: force recovered to empty (skip_lost_partitions); the meta then assigns an empty primary',
              atStake: `every row of partition ${app.id}.${p} of ${app.name}`})
          } else {
            const primary = list[0]!
            const drops = list.slice(1, max).reverse()
            pc = {...pc, ballot: primary.ballot, primary: primary.ip, hpPrimary: primary.node,
              lastDrops: drops.map((d) => d.ip), hpLastDrops: drops.map((d) => d.node)}
            const n = Math.min(list.length, max)
            if (n < max) under++
            else full++
            const ahead = list.slice(1).filter((c) => c.lcd > primary.lpd)
            let risk: RiskClass = 'disruptive'
            let atStake: string | undefined
            if (ahead.length > 0) {
              const top = ahead.reduce((a, b) => (b.lcd > a.lcd ? b : a))
              risk = 'lossy'
              atStake = `decrees ${primary.lpd + 1}..${top.lcd} committed on ${top.node} but not prepared on the chosen primary ${primary.node}`
              lossReasons.push(`${app.id}.${p}`)
              findings.push({code: FINDING_CODES.primaryBehind, severity: 'warning', subject: `${app.id}.${p}`,
                message: `partition(${app.id}.${p}): the primary chosen by ballot, ${primary.node} (ballot ${primary.ballot}, last prepared ${primary.lpd}), is behind ${top.node} (ballot ${top.ballot}, last committed ${top.lcd})`,
                hint: 'Pegasus picks the highest ballot first; the decrees only the other replica committed may be lost.'})
            }
            primaries.push({
              partition: `${app.id}.${p}`, table: app.name, before: null, after: primary.node, risk, atStake,
              candidates: list.map((c, i): Candidate => ({node: c.node,
                facts: {[FACT.collected]: true, [FACT.ballot]: c.ballot, [FACT.lastCommitted]: c.lcd, [FACT.lastPrepared]: c.lpd},
                marks: [i === 0 ? 'primary' : i < max ? 'last_drops' : `kept in the meta's dropped list only (max_replica_count + max_reserved_dropped_replicas = ${max + reserved})`]})),
              ...(drops.length > 0 ? {facts: {[FACT.lastDrops]: drops.map((d) => d.node).join(', ')}} : {}),
              reason: `greatest (ballot, last_committed_decree, last_prepared_decree) of ${list.length} collected replica(s); the next ${drops.length} become last_drops; secondaries are added by the meta afterwards`,
            })
          }
        }
        changes.push({address: zkAddress(partitionPath(appsRoot, app.id, p)), noun: NOUN.partition, action: 'create', before: null, after: encodePartitionConfig(pc, layout)})
      }
    }
  } else {
    findings.push({code: FINDING_CODES.outcome, severity: 'info', subject: spec.cluster.name,
      message: prediction.err === 'CRASH'
        ? 'start_recovery would crash the meta server (a CHECK fails) before anything is written'
        : 'start_recovery would answer ERR_TRY_AGAIN and write nothing to ZooKeeper',
      hint: 'Resolve the errors above and plan again.'})
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
  const shownLoss = lossReasons.slice(0, 20).join(', ') + (lossReasons.length > 20 ? `, ... (${lossReasons.length} in all)` : '')
  const steps: Step[] = [
    {id: '01-check-preconditions', kind: STEP_KINDS.check, risk: 'read', params: {...readParams},
      description: `Check the meta server waits for a recovery (ERR_UNDER_RECOVERY) and ${appsRoot} holds no app`,
      expect: 'list_apps answers ERR_UNDER_RECOVERY and the apps root has no children'},
    {id: '02-start-recovery', kind: STEP_KINDS.start, risk: lossy ? 'lossy' : 'disruptive', params: {...startParams},
      description: `start_recovery from ${order.length} replica server(s)${spec.recovery.skip_bad_nodes ? ', skipping bad nodes' : ''}${skipLost ? ', forcing lost partitions empty' : ''}`,
      expect: `the meta answers ${prediction.err === 'CRASH' ? 'nothing (it crashes)' : prediction.err}, writes ${prediction.apps.length} app node(s) and ${partitions} partition node(s), and starts serving`,
      riskReason: lossy
        ? `the meta server rebuilds its metadata and starts serving; data may be lost in partitions ${shownLoss}` +
          (lostCount > 0 ? ` (${lostCount} recovered empty: every row in them is lost)` : '')
        : 'the meta server rebuilds its metadata from the replica servers and starts serving with the primaries below'},
    {id: '03-wait-meta-serving', kind: STEP_KINDS.wait, risk: 'read', params: {...readParams},
      description: `Wait up to ${spec.recovery.wait_seconds} s for the meta server to serve`,
      expect: 'cluster_info answers ERR_OK'},
    {id: '04-verify-metadata', kind: STEP_KINDS.verify, risk: 'read', params: {...readParams},
      description: `Verify ${appsRoot} holds the planned app and partition nodes and the tables are listed`,
      expect: `${prediction.apps.length} app node(s), ${partitions} partition node(s), ${available.length} table(s) listed`},
    {id: '05-restart-meta-normal-mode', kind: STEP_KINDS.restart, risk: 'disruptive', params: {...readParams},
      description: 'Restart the meta servers with recover_from_replica_server = false',
      expect: 'after the restart cluster_info answers and every recovered table is listed',
      riskReason: 'the meta servers restart: DDL and reconfiguration pause until a leader is elected again',
      manual: {instructions: [
        'On every meta server, set [meta_server] recover_from_replica_server = false in its config.ini.',
        `Keep [meta_server] cluster_root pointing at the recovered root (${appsRoot.replace(/\/apps$/, '') || '/'}).`,
        'Restart the meta servers (the one that ran the recovery last), so that duplication, split and the remote commands a recovery skips start normally.',
        'Confirm the step: lifeboat then checks that cluster_info answers and every recovered table is listed.',
      ]}},
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
      },
    },
    changes,
    primaries,
    steps,
    findings,
  }
}
