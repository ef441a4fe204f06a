/**
 * Anchors of the audit chain kept in the cluster (issue 19 item 1): a copy of the head hash and the
 * record count, written beside the apply lock in the cluster's own shared store (ZooKeeper
 * `/lifeboat/audit/<cluster>`, a key in PD's etcd) through the lock provider's writeValue.
 *
 * apply wraps its log in `anchoredAuditLog`: after each step's start and end and at the end of the
 * run it writes the anchor, and a copy into the lock record while the run holds the lock (so
 * `lock status` shows how far a running apply's log has come). `audit verify --spec/--plan` reads it back and `checkClusterAnchor`
 * compares: a log behind its anchor was truncated, another hash at the anchored record means the
 * chain was rewritten, records of the cluster's runs after the anchor were appended, and a log
 * that matches no anchor of a cluster it records runs on was forged or rewritten from its start.
 *
 * The anchor document names each log by the hash of its first record, so two operators with two
 * logs (two hosts) each keep their own anchor: the newest ANCHORS_KEPT logs are kept.
 */
import {resolve} from 'node:path'

import {describeError} from '../errors.js'
import type {HeldLock, LockProvider} from '../engines/types.js'
import {checkAnchor, type AuditLog, type AuditRecord} from './log.js'

/** The value's name in the lock provider's store: ZooKeeper `/lifeboat/audit/<cluster>`. */
export const AUDIT_ANCHOR_VALUE = 'audit'

const ANCHOR_FORMAT = 'lifeboat-audit-anchor/1'

/** How many logs' anchors one cluster keeps (newest first). */
export const ANCHORS_KEPT = 16

/** One log's anchor: its record `records` carries `head`. */
export interface ClusterAnchor {
  /** The hash of the log's first record: which log this anchor is for. */
  log: string
  records: number
  head: string
  /** The run that wrote it, when, on which host, to which file. */
  run: string
  time: string
  host: string
  path: string
  /** The ID of the apply lock held while it was written. */
  lock?: string
}

/** The document stored in the cluster. */
export interface ClusterAnchorDocument {
  format: typeof ANCHOR_FORMAT
  cluster: string
  anchors: ClusterAnchor[]
}

/** After these events the run's head is anchored: a step's start (before it writes) and end, and the run's end. */
const ANCHOR_AFTER = new Set<string>([
  'step.started',
  'step.finished',
  'step.failed',
  'step.skipped',
  'step.waiting',
  'step.interrupted',
  'run.interrupted',
  'run.finished',
])

/** The run's last records: anchored even after an earlier anchor failed. */
const RUN_END = new Set<string>(['run.interrupted', 'run.finished'])

/** Where the anchor lives, for a human: the ZooKeeper node or etcd key beside the lock, when the lock follows `/lifeboat/locks/<cluster>`. */
export function anchorPlace(provider: LockProvider): string {
  const m = /^(.*)\/locks\/([^/]+)(?:\/lock)?$/.exec(provider.where)
  return m
    ? `${provider.kind} ${m[1]}/${AUDIT_ANCHOR_VALUE}/${m[2]}`
    : `${provider.kind} value "${AUDIT_ANCHOR_VALUE}" beside ${provider.where}`
}

/** Why a provider cannot keep an anchor, or undefined when it can. */
export function anchorUnsupported(provider: LockProvider): string | undefined {
  if (provider.readValue && provider.writeValue) return undefined
  return `the ${provider.kind} lock (${provider.where}) keeps nothing in the cluster, so the chain has no anchor there`
}

/** Parses a stored anchor document; a value that is not one is reported as such. */
export function parseAnchorDocument(text: string): ClusterAnchorDocument | {invalid: string} {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch {
    return {invalid: 'it is not JSON'}
  }
  const d = doc as Partial<ClusterAnchorDocument>
  if (!d || typeof d !== 'object' || d.format !== ANCHOR_FORMAT || !Array.isArray(d.anchors))
    return {invalid: `it is not a ${ANCHOR_FORMAT} document`}
  const good = d.anchors.every(
    (a: Partial<ClusterAnchor>) =>
      a &&
      typeof a.log === 'string' &&
      typeof a.head === 'string' &&
      Number.isInteger(a.records) &&
      (a.records ?? -1) >= 0,
  )
  return good ? (d as ClusterAnchorDocument) : {invalid: 'an anchor in it lacks log, records or head'}
}

