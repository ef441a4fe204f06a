/**
 * The hash-chained, append-only JSONL audit log (DESIGN.md section 6).
 *
 * Each record is fsynced before append() resolves, so a caller that awaits it may touch the
 * cluster knowing the record is on disk. The log fails closed: after any failed append every
 * later append throws, so a run cannot carry on unaudited. It never decides anything about a
 * run and never stores a secret (see redactSecrets).
 */
import {constants} from 'node:fs'
import {mkdir, open, readFile, stat, unlink} from 'node:fs/promises'
import {hostname} from 'node:os'
import {dirname} from 'node:path'

import {LifeboatError, describeError} from '../errors.js'
import {canonicalJson, jsonStringify, sha256Hex} from '../plan/canonical.js'
import {describeSchemaErrors, schemaValidator} from '../plan/file.js'
import {assertRegularFile, fileProblemError, readRegularFile} from '../util/files.js'
import {redactSecrets} from '../util/redact.js'
import {type AuditEvent, isAuditEvent} from './events.js'

/** `prev` of the first record of a log. */
export const GENESIS_HASH = '0'.repeat(64)

/** The default log, relative to the working directory. */
export const DEFAULT_AUDIT_LOG = '.lifeboat/audit.jsonl'

/** One line of the log. */
export interface AuditRecord {
  seq: number
  time: string
  run: string
  actor: string
  host: string
  event: AuditEvent
  data: Record<string, unknown>
  prev: string
  hash: string
}

/** Who writes: the run id of this invocation, the user and the host. `now` is for tests. */
export interface AuditLogIdentity {
  run: string
  actor: string
  host: string
  /** The clock; defaults to the system clock in ISO 8601. */
  now?: () => string
}

/** An open audit log. */
export interface AuditLog {
  readonly path: string
  /** Appends one record and fsyncs it. Throws AUDIT_WRITE_FAILED on failure, and on every call after one. */
  append(event: AuditEvent, data: object): Promise<AuditRecord>
  /** The hash of the last record (GENESIS_HASH for an empty log). */
  head(): string
  /** The hash of the log's first record, which names the log in the anchors kept in the cluster; undefined while empty. */
  first(): string | undefined
}

/** The hash a record must carry. */
export function recordHash(record: Omit<AuditRecord, 'hash'> | AuditRecord): string {
  const {hash: _hash, ...rest} = record as AuditRecord
  return sha256Hex(canonicalJson(rest))
}

export {redactSecrets, redactInline} from '../util/redact.js'

/** Where verification stopped, and why. `seq` is the record concerned (for a missing record, the one expected). */
export interface AuditBadRecord {
  seq?: number
  line: number
  reason: string
}

/** The result of verifying a log: the records verified good, the head hash, or the first bad record. */
export interface AuditVerification {
  ok: boolean
  /** Records verified good (all of them when ok). */
  records: number
  /** Hash of the last good record; absent for an empty log. */
  head?: string
  firstBad?: AuditBadRecord
}

function notFound(path: string, err: unknown): LifeboatError {
  return new LifeboatError('AUDIT_LOG_NOT_FOUND', `No audit log at ${path}`, {
    cause: err,
    hints: [
      'Pass --audit-log FILE to name another log; apply writes .lifeboat/audit.jsonl in the directory it runs in.',
    ],
  })
}

async function readLogText(path: string): Promise<string> {
  const read = await readRegularFile(path, 'the audit log')
  if (read.ok) return read.bytes.toString('utf8')
  const {problem} = read
  if (problem.kind === 'missing') throw notFound(path, undefined)
  throw fileProblemError(problem, 'AUDIT_LOG')
}

