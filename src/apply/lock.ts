/**
 * The apply lock of a cluster (DESIGN.md section 5, step 1).
 *
 * Where the cluster has a ZooKeeper, the lock is an ephemeral node under `/lifeboat/locks/<cluster>`
 * (zk/lock.ts): it vanishes by itself when the holder's session ends. Without one, it is a lock
 * file created with O_EXCL. A lock file cannot vanish by itself, so one left by a crashed run stays;
 * when its PID is gone on this host we say so, but we never remove it silently: the operator
 * decides, with `lifeboat lock force-unlock`.
 */
import {randomUUID} from 'node:crypto'
import {mkdir, open, readFile, unlink} from 'node:fs/promises'
import {dirname, isAbsolute, resolve} from 'node:path'

import {LifeboatError, describeError} from '../errors.js'
import {
  acquireLock,
  connectZk,
  forceUnlock,
  formatLockBlock,
  formatLockInfo,
  lockDirFor,
  lockInfoOf,
  lockPath,
  readLock,
  releaseLock,
  type LockHolder,
  type LockInfo,
  type ZkClient,
} from '../zk/index.js'
import {currentOperator} from './identity.js'

/**
 * Session timeout of the lock's ZooKeeper session. It bounds how long a lock outlives a killed
 * apply (the ephemeral node goes when the session expires) and how long a network outage may last
 * before the lock is lost; apply checks the lock before every step, so a lost lock stops it before
 * its next write. 30 s, as for ZooKeeper bulk work: at 64,000 partitions re-planning keeps the
 * event loop busy for seconds, and node-zookeeper-client pings only when the socket is idle, so a
 * shorter session expired under load and stopped a healthy apply.
 */
export const LOCK_SESSION_TIMEOUT_MS = 30_000

/** Where an engine says the lock lives (Engine.lockTarget). */
export interface LockTarget {
  zookeeper?: {hosts: string; root: string; auth?: {scheme: string; credentials_env: string}}
  file?: string
}

/** A lock as read: its info plus, for lock files, the holding process. */
export interface LockState {
  info: LockInfo
  /** `zookeeper` (ephemeral node) or `file`. */
  kind: 'zookeeper' | 'file'
  /** The znode or the file that is the lock. */
  where: string
  /** Lock files only: the holder's PID and host, and whether that PID still runs (on this host only). */
  pid?: number
  host?: string
  alive?: boolean
  /** A Terraform-style "Lock Info:" block. */
  text: string
}

/** A lock this process holds. */
export interface HeldLock {
  info: LockInfo
  kind: 'zookeeper' | 'file'
  where: string
  /** Throws LOCK_LOST when the lock is no longer ours (session expired, node or file removed). */
  assertHeld(): Promise<void>
  /** Releases the lock; safe to call twice; never removes another holder's lock. */
  release(): Promise<void>
}

export interface TakeLockOptions {
  clusterName: string
  operation: string
  /** The plan digest being applied. */
  plan?: string
  env: Record<string, string | undefined>
  /** How long to keep trying while someone else holds the lock (Terraform's -lock-timeout); 0: fail at once. */
  timeoutMs?: number
}

const ZK_AUTH_SCHEME = 'digest'

/** Takes the cluster's lock or throws LOCK_HELD with the holder's details. */
export async function takeClusterLock(target: LockTarget, opts: TakeLockOptions): Promise<HeldLock> {
  const operator = currentOperator(opts.env)
  const info: LockInfo = {id: randomUUID(), operation: opts.operation, who: operator.who, created: new Date().toISOString()}
  if (opts.plan !== undefined) info.plan = opts.plan
  const deadline = Date.now() + (opts.timeoutMs ?? 0)
  for (;;) {
    try {
      return await takeOnce(target, info, opts)
    } catch (err) {
      if (!(err instanceof LifeboatError && err.code === 'LOCK_HELD') || Date.now() >= deadline) throw err
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(50, deadline - Date.now()))))
  }
}

async function takeOnce(target: LockTarget, info: LockInfo, opts: TakeLockOptions): Promise<HeldLock> {
  if (target.zookeeper) return takeZkLock(target.zookeeper, info, opts)
  if (target.file) return takeFileLock(lockFilePath(target.file), info)
  throw noTarget()
}

function noTarget(): LifeboatError {
  return new LifeboatError('LOCK_NO_TARGET', 'the engine named no place for the apply lock', {
    hints: ['This is a bug in the engine: lockTarget must return a ZooKeeper or a lock file.'],
  })
}

