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
import {mkdir, open, readFile, rename, unlink, writeFile} from 'node:fs/promises'
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
  type ZkAcl,
  type ZkClient,
  ZK_PERMS,
  credentialsFromEnv,
  digestId,
  isZkError,
} from '../zk/index.js'
import type {HeldLock, LockIo, LockProvider, LockState} from '../engines/types.js'
import type {Finding} from '../plan/types.js'
import {currentOperator} from './identity.js'

export type {HeldLock, LockProvider, LockState} from '../engines/types.js'

/**
 * Session timeout of the lock's ZooKeeper session. It bounds how long a lock outlives a killed
 * apply (the ephemeral node goes when the session expires) and how long a network outage may last
 * before the lock is lost; apply checks the lock before every step, so a lost lock stops it before
 * its next write. 30 s, as for ZooKeeper bulk work: at 64,000 partitions re-planning keeps the
 * event loop busy for seconds, and node-zookeeper-client pings only when the socket is idle, so a
 * shorter session expired under load and stopped a healthy apply.
 */
export const LOCK_SESSION_TIMEOUT_MS = 30_000

/** A lock file's state: its info plus the holding process. */
interface FileLockState extends LockState {
  /** The holder's PID and host, and whether that PID still runs (on this host only). */
  pid?: number
  host?: string
  alive?: boolean
}

export interface TakeLockOptions {
  operation: string
  /** The plan digest being applied. */
  plan?: string
  env: Record<string, string | undefined>
  /** How long to keep trying while someone else holds the lock (Terraform's -lock-timeout); 0: fail at once. */
  timeoutMs?: number
  /** Stops waiting for a held lock (Ctrl-C). */
  signal?: AbortSignal
}

const ZK_AUTH_SCHEME = 'digest'

/** Where a ZooKeeper lock lives: the ensemble (and optional digest auth) and the cluster name it is filed under. */
export interface ZookeeperLockTarget {
  hosts: string
  root: string
  auth?: {scheme: string; credentials_env: string}
}

/**
 * The ZooKeeper lock provider: an ephemeral node `/lifeboat/locks/<clusterName>/lock` holding the
 * LockInfo; it vanishes by itself when the holder's session ends.
 */
export function zookeeperLock(zk: ZookeeperLockTarget, clusterName: string, io: LockIo): LockProvider {
  const dir = lockDirFor(clusterName)
  return {
    kind: 'zookeeper',
    where: lockPath(dir),
    acquire: (info) => takeZkLock(zk, dir, clusterName, info, io.env),
    async read() {
      const holder = await withLockClient(zk, io.env, (client) => readLock(client, dir))
      return holder === null ? null : zkLockState(holder)
    },
    async forceUnlock(id) {
      return zkLockState(await withLockClient(zk, io.env, (client) => forceUnlock(client, dir, id)))
    },
    // Values live beside the locks: /lifeboat/<name>/<cluster> (e.g. /lifeboat/policy/<cluster>).
    async readValue(name) {
      const path = valuePath(dir, name)
      return withLockClient(zk, io.env, async (client) => {
        try {
          return (await client.get(path)).data.toString('utf8')
        } catch (err) {
          if (isZkError(err, 'ZK_NO_NODE')) return null
          throw err
        }
      })
    },
    async writeValue(name, value) {
      const path = valuePath(dir, name)
      const acl = lockAcl(zk, io.env)
      await withLockClient(zk, io.env, async (client) => {
        await client.mkdirp(path.slice(0, path.lastIndexOf('/')))
        try {
          await client.create(path, Buffer.from(value, 'utf8'), acl ? {acl} : {})
        } catch (err) {
          if (!isZkError(err, 'ZK_NODE_EXISTS')) throw err
          await client.set(path, Buffer.from(value, 'utf8'), -1)
        }
      })
    },
  }
}

/** `/lifeboat/locks/<cluster>` -> `/lifeboat/<name>/<cluster>`. */
function valuePath(lockDir: string, name: string): string {
  const cluster = lockDir.slice(lockDir.lastIndexOf('/') + 1)
  const base = lockDir.slice(0, lockDir.lastIndexOf('/'))
  return `${base.slice(0, base.lastIndexOf('/'))}/${name}/${cluster}`
}

/**
 * The host-local lock provider: a lock file created with O_EXCL, for an engine whose store has
 * nothing shared to hold a lock. Plans of such engines carry a LOCK_HOST_LOCAL warning, because
 * operators on two machines do not see each other's lock file. A relative path is taken from the
 * working directory.
 */
