/**
 * Everything src/zk/client.ts does with node-zookeeper-client's internals, in one place, for the
 * one version whose internals these are ({@link NZK_VERSION}, pinned exactly in package.json):
 * the connection manager's unsent queue (failed, so nothing queued while disconnected is sent
 * late), its socket (closed for good, and corked to coalesce writes), its per-connection data
 * handler (handed whole frames), its state, a transaction's op list (versions restored), and the
 * client's own exception factory.
 *
 * {@link checkClientInternals} runs before the first connection: a different version, or one of
 * these internals missing, fails loudly with ZK_CLIENT_INTERNALS instead of silently losing the
 * guarantees the client gives (no late writes, whole frames, exact versions).
 */
import {createRequire} from 'node:module'

import zookeeper from 'node-zookeeper-client'
import type {Client as RawClient} from 'node-zookeeper-client'

import {LifeboatError} from '../errors.js'

/** The node-zookeeper-client version whose internals this module knows. */
export const NZK_VERSION = '1.1.3'

// The parts of the client's internals we touch: the unsent queue (so nothing queued while
// disconnected is ever sent late), the socket (to close it for good and to coalesce writes), and
// the per-connection data handler (to hand it whole frames; see frameSocketData).
interface RawInternals {
  connectionManager?: {
    packetQueue?: {queue?: Array<{callback?: (err: unknown) => void}>}
    socket?: {
      destroy(): void
      once(event: 'close', cb: () => void): void
      destroyed?: boolean
      cork?(): void
      uncork?(): void
    }
    onSocketData?: (chunk: Buffer) => void
    connectTimeoutHandler?: ReturnType<typeof setTimeout> | null
    state?: number
  }
}
/** ConnectionManager STATES.CONNECTED and STATES.CLOSED. */
const CM_CONNECTED = 2
const CM_CLOSED = -2

function managerOf(raw: RawClient): RawInternals['connectionManager'] {
  return (raw as unknown as RawInternals).connectionManager
}

/** The client's current socket, if it has one. */
export function rawSocket(raw: RawClient): NonNullable<RawInternals['connectionManager']>['socket'] {
  return managerOf(raw)?.socket
}

/** Overwrites the version of the operation just added to a transaction (see multi). */
export function setLastOpVersion(tx: object, version: number): void {
  const ops = (tx as {ops?: Array<{version?: number}>}).ops
  const last = ops?.[ops.length - 1]
  if (!last || typeof last.version !== 'number')
    throw new Error('unexpected transaction internals: cannot set the operation version')
  last.version = version
}

/** The client's own CONNECTION_LOSS exception (its typings omit Exception.create). */
function connectionLoss(): unknown {
  const create = (zookeeper.Exception as unknown as {create(code: number): unknown}).create
  return create(zookeeper.Exception.CONNECTION_LOSS)
}

/**
 * Hands the client's response parser one whole frame at a time. The parser, given a socket chunk
 * holding many responses, re-copies the rest of the chunk after each one (quadratic in the chunk,
 * and most of the client's garbage in a pipelined read), and it keeps a partial frame across a
 * reconnect, where it would corrupt the first reply of the new connection. Split here once, and
 * start clean on each new socket. Without the expected internals this does nothing.
 */
export function frameSocketData(raw: RawClient): void {
  const cm = managerOf(raw)
  const original = cm?.onSocketData
  if (!cm || typeof original !== 'function') return
  let rest: Buffer | null = null
  let from: unknown = null
  cm.onSocketData = (chunk: Buffer): void => {
    // The parser calls itself with an empty buffer when it kept a remainder: let that through.
    if (chunk.length === 0) return original.call(cm, chunk)
    if (cm.socket !== from) {
      rest = null
      from = cm.socket
    }
    const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk
    let off = 0
    while (buf.length - off >= 4) {
      const size = buf.readInt32BE(off)
      if (buf.length - off - 4 < size) break
      original.call(cm, buf.subarray(off, off + 4 + size))
      off += 4 + size
    }
    rest = off < buf.length ? buf.subarray(off) : null
  }
}

/** Fails every request queued but not yet sent, so none of them can reach a server later. */
export function discardUnsent(raw: RawClient): void {
  const cm = managerOf(raw)
  const queue = cm?.packetQueue?.queue
  if (!queue) return
  const unsent = queue.splice(0, queue.length)
  for (const packet of unsent) {
    try {
      packet.callback?.(connectionLoss())
    } catch {
      // The callback belongs to a call we already failed.
    }
  }
}