/** Verifies a whole log's text. Pure apart from the schema lookup; shared by verifyAuditLog and openAuditLog. */
export function verifyAuditText(text: string): AuditVerification {
  if (text === '') return {ok: true, records: 0}
  const lines = text.split('\n')
  const complete = text.endsWith('\n')
  if (complete) lines.pop()
  // Parse every line first: reordering is recognised by finding the expected seq further down.
  const parsed = lines.map((line) => {
    try {
      return JSON.parse(line) as unknown
    } catch {
      return undefined
    }
  })
  const seqAt = parsed.map((p) =>
    p && typeof p === 'object' && typeof (p as AuditRecord).seq === 'number' ? (p as AuditRecord).seq : undefined,
  )
  const validate = schemaValidator('audit-record.schema.json')

  let prevHash = GENESIS_HASH
  let good = 0
  const fail = (bad: AuditBadRecord): AuditVerification => ({
    ok: false,
    records: good,
    ...(good > 0 ? {head: prevHash} : {}),
    firstBad: bad,
  })
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1
    const expected = good + 1
    const isLast = i === lines.length - 1
    if (isLast && !complete) {
      return fail({
        seq: seqAt[i],
        line: lineNo,
        reason: `line ${lineNo} is incomplete: the log was truncated in the middle of a record`,
      })
    }
    if (lines[i]!.trim() === '')
      return fail({
        seq: expected,
        line: lineNo,
        reason: `line ${lineNo} is blank where record seq ${expected} should be`,
      })
    const doc = parsed[i]
    if (doc === undefined)
      return fail({line: lineNo, reason: `line ${lineNo} is not valid JSON (a damaged or truncated record)`})
    if (!validate(doc)) {
      return fail({
        seq: seqAt[i],
        line: lineNo,
        reason: `line ${lineNo} is not an audit record: ${describeSchemaErrors(validate.errors, 2).replace(/\n/g, '; ')}`,
      })
    }
    const record = doc as AuditRecord
    // One spelling per record: the exact line append writes. A duplicate key (which readers resolve
    // differently), reordered keys, extra spaces or needless escapes are refused, so every reader sees the same record.
    const {seq, time, run, actor, host, event, data, prev, hash} = record
    if (JSON.stringify({seq, time, run, actor, host, event, data, prev, hash}) !== lines[i]) {
      const dup = duplicateKey(lines[i]!)
      return fail({
        seq: record.seq,
        line: lineNo,
        reason:
          dup !== undefined
            ? `record seq ${record.seq} (line ${lineNo}) has the key ${JSON.stringify(dup)} twice: readers could see different contents`
            : `record seq ${record.seq} (line ${lineNo}) is not in the canonical form lifeboat writes (keys reordered, spaces or escapes added)`,
      })
    }
    if (recordHash(record) !== record.hash) {
      return fail({
        seq: record.seq,
        line: lineNo,
        reason: `record seq ${record.seq} (line ${lineNo}) was altered: its hash does not match its content`,
      })
    }
    if (record.seq !== expected) {
      if (record.seq < expected) {
        return fail({
          seq: record.seq,
          line: lineNo,
          reason: `record seq ${record.seq} at line ${lineNo} repeats or is out of order: record seq ${expected} was expected`,
        })
      }
      const laterAt = seqAt.findIndex((s, j) => j > i && s === expected)
      if (laterAt >= 0) {
        return fail({
          seq: record.seq,
          line: lineNo,
          reason: `records are out of order: seq ${record.seq} at line ${lineNo} comes before seq ${expected} (line ${laterAt + 1})`,
        })
      }
      const missing =
        record.seq - expected === 1 ? `record seq ${expected} is` : `records seq ${expected} to ${record.seq - 1} are`
      return fail({seq: expected, line: lineNo, reason: `${missing} missing: line ${lineNo} holds seq ${record.seq}`})
    }
    if (record.prev !== prevHash) {
      return fail({
        seq: record.seq,
        line: lineNo,
        reason: `record seq ${record.seq} (line ${lineNo}) does not follow the record before it: its prev is not that record's hash (a record was inserted, removed or replaced)`,
      })
    }
    prevHash = record.hash
    good++
  }
  return {ok: true, records: good, ...(good > 0 ? {head: prevHash} : {})}
}

/** The first key that appears twice in one JSON object of `line` (a valid JSON text), if any. */
export function duplicateKey(line: string): string | undefined {
  const stack: Array<Set<string> | null> = []
  let i = 0
  let expectKey = false
  while (i < line.length) {
    const ch = line[i]!
    if (ch === '"') {
      let j = i + 1
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1
      const str = JSON.parse(line.slice(i, j + 1)) as string
      const top = stack.at(-1)
      if (expectKey && top) {
        if (top.has(str)) return str
        top.add(str)
      }
      expectKey = false
      i = j + 1
      continue
    }
    if (ch === '{') {
      stack.push(new Set())
      expectKey = true
    } else if (ch === '[') {
      stack.push(null)
    } else if (ch === '}' || ch === ']') {
      stack.pop()
    } else if (ch === ',') {
      expectKey = stack.at(-1) !== null && stack.length > 0
    }
    i++
  }
  return undefined
}

