/**
 * A promise API over node-zookeeper-client with a deadline on every call (connect included),
 * typed errors, plain Stat objects, versioned writes, multi, and request-size checks.
 *
 * Answers to the client's known traps (toolchain.md section 4, zookeeper-performance.md section 5):
 * - no connect timeout: connectZk races a timer and hard-closes the client when it fires;
 * - requests issued while disconnected are queued forever: every call has a deadline, and when
 *   one passes the client is closed and its unsent queue discarded, so a write can never reach
 *   the server after we reported it as failed;
 * - `retries` re-queues and reorders pipelined writes: always `retries: 0`;
 * - stat fields are 8-byte Buffers and multi results are jute records: mapped to plain objects;
 * - the client's size check is ~100 bytes too lax and an oversize request makes the server drop
 *   the connection: every write is checked here against MAX_REQUEST_BYTES before it is sent;
 * - a multi's check/setData/remove turn version 0 into "any version": the real version is restored;
 * - `expired` leaves a dead client object: calls fail fast with ZK_SESSION_EXPIRED and
 *   `reopen()` gives a fresh client.
 */
import {createHash} from 'node:crypto'

import zookeeper from 'node-zookeeper-client'
import type {Client as RawClient, Stat as RawStat} from 'node-zookeeper-client'

import {LifeboatError} from '../errors.js'
import {ZkError, isZkError, toZkError} from './errors.js'
import {
  checkClientInternals,
  closeRaw,
  discardUnsent,
  frameSocketData,
  rawSocket,
  setLastOpVersion,
} from './nzk-internals.js'

/**
 * The largest request we send, path and framing included. ZooKeeper's jute.maxbuffer is
 * 1,048,575 bytes; the server drops the connection (not just the request) above it, so we keep a
 * margin for the request header and ACLs.
 */
export const MAX_REQUEST_BYTES = 1_048_000

/** Default per-call deadline. */
export const DEFAULT_CALL_DEADLINE_MS = 10_000
/** Default connect deadline. */
export const DEFAULT_CONNECT_DEADLINE_MS = 10_000
/** Default session timeout: long, so bulk jobs and GC pauses do not expire the session. */
export const DEFAULT_SESSION_TIMEOUT_MS = 30_000

/** Digest auth as written in a spec: the secret lives in an environment variable, never in the spec. */
export interface ZkAuth {
  scheme: 'digest'
  /** Name of the environment variable holding `user:password`. */
  credentials_env: string
}

export interface ZkConnectOptions {
  /** `host:port[,host:port...]`. */
  hosts: string
  /**
   * The cluster's base path (e.g. Pegasus's `/pegasus/onebox`). It is not a chroot: every path
   * given to a ZkClient method is absolute. It is kept for `resolve()` and error messages.
   */
  root?: string
  auth?: ZkAuth
  /** Where `auth.credentials_env` is looked up; defaults to process.env. */
  env?: Record<string, string | undefined>
  sessionTimeoutMs?: number
  /** Deadline for the connection (and auth) to be established. */
  deadlineMs?: number
  /** Default deadline of every call on the client. */
  callDeadlineMs?: number
}

/** A znode's Stat with the 8-byte fields converted: zxids and session ids as bigint, times as ms since the epoch. */
export interface ZkStat {
  czxid: bigint
  mzxid: bigint
  pzxid: bigint
  ctime: number
  mtime: number
  version: number
  cversion: number
  aversion: number
  /** Session id of the owner for an ephemeral node, 0n otherwise. */
  ephemeralOwner: bigint
  dataLength: number
  numChildren: number
}

/** How a node is created. */
export type ZkCreateMode = 'persistent' | 'ephemeral' | 'sequential' | 'ephemeral_sequential'

/** One ACL entry, e.g. `{perms: ZK_PERMS.ALL, scheme: 'digest', id: digestId('user:pw')}`. */
export interface ZkAcl {
  perms: number
  scheme: string
  id: string
}

