/**
 * The observed fingerprint of a PegasusMetaRecovery plan: what the stale check compares. Pure.
 */
import {createHash, type Hash} from 'node:crypto'

import {canonicalJson} from '../../../plan/canonical.js'
import {compareNatural} from '../../../plan/order.js'
import type {MetaRecoveryLive, MetaRecoveryNode} from './types.js'
import {PS_ERROR} from './planner-prediction.js'

/**
 * sha256 of every live fact apply depends on: where the meta runs (its ZooKeeper hosts and root)
 * and its level, what the prediction reads (node answers, app infos, each replica's gpid, ballot,
 * decrees and whether it is an error replica), never times or the statuses it ignores. Hashed incrementally: a canonical JSON string of 192,000 replicas would
 * cost more than the whole prediction.
 */
export function fingerprintOf(live: MetaRecoveryLive, nodes: string[]): string {
  const hash = createHash('sha256')
  hash.update(
    canonicalJson({
      // Where the meta runs and its level count as soon as the gather read them: a meta restarted
      // on another root would write the recovery there (absent in live states gathered before).
      meta: {
        recovering: live.meta.recovering,
        error: live.meta.error,
        ...(live.meta.zookeeper !== undefined ? {zookeeper: live.meta.zookeeper} : {}),
        ...(live.meta.level !== undefined ? {level: live.meta.level} : {}),
      },
      appsRoot: {
        path: live.appsRoot.path,
        exists: live.appsRoot.exists,
        data: live.appsRoot.data ?? null,
        children: live.appsRoot.children,
      },
      nodes,
    }),
  )
  const out = new HashWriter(hash)
  const feed = (tag: string, list: MetaRecoveryNode[]) => {
    // By address, so that the order the gather happened to record them in does not count.
    for (const n of [...list].sort((a, b) => compareNatural(a.address, b.address))) {
      out.text(`\n${tag} ${JSON.stringify([n.address, n.ip, n.ok, n.error ?? null])}\n`)
      for (const a of n.apps) {
        // Every app_info field in IDL order, as the JSON array of them (written piece by piece:
        // 66,000 reports at pegasus-scale); envs canonical (key order carries no meaning).
        out.byte(OPEN)
        const fields = [
          a.status,
          a.app_type,
          a.app_name,
          a.app_id,
          a.partition_count,
          a.is_stateful,
          a.max_replica_count,
          a.expire_second,
          a.create_second,
          a.drop_second,
          a.duplicating,
          a.init_partition_count,
          a.is_bulk_loading,
          a.atomic_idempotent,
        ]
        for (let i = 0; i < fields.length; i++) {
          if (i > 0) out.byte(COMMA)
          out.json(fields[i])
        }
        out.byte(CLOSE)
        if (isEmpty(a.envs)) out.text('{}')
        else out.text(canonicalJson(a.envs))
        out.byte(SEMICOLON)
      }
      // `${pid} ${ballot} ${last_committed_decree} ${last_prepared_decree} ${error ? 1 : 0};` per
      // replica, written into the buffer piece by piece: 192,000 template strings would be garbage.
      for (const r of n.replicas) {
        out.text(r.pid)
        out.byte(SPACE)
        out.value(r.ballot)
        out.byte(SPACE)
        out.value(r.last_committed_decree)
        out.byte(SPACE)
        out.value(r.last_prepared_decree)
        out.byte(SPACE)
        out.byte(r.status === PS_ERROR ? DIGIT_1 : DIGIT_0)
        out.byte(SEMICOLON)
      }
    }
  }
  feed('node', live.nodes)
  feed('outside', live.outsideNodes ?? [])
  out.flush()
  return hash.digest('hex')
}

/** Whether an envs map is missing or has no key. */
function isEmpty(envs: Record<string, string> | undefined): boolean {
  for (const _ in envs) return false
  return true
}

const SPACE = 0x20
const SEMICOLON = 0x3b
const COMMA = 0x2c
const OPEN = 0x5b
const CLOSE = 0x5d
const QUOTE = 0x22
const DIGIT_0 = 0x30
const DIGIT_1 = 0x31

/** A string JSON.stringify would not write as it is between quotes. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/** Bytes collected before they go into the hash. */
const HASH_CHUNK = 64 * 1024

/**
 * Feeds a hash the UTF-8 bytes of text and numbers through one buffer: the same bytes as
 * `hash.update(String(...))` for each piece, without making a string per piece.
 */
export class HashWriter {
  private readonly buf = Buffer.allocUnsafe(HASH_CHUNK)
  private at = 0

  constructor(private readonly hash: Hash) {}

  /** `s` as UTF-8 (a lone surrogate as U+FFFD, as hash.update(string) writes it). */
  text(s: string): void {
    if (s.length * 3 > HASH_CHUNK - this.at) {
      this.flush()
      if (s.length * 3 > HASH_CHUNK) {
        this.hash.update(s)
        return
      }
    }
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c >= 0x80) {
        this.at += this.buf.write(s.slice(i), this.at, 'utf8')
        return
      }
      this.buf[this.at++] = c
    }
  }

  /** One ASCII byte. */
  byte(b: number): void {
    if (this.at === HASH_CHUNK) this.flush()
    this.buf[this.at++] = b
  }

  /** `String(v)`: a safe integer written digit by digit, anything else through its string. */
  value(v: unknown): void {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || Object.is(v, -0)) {
      this.text(String(v))
      return
    }
    if (HASH_CHUNK - this.at < 17) this.flush()
    let n = v
    if (n < 0) {
      this.buf[this.at++] = 0x2d
      n = -n
    }
    if (n === 0) {
      this.buf[this.at++] = DIGIT_0
      return
    }
    let digits = 0
    for (let m = n; m > 0; m = Math.floor(m / 10)) digits++
    for (let i = this.at + digits - 1; i >= this.at; i--) {
      this.buf[i] = DIGIT_0 + (n % 10)
      n = Math.floor(n / 10)
    }
    this.at += digits
  }

  /**
   * What JSON.stringify writes for `v` as an array item (undefined as null): strings, booleans,
   * null and safe integers written here, anything else through JSON.stringify.
   */
  json(v: unknown): void {
    switch (typeof v) {
      case 'string':
        if (!NEEDS_ESCAPE.test(v)) {
          this.byte(QUOTE)
          this.text(v)
          this.byte(QUOTE)
        } else this.text(JSON.stringify(v))
        return
      case 'boolean':
        this.text(v ? 'true' : 'false')
        return
      case 'undefined':
        this.text('null')
        return
      case 'number':
        if (Number.isSafeInteger(v)) {
          this.value(v)
          return
        }
    }
    this.text(JSON.stringify(v) ?? 'null')
  }

  /** Hands what is collected to the hash. */
  flush(): void {
    if (this.at > 0) this.hash.update(this.buf.subarray(0, this.at))
    this.at = 0
  }
}