export function hostLocalLock(file: string): LockProvider {
  const path = lockFilePath(file)
  return {
    kind: 'file',
    where: path,
    hostLocal: true,
    acquire: (info) => takeFileLock(path, info),
    read: () => readFileLock(path),
    async forceUnlock(id) {
      const holder = await readFileLock(path)
      if (holder === null) {
        throw new LifeboatError('LOCK_NOT_HELD', `no lock is held at ${path}`, {
          hints: ['Nothing to unlock; `lifeboat lock status SPEC` shows the lock.'],
        })
      }
      if (holder.info.id !== id) {
        throw new LifeboatError('LOCK_ID_MISMATCH', `lock id ${id} does not match the holder's id ${holder.info.id}`, {
          detail: holder.text,
          hints: [
            'Check the ID with `lifeboat lock status SPEC`; force-unlock only removes the lock whose ID you name.',
          ],
        })
      }
      await unlink(path)
      return holder
    },
  }
}

/** The finding a plan carries when its engine's lock is host-local. */
export function hostLocalLockFinding(provider: LockProvider): Finding | undefined {
  if (!provider.hostLocal) return undefined
  return {
    code: 'LOCK_HOST_LOCAL',
    severity: 'warning',
    message: `the apply lock is a file on this host (${provider.where}): a run started on another machine would not see it`,
    hint: 'Apply this plan from one machine only, and check with the other operators that nobody else is applying to this cluster.',
  }
}

/**
 * Takes the cluster's lock through the engine's provider, or throws LOCK_HELD with the holder's
 * details (after waiting up to `timeoutMs`, with the --lock-timeout hint added).
 */
export async function takeClusterLock(provider: LockProvider, opts: TakeLockOptions): Promise<HeldLock> {
  const operator = currentOperator(opts.env)
  const info: LockInfo = {
    id: randomUUID(),
    operation: opts.operation,
    who: operator.who,
    created: new Date().toISOString(),
  }
  if (opts.plan !== undefined) info.plan = opts.plan
  const deadline = Date.now() + (opts.timeoutMs ?? 0)
  for (;;) {
    try {
      return await provider.acquire(info)
    } catch (err) {
      if (!(err instanceof LifeboatError && err.code === 'LOCK_HELD') || Date.now() >= deadline || opts.signal?.aborted)
        throw decorateHeld(err, opts)
    }
    await new Promise((r) => setTimeout(r, Math.min(1000, Math.max(50, deadline - Date.now()))))
  }
}

async function connectForLock(zk: ZookeeperLockTarget, env: Record<string, string | undefined>): Promise<ZkClient> {
  const auth =
    zk.auth && zk.auth.scheme === ZK_AUTH_SCHEME
      ? {scheme: 'digest' as const, credentials_env: zk.auth.credentials_env}
      : undefined
  return connectZk({hosts: zk.hosts, root: zk.root, auth, env, sessionTimeoutMs: LOCK_SESSION_TIMEOUT_MS})
}

/**
 * The lock's ACL where the spec uses digest auth: everything for the spec's digest identity, read
 * for anyone (so `lock status` shows who holds it); others cannot create, change or delete it.
 */
function lockAcl(zk: ZookeeperLockTarget, env: Record<string, string | undefined>): ZkAcl[] | undefined {
  if (!zk.auth || zk.auth.scheme !== ZK_AUTH_SCHEME) return undefined
  const credentials = credentialsFromEnv({scheme: 'digest', credentials_env: zk.auth.credentials_env}, env)
  return [
    {perms: ZK_PERMS.ALL, scheme: 'digest', id: digestId(credentials)},
    {perms: ZK_PERMS.READ, scheme: 'world', id: 'anyone'},
  ]
}

