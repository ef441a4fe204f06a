/**
 * The PegasusZkMigration planner: what the target ZooKeeper will hold, every gate and manual step
 * in order, and what is unavailable during which steps, for either method (reference/pegasus.md
 * section 6):
 *
 * - `copy` (the zkcopy path): stop the follower metas, set the leader's level to blind, copy the
 *   whole cluster root, compare node for node, repoint the metas' `hosts_list` and `cluster_root`
 *   and restart them, restore the level;
 * - `recovery` (pegasus_migrate_zookeeper.sh): record `ls` and `nodes -d`, restart one meta with
 *   `recover_from_replica_server = true` on the target, start_recovery with the alive nodes, wait
 *   until `nodes -d` matches again, restart the metas normally.
 *
 * PURE (DESIGN.md section 3): no I/O, no clock, no randomness. Every list is sorted.
 */

import {canonicalJson, sha256Hex} from '../../../plan/canonical.js'
import {compareFindings, compareNatural} from '../../../plan/order.js'
import type {Change, Finding, PlanBody, Step} from '../../../plan/types.js'
import type {PlanOptions} from '../../types.js'
import {META_LEVEL_VALUES} from '../wire/meta-level.js'
import {metaLeaderLockDirs} from '../zk-layout.js'
import {NOUN, PEGASUS_VOCABULARY} from '../vocabulary.js'
import {
  FINDING_CODES,
  STEP_KINDS,
  type ClusterParams,
  type CopyParams,
  type SetLevelParams,
  type SingleMetaParams,
  type StartRecoveryParams,
  type SwitchMetaParams,
  type TreeSummary,
  type ZkMigrationLive,
  type ZkMigrationSpec,
  type ZkPlace,
} from './types.js'

/** Level values by name, to compare levels (meta_admin.thrift). */
const LEVEL_VALUES: Record<string, number> = META_LEVEL_VALUES
/** The level a meta starts at unless `meta_function_level_on_start` says otherwise. */
const DEFAULT_LEVEL = 'steady'
/** Top-level children the metas recreate themselves: the leader lock directories. */
const LOCK_CHILDREN = new Set(['lock', 'dsn.meta.server.leader'])
/** Items named in one finding before "...". */
const SHOWN = 10

/** Splits a connect string into its sorted `host:port` entries, so that the order of the ensemble does not count. */
export function ensembleKey(hosts: string): string {
  return hosts
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '')
    .sort()
    .join(',')
}

/** A root without trailing slashes (`/` stays `/`). */
export function normalRoot(root: string): string {
  const r = root.replace(/\/+$/, '')
  return r === '' ? '/' : r
}

/** True when both name the same ensemble and root. */
export function samePlace(a: ZkPlace, b: ZkPlace): boolean {
  return ensembleKey(a.hosts) === ensembleKey(b.hosts) && normalRoot(a.root) === normalRoot(b.root)
}

/** `inner` is `outer` or lies under it. */
function within(inner: string, outer: string): boolean {
  const i = normalRoot(inner)
  const o = normalRoot(outer)
  return o === '/' || i === o || i.startsWith(`${o}/`)
}

function join(root: string, rel: string): string {
  return root === '/' ? `/${rel}` : `${root}/${rel}`
}

/**
 * The plan address of a node on one of the two ensembles: `zk:HOSTS/path`. A migration touches two
 * ZooKeepers whose roots are often the same path, so the ensemble is part of the address.
 */
