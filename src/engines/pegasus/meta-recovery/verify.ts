/**
 * Compares the ZooKeeper tree a recovery wrote with the plan's changes, node for node. Pure: the
 * caller reads the tree. Differences are findings.
 *
 * Two kinds of difference are expected and not errors:
 * - fields the plan marks volatile (a drop holder's `expire_second` is the meta's clock);
 * - partitions the meta already reconfigured: once it serves, the meta adds secondaries at once
 *   (the recovered drops have time 0, so every partition is an emergency), which bumps the ballot
 *   and rewrites the node. Such a node must keep its pid, max_replica_count and flags and carry a
 *   higher ballot; it is counted in an info finding;
 * - partitions of tables the recovery writes as dropped (drop holders, tables reported as not
 *   available): when the meta starts again with recover_from_replica_server = false (the manual
 *   step), `sync_apps_from_remote_storage` finds an AS_DROPPED app whose partition lacks the
 *   dropped flag and runs `drop_partition` on it (server_state.cpp): ballot + 1,
 *   `partition_flags |= dropped`, members moved to last_drops. Such a node must keep its pid and
 *   max_replica_count, carry the planned ballot + 1, the dropped flag, and no primary or
 *   secondary; it is counted in an info finding.
 */
import type {Change, Finding} from '../../../plan/types.js'
import {compareNatural} from '../../../plan/order.js'
import {INVALID_ADDRESS, INVALID_HOST_PORT, parseNodeData} from '../zk-layout.js'
import type {VolatileFields} from './types.js'

/** Finding codes of verification. */
export const VERIFY_CODES = {
  missing: 'PEGASUS_VERIFY_MISSING_NODE',
  differs: 'PEGASUS_VERIFY_NODE_DIFFERS',
  unexpected: 'PEGASUS_VERIFY_UNEXPECTED_NODE',
  reconfigured: 'PEGASUS_VERIFY_RECONFIGURED',
  droppedOnRestart: 'PEGASUS_VERIFY_DROPPED_ON_RESTART',
  notListed: 'PEGASUS_VERIFY_TABLE_NOT_LISTED',
  hintMismatch: 'PEGASUS_VERIFY_HINT_MISMATCH',
} as const

/** `pc_flags::dropped`. */
const PC_FLAG_DROPPED = 1

/** At most this many findings per code; the rest are counted in one more. */
const MAX_PER_CODE = 20

function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a)) {
    const bb = b as unknown[]
    return a.length === bb.length && a.every((x, i) => sameJson(x, bb[i]))
  }
  const ao = a as Record<string, unknown>
  const bo = b as Record<string, unknown>
  const ka = Object.keys(ao)
  const kb = Object.keys(bo)
  return (
    ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && sameJson(ao[k], bo[k]))
  )
}

/** Top-level fields that differ between two JSON objects (all of them when either is not an object). */
function differingFields(actual: unknown, expected: unknown, ignore: ReadonlySet<string>): string[] {
  if (
    typeof actual !== 'object' ||
    actual === null ||
    typeof expected !== 'object' ||
    expected === null ||
    Array.isArray(actual) ||
    Array.isArray(expected)
  ) {
    return sameJson(actual, expected) ? [] : ['(value)']
  }
  const a = actual as Record<string, unknown>
  const e = expected as Record<string, unknown>
  const keys = [...new Set([...Object.keys(a), ...Object.keys(e)])].filter((k) => !ignore.has(k))
  return keys.filter((k) => !sameJson(a[k], e[k])).sort()
}

function show(v: unknown): string {
  return v === undefined ? '(absent)' : JSON.stringify(v)
}

/**
 * Node-for-node comparison of `tree` (absolute path → data, every node under the apps root
 * including itself) with the `zk:` changes of a plan. The same as feeding every node of the tree to
 * {@link recoveredTreeCheck} and finishing it.
 */
