/**
 * The prediction of a PegasusMetaRecovery: what the meta server's start_recovery answers and builds
 * from the replica servers' reports, step for step as server_state.cpp does it (see planner.ts for
 * the steps). Pure: no I/O, no clock.
 */
import type {Finding} from '../../../plan/types.js'
import {compareNatural} from '../../../plan/order.js'
import {LifeboatError} from '../../../errors.js'
import type {AppInfo} from '../wire/types.js'
import {gpidParts} from '../wire/protocol.js'
import type {MetaRecoveryLive, MetaRecoveryNode, MetaRecoveryPlanTunables, MetaRecoverySpec} from './types.js'
import {
  ENVS_CAVEAT,
  FINDING_CODES,
  describeEnvs,
  hintBadNode,
  hintLost,
  hintRenamed,
  hintUnderReplicated,
} from './planner-wording.js'

/** app_status values the planner needs (dsn.layer2.app_status). */
export const AS_AVAILABLE = 1
export const AS_DROPPED = 6
/** partition_status::PS_ERROR. */
export const PS_ERROR = 2

/** `[meta_server] max_reserved_dropped_replicas` when the spec's cluster does not say: Pegasus's default. */
export const DEFAULT_MAX_RESERVED_DROPPED_REPLICAS = 1

/** One collected replica of a partition, as the meta's dropped list holds it. */
export interface Collected {
  node: string
  ip: string
  ballot: number
  lcd: number
  lpd: number
  /** Collection order: among equal replicas the earlier one ranks higher. */
  seq: number
}