export function zkAddress(hosts: string, path: string): string {
  return `zk:${hosts}${path}`
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`
}

function listShort(items: string[]): string {
  return items.slice(0, SHOWN).join(', ') + (items.length > SHOWN ? `, ... (${items.length} in all)` : '')
}

/** What a tree holds, in one phrase per top-level child: `apps (12 nodes), lock (1 node, 1 ephemeral)`. */
export function describeTree(tree: TreeSummary): string {
  const parts = tree.children.map(
    (c) => `${c.name} (${plural(c.nodes, 'node')}${c.ephemeral > 0 ? `, ${c.ephemeral} ephemeral` : ''})`,
  )
  return parts.length > 0 ? listShort(parts) : 'nothing under the root'
}

/** Nodes the target tree will hold after the copy: persistent source nodes, plus ephemeral ones when they are copied. */
function copiedCount(tree: TreeSummary, ignoreEphemeral: boolean): number {
  return tree.nodes + (ignoreEphemeral ? 0 : tree.ephemeral.length)
}

/** The sha256 of what the plan rests on: shapes and counts, never data that changes by itself (ballots, heartbeats). */
function fingerprintOf(spec: ZkMigrationSpec, live: ZkMigrationLive): string {
  const tree = (t: TreeSummary) => ({
    exists: t.exists,
    nodes: t.nodes,
    children: t.children,
    appsRootData: t.appsRootData,
    pathsDigest: t.pathsDigest,
    apps: t.apps.map((a) => [a.id, a.name, a.status, a.partition_count, a.partitions, a.nodes]),
    ephemeral: t.ephemeral.length,
  })
  const recovery = spec.migration.method === 'recovery'
  return sha256Hex(
    canonicalJson({
      method: spec.migration.method,
      source: tree(live.source),
      target: tree(live.target),
      meta: {leader: live.meta.leader, error: live.meta.error, level: live.meta.level, zookeeper: live.meta.zookeeper},
      tables: live.tables.map((t) => [t.app_id, t.app_name, t.status, t.partition_count, t.replica_count]),
      // Replica counts move with balancing; only the recovery method rests on them.
      nodes: live.nodes.map((n) => (recovery ? [n.address, n.status, n.replica_count] : [n.address, n.status])),
    }),
  )
}

/** Meta addresses holding a leader lock node in the source tree, sorted. */
function lockHolders(live: ZkMigrationLive): string[] {
  return live.source.ephemeral
    .filter((e) => /\/dsn\.meta\.server\.leader\/LOCKNODE\d+$/.test(e.path))
    .map((e) => e.data.trim())
    .sort(compareNatural)
}

function commonFindings(spec: ZkMigrationSpec, live: ZkMigrationLive): Finding[] {
  const src = spec.cluster.zookeeper
  const dst = spec.migration.target
  const {source, target, meta} = live
  const out: Finding[] = []
  const copy = spec.migration.method === 'copy'
  if (normalRoot(src.root) === '/') {
    out.push({
      code: FINDING_CODES.sourceIsZkRoot,
      severity: 'error',
      subject: `${src.hosts}/`,
      message:
        "the source root is the ZooKeeper root /: it holds ZooKeeper's own /zookeeper and other clients' data, so it cannot be moved as one cluster root",
      hint: 'Pegasus keeps its metadata under [meta_server] cluster_root; give that path as cluster.zookeeper.root.',
    })
  }
  if (!source.exists) {
    out.push({
      code: FINDING_CODES.sourceMissing,
      severity: copy ? 'error' : 'warning',
      subject: `${src.hosts}${src.root}`,
      message: `the source root ${src.root} does not exist on ${src.hosts}`,
      hint: copy
        ? "Check cluster.zookeeper: it must be the meta servers' [zookeeper] hosts_list and [meta_server] cluster_root."
        : 'The recovery rebuilds from the replica servers, but check cluster.zookeeper names the tree the metas run on.',
    })
  } else if (source.apps.length === 0) {
    out.push({
      code: FINDING_CODES.noApps,
      severity: 'warning',
      subject: `${src.hosts}${src.root}`,
      message: `the source root ${src.root} holds no app node under apps/: there is no table to move`,
    })
  }
  if (target.exists && (target.nodes > 1 || target.ephemeral.length > 0)) {
    out.push({
      code: FINDING_CODES.targetNotEmpty,
      severity: 'error',
      subject: `${dst.hosts}${dst.root}`,
      message: `the target root ${dst.root} on ${dst.hosts} is not empty: it holds ${plural(target.nodes - 1 + target.ephemeral.length, 'node')} under it: ${describeTree(target)}`,
      hint: `Point migration.target.root at a new path, or, if that data is yours to discard, save it and delete ${dst.root} (zkCli.sh deleteall ${dst.root}), then plan again.`,
    })
  }
  if (ensembleKey(src.hosts) === ensembleKey(dst.hosts) && (within(dst.root, src.root) || within(src.root, dst.root))) {
    out.push({
      code: FINDING_CODES.targetOverlaps,
      severity: 'error',
      subject: `${dst.hosts}${dst.root}`,
      message: `the target root ${dst.root} and the source root ${src.root} are on the same ZooKeeper and one contains the other`,
      hint: 'Choose a target root outside the source tree (and the source outside the target).',
    })
  }
  if (meta.error !== null) {
    const unreachable = meta.error === 'ERR_NETWORK_FAILURE' || meta.error === 'ERR_TIMEOUT' || meta.leader === null
    out.push({
      code: FINDING_CODES.metaUnreachable,
      severity: 'error',
      subject: meta.leader ?? spec.cluster.meta_servers.join(','),
      message: unreachable
        ? `no meta server answered control_meta (${meta.error})`
        : `the meta server ${meta.leader} answered control_meta with ${meta.error}: it does not serve`,
      hint: copy
        ? 'The copy method needs a serving meta leader to set its level to blind; start the meta servers and plan again.'
        : 'The recovery method records the table and node lists from a serving meta; start the meta servers and plan again.',
    })
  } else if (meta.zookeeper && !samePlace(meta.zookeeper, src)) {
    const onTarget = samePlace(meta.zookeeper, dst)
    out.push({
      code: FINDING_CODES.metaElsewhere,
      severity: 'error',
      subject: meta.leader ?? spec.cluster.meta_servers.join(','),
      message: `the meta server ${meta.leader} runs on ZooKeeper ${meta.zookeeper.hosts} root ${meta.zookeeper.root}, not on the source ${src.hosts} root ${src.root}${onTarget ? ': it already runs on the migration target' : ''}`,
      hint: onTarget
        ? 'The migration looks done; nothing is left to move.'
        : "Make cluster.zookeeper the meta servers' [zookeeper] hosts_list and [meta_server] cluster_root.",
    })
  }
  if (source.appsRootData === 'lock') {
    out.push({
      code: FINDING_CODES.lockTransaction,
      severity: copy ? 'error' : 'warning',
      subject: join(normalRoot(src.root), 'apps'),
      message: `${join(normalRoot(src.root), 'apps')} holds "lock": a meta stopped in the middle of writing the tables; a meta loading this tree crashes (invalid transaction state(lock))`,
      hint: copy
        ? 'Let the meta finish (or repair the apps root) before copying it.'
        : 'The recovery method does not copy the tree, so the target is not affected.',
    })
  }
  if (
    live.meta.level !== null &&
    LEVEL_VALUES[live.meta.level] !== undefined &&
    LEVEL_VALUES[live.meta.level]! < LEVEL_VALUES.blind!
  ) {
    out.push({
      code: FINDING_CODES.levelLow,
      severity: 'warning',
      subject: live.meta.leader ?? '',
      message: `the meta level is ${live.meta.level}, below blind: DDL is not served now${copy ? '; step 02 raises it to blind for the copy' : ''}`,
    })
  }
  return out
}

function copyFindings(spec: ZkMigrationSpec, live: ZkMigrationLive, ignoreEphemeral: boolean): Finding[] {
  const out: Finding[] = []
  const holders = lockHolders(live)
  if (holders.length > 1) {
    out.push({
      code: FINDING_CODES.followers,
      severity: 'warning',
      subject: holders.join(','),
      message: `${holders.length} meta servers hold a leader lock node (${holders.join(', ')}): step 01 waits until only the leader runs`,
      hint: 'Stop every follower meta before the copy (the leader holds the lowest LOCKNODE); a follower that takes over during the copy would run at its start level.',
    })
  }
  if (!ignoreEphemeral && live.source.ephemeral.length > 0) {
    out.push({
      code: FINDING_CODES.notCarried,
      severity: 'warning',
      subject: listShort(live.source.ephemeral.map((e) => e.path)),
      message: `ignore_ephemeral is false: ${plural(live.source.ephemeral.length, 'ephemeral node')} will be copied as persistent nodes; a copied LOCKNODE names a meta that holds no lock on the target and keeps the metas there from electing a leader`,
      hint: 'Leave ignore_ephemeral at true unless you know the copied nodes are harmless.',
    })
  }
  const dst = normalRoot(spec.migration.target.root)
  out.push(
    {
      code: FINDING_CODES.downtime,
      severity: 'info',
      subject: 'steps 02-06',
      message:
        'from step 02 (meta level blind) until step 06 restores the level, the meta serves DDL only: it ignores replica reconfiguration and balancing, so a replica server that fails in this window is not replaced and its partitions stay unavailable until step 06; reads and writes on healthy partitions continue',
      hint: 'Keep the window short: the copy runs at about 12,000 nodes/s or more on loopback.',
    },
    {
      code: FINDING_CODES.downtime,
      severity: 'info',
      subject: 'step 05',
      message: `while the metas restart on ${spec.migration.target.hosts} root ${dst}, no meta serves: DDL fails and clients that must look up a partition's configuration wait; replica servers keep serving what they serve`,
    },
  )
  return out
}