/** Permission bits for ZkAcl.perms. */
export const ZK_PERMS = {READ: 1, WRITE: 2, CREATE: 4, DELETE: 8, ADMIN: 16, ALL: 31} as const

/** world:anyone with every permission: the default ACL. */
export const OPEN_ACL: ZkAcl[] = [{perms: ZK_PERMS.ALL, scheme: 'world', id: 'anyone'}]

/** A watch notification. */
export interface ZkWatchEvent {
  type: 'created' | 'deleted' | 'dataChanged' | 'childrenChanged'
  path: string
}

export interface ZkCallOptions {
  /** Overrides the client's default deadline for this call. */
  deadlineMs?: number
}

export interface ZkWatchOptions extends ZkCallOptions {
  /** A one-shot watch, as ZooKeeper sets it. */
  watch?: (event: ZkWatchEvent) => void
}

export interface ZkCreateOptions extends ZkCallOptions {
  mode?: ZkCreateMode
  acl?: ZkAcl[]
}

/** One operation of a multi. */
export type ZkOp =
  | {op: 'check'; path: string; version: number}
  | {op: 'create'; path: string; data?: Buffer; mode?: ZkCreateMode; acl?: ZkAcl[]}
  | {op: 'setData'; path: string; data: Buffer; version: number}
  | {op: 'remove'; path: string; version: number}

/** The result of one operation of a successful multi. */
export type ZkOpResult =
  | {op: 'check'; path: string}
  | {op: 'create'; path: string}
  | {op: 'setData'; path: string; stat: ZkStat}
  | {op: 'remove'; path: string}

/** Life of a ZkClient. */
export type ZkClientState = 'connected' | 'disconnected' | 'expired' | 'auth_failed' | 'closed'

/** `user:base64(sha1(user:password))`, the id of a digest ACL for these credentials. */
export function digestId(credentials: string): string {
  const user = credentials.slice(0, credentials.indexOf(':'))
  return `${user}:${createHash('sha1').update(credentials).digest('base64')}`
}

/**
 * Reads `user:password` from the environment variable named in the spec. The error names the
 * variable, never its value.
 */
export function credentialsFromEnv(auth: ZkAuth, env: Record<string, string | undefined>): string {
  if (auth.scheme !== 'digest') {
    throw new LifeboatError('ZK_AUTH_CONFIG', `unsupported ZooKeeper auth scheme "${String(auth.scheme)}"`, {
      hints: ['Use auth: {scheme: digest, credentials_env: VAR}.'],
    })
  }
  const value = env[auth.credentials_env]
  if (value === undefined || value === '') {
    throw new LifeboatError(
      'ZK_AUTH_CONFIG',
      `environment variable ${auth.credentials_env} is not set; it must hold the ZooKeeper digest credentials`,
      {
        hints: [
          `export ${auth.credentials_env}=USER:PASSWORD before running lifeboat (the spec names this variable in zookeeper.auth.credentials_env).`,
        ],
      },
    )
  }
  const colon = value.indexOf(':')
  if (colon <= 0 || colon === value.length - 1) {
    throw new LifeboatError(
      'ZK_AUTH_CONFIG',
      `environment variable ${auth.credentials_env} does not hold digest credentials of the form user:password`,
      {
        hints: [`export ${auth.credentials_env}=USER:PASSWORD (a user name, a colon, then the password).`],
      },
    )
  }
  return value
}

const MODES: Record<ZkCreateMode, number> = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  sequential: zookeeper.CreateMode.PERSISTENT_SEQUENTIAL,
  ephemeral_sequential: zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
}

const EVENT_TYPES: Record<number, ZkWatchEvent['type']> = {
  1: 'created',
  2: 'deleted',
  3: 'dataChanged',
  4: 'childrenChanged',
}

function long(b: Buffer | bigint | number): bigint {
  if (typeof b === 'bigint') return b
  if (typeof b === 'number') return BigInt(b)
  return b.readBigInt64BE(0)
}

