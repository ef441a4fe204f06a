/**
 * The apply lock: one ephemeral znode per cluster, holding who holds it and why.
 *
 * Scheme: `lockDir` is the cluster's persistent lock directory, by convention
 * `/lifeboat/locks/<cluster name>` (see lockDirFor). The lock is its single ephemeral child
 * `<lockDir>/lock`, whose data is the JSON LockInfo. Creating that node is the acquisition; it
 * vanishes by itself when the holder's session ends (closed, crashed, expired), so a crashed apply
 * never leaves a stale lock behind for longer than the session timeout.
 */
import {LifeboatError} from '../errors.js'
import type {ZkAcl, ZkClient, ZkStat} from './client.js'
import {isZkError} from './errors.js'

/** What the lock node holds. */
export interface LockInfo {
  /** A unique id for this hold; `lifeboat lock force-unlock ID` names it. */
  id: string
  /** What the holder is doing, e.g. `apply`. */
  operation: string
  /** user@host of the holder. */
  who: string
  /** ISO time the lock was taken. */
  created: string
  /** The plan being applied (its file or sha256), when there is one. */
  plan?: string
  /** The holder's audit log as last anchored (issue 19): a copy of the cluster's audit anchor in the lock record. */
  audit?: LockAuditAnchor
}

/** An audit log's anchor as kept in a lock record: which log (its first record's hash), its count and head. */
export interface LockAuditAnchor {
  log: string
  records: number
  head: string
}

/** A held lock as read from ZooKeeper. */
export interface LockHolder {
  info: LockInfo
  /** The znode that is the lock. */
  path: string
  /** The session that holds it (the node's ephemeralOwner). */
  session: bigint
  stat: ZkStat
}

/** The lock directory of a cluster: `/lifeboat/locks/<name>`. */
export function lockDirFor(clusterName: string, base = '/lifeboat/locks'): string {
  if (clusterName === '' || clusterName.includes('/')) {
    throw new LifeboatError('LOCK_BAD_NAME', `cluster name "${clusterName}" cannot name a lock node`, {
      hints: ['Use a cluster name without "/" in the spec (cluster.name).'],
    })
  }
  return `${base}/${clusterName}`
}

/** The lock node inside a lock directory. */
export function lockPath(lockDir: string): string {
  return `${lockDir}/lock`
}

/**
 * A lock's details as a Terraform-style "Lock Info:" block: its info, where it is, and `extra`
 * rows (the holding session or process). Shared with the lock files of apply/lock.ts.
 */
export function formatLockBlock(info: LockInfo, where: string, extra: Array<[string, string]> = []): string {
  const rows: Array<[string, string]> = [
    ['ID', info.id],
    ['Path', where],
    ['Operation', info.operation],
    ['Who', info.who],
    ['Created', info.created],
  ]
  if (info.plan !== undefined) rows.push(['Plan', info.plan])
  if (info.audit !== undefined) rows.push(['Audit', `${info.audit.records} records, head ${info.audit.head}`])
  rows.push(...extra)
  return ['Lock Info:', ...rows.map(([k, v]) => `  ${`${k}:`.padEnd(11)}${v}`)].join('\n')
}

/** The holder's details as a Terraform-style "Lock Info:" block. */
export function formatLockInfo(holder: LockHolder): string {
  return formatLockBlock(holder.info, holder.path, [['Session', `0x${holder.session.toString(16)}`]])
}

/**
 * The LockInfo in a parsed lock document (a lock node's data or a lock file); what is missing or
 * not a string reads `(unknown)`, so a lock cut short by a crash is still a lock.
 */
export function lockInfoOf(parsed: unknown): LockInfo {
  const o = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>
  const str = (v: unknown): string => (typeof v === 'string' ? v : '(unknown)')
  const info: LockInfo = {id: str(o.id), operation: str(o.operation), who: str(o.who), created: str(o.created)}
  if (typeof o.plan === 'string') info.plan = o.plan
  const a = (typeof o.audit === 'object' && o.audit !== null ? o.audit : {}) as Record<string, unknown>
  if (typeof a.log === 'string' && typeof a.head === 'string' && Number.isInteger(a.records))
    info.audit = {log: a.log, records: a.records as number, head: a.head}
  return info
}

function parseInfo(data: Buffer): LockInfo {
  try {
    return lockInfoOf(JSON.parse(data.toString('utf8')))
  } catch {
    return lockInfoOf(undefined)
  }
}

/** Who holds the lock, or null when nobody does. For `lifeboat lock status`. */
export async function readLock(client: ZkClient, lockDir: string): Promise<LockHolder | null> {
  const path = lockPath(lockDir)
  try {
    const {data, stat} = await client.get(path)
    return {info: parseInfo(data), path, session: stat.ephemeralOwner, stat}
  } catch (err) {
    if (isZkError(err, 'ZK_NO_NODE')) return null
    throw err
  }
}

