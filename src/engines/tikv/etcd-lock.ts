/**
 * The TiKV apply lock: a lease-bound key in PD's embedded etcd, through etcd's v3 JSON gateway on
 * PD's client port (DESIGN.md section 5). PD serves that gateway itself, so every operator who can
 * reach PD sees the same lock.
 *
 * - acquire: grant a lease (`/v3/lease/grant`), then one transaction (`/v3/kv/txn`) that puts the
 *   key with the lease only if the key does not exist (`create_revision == 0`), and otherwise
 *   reads the holder's record. A held lock fails with LOCK_HELD and the holder's details.
 * - while held: the lease is kept alive (`/v3/lease/keepalive`) every third of its TTL; if the
 *   process dies, the lease expires and etcd deletes the key by itself.
 * - assertHeld: the key still exists, holds our id, and sits on our lease.
 * - release: revoke our lease (`/v3/lease/revoke`), which deletes exactly the keys bound to it and
 *   so never another holder's lock.
 * - force-unlock: delete the key (`/v3/kv/deleterange`) when it holds the named id.
 * - readValue/writeValue: small values kept beside the locks, under `/lifeboat/<name>/<cluster>`
 *   (the cluster's minimum approval policy is `/lifeboat/policy/<cluster>`), put without a lease so
 *   that they outlive every run.
 *
 * Keys and values are base64 as the gateway wants them; lease ids are int64 and travel as strings.
 */
import {LifeboatError} from '../../errors.js'
import {formatLockBlock, lockInfoOf} from '../../zk/lock.js'
import type {HeldLock, LockInfo, LockProvider, LockState} from '../types.js'
import {idText, replyMessage, type PdClient} from './pd-client.js'

/** Lease TTL of the lock: how long a lock outlives a killed apply. */
export const LOCK_TTL_SECONDS = 30

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {})
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64')
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '')

/** The etcd key of a cluster's lock. */
export function etcdLockKey(clusterName: string): string {
  if (clusterName === '' || clusterName.includes('/')) {
    throw new LifeboatError('SPEC_INVALID', `cluster name "${clusterName}" cannot name a lock key`, {
      hints: ['Use a cluster name without "/".'],
    })
  }
  return `/lifeboat/locks/${clusterName}`
}

/** The etcd key of a value kept beside the lock (`lifeboat policy set` keeps `policy`). */
export function etcdValueKey(clusterName: string, name: string): string {
  etcdLockKey(clusterName)
  if (!/^[a-z][a-z0-9-]*$/.test(name))
    throw new LifeboatError('SPEC_INVALID', `"${name}" cannot name a value kept in PD's etcd`, {
      hints: ['Value names are lower-case words such as `policy`.'],
    })
  return `/lifeboat/${name}/${clusterName}`
}

interface StoredLock {
  info: LockInfo
  lease: string
}

function stateOf(stored: StoredLock, key: string): LockState {
  const lease =
    stored.lease === '' || stored.lease === '0' ? '(none)' : `${stored.lease} (0x${BigInt(stored.lease).toString(16)})`
  return {
    info: stored.info,
    kind: 'etcd',
    where: key,
    text: formatLockBlock(stored.info, `etcd ${key}`, [['Lease', lease]]),
  }
}

function parseStored(kv: Json): StoredLock {
  let parsed: unknown
  try {
    parsed = JSON.parse(unb64(kv.value))
  } catch {
    parsed = undefined
  }
  return {info: lockInfoOf(parsed), lease: idText(kv.lease) || '0'}
}