/** Converts the client's Stat (8-byte Buffers, a jute record) into a plain ZkStat. */
export function toStat(raw: RawStat): ZkStat {
  return {
    czxid: long(raw.czxid),
    mzxid: long(raw.mzxid),
    pzxid: long(raw.pzxid),
    ctime: Number(long(raw.ctime)),
    mtime: Number(long(raw.mtime)),
    version: raw.version,
    cversion: raw.cversion,
    aversion: raw.aversion,
    ephemeralOwner: long(raw.ephemeralOwner),
    dataLength: raw.dataLength,
    numChildren: raw.numChildren,
  }
}

function rawAcls(acl: ZkAcl[] | undefined): InstanceType<typeof zookeeper.ACL>[] {
  return (acl ?? OPEN_ACL).map((a) => new zookeeper.ACL(a.perms, new zookeeper.Id(a.scheme, a.id)))
}

function aclBytes(acl: ZkAcl[] | undefined): number {
  return (acl ?? OPEN_ACL).reduce((n, a) => n + 12 + Buffer.byteLength(a.scheme) + Buffer.byteLength(a.id), 4)
}

/** Serialized size of one multi operation, framing included (an upper bound). */
export function opBytes(op: ZkOp): number {
  const path = Buffer.byteLength(op.path)
  switch (op.op) {
    case 'create':
      return 9 + 4 + path + 4 + (op.data?.length ?? 0) + aclBytes(op.acl) + 4
    case 'setData':
      return 9 + 4 + path + 4 + op.data.length + 4
    default:
      return 9 + 4 + path + 4
  }
}

interface Pending {
  fail(err: ZkError): void
}

/**
 * One ZooKeeper session. Every method has a deadline; errors are ZkError. Not safe to use after
 * `close()`, a deadline expiry or session expiry: call `reopen()` for a fresh session.
 * It must not be used to retry writes blindly: after ZK_CONNECTION_LOSS or ZK_TIMEOUT on a write,
 * re-read first.
 */
export class ZkClient {
  /** The connect string, as used in every error message. */
  readonly server: string
  /** The cluster's base path from the options (not a chroot). */
  readonly root: string
  private readonly raw: RawClient
  private readonly opts: ZkConnectOptions
  private readonly callDeadlineMs: number
  private readonly pending = new Set<Pending>()
  private dead:
    | {code: 'ZK_SESSION_EXPIRED' | 'ZK_CONNECTION_LOSS' | 'ZK_AUTH_FAILED'; reason: string; state: ZkClientState}
    | undefined
  private connected = true
  private corked = false
  private readonly listeners = new Set<(state: ZkClientState) => void>()

  /** Use connectZk; the constructor wraps an already connected raw client. */
  private constructor(raw: RawClient, opts: ZkConnectOptions) {
    this.raw = raw
    this.opts = opts
    this.server = opts.hosts
    this.root = opts.root ?? '/'
    this.callDeadlineMs = opts.callDeadlineMs ?? DEFAULT_CALL_DEADLINE_MS
    raw.on('disconnected', () => {
      this.connected = false
      this.emit('disconnected')
    })
    raw.on('connected', () => {
      this.connected = true
      this.emit('connected')
    })
    raw.on('expired', () => this.kill('ZK_SESSION_EXPIRED', 'the server expired the session', 'expired'))
    raw.on('authenticationFailed', () =>
      this.kill('ZK_AUTH_FAILED', 'the server refused the credentials', 'auth_failed'),
    )
  }

  /** @internal Wraps a connected raw client; only connectZk calls it. */
  static wrap(raw: RawClient, opts: ZkConnectOptions): ZkClient {
    return new ZkClient(raw, opts)
  }

  /** Where the session stands now. */
  get state(): ZkClientState {
    if (this.dead) return this.dead.state
    return this.connected ? 'connected' : 'disconnected'
  }

  /** The session id (the ephemeralOwner of its ephemeral nodes). */
  get sessionId(): bigint {
    return this.raw.getSessionId().readBigInt64BE(0)
  }