function heldError(holder: LockHolder): LifeboatError {
  return new LifeboatError(
    'LOCK_HELD',
    `the cluster is locked by ${holder.info.who} (${holder.info.operation}, since ${holder.info.created})`,
    {
      detail: formatLockInfo(holder),
      hints: [
        'Wait for that run to finish; the lock goes away by itself when its session ends.',
        `If you are sure no lifeboat run is active, \`lifeboat lock force-unlock ${holder.info.id}\` removes it. This is dangerous: a run that is still active would keep writing to the cluster alongside yours.`,
      ],
    },
  )
}

/**
 * Takes the lock: creates the ephemeral `<lockDir>/lock` holding `info`. Throws LOCK_HELD with the
 * holder's details when someone holds it. The lock lives as long as `client`'s session: do not
 * close that client while the work it protects runs. `acl`: the ACL of the lock node and of the
 * directories this creates (the spec's digest identity where it uses digest auth); default open.
 */
export async function acquireLock(
  client: ZkClient,
  lockDir: string,
  info: LockInfo,
  acl?: ZkAcl[],
): Promise<LockHolder> {
  const path = lockPath(lockDir)
  if (acl) {
    // The lock's own directory carries the ACL too: deleting the lock needs DELETE on it.
    await client.mkdirp(lockDir.slice(0, lockDir.lastIndexOf('/')) || '/')
    try {
      await client.create(lockDir, null, {acl})
    } catch (err) {
      if (!isZkError(err, 'ZK_NODE_EXISTS')) throw err
    }
  } else {
    await client.mkdirp(lockDir)
  }
  const data = Buffer.from(JSON.stringify(info))
  // A holder can vanish between our failed create and our read; try again a few times then.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await client.create(path, data, {mode: 'ephemeral', ...(acl ? {acl} : {})})
      const mine = await readLock(client, lockDir)
      if (mine === null || mine.info.id !== info.id)
        throw new LifeboatError('LOCK_LOST', `the lock at ${path} disappeared right after it was taken`, {
          hints: ['Run the command again.'],
        })
      return mine
    } catch (err) {
      if (!isZkError(err, 'ZK_NODE_EXISTS')) throw err
    }
    const holder = await readLock(client, lockDir)
    if (holder !== null) throw heldError(holder)
  }
  throw new LifeboatError('LOCK_CONTENDED', `the lock at ${path} keeps changing hands`, {
    hints: ['Another lifeboat run is starting at the same time; wait for it and try again.'],
  })
}

/**
 * Releases the lock this run holds. Returns false (and changes nothing) when the lock is not held
 * or is held under another id: it never removes somebody else's lock.
 */
export async function releaseLock(client: ZkClient, lockDir: string, id: string): Promise<boolean> {
  const holder = await readLock(client, lockDir)
  if (holder === null || holder.info.id !== id) return false
  try {
    await client.remove(holder.path, holder.stat.version)
    return true
  } catch (err) {
    if (isZkError(err, 'ZK_NO_NODE', 'ZK_BAD_VERSION')) return false
    throw err
  }
}

/**
 * Removes a lock held by another session, for `lifeboat lock force-unlock ID`. Refuses unless `id`
 * names the current holder, so a typo or a lock taken meanwhile by another run is never removed.
 * Returns the holder that was removed.
 */
export async function forceUnlock(client: ZkClient, lockDir: string, id: string): Promise<LockHolder> {
  const holder = await readLock(client, lockDir)
  if (holder === null) {
    throw new LifeboatError('LOCK_NOT_HELD', `no lock is held at ${lockPath(lockDir)}`, {
      hints: ['Nothing to unlock; `lifeboat lock status SPEC` shows the lock.'],
    })
  }
  if (holder.info.id !== id) {
    throw new LifeboatError('LOCK_ID_MISMATCH', `lock id ${id} does not match the holder's id ${holder.info.id}`, {
      detail: formatLockInfo(holder),
      hints: ['Check the ID with `lifeboat lock status SPEC`; force-unlock only removes the lock whose ID you name.'],
    })
  }
  try {
    await client.remove(holder.path, holder.stat.version)
  } catch (err) {
    if (isZkError(err, 'ZK_NO_NODE', 'ZK_BAD_VERSION')) {
      throw new LifeboatError('LOCK_CHANGED', `the lock at ${holder.path} changed while it was being removed`, {
        hints: ['Run `lifeboat lock status SPEC` and try again.'],
        cause: err,
      })
    }
    throw err
  }
  return holder
}