/** Verifies the log at `path`: every record's hash, its seq, and its link to the one before. Throws AUDIT_LOG_NOT_FOUND when missing. */
export async function verifyAuditLog(path: string): Promise<AuditVerification> {
  return verifyAuditText(await readLogText(path))
}

/** One line that could not be read as a record, for a lenient read. */
export interface AuditUnreadableLine {
  line: number
  text: string
}

/**
 * The records of a log, in file order, without verifying the chain (use verifyAuditLog for that).
 * Strict by default: a line that is not a JSON object is an AUDIT_LOG_CORRUPT error naming it.
 * With `lenient`, such lines are returned in `unreadable` instead, so a damaged log can still be shown.
 */
export async function readAuditLog(
  path: string,
  opts: {lenient?: boolean} = {},
): Promise<AuditRecord[] & {unreadable?: AuditUnreadableLine[]}> {
  const text = await readLogText(path)
  const records: AuditRecord[] & {unreadable?: AuditUnreadableLine[]} = []
  const unreadable: AuditUnreadableLine[] = []
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  lines.forEach((line, i) => {
    let doc: unknown
    try {
      doc = JSON.parse(line)
    } catch {
      doc = undefined
    }
    if (doc !== null && typeof doc === 'object' && !Array.isArray(doc) && isAuditEvent((doc as AuditRecord).event)) {
      records.push(doc as AuditRecord)
    } else if (opts.lenient) {
      unreadable.push({line: i + 1, text: line})
    } else {
      // A last line without its newline is a record cut short by a crash or a full disk: repair cuts it.
      const cutShort = i === lines.length - 1 && !text.endsWith('\n')
      throw new LifeboatError(
        'AUDIT_LOG_CORRUPT',
        `Line ${i + 1} of the audit log ${path} is ${cutShort ? 'an incomplete record (cut short by a crash or a full disk)' : 'not an audit record'}`,
        {
          hints: cutShort
            ? [
                `\`lifeboat audit repair --audit-log ${path}\` removes it and records that it did; then run the command again.`,
              ]
            : [`Run \`lifeboat audit verify --audit-log ${path}\` to find the first damaged record.`],
        },
      )
    }
  })
  if (opts.lenient) records.unreadable = unreadable
  return records
}

function writeFailed(path: string, err: unknown, first: boolean): LifeboatError {
  const why = err instanceof LifeboatError ? `${err.message}${err.detail ? `: ${err.detail}` : ''}` : describeError(err)
  return new LifeboatError(
    'AUDIT_WRITE_FAILED',
    first
      ? `Could not write to the audit log ${path}: ${why}`
      : `The audit log ${path} failed earlier (${why}); nothing more is written`,
    {
      cause: err,
      detail: 'lifeboat stops rather than act on the cluster without an audit record (fail closed).',
      hints: [
        'Free disk space or fix the permissions of the log, then continue with `lifeboat apply --resume`.',
        `Check the log with \`lifeboat audit verify --audit-log ${path}\`.`,
      ],
    },
  )
}

/**
 * Opens (creating if needed) the log at `path` for appending. An existing log is verified first
 * and a broken one is refused (AUDIT_LOG_BROKEN): appending would bury the damage under a valid
 * tail. Writability is checked now, so a run fails before it has done anything.
 */
export async function openAuditLog(path: string, who: AuditLogIdentity): Promise<AuditLog> {
  const now = who.now ?? (() => new Date().toISOString())
  let text = ''
  // A FIFO would block the open for ever, a device would swallow the records: checked before anything is opened.
  await assertRegularFile(path, 'the audit log', 'AUDIT_LOG', {mayBeAbsent: true})
  try {
    await mkdir(dirname(path), {recursive: true})
    const fh = await open(path, 'a', 0o644)
    await fh.close()
    const st = await stat(path)
    if (!st.isFile()) throw new Error('not a regular file')
    text = await readLogText(path)
  } catch (err) {
    throw writeFailed(path, err, true)
  }
  const state = resume(path, text)
  let failure: unknown
  let queue: Promise<unknown> = Promise.resolve()

  const appendNow = async (event: AuditEvent, data: object): Promise<AuditRecord> => {
    if (failure !== undefined) throw writeFailed(path, failure, false)
    try {
      if (!isAuditEvent(event)) throw new Error(`unknown audit event ${JSON.stringify(event)}`)
      // One writer at a time: every append holds the log's lock file from reading the tail to the fsync.
      return await withLogLock(path, async () => {
        const st = await stat(path)
        // Another process appended since our last write (two clusters sharing the default log, an
        // approve during an apply): continue its chain rather than fork it.
        if (st.size !== state.size) Object.assign(state, resume(path, await readLogText(path)))
        const clean = JSON.parse(jsonStringify(redactSecrets(data ?? {}))) as Record<string, unknown>
        const body: Omit<AuditRecord, 'hash'> = {
          seq: state.seq + 1,
          time: now(),
          run: who.run,
          actor: who.actor,
          host: who.host,
          event,
          data: clean,
          prev: state.head,
        }
        const record: AuditRecord = {...body, hash: recordHash(body)}
        const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8')
        await appendDurably(path, line, state.size)
        state.seq = record.seq
        state.head = record.hash
        state.size += line.length
        state.first ??= record.hash
        return record
      })
    } catch (err) {
      failure = err
      throw writeFailed(path, err, true)
    }
  }

  return {
    path,
    head: () => state.head,
    first: () => state.first,
    // Appends are serialised so that concurrent callers still get consecutive seqs.
    append(event, data) {
      const next = queue.then(() => appendNow(event, data))
      queue = next.catch(() => undefined)
      return next
    },
  }
}