  /** The options this client was made with, for reopen(). */
  get options(): Readonly<ZkConnectOptions> {
    return this.opts
  }

  /** Joins a path relative to `root` (absolute paths are returned as they are). */
  resolve(rel: string): string {
    if (rel.startsWith('/')) return rel
    return joinPath(this.root, rel)
  }

  /** Subscribes to state changes; returns the unsubscribe function. */
  onState(listener: (state: ZkClientState) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** A fresh session with the same options (after expiry, a deadline, or close). */
  async reopen(): Promise<ZkClient> {
    return connectZk(this.opts)
  }

  /** The node's Stat, or null when it does not exist. */
  exists(path: string, opts: ZkWatchOptions = {}): Promise<ZkStat | null> {
    return this.call(
      'exists',
      path,
      opts.deadlineMs,
      (cb) => {
        if (opts.watch) this.raw.exists(path, watcher(opts.watch), cb)
        else this.raw.exists(path, cb)
      },
      (stat) => (stat ? toStat(stat as RawStat) : null),
    )
  }

  /** The node's data and Stat. */
  get(path: string, opts: ZkWatchOptions = {}): Promise<{data: Buffer; stat: ZkStat}> {
    return this.call(
      'get',
      path,
      opts.deadlineMs,
      (cb) => {
        if (opts.watch) this.raw.getData(path, watcher(opts.watch), cb)
        else this.raw.getData(path, cb)
      },
      (data, stat) => ({data: (data as Buffer | null) ?? Buffer.alloc(0), stat: toStat(stat as RawStat)}),
    )
  }

  /** The names of the node's children, unsorted as the server gives them. */
  getChildren(path: string, opts: ZkWatchOptions = {}): Promise<string[]> {
    return this.call(
      'getChildren',
      path,
      opts.deadlineMs,
      (cb) => {
        if (opts.watch) this.raw.getChildren(path, watcher(opts.watch), cb)
        else this.raw.getChildren(path, cb)
      },
      (children) => children as string[],
    )
  }

  /** Creates a node; returns its path (with the sequence suffix for sequential modes). */
  create(path: string, data: Buffer | null = null, opts: ZkCreateOptions = {}): Promise<string> {
    const size = 4 + Buffer.byteLength(path) + 4 + (data?.length ?? 0) + aclBytes(opts.acl) + 4 + 16
    const tooBig = this.checkSize('create', path, size)
    if (tooBig) return Promise.reject(tooBig)
    return this.call(
      'create',
      path,
      opts.deadlineMs,
      (cb) => {
        this.raw.create(path, data ?? Buffer.alloc(0), rawAcls(opts.acl), MODES[opts.mode ?? 'persistent'], cb)
      },
      (created) => created as string,
    )
  }

  /** Sets the node's data only if its version is still `version` (-1: any version). */
  set(path: string, data: Buffer, version: number, opts: ZkCallOptions = {}): Promise<ZkStat> {
    const tooBig = this.checkSize('set', path, 4 + Buffer.byteLength(path) + 4 + data.length + 4 + 16)
    if (tooBig) return Promise.reject(tooBig)
    return this.call(
      'set',
      path,
      opts.deadlineMs,
      (cb) => this.raw.setData(path, data, version, cb),
      (stat) => toStat(stat as RawStat),
    )
  }

  /** Removes the node only if its version is still `version` (-1: any version). */
  remove(path: string, version: number, opts: ZkCallOptions = {}): Promise<void> {
    return this.call(
      'remove',
      path,
      opts.deadlineMs,
      (cb) => this.raw.remove(path, version, cb),
      () => undefined,
    )
  }

  /**
   * Applies all operations atomically, or none. On failure the ZkError names the operation that
   * failed (opIndex, path) and its code (e.g. ZK_BAD_VERSION for a stale check).
   */
  multi(ops: ZkOp[], opts: ZkCallOptions = {}): Promise<ZkOpResult[]> {
    const first = ops[0]?.path
    if (ops.length === 0) return Promise.resolve([])
    const size = ops.reduce((n, op) => n + opBytes(op), 16)
    const tooBig = this.checkSize('multi', first, size, `${ops.length} operations`)
    if (tooBig) return Promise.reject(tooBig)
    if (this.dead) return Promise.reject(this.deadError('multi', first))
    return new Promise((resolve, reject) => {
      const tx = this.raw.transaction()
      try {
        for (const op of ops) {
          if (op.op === 'check') tx.check(op.path, op.version)
          else if (op.op === 'create')
            tx.create(op.path, op.data ?? Buffer.alloc(0), rawAcls(op.acl), MODES[op.mode ?? 'persistent'])
          else if (op.op === 'setData') tx.setData(op.path, op.data, op.version)
          else tx.remove(op.path, op.version)
          // The client turns version 0 into -1 (`version || -1`), which would make a check or a
          // versioned write on a fresh node unconditional: put the real version back.
          if (op.op !== 'create') setLastOpVersion(tx, op.version)
        }
      } catch (err) {
        reject(toZkError(err, {server: this.server, path: first, op: 'multi'}))
        return
      }
      this.call(
        'multi',
        first,
        opts.deadlineMs,
        (cb) => tx.commit(cb),
        (results) => results,
        true,
      ).then(
        (results) => resolve(mapResults(ops, results as RawResult[])),
        (err: unknown) => reject(this.multiError(ops, err)),
      )
    })
  }

  /** Creates the node and any missing parent (empty data); existing nodes are fine. */
  async mkdirp(path: string, data: Buffer | null = null, opts: ZkCallOptions = {}): Promise<string> {
    const parts = path.split('/').filter((p) => p !== '')
    let current = ''
    for (let i = 0; i < parts.length; i++) {
      current += `/${parts[i]}`
      const last = i === parts.length - 1
      try {
        await this.create(current, last ? data : null, opts)
      } catch (err) {
        if (!isZkError(err, 'ZK_NODE_EXISTS')) throw err
      }
    }
    return path
  }

  /**
   * Ends the session (its ephemeral nodes go at once) and discards anything not yet sent.
   * Safe to call more than once and on a dead client.
   */
  async close(): Promise<void> {
    if (!this.dead) this.kill('ZK_CONNECTION_LOSS', 'the client was closed', 'closed')
    await closeRaw(this.raw)
  }

  /**
   * Coalesces the requests issued in this tick into one socket write: the client does one write
   * (one syscall) per request otherwise, a large share of a pipelined read's CPU.
   */
  private corkForTick(): void {
    if (this.corked) return
    const socket = rawSocket(this.raw)
    if (!this.connected || !socket || socket.destroyed || typeof socket.cork !== 'function') return
    socket.cork()
    this.corked = true
    process.nextTick(() => {
      this.corked = false
      socket.uncork?.()
    })
  }

  private emit(state: ZkClientState): void {
    for (const l of this.listeners) {
      try {
        l(state)
      } catch {
        // A listener's failure is its own business; the session goes on.
      }
    }
  }

  /** Marks the client dead, fails every pending call, and discards the unsent queue. */
  private kill(
    code: 'ZK_SESSION_EXPIRED' | 'ZK_CONNECTION_LOSS' | 'ZK_AUTH_FAILED',
    reason: string,
    state: ZkClientState,
  ): void {
    if (this.dead) return
    this.dead = {code, reason, state}
    const err = new ZkError(code, {server: this.server, op: 'session', reason})
    for (const p of [...this.pending]) p.fail(err)
    this.pending.clear()
    discardUnsent(this.raw)
    // Always close the raw client: left alone it would reconnect forever and keep the process alive.
    void closeRaw(this.raw)
    this.emit(state)
  }

  private deadError(op: string, path?: string): ZkError {
    const d = this.dead ?? {code: 'ZK_CONNECTION_LOSS' as const, reason: 'the client was closed'}
    return new ZkError(d.code, {
      server: this.server,
      path,
      op,
      reason: `${d.reason}; connect again (reopen) for a fresh session`,
    })
  }

  private checkSize(op: string, path: string | undefined, bytes: number, what?: string): ZkError | undefined {
    if (bytes <= MAX_REQUEST_BYTES) return undefined
    return new ZkError('ZK_REQUEST_TOO_LARGE', {
      server: this.server,
      path,
      op,
      reason: `the request${what ? ` (${what})` : ''} is ${bytes} bytes; the limit is ${MAX_REQUEST_BYTES} bytes (jute.maxbuffer 1,048,575 less framing). Nothing was sent.`,
    })
  }

  private multiError(ops: ZkOp[], err: unknown): ZkError {
    if (
      !(err instanceof ZkError) ||
      err.zkCode === undefined ||
      err.code === 'ZK_CONNECTION_LOSS' ||
      err.code === 'ZK_SESSION_EXPIRED'
    )
      return err as ZkError
    const results = (err.cause as {results?: RawResult[]} | undefined)?.results
    let index = results ? results.findIndex((r) => r.err !== undefined && r.err !== 0 && r.err !== -2) : -1
    if (index < 0) index = 0
    const op = ops[index]
    return new ZkError(err.code as ConstructorParameters<typeof ZkError>[0], {
      server: this.server,
      path: op?.path,
      op: 'multi',
      zkCode: err.zkCode,
      opIndex: index,
      reason: `operation ${index + 1} of ${ops.length} (${op?.op} ${op?.path}) failed; nothing in the multi was applied`,
    })
  }

  /**
   * Runs one callback-style call with a deadline. When the deadline passes the client is closed:
   * the request may sit in the client's unsent queue, and a write must never reach the server after
   * we reported it as failed.
   */
  private call<T>(
    op: string,
    path: string | undefined,
    deadlineMs: number | undefined,
    invoke: (cb: RawCallback) => void,
    map: (a: unknown, b: unknown) => T,
    keepResultsOnError = false,
  ): Promise<T> {
    if (this.dead) return Promise.reject(this.deadError(op, path))
    return new Promise<T>((resolve, reject) => {
      const ms = deadlineMs ?? this.callDeadlineMs
      let settled = false
      const entry: Pending = {
        fail: (err) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          reject(
            new ZkError(err.code as ConstructorParameters<typeof ZkError>[0], {
              server: this.server,
              path,
              op,
              reason: err.detail,
            }),
          )
        },
      }
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        this.pending.delete(entry)
        const state = this.connected ? 'connected' : 'disconnected from the server'
        const err = new ZkError('ZK_TIMEOUT', {
          server: this.server,
          path,
          op,
          reason: `no answer within ${ms} ms (client ${state}); the client was closed`,
        })
        reject(err)
        this.kill(
          'ZK_CONNECTION_LOSS',
          `the client was closed after ${op}${path ? ` ${path}` : ''} passed its ${ms} ms deadline`,
          'closed',
        )
      }, ms)
      this.pending.add(entry)
      this.corkForTick()
      try {
        invoke((err: unknown, a?: unknown, b?: unknown) => {
          if (settled) return
          settled = true
          clearTimeout(timer)
          this.pending.delete(entry)
          if (err) {
            const zkErr = toZkError(err, {server: this.server, path, op})
            if (keepResultsOnError && a !== undefined) (zkErr as {cause?: unknown}).cause = {results: a, error: err}
            reject(zkErr)
            return
          }
          try {
            resolve(map(a, b))
          } catch (mapErr) {
            reject(toZkError(mapErr, {server: this.server, path, op}))
          }
        })
      } catch (err) {
        settled = true
        clearTimeout(timer)
        this.pending.delete(entry)
        reject(toZkError(err, {server: this.server, path, op}))
      }
    })
  }
}