const closing = new WeakMap<RawClient, Promise<void>>()

/**
 * Closes a raw client for good. Connected: sends closeSession (ephemeral nodes vanish now) and
 * waits for the server to drop the socket. Otherwise: destroys the socket so the client stops
 * retrying (it would retry a dead port forever).
 */
export function closeRaw(raw: RawClient): Promise<void> {
  const existing = closing.get(raw)
  if (existing) return existing
  const done = new Promise<void>((resolve) => {
    const cm = managerOf(raw)
    const wasConnected = cm?.state === CM_CONNECTED
    discardUnsent(raw)
    try {
      raw.close()
    } catch {
      // close() on a client that never connected may throw in its internals; we destroy below.
    }
    const socket = cm?.socket
    const hardStop = (): void => {
      if (cm?.connectTimeoutHandler) clearTimeout(cm.connectTimeoutHandler)
      cm?.socket?.destroy()
    }
    if (!wasConnected || !socket || socket.destroyed) {
      hardStop()
      resolve()
      return
    }
    const timer = setTimeout(() => {
      hardStop()
      resolve()
    }, 2000)
    socket.once('close', () => {
      clearTimeout(timer)
      if (cm?.state !== CM_CLOSED) hardStop()
      resolve()
    })
  })
  closing.set(raw, done)
  return done
}

/** What the self-check looks at: the installed version and a client that never connects. */
export interface InternalsProbe {
  version: string | undefined
  client(): RawClient
}

function installedProbe(): InternalsProbe {
  let version: string | undefined
  try {
    version = (createRequire(import.meta.url)('node-zookeeper-client/package.json') as {version?: string}).version
  } catch {
    version = undefined
  }
  // Created, never connected: no socket, no timer.
  return {version, client: () => zookeeper.createClient('127.0.0.1:1', {retries: 0})}
}

/** Why the internals are not the known ones; empty when they are. */
export function internalsProblems(probe: InternalsProbe): string[] {
  const problems: string[] = []
  if (probe.version !== NZK_VERSION)
    problems.push(`node-zookeeper-client is ${probe.version ?? 'of unknown version'}, not ${NZK_VERSION}`)
  const raw = probe.client()
  const cm = (raw as unknown as {connectionManager?: Record<string, unknown>}).connectionManager
  if (!cm) {
    problems.push('the client has no connectionManager')
  } else {
    if (!Array.isArray((cm.packetQueue as {queue?: unknown} | undefined)?.queue))
      problems.push('connectionManager.packetQueue.queue is not an array')
    if (typeof cm.onSocketData !== 'function') problems.push('connectionManager.onSocketData is not a function')
    if (typeof cm.state !== 'number') problems.push('connectionManager.state is not a number')
    if (!('connectTimeoutHandler' in cm)) problems.push('connectionManager.connectTimeoutHandler is missing')
  }
  const tx = (
    raw as unknown as {transaction?: () => {check(path: string, version: number): unknown; ops?: {version?: number}[]}}
  ).transaction?.()
  tx?.check('/', 1)
  if (typeof tx?.ops?.[0]?.version !== 'number')
    problems.push('a transaction does not keep its ops with their versions in .ops')
  if (typeof (zookeeper.Exception as unknown as {create?: unknown}).create !== 'function')
    problems.push('Exception.create is not a function')
  return problems
}

let checked = false

/**
 * Fails loudly (ZK_CLIENT_INTERNALS) when node-zookeeper-client is not the version, or lacks the
 * internals, this module was written against. Runs once per process, before the first connect.
 */
export function checkClientInternals(probe?: InternalsProbe): void {
  if (checked && !probe) return
  const problems = internalsProblems(probe ?? installedProbe())
  if (problems.length > 0) {
    throw new LifeboatError(
      'ZK_CLIENT_INTERNALS',
      `node-zookeeper-client is not the version lifeboat's ZooKeeper client was written for (${NZK_VERSION})`,
      {
        detail: problems.join('\n'),
        hints: [
          `Install the pinned version: npm install --save-exact node-zookeeper-client@${NZK_VERSION}.`,
          'This is a packaging problem, not a cluster problem: nothing was sent to ZooKeeper.',
        ],
      },
    )
  }
  if (!probe) checked = true
}