async function connectForLock(zk: NonNullable<LockTarget['zookeeper']>, env: Record<string, string | undefined>): Promise<ZkClient> {
  const auth = zk.auth && zk.auth.scheme === ZK_AUTH_SCHEME ? {scheme: 'digest' as const, credentials_env: zk.auth.credentials_env} : undefined
  return connectZk({hosts: zk.hosts, root: zk.root, auth, env, sessionTimeoutMs: LOCK_SESSION_TIMEOUT_MS})
}

async function takeZkLock(zk: NonNullable<LockTarget['zookeeper']>, info: LockInfo, opts: TakeLockOptions): Promise<HeldLock> {
  const dir = lockDirFor(opts.clusterName)
  const client = await connectForLock(zk, opts.env)
  let expired = false
  const unsubscribe = client.onState((state) => {
    if (state === 'expired' || state === 'auth_failed') expired = true
  })
  try {
    await acquireLock(client, dir, info)
  } catch (err) {
    unsubscribe()
    await client.close()
    throw decorateHeld(err, opts)
  }
  let released = false
  const lost = (why: string) =>
    new LifeboatError('LOCK_LOST', `the apply lock on ${opts.clusterName} was lost: ${why}`, {
      detail: 'Nothing further was written to the cluster after the lock was lost.',
      hints: ['Another run may hold the lock now; check with `lifeboat lock status SPEC`, then continue with `lifeboat apply PLAN --resume`.'],
    })
  return {
    info,
    kind: 'zookeeper',
    where: lockPath(dir),
    async assertHeld() {
      if (released) throw lost('it was released')
      if (expired) throw lost('the ZooKeeper session expired')
      let holder
      try {
        holder = await readLock(client, dir)
      } catch (err) {
        throw lost(describeError(err))
      }
      if (holder === null) throw lost('the lock node is gone')
      if (holder.info.id !== info.id || holder.session !== client.sessionId) throw lost(`it is now held by ${holder.info.who} (ID ${holder.info.id})`)
    },
    async release() {
      if (released) return
      released = true
      unsubscribe()
      try {
        if (!expired) await releaseLock(client, dir, info.id)
      } catch {
        // Closing the session below removes the ephemeral node anyway.
      } finally {
        await client.close()
      }
    },
  }
}

/** Adds the lock-timeout hint to a LOCK_HELD error. */
function decorateHeld(err: unknown, opts: TakeLockOptions): unknown {
  if (!(err instanceof LifeboatError) || err.code !== 'LOCK_HELD') return err
  const waited = opts.timeoutMs ? ` after waiting ${Math.round(opts.timeoutMs / 1000)} s` : ''
  return new LifeboatError('LOCK_HELD', `${err.message}${waited}`, {
    detail: err.detail,
    hints: [
      ...err.hints.map((h) => h.replace('`lifeboat lock force-unlock ', `\`lifeboat lock force-unlock SPEC `)),
      'To wait for the lock instead of failing, pass --lock-timeout 60s.',
    ],
  })
}

/** A lock file path, absolute (a relative one is taken from the working directory). */
function lockFilePath(file: string): string {
  return isAbsolute(file) ? file : resolve(file)
}

interface FileLockContent extends LockInfo {
  pid: number
  host: string
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function readFileLock(path: string): Promise<LockState | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new LifeboatError('LOCK_UNREADABLE', `could not read the lock file ${path}: ${describeError(err)}`, {hints: ['Check the file permissions.'], cause: err})
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // A lock file cut short by a crash during its creation: still a lock, with unknown details.
  }
  const {pid, host} = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Partial<FileLockContent>
  const state: LockState = {info: lockInfoOf(parsed), kind: 'file', where: path, text: ''}
  if (typeof pid === 'number') state.pid = pid
  if (typeof host === 'string') state.host = host
  if (state.pid !== undefined && state.host === currentOperator().host) state.alive = isAlive(state.pid)
  state.text = formatFileLock(state)
  return state
}

function formatFileLock(state: LockState): string {
  if (state.pid === undefined) return formatLockBlock(state.info, state.where)
  const status = state.alive === undefined ? 'on another host' : state.alive ? 'running' : 'no longer running'
  return formatLockBlock(state.info, state.where, [['Process', `PID ${state.pid} on ${state.host ?? '(unknown host)'} (${status})`]])
}