function recoveryFindings(spec: ZkMigrationSpec, live: ZkMigrationLive): Finding[] {
  const out: Finding[] = []
  const srcRoot = normalRoot(spec.cluster.zookeeper.root)
  if (live.meta.error === null) {
    const unalive = live.nodes.filter((n) => n.status !== 'ALIVE')
    for (const n of unalive) {
      out.push({
        code: FINDING_CODES.nodeUnalive,
        severity: 'error',
        subject: n.address,
        message: `replica server ${n.address} is UNALIVE: pegasus_migrate_zookeeper.sh aborts when any node is UNALIVE, since its replicas would not be collected by the recovery`,
        hint: 'Bring the node back (or remove it from the cluster) and plan again.',
      })
    }
    if (live.nodes.length > 0 && unalive.length === live.nodes.length) {
      out.push({
        code: FINDING_CODES.noAliveNode,
        severity: 'error',
        subject: spec.cluster.name,
        message: 'no replica server is ALIVE: there is nothing to recover from',
      })
    } else if (live.nodes.length === 0) {
      out.push({
        code: FINDING_CODES.noAliveNode,
        severity: 'error',
        subject: spec.cluster.name,
        message: 'the meta lists no replica server: there is nothing to recover from',
      })
    }
  }
  // What start_recovery does not rebuild: everything but the app and partition nodes.
  const left: string[] = []
  let leftNodes = 0
  for (const c of live.source.children) {
    if (c.name === 'apps' || LOCK_CHILDREN.has(c.name)) continue
    left.push(`${c.name} (${plural(c.nodes, 'node')})`)
    leftNodes += c.nodes
  }
  for (const a of live.source.apps) {
    const extra = a.nodes - 1 - a.partitions
    if (extra <= 0) continue
    left.push(`apps/${a.id} (${plural(extra, 'node')} besides its partitions, e.g. duplication)`)
    leftNodes += extra
  }
  if (left.length > 0) {
    out.push({
      code: FINDING_CODES.notCarried,
      severity: 'warning',
      subject: srcRoot,
      message: `the recovery rebuilds only app and partition nodes: ${plural(leftNodes, 'node')} of the source tree are not carried over: ${listShort(left)}`,
      hint: 'Duplications, backup policies and bulk-load state must be set up again on the target, or use the copy method.',
    })
  }
  out.push(...envFindings(live))
  for (const t of live.tables.filter((x) => x.status !== 'AVAILABLE')) {
    out.push({
      code: FINDING_CODES.droppedTable,
      severity: 'warning',
      subject: `${t.app_id}:${t.app_name}`,
      message: `table ${t.app_name} (id ${t.app_id}) is ${t.status}: if its replicas are not garbage-collected yet the recovery brings it back as AVAILABLE (the drop is forgotten), otherwise its id becomes a __drop_holder__${t.app_id} placeholder`,
      hint: 'Check the table list after the migration and drop the table again if it came back.',
    })
  }
  out.push(
    {
      code: FINDING_CODES.downtime,
      severity: 'info',
      subject: 'steps 02-04',
      message:
        'from stopping the metas (step 02) until the node list matches again (step 04) no meta serves: the replica servers lose their lease after config_sync_interval_ms and their replicas go INACTIVE, so every table is unavailable for reads and writes until start_recovery has rebuilt the metadata and the meta has assigned primaries again',
      hint: 'Have the start_recovery node list ready; the window is the restart time plus the recovery and reassignment.',
    },
    {
      code: FINDING_CODES.downtime,
      severity: 'info',
      subject: 'step 05',
      message:
        "while the metas restart without recovery mode, no meta serves: DDL fails and clients that must look up a partition's configuration wait",
    },
  )
  return out
}