/** An app as construct_apps leaves it. */
export interface PredictedApp {
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

const COMPATIBLE_FIELDS: readonly (keyof AppInfo)[] = [
  'status',
  'app_type',
  'app_name',
  'app_id',
  'partition_count',
  'is_stateful',
  'max_replica_count',
  'expire_second',
  'create_second',
  'drop_second',
  'atomic_idempotent',
]

/** The fields app_info_compatible_equal compares that differ between two reports of one app id. */
function incompatibleFields(a: AppInfo, b: AppInfo): (keyof AppInfo)[] {
  // The usual answer (every node reports the same app_info) read field by field: a gather of 100
  // nodes and 1,000 tables compares 99,000 pairs, and COMPATIBLE_FIELDS' loop reads by computed key.
  if (
    a.status === b.status &&
    a.app_type === b.app_type &&
    a.app_name === b.app_name &&
    a.app_id === b.app_id &&
    a.partition_count === b.partition_count &&
    Boolean(a.is_stateful) === Boolean(b.is_stateful) &&
    a.max_replica_count === b.max_replica_count &&
    a.expire_second === b.expire_second &&
    a.create_second === b.create_second &&
    a.drop_second === b.drop_second &&
    Boolean(a.atomic_idempotent) === Boolean(b.atomic_idempotent)
  )
    return []
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

/**
 * Sorts a partition's collected replicas greatest first (compareCollectedDesc, a total order, so
 * any sort gives the same list). A partition holds a handful: an insertion sort in place, where
 * Array#sort would allocate its work state for each of 64,000 partitions.
 */
export function sortCollected(list: Collected[]): void {
  if (list.length > 16) {
    list.sort(compareCollectedDesc)
    return
  }
  for (let i = 1; i < list.length; i++) {
    const item = list[i]!
    let j = i - 1
    while (j >= 0 && compareCollectedDesc(list[j]!, item) > 0) {
      list[j + 1] = list[j]!
      j--
    }
    list[j + 1] = item
  }
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
export function predictRecovery(
  spec: MetaRecoverySpec,
  live: MetaRecoveryLive,
  opts: MetaRecoveryPlanTunables = {},
): RecoveryPrediction {
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
        hints: ["Gather again: the live state must describe every node of the spec's list."],
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
        : err === 'ERR_TIMEOUT'
          ? 'The node did not answer in time, asked twice: it may be slow rather than lost (the meta server asks it again at start_recovery, with its own 5 s deadline). Plan again; if it stays slow, find out why (load, disk, GC) or raise cluster.timeouts.collect_seconds (--collect-timeout) to see what it holds; only if it is lost for good, set recovery.skip_bad_nodes: true.'
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
        findings.push({
          code: FINDING_CODES.invalidAppId,
          severity: 'error',
          subject: n.address,
          message: `node(${n.address}) reports an app with id ${info.app_id}: the meta server would crash (CHECK_GE "invalid app id")`,
          hint: 'Find and move aside the replica directories of that app on the node before recovering.',
        })
        continue
      }
      const known = apps.get(info.app_id)
      if (!known) {
        apps.set(info.app_id, {
          id: info.app_id,
          info,
          from: n.address,
          originalName: info.app_name,
          name: info.app_name,
          holder: false,
          available: info.status === AS_AVAILABLE,
          parts: [],
        })
        maxAppId = Math.max(maxAppId, info.app_id)
        continue
      }
      const diff = incompatibleFields(info, known.info)
      if (diff.length > 0) {
        crash = true
        findings.push({
          code: FINDING_CODES.conflict,
          severity: 'error',
          subject: `app(${info.app_id})`,
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
      id,
      holder: true,
      available: false,
      originalName: name,
      name,
      parts: [],
      info: {
        status: 4,
        app_type: 'pegasus',
        app_name: name,
        app_id: id,
        partition_count: 1,
        envs: {},
        is_stateful: true,
        max_replica_count: 3,
        expire_second: 0,
        create_second: 0,
        drop_second: 0,
        duplicating: false,
        init_partition_count: -1,
        is_bulk_loading: false,
        atomic_idempotent: false,
      },
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
      findings.push({
        code: FINDING_CODES.renamed,
        severity: 'warning',
        subject: `app(${id})`,
        message,
        hint: `Clients of "${app.name}" reach app ${highestWithName(apps, app.originalName, id)} after recovery. Rename or drop ${name} once the cluster serves again.`,
      })
      app.name = name
    }
    taken.add(name)
  }

  // Soft-deleted tables come back: replicas keep the status they were created with.
  for (const app of apps.values()) {
    if (app.holder || !app.available) continue
    const newer = highestWithName(apps, app.originalName, app.id)
    if (app.info.drop_second > 0) {
      findings.push({
        code: FINDING_CODES.softDeleted,
        severity: 'warning',
        subject: `app(${app.id})`,
        message: `app(${app.id}) "${app.originalName}" was dropped (drop_second ${app.info.drop_second}) but its replicas still exist: recovery brings it back as AVAILABLE${app.name !== app.originalName ? ` named ${app.name}` : ''}; the deletion is lost, the data is intact`,
        hint: `Drop ${app.name} again after the recovery if it should stay deleted.`,
      })
    } else if (newer !== app.id && !apps.get(newer)!.holder) {
      findings.push({
        code: FINDING_CODES.softDeleted,
        severity: 'warning',
        subject: `app(${app.id})`,
        message: `app(${app.id}) shares the name "${app.originalName}" with app(${newer}): only one table per name can be live, so app(${app.id}) was most likely dropped; recovery brings it back as AVAILABLE named ${app.name}; the deletion is lost, the data is intact`,
        hint: `Drop ${app.name} again after the recovery if it should stay deleted.`,
      })
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
          findings.push({
            code: FINDING_CODES.unknownApp,
            severity: 'error',
            subject: `${r.pid}@${n.address}`,
            message: `node(${n.address}) reports replica ${r.pid}, which no reported app info covers: the meta server would crash constructing partitions`,
            hint: 'Move the stray replica directory aside on that node (it may be partition-split garbage) and plan again.',
          })
        }
        continue
      }
      if (!app.available) continue
      const list = app.parts[gpid[1]]!
      // A node that reports a partition twice: its later report replaces the earlier one.
      for (let i = 0; i < list.length; i++) {
        if (list[i]!.node === n.address) {
          list.splice(i, 1)
          break
        }
      }
      list.push({
        node: n.address,
        ip,
        ballot: r.ballot,
        lcd: r.last_committed_decree,
        lpd: r.last_prepared_decree,
        seq: seq++,
      })
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
        findings.push({
          code: FINDING_CODES.lost,
          severity: skipLost ? 'warning' : 'error',
          subject: `${app.id}.${p}`,
          message,
          hint: skipLost
            ? `Every row of partition ${app.id}.${p} of ${app.name} is lost: the meta assigns it an empty primary.`
            : 'Bring back a node holding a replica of it, or set recovery.skip_lost_partitions: true to recover it empty (its data is lost).',
        })
        continue
      }
      sortCollected(list)
      if (list.length > keep) list.length = keep
      if (list[0]!.ballot === -1) {
        crash = true
        findings.push({
          code: FINDING_CODES.invalidBallot,
          severity: 'error',
          subject: `${app.id}.${p}`,
          message: `the best replica of partition(${app.id}.${p}) on ${list[0]!.node} has an invalid ballot (-1): the meta server would crash (CHECK_NE "the ballot of server must not be invalid_ballot")`,
          hint: 'Leave that node out of the list or move the replica aside.',
        })
        continue
      }
      const n = Math.min(list.length, max)
      if (n < max) {
        const message = hintUnderReplicated(app.id, p, n, max)
        hints.push(message)
        findings.push({
          code: FINDING_CODES.underReplicated,
          severity: 'warning',
          subject: `${app.id}.${p}`,
          message,
          hint: `Only ${n} of ${max} replicas answered: writes acknowledged only by the missing replicas may be lost.`,
        })
      }
    }
  }
  if (crash) return {err: 'CRASH', hints, findings, apps: []}
  if (lost > 0 && !skipLost) return {err: 'ERR_TRY_AGAIN', hints, findings, apps: sorted}
  findings.push(...envFindings(sorted, okNodes))
  return {err: 'ERR_OK', hints, findings, apps: sorted}
}