export function compareRecoveredTree(
  changes: Change[],
  tree: ReadonlyMap<string, string>,
  volatile: VolatileFields[],
  appsRoot: string,
): Finding[] {
  const check = recoveredTreeCheck(changes, volatile, appsRoot)
  for (const [path, data] of tree) check.node(path, data)
  return check.finish()
}

/** What one planned node turned out as: a finding, or an accepted kind of difference. */
type NodeOutcome = Finding | 'same' | 'reconfigured' | 'droppedOnRestart'

/** A tree check fed node by node (see recoveredTreeCheck). */
export interface RecoveredTreeCheck {
  /** One node as read: its absolute path and its data. Each path once, in any order. */
  node(path: string, data: string): void
  /** The findings, once every node was fed: the same list whatever order the nodes came in. */
  finish(): Finding[]
}

/**
 * Compares the ZooKeeper tree a recovery wrote with the plan's `zk:` changes node by node as it is
 * read, so the tree is never held (65,001 nodes at 64,000 partitions): each node is judged when it
 * arrives and only the outcome is kept. Pure; the caller reads the tree.
 */
export function recoveredTreeCheck(
  changes: Change[],
  volatile: VolatileFields[],
  appsRoot: string,
): RecoveredTreeCheck {
  const ignore = new Map(volatile.map((v) => [v.address, new Set(v.fields)]))
  /** Planned path → index in `changes`. */
  const planned = new Map<string, number>()
  changes.forEach((c, i) => {
    if (c.address.startsWith('zk:') && c.action !== 'delete') planned.set(c.address.slice(3), i)
  })
  // App nodes the recovery writes as dropped: their partitions are dropped at the meta's next start.
  const droppedApps = new Set(
    changes
      .filter(
        (c) =>
          c.address.startsWith('zk:') &&
          typeof c.after === 'object' &&
          c.after !== null &&
          (c.after as Record<string, unknown>).status === 'app_status::AS_DROPPED',
      )
      .map((c) => c.address.slice(3)),
  )
  const outcomes = new Array<NodeOutcome | undefined>(changes.length)
  const extra: string[] = []
  return {
    node(path, data) {
      const i = planned.get(path)
      if (i === undefined) {
        if (path === appsRoot || path.startsWith(`${appsRoot}/`)) extra.push(path)
        return
      }
      const c = changes[i]!
      outcomes[i] = judgeNode(path, parseNodeData(data), c, ignore.get(c.address) ?? new Set(), droppedApps)
    },
    finish() {
      const byCode = new Map<string, Finding[]>()
      const add = (f: Finding) => {
        const list = byCode.get(f.code) ?? []
        list.push(f)
        byCode.set(f.code, list)
      }
      let reconfigured = 0
      let droppedOnRestart = 0
      for (const [path, i] of planned) {
        const outcome = outcomes[i]
        if (outcome === undefined)
          add({
            code: VERIFY_CODES.missing,
            severity: 'error',
            subject: path,
            message: `${path} is missing: the plan expected start_recovery to create it`,
          })
        else if (outcome === 'reconfigured') reconfigured++
        else if (outcome === 'droppedOnRestart') droppedOnRestart++
        else if (outcome !== 'same') add(outcome)
      }
      for (const p of extra.sort(compareNatural)) {
        // The meta keeps per-app sub-trees of its own (duplication) under app nodes; those are not recovery's business.
        if (/\/\d+\/duplication(\/|$)/.test(p)) continue
        add({
          code: VERIFY_CODES.unexpected,
          severity: 'error',
          subject: p,
          message: `${p} exists but the plan did not expect start_recovery to create it`,
        })
      }
      const out: Finding[] = []
      for (const [code, list] of byCode) {
        list.sort((x, y) => compareNatural(x.subject ?? '', y.subject ?? ''))
        out.push(...list.slice(0, MAX_PER_CODE))
        if (list.length > MAX_PER_CODE) {
          out.push({
            code,
            severity: list[0]!.severity,
            subject: appsRoot,
            message: `... and ${list.length - MAX_PER_CODE} more like these`,
          })
        }
      }
      if (reconfigured > 0) {
        out.push({
          code: VERIFY_CODES.reconfigured,
          severity: 'info',
          subject: appsRoot,
          message: `${reconfigured} partition node(s) were already reconfigured by the meta server (higher ballot, same pid, replica count and flags): compared on those fields only`,
        })
      }
      if (droppedOnRestart > 0) {
        out.push({
          code: VERIFY_CODES.droppedOnRestart,
          severity: 'info',
          subject: appsRoot,
          message: `${droppedOnRestart} partition node(s) of dropped tables were marked dropped by the restarted meta server (drop_partition: ballot + 1, dropped flag), as Pegasus does when it loads a dropped table`,
        })
      }
      return out
    },
  }
}