/**
 * Appends one record with a single write, then checks it: every byte written (a full disk gives a
 * short write), fsynced, and read back from where it should be. Any failure throws, so the caller
 * never touches the cluster under a record that is not whole on disk.
 */
async function appendDurably(path: string, line: Buffer, expectedOffset: number): Promise<void> {
  const fh = await open(path, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK)
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw new Error('the log is not a regular file')
    if (st.size !== expectedOffset)
      throw new Error(`the log changed size while locked (${st.size} bytes, ${expectedOffset} expected)`)
    const {bytesWritten} = await fh.write(line, 0, line.length)
    if (bytesWritten !== line.length)
      throw new Error(`only ${bytesWritten} of the record's ${line.length} bytes were written (is the disk full?)`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  // Read the tail back through a new handle: what is on disk is the record, at its offset.
  const rh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const back = Buffer.alloc(line.length + 1)
    const {bytesRead} = await rh.read(back, 0, back.length, expectedOffset)
    if (bytesRead !== line.length || !back.subarray(0, line.length).equals(line)) {
      throw new Error('the record read back from the log is not the record written')
    }
  } finally {
    await rh.close()
  }
}

/** How long an append waits for another writer's lock before giving up. */
const LOCK_WAIT_MS = 30_000

/**
 * Runs `fn` holding `<log>.lock`, created exclusively (O_EXCL) and holding this process's pid and
 * host. A lock left by a process of this host that no longer runs is taken over; any other lock
 * is waited for, up to LOCK_WAIT_MS.
 */
export async function withLogLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const lockPath = `${path}.lock`
  const me = `${process.pid} ${hostname()}\n`
  const deadline = Date.now() + LOCK_WAIT_MS
  let delay = 5
  for (;;) {
    try {
      const fh = await open(lockPath, 'wx', 0o644)
      try {
        await fh.writeFile(me)
      } finally {
        await fh.close()
      }
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      if (await staleLock(lockPath)) {
        await unlink(lockPath).catch(() => undefined)
        continue
      }
      if (Date.now() > deadline)
        throw new Error(`another lifeboat holds the log's lock ${lockPath}; if no lifeboat runs, remove that file`)
      await new Promise((r) => setTimeout(r, delay))
      delay = Math.min(delay * 2, 100)
    }
  }
  try {
    return await fn()
  } finally {
    await unlink(lockPath).catch(() => undefined)
  }
}