/** The callback shape every client call takes: an error, then up to two results. */
type RawCallback = (err: unknown, a?: unknown, b?: unknown) => void

interface RawResult {
  type: number
  err?: number
  path?: string
  stat?: RawStat
}

function mapResults(ops: ZkOp[], results: RawResult[]): ZkOpResult[] {
  return ops.map((op, i): ZkOpResult => {
    const r = results[i]
    switch (op.op) {
      case 'create':
        return {op: 'create', path: r?.path ?? op.path}
      case 'setData':
        if (!r?.stat) throw new Error(`multi result ${i} has no stat`)
        return {op: 'setData', path: op.path, stat: toStat(r.stat)}
      case 'check':
        return {op: 'check', path: op.path}
      default:
        return {op: 'remove', path: op.path}
    }
  })
}

function watcher(fn: (event: ZkWatchEvent) => void): (event: InstanceType<typeof zookeeper.Event>) => void {
  return (event) => {
    const type = EVENT_TYPES[event.getType()]
    if (type) fn({type, path: event.getPath()})
  }
}

/** Joins two znode paths without doubling slashes. */
export function joinPath(base: string, rel: string): string {
  if (rel === '' || rel === '/') return base
  const r = rel.startsWith('/') ? rel : `/${rel}`
  return base === '/' ? r : `${base}${r}`
}