/** A table's envs after the recovery, as the first node that reports the table holds them. */
export interface EnvsPrediction {
  id: string
  name: string
  /** The node whose query_app_info defines the recovered app_info; null when no node reported the table. */
  from: string | null
  /** Keys whose value comes back as the source has it. */
  same: string[]
  /** Keys that come back with another value: the replica's, stale. */
  stale: {key: string; source: string; back: string}[]
  /** Keys the source has that do not come back. */
  lost: {key: string; source: string}[]
  /** Keys that come back though the source no longer has them (deleted after the replicas were created). */
  revived: {key: string; back: string}[]
}

/**
 * Per available table of the source tree, the envs start_recovery leaves it: construct_apps takes
 * the app_info of the first node (in the recovery list's order) that reports the table and does not
 * compare envs between nodes, and a node reports the envs its replicas hold in memory: those of the
 * proposal that created them (a restarted node: only rocksdb.allow_ingest_behind, from .app-info).
 * Pure.
 */
export function predictEnvs(live: ZkMigrationLive): EnvsPrediction[] {
  const out: EnvsPrediction[] = []
  const reports = (live.reports ?? []).filter((r) => r.error === null)
  for (const a of live.source.apps) {
    if (!a.status?.endsWith('AS_AVAILABLE')) continue
    const id = Number(a.id)
    let from: string | null = null
    let back: Record<string, string> = {}
    for (const r of reports) {
      const app = r.apps.find((x) => x.app_id === id)
      if (!app) continue
      from = r.address
      back = app.envs
      break
    }
    const p: EnvsPrediction = {id: a.id, name: a.name ?? a.id, from, same: [], stale: [], lost: [], revived: []}
    for (const [key, source] of Object.entries(a.envs)) {
      const v = back[key]
      if (v === undefined) p.lost.push({key, source})
      else if (v === source) p.same.push(key)
      else p.stale.push({key, source, back: v})
    }
    if (from !== null) {
      for (const [key, v] of Object.entries(back)) if (!(key in a.envs)) p.revived.push({key, back: v})
    }
    p.same.sort(compareNatural)
    p.stale.sort((x, y) => compareNatural(x.key, y.key))
    p.lost.sort((x, y) => compareNatural(x.key, y.key))
    p.revived.sort((x, y) => compareNatural(x.key, y.key))
    out.push(p)
  }
  return out
}