async function takeZkLock(
  zk: ZookeeperLockTarget,
  dir: string,
  clusterName: string,
  info: LockInfo,
  env: Record<string, string | undefined>,
): Promise<HeldLock> {
  const client = await connectForLock(zk, env)
  let expired = false
  const unsubscribe = client.onState((state) => {
    if (state === 'expired' || state === 'auth_failed') expired = true
  })
  try {
    await acquireLock(client, dir, info, lockAcl(zk, env))
  } catch (err) {
    unsubscribe()
    await client.close()
    throw err
  }
  let released = false
  // Watched: a lost lock aborts this signal at once, so apply stops the current step's writes.
  const lostController = new AbortController()
  const stopState = client.onState((state) => {
    if (!released && (state === 'expired' || state === 'auth_failed'))
      lostController.abort(new Error('the ZooKeeper session expired'))
  })
  const watchNode = (): void => {
    if (released || lostController.signal.aborted) return
    client
      .exists(lockPath(dir), {
        watch: (event) => {
          if (released) return
          if (event.type === 'deleted') lostController.abort(new Error('the lock node was removed'))
          else watchNode()
        },
      })
      .then(
        (stat) => {
          if (stat === null && !released) lostController.abort(new Error('the lock node is gone'))
        },
        () => undefined,
      )
  }
  watchNode()
  const lost = (why: string) =>
    new LifeboatError('LOCK_LOST', `the apply lock on ${clusterName} was lost: ${why}`, {
      detail: 'Nothing further was written to the cluster after the lock was lost.',
      hints: [
        'Another run may hold the lock now; check with `lifeboat lock status SPEC`, then continue with `lifeboat apply PLAN --resume`.',
      ],
    })
  return {
    info,
    kind: 'zookeeper',
    where: lockPath(dir),
    lost: lostController.signal,
    async assertHeld() {
      if (released) throw lost('it was released')
      if (lostController.signal.aborted)
        throw lost(String((lostController.signal.reason as Error | undefined)?.message ?? 'it was lost'))
      if (expired) throw lost('the ZooKeeper session expired')
      let holder
      try {
        holder = await readLock(client, dir)
      } catch (err) {
        throw lost(describeError(err))
      }
      if (holder === null) throw lost('the lock node is gone')
      if (holder.info.id !== info.id || holder.session !== client.sessionId)
        throw lost(`it is now held by ${holder.info.who} (ID ${holder.info.id})`)
    },
    async annotate(audit) {
      if (released || lostController.signal.aborted) return
      // Only our own node, at the version read: a lock taken over meanwhile is left alone.
      const holder = await readLock(client, dir)
      if (holder === null || holder.info.id !== info.id || holder.session !== client.sessionId) return
      await client.set(lockPath(dir), Buffer.from(JSON.stringify({...info, audit})), holder.stat.version)
    },
    async release() {
      if (released) return
      released = true
      unsubscribe()
      stopState()
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
  if (
    !(err instanceof LifeboatError) ||
    err.code !== 'LOCK_HELD' ||
    err.hints.some((h) => h.includes('--lock-timeout'))
  )
    return err
  const waited = opts.timeoutMs ? ` after waiting ${Math.round(opts.timeoutMs / 1000)} s` : ''
  return new LifeboatError('LOCK_HELD', `${err.message}${waited}`, {
    detail: err.detail,
    hints: [
      ...err.hints.map((h) => h.replace(/`lifeboat lock force-unlock (?!SPEC )/, '`lifeboat lock force-unlock SPEC ')),
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

async function readFileLock(path: string): Promise<FileLockState | null> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new LifeboatError('LOCK_UNREADABLE', `could not read the lock file ${path}: ${describeError(err)}`, {
      hints: ['Check the file permissions.'],
      cause: err,
    })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    // A lock file cut short by a crash during its creation: still a lock, with unknown details.
  }
  const {pid, host} = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Partial<FileLockContent>
  const state: FileLockState = {info: lockInfoOf(parsed), kind: 'file', where: path, text: ''}
  if (typeof pid === 'number') state.pid = pid
  if (typeof host === 'string') state.host = host
  if (state.pid !== undefined && state.host === currentOperator().host) state.alive = isAlive(state.pid)
  state.text = formatFileLock(state)
  if (state.pid !== undefined) state.details = {pid: state.pid, host: state.host ?? null, alive: state.alive ?? null}
  return state
}

function formatFileLock(state: FileLockState): string {
  if (state.pid === undefined) return formatLockBlock(state.info, state.where)
  const status = state.alive === undefined ? 'on another host' : state.alive ? 'running' : 'no longer running'
  return formatLockBlock(state.info, state.where, [
    ['Process', `PID ${state.pid} on ${state.host ?? '(unknown host)'} (${status})`],
  ])
}

function fileHeldError(state: FileLockState): LifeboatError {
  const dead = state.alive === false
  return new LifeboatError(
    'LOCK_HELD',
    `the cluster is locked by ${state.info.who} (${state.info.operation}, since ${state.info.created})`,
    {
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
    },
  )
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
    if (holder === null)
      throw new LifeboatError('LOCK_HELD', `the lock file ${path} changed hands while it was read`, {
        hints: ['Run the command again.'],
      })
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
    async annotate(audit) {
      if (released) return
      const holder = await readFileLock(path)
      if (holder === null || holder.info.id !== info.id) return
      // Written beside and renamed over: a reader never sees a half-written lock file.
      const next = `${path}.${process.pid}.tmp`
      await writeFile(next, `${JSON.stringify({...content, audit})}\n`, 'utf8')
      await rename(next, path)
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
async function withLockClient<T>(
  zk: ZookeeperLockTarget,
  env: Record<string, string | undefined>,
  fn: (client: ZkClient) => Promise<T>,
): Promise<T> {
  const client = await connectForLock(zk, env)
  try {
    return await fn(client)
  } finally {
    await client.close()
  }
}