/** What the anchoring of a run did, for the operator. */
export interface AnchorStatus {
  place: string
  /** The last anchor written, if any. */
  written?: {records: number; head: string}
  /** Why anchors could not be written (the provider has no store, or writes failed). */
  problems: string[]
}

export interface AnchoredLogOptions {
  provider: LockProvider
  cluster: string
  /** The apply lock held while anchoring: its ID goes into the anchor, the anchor into its record. */
  lock?: HeldLock
  run: string
  host: string
  /** Shows a warning to the operator (a failed anchor write does not stop the run). */
  warn(text: string): void
}

/**
 * The log apply writes through: every append goes to `log`; after the events in ANCHOR_AFTER the
 * head and count are written to the cluster. An anchor that cannot be written is a warning, not a
 * stop: the record itself is on disk, and the cluster lock (same store) is checked before each
 * step anyway; after a failure only the run's end is anchored again. `run.started` records where the anchor goes, or why there is none.
 */
export function anchoredAuditLog(log: AuditLog, opts: AnchoredLogOptions): AuditLog & {anchorStatus(): AnchorStatus} {
  const {provider} = opts
  const place = anchorPlace(provider)
  const unsupported = anchorUnsupported(provider)
  const status: AnchorStatus = {place, problems: unsupported ? [unsupported] : []}
  let stored: ClusterAnchorDocument | undefined

  const anchor = async (record: AuditRecord): Promise<void> => {
    if (unsupported) {
      // No store in the cluster: the lock record (a lock file) still gets the copy.
      await opts.lock
        ?.annotate?.({log: log.first() ?? record.hash, records: record.seq, head: record.hash})
        .catch((err: unknown) => opts.warn(`warning: the lock record could not be updated: ${describeError(err)}`))
      return
    }
    // After a failure, only the run's end tries again: an unreachable store would delay every step by its timeout.
    if (status.problems.length > 0 && !RUN_END.has(record.event)) return
    try {
      // Read once: the cluster lock is ours, so no other run writes this cluster's anchors meanwhile.
      if (stored === undefined) {
        const text = await provider.readValue!(AUDIT_ANCHOR_VALUE)
        const parsed = text === null ? undefined : parseAnchorDocument(text)
        stored = parsed && !('invalid' in parsed) ? parsed : {format: ANCHOR_FORMAT, cluster: opts.cluster, anchors: []}
      }
      const mine: ClusterAnchor = {
        log: log.first() ?? record.hash,
        records: record.seq,
        head: record.hash,
        run: opts.run,
        time: record.time,
        host: opts.host,
        path: resolve(log.path),
        ...(opts.lock ? {lock: opts.lock.info.id} : {}),
      }
      const others = stored.anchors.filter((a) => a.log !== mine.log)
      stored = {...stored, anchors: [mine, ...others].slice(0, ANCHORS_KEPT)}
      await provider.writeValue!(AUDIT_ANCHOR_VALUE, JSON.stringify(stored))
      await opts.lock?.annotate?.({log: mine.log, records: mine.records, head: mine.head})
      status.written = {records: mine.records, head: mine.head}
    } catch (err) {
      const why = `the audit anchor could not be written to ${place}: ${describeError(err)}`
      if (!status.problems.includes(why)) {
        status.problems.push(why)
        opts.warn(`warning: ${why}; \`lifeboat audit verify\` will report the log ahead of its anchor`)
      }
    }
  }

  return {
    path: log.path,
    head: () => log.head(),
    first: () => log.first(),
    anchorStatus: () => ({...status, problems: [...status.problems]}),
    async append(event, data) {
      const extra =
        event === 'run.started'
          ? {auditAnchor: unsupported ? {none: unsupported} : {place, lock: opts.lock?.info.id ?? null}}
          : {}
      const record = await log.append(event, {...data, ...extra})
      if (ANCHOR_AFTER.has(event)) await anchor(record)
      return record
    },
  }
}