/** One planned node against what the tree holds (see the module comment for the accepted differences). */
function judgeNode(
  path: string,
  actual: unknown,
  c: Change,
  ignore: ReadonlySet<string>,
  droppedApps: ReadonlySet<string>,
): NodeOutcome {
  const diff = differingFields(actual, c.after, ignore)
  if (diff.length === 0) return 'same'
  const isPartition = /\/\d+\/\d+$/.test(path)
  if (isPartition && typeof actual === 'object' && actual !== null) {
    const a = actual as Record<string, unknown>
    const e = c.after as Record<string, unknown>
    const stable = ['pid', 'max_replica_count', 'partition_flags'].every((k) => sameJson(a[k], e[k]))
    if (stable && typeof a.ballot === 'number' && typeof e.ballot === 'number' && a.ballot > e.ballot)
      return 'reconfigured'
    const flags = typeof a.partition_flags === 'number' ? a.partition_flags : 0
    const wasFlags = typeof e.partition_flags === 'number' ? e.partition_flags : 0
    const empty = (v: unknown) =>
      v === undefined ||
      v === '' ||
      v === INVALID_ADDRESS ||
      v === INVALID_HOST_PORT ||
      (Array.isArray(v) && v.length === 0)
    if (
      droppedApps.has(path.slice(0, path.lastIndexOf('/'))) &&
      (wasFlags & PC_FLAG_DROPPED) === 0 &&
      flags === (wasFlags | PC_FLAG_DROPPED) &&
      ['pid', 'max_replica_count'].every((k) => sameJson(a[k], e[k])) &&
      typeof a.ballot === 'number' &&
      a.ballot === (e.ballot as number) + 1 &&
      ['primary', 'hp_primary', 'secondaries', 'hp_secondaries'].every((k) => empty(a[k]))
    )
      return 'droppedOnRestart'
  }
  const a = (typeof actual === 'object' && actual !== null ? actual : {'(value)': actual}) as Record<string, unknown>
  const e = (typeof c.after === 'object' && c.after !== null ? c.after : {'(value)': c.after}) as Record<
    string,
    unknown
  >
  return {
    code: VERIFY_CODES.differs,
    severity: 'error',
    subject: path,
    message: `${path} differs from the plan: ${diff.map((k) => `${k} is ${show(a[k])}, planned ${show(e[k])}`).join('; ')}`,
  }
}

/** Lines of the meta's hint that the plan did not predict, and predicted lines it did not send. */
export function compareHints(expected: string[], actual: string[]): Finding[] {
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>())
  const e = count(expected)
  const a = count(actual)
  const out: Finding[] = []
  for (const [line, n] of a) {
    if ((e.get(line) ?? 0) < n)
      out.push({
        code: VERIFY_CODES.hintMismatch,
        severity: 'error',
        subject: 'start_recovery',
        message: `the meta server said what the plan did not predict: ${line}`,
      })
  }
  for (const [line, n] of e) {
    if ((a.get(line) ?? 0) < n)
      out.push({
        code: VERIFY_CODES.hintMismatch,
        severity: 'error',
        subject: 'start_recovery',
        message: `the plan predicted a hint the meta server did not give: ${line}`,
      })
  }
  return out.sort((x, y) => compareNatural(x.message, y.message))
}