/**
 * Connects, authenticates (digest credentials from the environment variable named in `auth`),
 * and proves the session with one round trip, all within `deadlineMs`. On expiry the client is
 * closed (it would otherwise retry forever) and ZK_TIMEOUT names the server.
 */
export async function connectZk(opts: ZkConnectOptions): Promise<ZkClient> {
  const credentials = opts.auth ? credentialsFromEnv(opts.auth, opts.env ?? process.env) : undefined
  const deadlineMs = opts.deadlineMs ?? DEFAULT_CONNECT_DEADLINE_MS
  checkClientInternals()
  let raw: RawClient
  try {
    raw = zookeeper.createClient(opts.hosts, {
      sessionTimeout: opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS,
      retries: 0,
      spinDelay: 200,
    })
  } catch (err) {
    throw new ZkError('ZK_BAD_ARGUMENTS', {
      server: opts.hosts,
      op: 'connect',
      reason: `invalid connect string: ${err instanceof Error ? err.message : String(err)}`,
    })
  }
  frameSocketData(raw)
  if (credentials) raw.addAuthInfo('digest', Buffer.from(credentials))
  const started = Date.now()
  await new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer)
      raw.removeListener('connected', onConnected)
      raw.removeListener('authenticationFailed', onAuthFailed)
      raw.removeListener('expired', onExpired)
    }
    const fail = (err: ZkError): void => {
      cleanup()
      void closeRaw(raw)
      reject(err)
    }
    const timer = setTimeout(
      () =>
        fail(
          new ZkError('ZK_TIMEOUT', {
            server: opts.hosts,
            op: 'connect',
            reason: `could not connect within ${deadlineMs} ms`,
          }),
        ),
      deadlineMs,
    )
    const onConnected = (): void => {
      cleanup()
      resolve()
    }
    const onAuthFailed = (): void => fail(new ZkError('ZK_AUTH_FAILED', {server: opts.hosts, op: 'connect'}))
    const onExpired = (): void => fail(new ZkError('ZK_SESSION_EXPIRED', {server: opts.hosts, op: 'connect'}))
    raw.once('connected', onConnected)
    raw.once('authenticationFailed', onAuthFailed)
    raw.once('expired', onExpired)
    raw.connect()
  })
  const client = ZkClient.wrap(raw, opts)
  // One round trip: the auth packet went first on this session (FIFO), so a refused credential
  // fails here rather than on the caller's first real call.
  const left = Math.max(1, deadlineMs - (Date.now() - started))
  try {
    await client.exists('/', {deadlineMs: left})
  } catch (err) {
    await client.close()
    if (isZkError(err, 'ZK_TIMEOUT')) {
      throw new ZkError('ZK_TIMEOUT', {
        server: opts.hosts,
        op: 'connect',
        reason: `could not connect within ${deadlineMs} ms`,
      })
    }
    throw err
  }
  return client
}