/** A shell argument: quoted when empty or holding blanks or quotes. */
function shellArg(v: string): string {
  return v === '' || /[\s"']/.test(v) ? JSON.stringify(v) : v
}

/** What the recovery does to each available table's envs, with the shell commands that set them right. */
function envFindings(live: ZkMigrationLive): Finding[] {
  const out: Finding[] = []
  const collected = live.reports !== undefined
  for (const p of predictEnvs(live)) {
    const subject = `${p.id}:${p.name}`
    const sourceKeys = p.same.length + p.stale.length + p.lost.length
    if (!collected || p.from === null) {
      if (sourceKeys === 0) continue
      const keys = [...p.same, ...p.stale.map((s) => s.key), ...p.lost.map((l) => l.key)].sort(compareNatural)
      out.push({
        code: FINDING_CODES.envsUnknown,
        severity: 'warning',
        subject,
        message: collected
          ? `table ${p.name} has envs ${listShort(keys)}, but no alive replica server reports the table: which of them come back cannot be known`
          : `table ${p.name} has envs ${listShort(keys)}; the replica servers were not asked which they hold, so which of them come back is not known`,
        hint: `After the migration, compare get_app_envs of ${p.name} with the source and set what is missing: use_app ${p.name}; set_app_envs KEY VALUE.`,
      })
      continue
    }
    const parts: string[] = []
    if (p.same.length > 0)
      parts.push(`${listShort(p.same)} come${p.same.length === 1 ? 's' : ''} back as the source has it`)
    for (const s of p.stale) parts.push(`${s.key} comes back as ${s.back} (the replicas' value), not ${s.source}`)
    for (const r of p.revived) parts.push(`${r.key}=${r.back} comes back though the source no longer has it`)
    if (p.lost.length > 0)
      parts.push(`${listShort(p.lost.map((l) => `${l.key}=${l.source}`))} ${p.lost.length === 1 ? 'is' : 'are'} lost`)
    const why = `start_recovery takes its envs from ${p.from}, the first node of the recovery list that reports the table; a replica server reports the envs its replicas were created with, after a restart only rocksdb.allow_ingest_behind`
    const wrong = p.stale.length + p.lost.length + p.revived.length
    if (wrong === 0) {
      if (p.same.length === 0) continue
      out.push({
        code: FINDING_CODES.envsBack,
        severity: 'info',
        subject,
        message: `table ${p.name}: its envs ${listShort(p.same)} come back as the source has them. ${why}`,
      })
      continue
    }
    const set = [...p.stale.map((s) => [s.key, s.source]), ...p.lost.map((l) => [l.key, l.source])].sort((x, y) =>
      compareNatural(x[0]!, y[0]!),
    )
    const commands = [`use_app ${p.name}`]
    if (set.length > 0) commands.push(`set_app_envs ${set.map(([k, v]) => `${k} ${shellArg(v!)}`).join(' ')}`)
    if (p.revived.length > 0) commands.push(`del_app_envs ${p.revived.map((r) => r.key).join(' ')}`)
    out.push({
      code: FINDING_CODES.envsLost,
      severity: 'warning',
      subject,
      message: `table ${p.name}: ${parts.join('; ')}. ${why}`,
      hint: `After the migration, in the Pegasus shell: ${commands.join('; ')}`,
    })
  }
  return out
}

/** The tree the copy leaves on the target, as changes, with what is there already as `before`. */
function copyChanges(spec: ZkMigrationSpec, live: ZkMigrationLive, ignoreEphemeral: boolean): Change[] {
  const dst = normalRoot(spec.migration.target.root)
  const {source, target} = live
  const out: Change[] = []
  const address = (rel: string) => zkAddress(spec.migration.target.hosts, rel === '' ? dst : join(dst, rel))
  const total = copiedCount(source, ignoreEphemeral)
  const partitions = source.apps.reduce((n, a) => n + a.partitions, 0)
  const rootAfter = {nodes: total, apps: source.apps.length, partitions}
  out.push(
    target.exists
      ? {
          address: address(''),
          noun: NOUN.zkNode,
          action: 'update',
          before: {nodes: target.nodes + target.ephemeral.length},
          after: rootAfter,
          reason: `the target root exists already; the copy fills it from ${spec.cluster.zookeeper.hosts}${normalRoot(spec.cluster.zookeeper.root)}`,
        }
      : {
          address: address(''),
          noun: NOUN.zkNode,
          action: 'create',
          before: null,
          after: rootAfter,
          reason: `copied from ${spec.cluster.zookeeper.hosts}${normalRoot(spec.cluster.zookeeper.root)}`,
        },
  )
  const there = new Map(target.children.map((c) => [c.name, c]))
  const names = new Set([...source.children.map((c) => c.name), ...there.keys()])
  const bySource = new Map(source.children.map((c) => [c.name, c]))
  for (const name of names) {
    const s = bySource.get(name)
    const t = there.get(name)
    const after = s ? {nodes: s.nodes + (ignoreEphemeral ? 0 : s.ephemeral)} : null
    const before = t ? {nodes: t.nodes + t.ephemeral} : null
    if (!s) {
      out.push({
        address: address(name),
        noun: NOUN.zkNode,
        action: 'no-op',
        before,
        after: before,
        reason: 'on the target only: the copy leaves it alone',
      })
      continue
    }
    const skipped = ignoreEphemeral && s.ephemeral > 0 ? `; ${plural(s.ephemeral, 'ephemeral node')} left out` : ''
    out.push(
      t
        ? {
            address: address(name),
            noun: NOUN.zkNode,
            action: 'update',
            before,
            after,
            reason: `exists on the target already: nodes the source also has are overwritten${skipped}`,
          }
        : {
            address: address(name),
            noun: NOUN.zkNode,
            action: 'create',
            before: null,
            after,
            reason: `${plural(s.nodes, 'persistent node')}${skipped}`,
          },
    )
  }
  const targetApps = new Map(target.apps.map((a) => [a.id, a]))
  for (const a of source.apps) {
    const after = {
      app_name: a.name,
      status: a.status,
      partition_count: a.partition_count,
      partitions: a.partitions,
      nodes: a.nodes,
    }
    const t = targetApps.get(a.id)
    out.push(
      t
        ? {
            address: address(`apps/${a.id}`),
            noun: NOUN.table,
            action: 'update',
            before: {
              app_name: t.name,
              status: t.status,
              partition_count: t.partition_count,
              partitions: t.partitions,
              nodes: t.nodes,
            },
            after,
          }
        : {address: address(`apps/${a.id}`), noun: NOUN.table, action: 'create', before: null, after},
    )
  }
  return out
}

/** The tree start_recovery builds on the target: the apps root and one app node per available table. */
function recoveryChanges(spec: ZkMigrationSpec, live: ZkMigrationLive): Change[] {
  const dst = normalRoot(spec.migration.target.root)
  const appsRoot = join(dst, 'apps')
  const dstHosts = spec.migration.target.hosts
  const targetApps = new Map(live.target.apps.map((a) => [a.id, a]))
  const out: Change[] = [
    live.target.appsRootData === null
      ? {
          address: zkAddress(dstHosts, appsRoot),
          noun: NOUN.zkNode,
          action: 'create',
          before: null,
          after: 'unlock',
          reason: 'start_recovery writes the apps root and unlocks it at the end',
        }
      : {
          address: zkAddress(dstHosts, appsRoot),
          noun: NOUN.zkNode,
          action: live.target.appsRootData === 'unlock' ? 'no-op' : 'update',
          before: live.target.appsRootData,
          after: 'unlock',
        },
  ]
  for (const t of live.tables.filter((x) => x.status === 'AVAILABLE')) {
    const after = {
      app_name: t.app_name,
      status: 'app_status::AS_AVAILABLE',
      partition_count: t.partition_count,
      max_replica_count: t.replica_count,
    }
    const there = targetApps.get(String(t.app_id))
    out.push({
      address: zkAddress(dstHosts, `${appsRoot}/${t.app_id}`),
      noun: NOUN.table,
      action: there ? 'update' : 'create',
      before: there ? {app_name: there.name, status: there.status, partition_count: there.partition_count} : null,
      after,
      reason: `rebuilt from the replica servers with ${plural(t.partition_count, 'partition node')}`,
    })
  }
  return out
}

/** The change every migration makes: the metas' ZooKeeper settings. */
function metaConfigChange(spec: ZkMigrationSpec): Change {
  const src = spec.cluster.zookeeper
  const dst = spec.migration.target
  return {
    address: 'meta-config:zookeeper',
    action: 'update',
    before: {hosts_list: src.hosts, cluster_root: normalRoot(src.root)},
    after: {hosts_list: dst.hosts, cluster_root: normalRoot(dst.root)},
    reason: "edited by hand in every meta server's config ([zookeeper] hosts_list, [meta_server] cluster_root)",
  }
}

function removeSourceStep(spec: ZkMigrationSpec, live: ZkMigrationLive, copy: CopyParams, n: number): Step {
  const src = spec.cluster.zookeeper
  return {
    id: `${String(n).padStart(2, '0')}-remove-source-tree`,
    kind: STEP_KINDS.removeSource,
    risk: 'lossy',
    params: {...copy},
    description: `Delete the source tree ${normalRoot(src.root)} on ${src.hosts} (${plural(live.source.nodes, 'node')})`,
    expect: `${normalRoot(src.root)} no longer exists on ${src.hosts}; the metas still run on the target`,
    riskReason: `deletes ${plural(live.source.nodes, 'node')} of the old metadata: after this there is no way back to the source ZooKeeper, and anything the target lacks (checked by the earlier steps) is gone`,
  }
}

function verifyTablesStep(id: string, live: ZkMigrationLive, params: ClusterParams): Step {
  const available = live.tables.filter((t) => t.status === 'AVAILABLE')
  return {
    id,
    kind: STEP_KINDS.verifyTables,
    risk: 'read',
    params: {...params},
    description: `Verify the meta lists the ${plural(available.length, 'recorded table')}`,
    expect:
      available.length > 0
        ? `list_apps shows ${listShort(available.map((t) => `${t.app_id}:${t.app_name}`))} with the same partition counts`
        : 'list_apps answers',
  }
}

/** Plans a PegasusZkMigration. */
export function planZkMigration(spec: ZkMigrationSpec, live: ZkMigrationLive, _opts: PlanOptions): PlanBody {
  const method = spec.migration.method
  const src = {hosts: spec.cluster.zookeeper.hosts, root: normalRoot(spec.cluster.zookeeper.root)}
  const dst = {hosts: spec.migration.target.hosts, root: normalRoot(spec.migration.target.root)}
  const ignoreEphemeral = spec.migration.ignore_ephemeral ?? true
  const removeSource = spec.migration.remove_source_after ?? false
  const waitSeconds = spec.migration.wait_seconds ?? 100
  const metas = [...spec.cluster.meta_servers]
  const level = live.meta.level ?? DEFAULT_LEVEL
  const tables = [...live.tables].sort((a, b) => a.app_id - b.app_id)
  const nodes = [...live.nodes].sort((a, b) => compareNatural(a.address, b.address))
  live = {...live, tables, nodes}
  const available = tables.filter((t) => t.status === 'AVAILABLE')

  const findings = commonFindings(spec, live)
  const changes: Change[] = [metaConfigChange(spec)]
  const copyParams: CopyParams = {
    source: src,
    target: dst,
    ignore_ephemeral: ignoreEphemeral,
    expect_nodes: live.source.nodes,
    meta_servers: metas,
  }
  const tablesParams: ClusterParams = {
    meta_servers: metas,
    tables: available,
    nodes: live.nodes,
    wait_seconds: waitSeconds,
    compare_nodes: false,
  }
  const restoreLevel = (id: string, from: string, span: string): Step => ({
    id,
    kind: STEP_KINDS.setLevel,
    risk: 'disruptive',
    params: {meta_servers: metas, level, from} satisfies SetLevelParams,
    description: `Set the meta level back to ${level} (control_meta)`,
    expect: `get_meta_level answers fl_${level}`,
    riskReason: `the meta resumes ${LEVEL_VALUES[level]! >= LEVEL_VALUES.steady! ? 'curing partitions' : 'the behaviour of its level'}${level === 'lively' ? ' and balancing' : ''} ${span}`,
  })
  let steps: Step[]

  if (method === 'copy') {
    findings.push(...copyFindings(spec, live, ignoreEphemeral))
    changes.push(...copyChanges(spec, live, ignoreEphemeral))
    changes.push({
      address: 'meta-level',
      action: 'update',
      before: level,
      after: 'blind',
      reason: `for the copy only: step 02 sets blind, step 06 sets ${level} again`,
    })
    const total = copiedCount(live.source, ignoreEphemeral)
    steps = [
      {
        id: '01-stop-follower-metas',
        kind: STEP_KINDS.singleMeta,
        risk: 'safe',
        params: {meta_servers: metas, source: src, lock_dirs: metaLeaderLockDirs(src.root)} satisfies SingleMetaParams,
        description: 'Only the meta leader runs: stop the follower meta servers',
        expect: `exactly one LOCKNODE under ${metaLeaderLockDirs(src.root).join(' or ')}`,
        manual: {
          instructions: [
            `Find the meta leader: ${live.meta.leader ? `${live.meta.leader} answered as leader when the plan was made` : 'the meta server `cluster_info` names as primary_meta_server'}.`,
            `Stop every other meta server of ${metas.join(', ')} (e.g. minos_stop / supervisorctl stop), leaving the leader running.`,
            'Confirm the step: lifeboat checks that only one meta holds a leader lock node in the source ZooKeeper.',
          ],
        },
      },
      {
        id: '02-set-meta-level-blind',
        kind: STEP_KINDS.setLevel,
        risk: 'disruptive',
        params: {meta_servers: metas, level: 'blind', from: level} satisfies SetLevelParams,
        description: `Set the meta level from ${level} to blind (set_meta_level blind), so the metadata stops changing during the copy`,
        expect: 'get_meta_level answers fl_blind',
        riskReason: `the meta stops curing and balancing partitions until step 06 sets ${level} again: a replica server that fails meanwhile is not replaced`,
      },
      {
        id: '03-copy-tree',
        kind: STEP_KINDS.copy,
        risk: 'safe',
        params: {...copyParams},
        description: `Copy ${plural(total, 'node')} from ${src.hosts}${src.root} to ${dst.hosts}${dst.root}${ignoreEphemeral ? ', leaving ephemeral nodes out' : ''}`,
        expect: `${dst.root} holds ${plural(total, 'node')}; a copy cut short resumes where it stopped`,
      },
      {
        id: '04-verify-copy',
        kind: STEP_KINDS.verifyCopy,
        risk: 'read',
        params: {...copyParams},
        description: `Compare source and target node for node (paths and data${ignoreEphemeral ? ', ephemeral nodes left out' : ''})`,
        expect: 'no node missing, extra or different',
      },
      {
        id: '05-switch-metas-to-target',
        kind: STEP_KINDS.switchMeta,
        risk: 'disruptive',
        params: {
          meta_servers: metas,
          zookeeper: dst,
          recover: false,
          wait_seconds: waitSeconds,
        } satisfies SwitchMetaParams,
        description: `Point the meta servers at ${dst.hosts} root ${dst.root} and restart them`,
        expect: `/meta/cluster reports zookeeper_hosts ${dst.hosts} and zookeeper_root ${dst.root}, and the meta serves`,
        riskReason: 'the metas restart on the copied tree: no meta serves until the leader is up again',
        manual: {
          instructions: [
            `In every meta server's config, set [zookeeper] hosts_list = ${dst.hosts}${dst.root !== src.root ? ` and [meta_server] cluster_root = ${dst.root}` : ` (cluster_root stays ${dst.root})`}; keep recover_from_replica_server = false.`,
            `Restart the leader${live.meta.leader ? ` (${live.meta.leader})` : ''} first, then start the followers.`,
            `Confirm the step: lifeboat reads /meta/cluster from the metas and checks zookeeper_hosts and zookeeper_root name ${dst.hosts} and ${dst.root}.`,
          ],
        },
      },
      restoreLevel('06-restore-meta-level', 'blind', 'after the copy'),
      verifyTablesStep('07-verify-tables', live, tablesParams),
    ]
  } else {
    findings.push(...recoveryFindings(spec, live))
    changes.push(...recoveryChanges(spec, live))
    const alive = live.nodes.filter((n) => n.status === 'ALIVE').map((n) => n.address)
    const recordParams: ClusterParams = {...tablesParams, compare_nodes: true}
    steps = [
      {
        id: '01-record-cluster',
        kind: STEP_KINDS.record,
        risk: 'read',
        params: {...recordParams},
        description: `Record the table list (${plural(available.length, 'table')}) and the node list (${plural(alive.length, 'alive node')}) as ls -o and nodes -d show them`,
        expect: 'the meta still lists these tables and nodes with these replica counts',
      },
      {
        id: '02-restart-meta-in-recovery-mode',
        kind: STEP_KINDS.switchMeta,
        risk: 'disruptive',
        params: {
          meta_servers: metas,
          zookeeper: dst,
          recover: true,
          wait_seconds: waitSeconds,
        } satisfies SwitchMetaParams,
        description: `Stop the meta servers and start one with recover_from_replica_server = true on ${dst.hosts} root ${dst.root}`,
        expect: 'the meta answers ERR_UNDER_RECOVERY and reports the target ZooKeeper and root',
        riskReason:
          'no meta serves from here until the recovery completes; the replica servers go INACTIVE once their lease ends',
        manual: {
          instructions: [
            `Stop every meta server (${metas.join(', ')}).`,
            'Wait until the replica servers see the metas gone and their replicas turn INACTIVE (about config_sync_interval_ms, 30 s by default).',
            `In the config of one meta server (${metas[0]}), set [meta_server] recover_from_replica_server = true, [zookeeper] hosts_list = ${dst.hosts}${dst.root !== src.root ? ` and [meta_server] cluster_root = ${dst.root}` : ''}.`,
            'Start that meta server only.',
            'Confirm the step: lifeboat checks that it answers ERR_UNDER_RECOVERY and reports the target ZooKeeper and root.',
          ],
        },
      },
      {
        id: '03-start-recovery',
        kind: STEP_KINDS.startRecovery,
        risk: 'disruptive',
        params: {
          meta_servers: metas,
          recovery_nodes: alive,
          wait_seconds: waitSeconds,
          target: dst,
        } satisfies StartRecoveryParams,
        description: `start_recovery from the ${plural(alive.length, 'recorded alive node')} (recover -f nodes)`,
        expect: `Recover result: ERR_OK; ${join(dst.root, 'apps')} holds ${plural(available.length, 'table')}`,
        riskReason:
          'the meta rebuilds the metadata from the replica servers and starts serving with the primaries it picks',
      },
      {
        id: '04-wait-for-nodes',
        kind: STEP_KINDS.waitNodes,
        risk: 'read',
        params: {...recordParams},
        description: `Wait up to ${waitSeconds} s until nodes -d shows every recorded node with its recorded status and replica count`,
        expect: listShort(live.nodes.map((n) => `${n.address} ${n.status} ${n.replica_count}`)),
      },
      {
        id: '05-restart-metas-normal-mode',
        kind: STEP_KINDS.switchMeta,
        risk: 'disruptive',
        params: {
          meta_servers: metas,
          zookeeper: dst,
          recover: false,
          wait_seconds: waitSeconds,
        } satisfies SwitchMetaParams,
        description: 'Restart the meta servers with recover_from_replica_server = false',
        expect: 'the meta serves, reports the target ZooKeeper and root, and its recovery flag is false',
        riskReason: 'the metas restart: no meta serves until the leader is up again',
        manual: {
          instructions: [
            `On every meta server, set [meta_server] recover_from_replica_server = false and [zookeeper] hosts_list = ${dst.hosts}${dst.root !== src.root ? `, [meta_server] cluster_root = ${dst.root}` : ''}.`,
            'Restart the meta server that ran the recovery, then start the others.',
            'Confirm the step: lifeboat checks the meta serves on the target with recover_from_replica_server = false.',
          ],
        },
      },
      restoreLevel(
        '06-restore-meta-level',
        DEFAULT_LEVEL,
        'after the restart (a meta starts at meta_function_level_on_start)',
      ),
      verifyTablesStep('07-verify-tables', live, tablesParams),
    ]
  }
  if (removeSource) {
    changes.push({
      address: zkAddress(src.hosts, src.root),
      action: 'delete',
      before: {nodes: live.source.nodes},
      after: null,
      reason: `remove_source_after: the old metadata on ${src.hosts} is deleted once the cluster runs on the target`,
    })
    steps.push(removeSourceStep(spec, live, copyParams, steps.length + 1))
  }

  findings.sort(compareFindings)
  changes.sort((a, b) => compareNatural(a.address, b.address))
  const partitions = live.source.apps.reduce((n, a) => n + a.partitions, 0)
  return {
    vocabulary: PEGASUS_VOCABULARY,
    observed: {
      fingerprint: fingerprintOf(spec, live),
      summary: {
        method,
        source_nodes: live.source.nodes,
        source_ephemeral_nodes: live.source.ephemeral.length,
        source_apps: live.source.apps.length,
        source_partitions: partitions,
        target_nodes: live.target.nodes + live.target.ephemeral.length,
        meta_leader: live.meta.leader ?? 'none',
        meta_level: live.meta.level ?? 'unknown',
        tables: available.length,
        nodes_alive: live.nodes.filter((n) => n.status === 'ALIVE').length,
        nodes_unalive: live.nodes.filter((n) => n.status !== 'ALIVE').length,
        downtime:
          method === 'copy'
            ? 'steps 02-06 no failover or balancing; step 05 no meta serves'
            : 'steps 02-04 every table unavailable; step 05 no meta serves',
      },
    },
    changes,
    primaries: [],
    steps,
    findings,
  }
}