/** The PD-etcd lock provider of one cluster. Creating it does no I/O. */
export function pdEtcdLock(pd: PdClient, clusterName: string, opts: {ttlSeconds?: number} = {}): LockProvider {
  const key = etcdLockKey(clusterName)
  const ttl = opts.ttlSeconds ?? LOCK_TTL_SECONDS

  const call = async (path: string, body: unknown): Promise<Json> => {
    const reply = await pd.request('POST', path, body)
    if (reply.status < 200 || reply.status > 299) {
      throw new LifeboatError(
        'TIKV_LOCK_ERROR',
        `PD's etcd gateway ${pd.endpoint} answered POST ${path} with HTTP ${reply.status}: ${replyMessage(reply).slice(0, 300)}`,
        {
          hints: [
            "The TiKV lock lives in PD's etcd (its v3 JSON gateway on the PD client port); check that PD serves /v3/ on that port.",
          ],
        },
      )
    }
    return obj(reply.json())
  }

  const read = async (): Promise<StoredLock | null> => {
    const kvs = (obj(await call('/v3/kv/range', {key: b64(key)})).kvs ?? []) as unknown[]
    return kvs.length === 0 ? null : parseStored(obj(kvs[0]))
  }

  return {
    kind: 'etcd',
    where: `etcd ${key}`,

    async acquire(info: LockInfo): Promise<HeldLock> {
      const lease = idText((await call('/v3/lease/grant', {TTL: ttl})).ID)
      if (lease === '' || lease === '0')
        throw new LifeboatError('TIKV_LOCK_ERROR', `PD's etcd granted no lease for the lock ${key}`, {
          hints: ["Check PD's health: `pd-ctl health`."],
        })
      const value = JSON.stringify({...info, lease})
      const txn = await call('/v3/kv/txn', {
        compare: [{key: b64(key), result: 'EQUAL', target: 'CREATE', create_revision: '0'}],
        success: [{request_put: {key: b64(key), value: b64(value), lease}}],
        failure: [{request_range: {key: b64(key)}}],
      })
      if (txn.succeeded !== true) {
        await call('/v3/lease/revoke', {ID: lease}).catch(() => undefined)
        const kvs = (obj(obj((txn.responses as unknown[] | undefined)?.[0]).response_range).kvs ?? []) as unknown[]
        const holder = kvs.length > 0 ? stateOf(parseStored(obj(kvs[0])), key) : undefined
        throw new LifeboatError(
          'LOCK_HELD',
          `the apply lock of ${clusterName} is held${holder ? ` by ${holder.info.who} (ID ${holder.info.id})` : ''}`,
          {
            detail: holder?.text,
            hints: [
              'Wait for that run to finish, or retry with --lock-timeout.',
              'Only when sure no run is active (its process is gone; the lease also expires by itself within ' +
                `${ttl} s): \`lifeboat lock force-unlock SPEC ID\`.`,
            ],
          },
        )
      }
      return heldLock(info, lease)
    },

    async read(): Promise<LockState | null> {
      const stored = await read()
      return stored === null ? null : stateOf(stored, key)
    },

    async forceUnlock(id: string): Promise<LockState> {
      const stored = await read()
      if (stored === null)
        throw new LifeboatError('LOCK_NOT_HELD', `no lock is held at etcd ${key}`, {
          hints: ['Nothing to unlock; `lifeboat lock status SPEC` shows the lock.'],
        })
      const state = stateOf(stored, key)
      if (stored.info.id !== id) {
        throw new LifeboatError('LOCK_ID_MISMATCH', `lock id ${id} does not match the holder's id ${stored.info.id}`, {
          detail: state.text,
          hints: [
            'Check the ID with `lifeboat lock status SPEC`; force-unlock only removes the lock whose ID you name.',
          ],
        })
      }
      await call('/v3/kv/deleterange', {key: b64(key)})
      if (stored.lease !== '0') await call('/v3/lease/revoke', {ID: stored.lease}).catch(() => undefined)
      return state
    },

    async readValue(name: string): Promise<string | null> {
      const kvs = (obj(await call('/v3/kv/range', {key: b64(etcdValueKey(clusterName, name))})).kvs ?? []) as unknown[]
      return kvs.length === 0 ? null : unb64(obj(kvs[0]).value)
    },

    async writeValue(name: string, value: string): Promise<void> {
      // No lease: the value stays until it is set again.
      await call('/v3/kv/put', {key: b64(etcdValueKey(clusterName, name)), value: b64(value)})
    },
  }

  function heldLock(info: LockInfo, lease: string): HeldLock {
    let lost: string | undefined
    let released = false
    const keepAlive = async (): Promise<void> => {
      try {
        const res = await call('/v3/lease/keepalive', {ID: lease})
        const result = obj(res.result ?? res)
        if (Number(idText(result.TTL) || '0') <= 0) lost = `its lease ${lease} expired`
      } catch (err) {
        // One missed keep-alive is not a lost lock; assertHeld reads the key itself.
        if (err instanceof LifeboatError && err.code === 'TIKV_LOCK_ERROR') lost = err.message
      }
    }
    const timer = setInterval(() => void keepAlive(), Math.max(1000, (ttl * 1000) / 3))
    timer.unref()
    return {
      info,
      kind: 'etcd',
      where: `etcd ${key}`,
      async assertHeld(): Promise<void> {
        if (released)
          throw new LifeboatError('LOCK_LOST', `the apply lock at etcd ${key} was released`, {
            hints: ['Take the lock again with a new apply.'],
          })
        await keepAlive()
        const stored = await read()
        const why =
          lost ??
          (stored === null
            ? 'the key is gone (lease expired or force-unlocked)'
            : stored.info.id !== info.id
              ? `it is now held by ${stored.info.who} (ID ${stored.info.id})`
              : stored.lease !== lease
                ? 'it sits on another lease'
                : undefined)
        if (why !== undefined) {
          throw new LifeboatError('LOCK_LOST', `the apply lock at etcd ${key} was lost: ${why}`, {
            ...(stored && stored.info.id !== info.id ? {detail: stateOf(stored, key).text} : {}),
            hints: [
              'Another run may hold the lock now; check with `lifeboat lock status SPEC`, then continue with `lifeboat apply PLAN --resume`.',
            ],
          })
        }
      },
      async annotate(audit): Promise<void> {
        if (released) return
        // Put only while the key still sits on our lease: a lock taken over meanwhile is left alone.
        await call('/v3/kv/txn', {
          compare: [{key: b64(key), result: 'EQUAL', target: 'LEASE', lease}],
          success: [{request_put: {key: b64(key), value: b64(JSON.stringify({...info, audit, lease})), lease}}],
        })
      },
      async release(): Promise<void> {
        if (released) return
        released = true
        clearInterval(timer)
        // Revoking our lease deletes exactly the keys bound to it: never another holder's lock.
        await call('/v3/lease/revoke', {ID: lease}).catch(() => undefined)
      },
    }
  }
}