/** A lock file whose process (on this host) is gone. */
async function staleLock(lockPath: string): Promise<boolean> {
  const text = await readFile(lockPath, 'utf8').catch(() => undefined)
  if (text === undefined) return false
  const [pid, host] = text.trim().split(' ')
  // An empty file: its writer is between creating and filling it, or died there.
  if (!pid) {
    const st = await stat(lockPath).catch(() => undefined)
    return st !== undefined && Date.now() - st.mtimeMs > 5_000
  }
  if (host !== hostname()) return false
  try {
    process.kill(Number(pid), 0)
    return false
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
}

function resume(path: string, text: string): {seq: number; head: string; size: number; first?: string} {
  const v = verifyAuditText(text)
  if (!v.ok) {
    throw new LifeboatError('AUDIT_LOG_BROKEN', `The audit log ${path} is damaged; lifeboat will not append to it`, {
      detail: `${v.firstBad!.reason}. Appending would hide the damage under valid records.`,
      hints: [
        `Inspect it with \`lifeboat audit verify --audit-log ${path}\` and \`lifeboat audit show --audit-log ${path}\`.`,
        ...(partialLastLine(text, v)
          ? [
              `The last line is a record cut short (a crash or a full disk): \`lifeboat audit repair --audit-log ${path}\` removes it and records that it did.`,
            ]
          : []),
        'Keep the damaged file as evidence and pass --audit-log NEWFILE to start a new log.',
      ],
    })
  }
  const first = v.records > 0 ? (JSON.parse(text.slice(0, text.indexOf('\n'))) as AuditRecord).hash : undefined
  return {
    seq: v.records,
    head: v.head ?? GENESIS_HASH,
    size: Buffer.byteLength(text, 'utf8'),
    ...(first ? {first} : {}),
  }
}

/** Whether the only damage is an incomplete last line (no newline after it): what `audit repair` cuts. */
function partialLastLine(text: string, v: AuditVerification): boolean {
  if (v.ok || text.endsWith('\n')) return false
  return v.firstBad?.line === text.split('\n').length
}

/** What `audit repair` did. */
export interface AuditRepair {
  repaired: boolean
  /** The line cut, its size and sha256 (when repaired). */
  cut?: {line: number; bytes: number; sha256: string}
  /** The record saying so. */
  record?: AuditRecord
}

/**
 * Cuts a partial last line (a record a crash or a full disk left incomplete) and appends an
 * `audit.repaired` record naming what was cut (line, size, sha256). Only that damage is repaired:
 * anything else (an altered, missing or reordered record) is refused as AUDIT_LOG_BROKEN. An
 * intact log is left as it is. Holds the log's lock while it cuts.
 */
export async function repairAuditLog(path: string, who: AuditLogIdentity): Promise<AuditRepair> {
  const text = await readLogText(path)
  const v = verifyAuditText(text)
  if (v.ok) return {repaired: false}
  if (!partialLastLine(text, v)) resume(path, text) // throws AUDIT_LOG_BROKEN with the reason
  const cut = await withLogLock(path, async () => {
    const again = await readLogText(path)
    if (again !== text)
      throw new LifeboatError('AUDIT_LOG_CHANGED', `The audit log ${path} changed while it was being repaired`, {
        hints: ['Run `lifeboat audit repair` again.'],
      })
    const keep = text.lastIndexOf('\n') + 1
    const keepBytes = Buffer.byteLength(text.slice(0, keep), 'utf8')
    const cutBytes = Buffer.from(text.slice(keep), 'utf8')
    const fh = await open(path, 'r+')
    try {
      await fh.truncate(keepBytes)
      await fh.sync()
    } finally {
      await fh.close()
    }
    return {line: text.split('\n').length, bytes: cutBytes.length, sha256: sha256Hex(cutBytes)}
  })
  const log = await openAuditLog(path, who)
  const record = await log.append('audit.repaired', {
    cutLine: cut.line,
    cutBytes: cut.bytes,
    cutSha256: cut.sha256,
    reason: 'the last line was an incomplete record',
  })
  return {repaired: true, cut, record}
}

export {renderAuditTimeline} from './timeline.js'
export {runProgress, type RunProgress} from './progress.js'
export {AUDIT_EVENTS, type AuditEvent, type AuditEventData, type RunStatus} from './events.js'

/** A copy of the chain's head kept outside the log (posted in the ticket, stored in the cluster). */
export interface AuditAnchor {
  /** Records in the log when the anchor was taken. */
  records: number
  /** The hash of record `records`. */
  head: string
}

/**
 * Checks a log's records against an anchor: the log must hold at least `records` records and record
 * `records` must carry the anchor's hash. Returns undefined when it does, else what is wrong: a log
 * behind its anchor was truncated; a different hash means the chain up to there was rewritten.
 */
export function checkAnchor(records: readonly AuditRecord[], anchor: AuditAnchor): string | undefined {
  if (records.length < anchor.records) {
    return `the log was truncated: it holds ${records.length} record${records.length === 1 ? '' : 's'}, the anchor says ${anchor.records}`
  }
  if (anchor.records === 0) return undefined
  const at = records[anchor.records - 1]!
  if (at.seq !== anchor.records || at.hash !== anchor.head) {
    return `the log was rewritten: record ${anchor.records} has hash ${at.hash}, the anchor says ${anchor.head}`
  }
  return undefined
}