function fileHeldError(state: LockState): LifeboatError {
  const dead = state.alive === false
  return new LifeboatError('LOCK_HELD', `the cluster is locked by ${state.info.who} (${state.info.operation}, since ${state.info.created})`, {
    detail: dead
      ? `${state.text}\n\nThe process that took it is no longer running on this host: it crashed or was killed and left its lock file behind. A lock file is never removed for you.`
      : state.text,
    hints: dead
      ? [
          `If no lifeboat run is active on this cluster, remove the lock with \`lifeboat lock force-unlock SPEC ${state.info.id}\`, then continue with \`lifeboat apply PLAN --resume\`.`,
        ]
      : [
          'Wait for that run to finish; it removes its lock file when it ends.',
          `If you are sure no lifeboat run is active, \`lifeboat lock force-unlock SPEC ${state.info.id}\` removes it. This is dangerous: a run that is still active would keep writing to the cluster alongside yours.`,
        ],
  })
}

async function takeFileLock(path: string, info: LockInfo): Promise<HeldLock> {
  const content: FileLockContent = {...info, pid: process.pid, host: currentOperator().host}
  await mkdir(dirname(path), {recursive: true})
  let fh
  try {
    fh = await open(path, 'wx', 0o644)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new LifeboatError('LOCK_FILE_FAILED', `could not create the lock file ${path}: ${describeError(err)}`, {
        hints: ['Check that the directory is writable.'],
        cause: err,
      })
    }
    const holder = await readFileLock(path)
    // Removed between our open and our read: the caller's retry loop (--lock-timeout) tries again.
    if (holder === null) throw new LifeboatError('LOCK_HELD', `the lock file ${path} changed hands while it was read`, {hints: ['Run the command again.']})
    throw fileHeldError(holder)
  }
  try {
    await fh.writeFile(`${JSON.stringify(content)}\n`, 'utf8')
    await fh.sync()
  } finally {
    await fh.close()
  }
  let released = false
  return {
    info,
    kind: 'file',
    where: path,
    async assertHeld() {
      const holder = released ? null : await readFileLock(path)
      if (holder === null || holder.info.id !== info.id) {
        throw new LifeboatError('LOCK_LOST', `the apply lock file ${path} was removed or replaced`, {
          detail: 'Nothing further was written to the cluster after the lock was lost.',
          hints: ['Check with `lifeboat lock status SPEC`, then continue with `lifeboat apply PLAN --resume`.'],
        })
      }
    },
    async release() {
      if (released) return
      released = true
      const holder = await readFileLock(path).catch(() => null)
      if (holder !== null && holder.info.id === info.id) await unlink(path).catch(() => undefined)
    },
  }
}

/** A lock node's holder as a LockState. */
function zkLockState(holder: LockHolder): LockState {
  return {info: holder.info, kind: 'zookeeper', where: holder.path, text: formatLockInfo(holder)}
}

/** Runs `fn` on a short-lived session to the lock's ZooKeeper, closed afterwards. */
async function withLockClient<T>(zk: NonNullable<LockTarget['zookeeper']>, env: Record<string, string | undefined>, fn: (client: ZkClient) => Promise<T>): Promise<T> {
  const client = await connectForLock(zk, env)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}

/** Who holds the cluster's lock, or null. */
export async function readClusterLock(target: LockTarget, clusterName: string, opts: {env: Record<string, string | undefined>}): Promise<LockState | null> {
  if (target.zookeeper) {
    const holder = await withLockClient(target.zookeeper, opts.env, (client) => readLock(client, lockDirFor(clusterName)))
    return holder === null ? null : zkLockState(holder)
  }
  if (target.file) return readFileLock(lockFilePath(target.file))
  throw noTarget()
}

/**
 * Removes the lock whose ID is `id`, whoever holds it: for a holder that crashed. Refuses when
 * the lock is not held or is held under another ID.
 */
export async function forceUnlockCluster(target: LockTarget, clusterName: string, id: string, opts: {env: Record<string, string | undefined>}): Promise<LockState> {
  if (target.zookeeper) {
    return zkLockState(await withLockClient(target.zookeeper, opts.env, (client) => forceUnlock(client, lockDirFor(clusterName), id)))
  }
  if (!target.file) throw noTarget()
  const path = lockFilePath(target.file)
  const holder = await readFileLock(path)
  if (holder === null) {
    throw new LifeboatError('LOCK_NOT_HELD', `no lock is held at ${path}`, {hints: ['Nothing to unlock; `lifeboat lock status SPEC` shows the lock.']})
  }
  if (holder.info.id !== id) {
    throw new LifeboatError('LOCK_ID_MISMATCH', `lock id ${id} does not match the holder's id ${holder.info.id}`, {
      detail: holder.text,
      hints: ['Check the ID with `lifeboat lock status SPEC`; force-unlock only removes the lock whose ID you name.'],
    })
  }
  await unlink(path)
  return holder
}