/**
 * The envs each recovered table gets back: construct_apps keeps the app_info of the first node that
 * reports the table and does not compare envs (other nodes' differing envs are ignored, a sign that
 * they changed after some replicas were created). What was set later and no replica holds cannot
 * be known: said once, with the tables that get no env back.
 */
function envFindings(apps: PredictedApp[], okNodes: MetaRecoveryNode[]): Finding[] {
  const out: Finding[] = []
  const bare: string[] = []
  // Every node's report of each app id, in list order (one pass: big clusters have 1,000s of tables).
  const reports = new Map<number, {node: string; envs: Record<string, string>}[]>()
  for (const n of okNodes) {
    for (const info of n.apps) {
      const list = reports.get(info.app_id) ?? []
      if (list.length === 0) reports.set(info.app_id, list)
      list.push({node: n.address, envs: info.envs ?? {}})
    }
  }
  for (const app of apps) {
    if (app.holder || !app.available) continue
    const envs = app.info.envs ?? {}
    const mine = describeEnvs(envs)
    const others = new Map<string, string[]>()
    for (const r of reports.get(app.id) ?? []) {
      if (r.node === app.from) continue
      const theirs = Object.keys(r.envs).length === 0 && Object.keys(envs).length === 0 ? mine : describeEnvs(r.envs)
      if (theirs !== mine) others.set(theirs, [...(others.get(theirs) ?? []), r.node])
    }
    if (Object.keys(envs).length === 0 && others.size === 0) {
      bare.push(app.name)
      continue
    }
    const ignored = [...others].map(([e, nodes]) => `${nodes.join(', ')} report${nodes.length === 1 ? 's' : ''} ${e}`)
    out.push({
      code: FINDING_CODES.envsRecovered,
      severity: others.size > 0 ? 'warning' : 'info',
      subject: `app(${app.id})`,
      message:
        `${app.name} gets back the envs ${app.from} reports, the first node that reports it: ${mine}` +
        (ignored.length > 0
          ? `; the meta does not compare envs and ignores the other reports: ${ignored.join('; ')}`
          : ''),
      ...(others.size > 0
        ? {
            hint: `The reports differ because the envs changed after some replicas were created. After the recovery, check get_app_envs of ${app.name} and set what it should have: use_app ${app.name}; set_app_envs KEY VALUE.`,
          }
        : {}),
    })
  }
  if (apps.some((a) => !a.holder && a.available)) {
    out.push({
      code: FINDING_CODES.envsUnknown,
      severity: 'info',
      subject: 'envs',
      message:
        (bare.length > 0
          ? `${bare.length === 1 ? 'table' : 'tables'} ${bare.slice(0, 10).join(', ')}${bare.length > 10 ? `, ... (${bare.length} in all)` : ''} ${bare.length === 1 ? 'gets' : 'get'} back no envs; `
          : '') + `for every table, ${ENVS_CAVEAT}`,
      hint: "After the recovery, compare each table's get_app_envs with your records of the old cluster and set what is missing: use_app TABLE; set_app_envs KEY VALUE.",
    })
  }
  return out
}

/** The highest app id whose original name is `name` (the one that keeps it), at least `id`. */
function highestWithName(apps: Map<number, PredictedApp>, name: string, id: number): number {
  let best = id
  for (const a of apps.values()) if (a.originalName === name && a.id > best) best = a.id
  return best
}

/** Replicas of outside nodes that the recovered meta will not know: each crashes it at config_sync. */
export function outsideNodeFindings(live: MetaRecoveryLive, apps: PredictedApp[], listed: Set<string>): Finding[] {
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
    out.push({
      code: FINDING_CODES.outsideNode,
      severity: 'error',
      subject: n.address,
      message:
        `gpid(${bad[0]}) on node(${n.address}) is not exist on meta server, administrator should check consistency of meta data` +
        (bad.length > 1 ? ` (and ${bad.length - 1} more replicas of tables the recovery will not know)` : ''),
      hint: `Add ${n.address} to the node list, or keep it stopped: the recovered meta server crashes at its first config_sync.`,
    })
  }
  return out
}