/** The clusters a log's runs were on, by run id (from their run.started records). */
export function clustersOfRuns(records: readonly AuditRecord[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const r of records) {
    if (r.event === 'run.started' && typeof r.data.cluster === 'string') out.set(r.run, r.data.cluster)
  }
  return out
}

/** The outcome of checking a log against its cluster's anchor. */
export type ClusterAnchorCheck =
  {ok: true; anchor?: ClusterAnchor; note: string} | {ok: false; anchor?: ClusterAnchor; problem: string}

/**
 * Checks a log whose chain verifies (`records`, in order) against the anchor document of `cluster`
 * (null: the cluster holds none). Pure.
 */
export function checkClusterAnchor(
  records: readonly AuditRecord[],
  doc: ClusterAnchorDocument | null,
  cluster: string,
): ClusterAnchorCheck {
  const runsHere = [...clustersOfRuns(records)].filter(([, c]) => c === cluster).map(([run]) => run)
  const anchors = doc?.anchors ?? []
  const describe = (a: ClusterAnchor) =>
    `${a.records} record${a.records === 1 ? '' : 's'}, head ${a.head}, written by run ${a.run} on ${a.host} at ${a.time} for ${a.path}`
  if (records.length === 0) {
    if (anchors.length === 0) return {ok: true, note: `the log is empty and ${cluster} holds no anchor`}
    return {
      ok: false,
      anchor: anchors[0],
      problem: `the log was truncated: it is empty, and ${cluster}'s anchor says ${describe(anchors[0]!)}`,
    }
  }
  const anchor = anchors.find((a) => a.log === records[0]!.hash)
  if (anchor === undefined) {
    if (anchors.length === 0) {
      if (runsHere.length === 0) return {ok: true, note: `the log records no run on ${cluster}, which holds no anchor`}
      return {
        ok: false,
        problem: `${cluster} holds no audit anchor, yet the log records ${runsHere.length} run${runsHere.length === 1 ? '' : 's'} on it: the anchor was removed, or the runs were written by a lifeboat without anchors`,
      }
    }
    return {
      ok: false,
      anchor: anchors[0],
      problem: `the log matches none of ${cluster}'s anchors: its first record is not that of any log anchored there (a forged log, or one rewritten from its first record); the newest anchor: ${describe(anchors[0]!)}`,
    }
  }
  const behind = checkAnchor(records, anchor)
  if (behind) return {ok: false, anchor, problem: behind}
  const here = new Set(runsHere)
  const after = records.slice(anchor.records).filter((r) => here.has(r.run))
  if (after.length > 0) {
    const seqs = after.map((r) => r.seq)
    return {
      ok: false,
      anchor,
      problem: `record${seqs.length === 1 ? '' : 's'} ${seqs.join(', ')} of runs on ${cluster} come after its anchor (${anchor.records} records): appended after the run anchored its last record (a forgery, or a run that crashed before anchoring; \`apply --resume\` anchors again)`,
    }
  }
  return {ok: true, anchor, note: `matches ${cluster}'s anchor: ${describe(anchor)}`}
}

/** The anchor document read from the cluster, or why it could not be. */
export type AnchorRead =
  | {place: string; reached: true; doc: ClusterAnchorDocument | null}
  | {place: string; reached: true; doc: null; invalid: string}
  | {place: string; reached: false; reason: string}

/** Reads the cluster's anchor document through the lock provider; never throws. */
export async function readClusterAnchor(provider: LockProvider): Promise<AnchorRead> {
  const place = anchorPlace(provider)
  const unsupported = anchorUnsupported(provider)
  if (unsupported) return {place, reached: false, reason: unsupported}
  let text: string | null
  try {
    text = await provider.readValue!(AUDIT_ANCHOR_VALUE)
  } catch (err) {
    return {place, reached: false, reason: `could not read it: ${describeError(err)}`}
  }
  if (text === null) return {place, reached: true, doc: null}
  const parsed = parseAnchorDocument(text)
  if ('invalid' in parsed) return {place, reached: true, doc: null, invalid: parsed.invalid}
  return {place, reached: true, doc: parsed}
}
