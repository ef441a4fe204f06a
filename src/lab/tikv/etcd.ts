/**
 * The subset of etcd that PD embeds and that a lock needs, served through etcd's v3 JSON gateway
 * (grpc-gateway) on PD's client port: leases (grant, keepalive, revoke, expiry on real timers) and
 * keys (range, deleterange, txn with compares), each write bumping the store revision.
 *
 * Wire format as the gateway writes it: keys and values base64, int64/uint64 fields as decimal
 * strings, zero values omitted, enums by name (numbers accepted), errors
 * `{"error","code","message"}` with the gRPC code and its HTTP status.
 */
import {type JsonValue} from './json.js'

interface Kv {
  key: Buffer
  value: Buffer
  createRevision: bigint
  modRevision: bigint
  version: bigint
  lease: bigint
}

interface Lease {
  id: bigint
  ttl: number
  expires: number
  timer?: NodeJS.Timeout
  keys: Set<string>
}

/** An error as the gateway returns it. */
export class EtcdError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message)
  }

  get httpStatus(): number {
    return ({3: 400, 5: 404, 6: 409, 9: 400, 11: 400, 12: 501} as Record<number, number>)[this.grpcCode] ?? 500
  }

  body(): JsonValue {
    return {error: this.message, code: this.grpcCode, message: this.message}
  }
}

const LEASE_NOT_FOUND = 'etcdserver: requested lease not found'

type Obj = Record<string, unknown>

function b64(v: unknown, field: string): Buffer {
  if (v === undefined || v === null || v === '') return Buffer.alloc(0)
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v))
    throw new EtcdError(3, `bad Request: ${field}: illegal base64 data`)
  return Buffer.from(v, 'base64')
}

function int64(v: unknown, field: string): bigint {
  if (v === undefined || v === null || v === '') return 0n
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v)
  throw new EtcdError(3, `bad Request: ${field}: invalid integer ${JSON.stringify(v)}`)
}

function pick(o: Obj, snake: string, camel: string): unknown {
  return o[snake] ?? o[camel]
}

function enumValue(v: unknown, names: string[], field: string): number {
  if (v === undefined || v === null) return 0
  if (typeof v === 'number' && names[v] !== undefined) return v
  if (typeof v === 'string' && names.includes(v)) return names.indexOf(v)
  throw new EtcdError(3, `bad Request: ${field}: unknown value ${JSON.stringify(v)}`)
}

const TARGETS = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE']
const RESULTS = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL']

function omitZero(v: bigint): string | undefined {
  return v === 0n ? undefined : v.toString()
}

/** PD's embedded etcd, in memory: lost with the lab, kept across a simulated PD restart. */
export class EmbeddedEtcd {
  private revision = 1n
  private readonly kvs = new Map<string, Kv>()
  private readonly leases = new Map<bigint, Lease>()
  private nextLease: bigint
  raftTerm = 2n

  constructor(
    readonly clusterId: bigint,
    readonly memberId: bigint,
    private readonly now: () => number = Date.now,
  ) {
    this.nextLease = (memberId & 0xffffn) << 48n
  }

  header(): JsonValue {
    return {
      cluster_id: this.clusterId.toString(),
      member_id: this.memberId.toString(),
      revision: this.revision.toString(),
      raft_term: this.raftTerm.toString(),
    }
  }

  /** Handles `POST /v3/...`; throws EtcdError. */
  handle(path: string, body: unknown): JsonValue {
    const req = (body && typeof body === 'object' ? body : {}) as Obj
    switch (path) {
      case '/v3/lease/grant':
        return this.grant(req)
      case '/v3/lease/keepalive':
        return {result: this.keepAlive(req)}
      case '/v3/lease/revoke':
        return this.revoke(req)
      case '/v3/lease/timetolive':
        return this.timeToLive(req)
      case '/v3/kv/range':
        return this.range(req)
      case '/v3/kv/put':
        return this.put(req)
      case '/v3/kv/deleterange':
        return this.deleteRange(req)
      case '/v3/kv/txn':
        return this.txn(req)
      default:
        throw new EtcdError(12, `Not Implemented: ${path}`)
    }
  }

  private grant(req: Obj): JsonValue {
    const ttl = Number(int64(req.TTL, 'TTL'))
    let id = int64(req.ID, 'ID')
    if (id !== 0n && this.leases.has(id)) throw new EtcdError(9, 'etcdserver: lease already exists')
    if (id === 0n) {
      do this.nextLease += 1n
      while (this.leases.has(this.nextLease))
      id = this.nextLease
    }
    const lease: Lease = {id, ttl, expires: 0, keys: new Set()}
    this.leases.set(id, lease)
    this.refresh(lease)
    return {header: this.header(), ID: id.toString(), TTL: omitZero(BigInt(ttl))}
  }

  private refresh(lease: Lease): void {
    if (lease.timer) clearTimeout(lease.timer)
    lease.expires = this.now() + lease.ttl * 1000
    lease.timer = setTimeout(() => this.expire(lease.id), lease.ttl * 1000)
    lease.timer.unref()
  }

  private expire(id: bigint): void {
    const lease = this.leases.get(id)
    if (!lease) return
    if (lease.timer) clearTimeout(lease.timer)
    this.leases.delete(id)
    if (lease.keys.size > 0) {
      this.revision += 1n
      for (const k of lease.keys) this.kvs.delete(k)
    }
  }

  private keepAlive(req: Obj): JsonValue {
    const id = int64(req.ID, 'ID')
    const lease = this.leases.get(id)
    if (!lease) return {header: this.header(), ID: id.toString()}
    this.refresh(lease)
    return {header: this.header(), ID: id.toString(), TTL: omitZero(BigInt(lease.ttl))}
  }

  private revoke(req: Obj): JsonValue {
    const id = int64(req.ID, 'ID')
    if (!this.leases.has(id)) throw new EtcdError(5, LEASE_NOT_FOUND)
    this.expire(id)
    return {header: this.header()}
  }

  private timeToLive(req: Obj): JsonValue {
    const id = int64(req.ID, 'ID')
    const lease = this.leases.get(id)
    if (!lease) return {header: this.header(), ID: id.toString(), TTL: '-1'}
    const left = Math.max(0, Math.ceil((lease.expires - this.now()) / 1000))
    const keys =
      pick(req, 'keys', 'keys') === true
        ? [...lease.keys].map((k) => Buffer.from(k, 'hex').toString('base64'))
        : undefined
    return {
      header: this.header(),
      ID: id.toString(),
      TTL: omitZero(BigInt(left)),
      grantedTTL: omitZero(BigInt(lease.ttl)),
      keys,
    }
  }

  /** The keys in [key, range_end) as etcd selects them (range_end "\0" = every key >= key; empty = just key). */
  private select(req: Obj): Kv[] {
    const key = b64(req.key, 'key')
    const end = b64(pick(req, 'range_end', 'rangeEnd'), 'range_end')
    if (end.length === 0) {
      const kv = this.kvs.get(key.toString('hex'))
      return kv ? [kv] : []
    }
    const all = end.length === 1 && end[0] === 0
    return [...this.kvs.values()]
      .filter((kv) => Buffer.compare(kv.key, key) >= 0 && (all || Buffer.compare(kv.key, end) < 0))
      .sort((a, b) => Buffer.compare(a.key, b.key))
  }

  private kvJson(kv: Kv, keysOnly = false): JsonValue {
    return {
      key: kv.key.toString('base64'),
      create_revision: omitZero(kv.createRevision),
      mod_revision: omitZero(kv.modRevision),
      version: omitZero(kv.version),
      value: keysOnly || kv.value.length === 0 ? undefined : kv.value.toString('base64'),
      lease: omitZero(kv.lease),
    }
  }

  private range(req: Obj): JsonValue {
    const found = this.select(req)
    const limit = Number(int64(req.limit, 'limit'))
    const countOnly = pick(req, 'count_only', 'countOnly') === true
    const keysOnly = pick(req, 'keys_only', 'keysOnly') === true
    const page = limit > 0 ? found.slice(0, limit) : found
    return {
      header: this.header(),
      kvs: countOnly || page.length === 0 ? undefined : page.map((kv) => this.kvJson(kv, keysOnly)),
      more: page.length < found.length ? true : undefined,
      count: omitZero(BigInt(found.length)),
    }
  }

  private checkPut(req: Obj): void {
    const lease = int64(req.lease, 'lease')
    if (lease !== 0n && !this.leases.has(lease)) throw new EtcdError(5, LEASE_NOT_FOUND)
    if (b64(req.key, 'key').length === 0) throw new EtcdError(3, 'etcdserver: key is not provided')
  }

  private applyPut(req: Obj): JsonValue {
    const key = b64(req.key, 'key')
    const value = b64(req.value, 'value')
    const lease = int64(req.lease, 'lease')
    const hex = key.toString('hex')
    const old = this.kvs.get(hex)
    if (old && old.lease !== 0n) this.leases.get(old.lease)?.keys.delete(hex)
    this.kvs.set(hex, {
      key,
      value,
      lease,
      createRevision: old ? old.createRevision : this.revision,
      modRevision: this.revision,
      version: old ? old.version + 1n : 1n,
    })
    if (lease !== 0n) this.leases.get(lease)?.keys.add(hex)
    const prev = pick(req, 'prev_kv', 'prevKv') === true && old ? this.kvJson(old) : undefined
    return {header: this.header(), prev_kv: prev}
  }

  private put(req: Obj): JsonValue {
    this.checkPut(req)
    this.revision += 1n
    return this.applyPut(req)
  }

  private applyDelete(req: Obj): JsonValue {
    const found = this.select(req)
    for (const kv of found) {
      const hex = kv.key.toString('hex')
      this.kvs.delete(hex)
      if (kv.lease !== 0n) this.leases.get(kv.lease)?.keys.delete(hex)
    }
    const prev =
      pick(req, 'prev_kv', 'prevKv') === true && found.length > 0 ? found.map((kv) => this.kvJson(kv)) : undefined
    return {header: this.header(), deleted: omitZero(BigInt(found.length)), prev_kvs: prev}
  }

  private deleteRange(req: Obj): JsonValue {
    if (this.select(req).length > 0) this.revision += 1n
    return this.applyDelete(req)
  }

  private compare(c: Obj): boolean {
    const target = enumValue(c.target, TARGETS, 'target')
    const result = enumValue(c.result, RESULTS, 'result')
    const kvs = this.select(c)
    // etcd compares every key in the range; a missing key compares as zero values.
    const subjects: (Kv | undefined)[] = kvs.length > 0 ? kvs : [undefined]
    return subjects.every((kv) => {
      let cmp: number
      if (target === 3) {
        if (!kv) return false
        cmp = Buffer.compare(kv.value, b64(c.value, 'value'))
      } else {
        const have = kv ? [kv.version, kv.createRevision, kv.modRevision, 0n, kv.lease][target] : 0n
        const field = ['version', 'create_revision', 'mod_revision', 'value', 'lease'][target]
        const camel = ['version', 'createRevision', 'modRevision', 'value', 'lease'][target]
        const want = int64(pick(c, field, camel), field)
        cmp = have < want ? -1 : have > want ? 1 : 0
      }
      return [cmp === 0, cmp > 0, cmp < 0, cmp !== 0][result]
    })
  }

  private txn(req: Obj): JsonValue {
    const compares = (Array.isArray(req.compare) ? req.compare : []) as Obj[]
    const ok = compares.every((c) => this.compare(c))
    const ops = ((ok ? req.success : req.failure) ?? []) as Obj[]
    if (!Array.isArray(ops)) throw new EtcdError(3, 'bad Request: success/failure must be lists')
    // Validate every op before applying any (a txn is atomic), then bump the revision once.
    let writes = false
    for (const op of ops) {
      const put = pick(op, 'request_put', 'requestPut') as Obj | undefined
      if (put) {
        this.checkPut(put)
        writes = true
      }
      const del = pick(op, 'request_delete_range', 'requestDeleteRange') as Obj | undefined
      if (del && this.select(del).length > 0) writes = true
    }
    if (writes) this.revision += 1n
    const responses: JsonValue[] = ops.map((op) => {
      const put = pick(op, 'request_put', 'requestPut') as Obj | undefined
      if (put) return {response_put: this.applyPut(put)}
      const del = pick(op, 'request_delete_range', 'requestDeleteRange') as Obj | undefined
      if (del) return {response_delete_range: this.applyDelete(del)}
      const range = pick(op, 'request_range', 'requestRange') as Obj | undefined
      if (range) return {response_range: this.range(range)}
      throw new EtcdError(3, 'bad Request: a txn operation needs request_put, request_range or request_delete_range')
    })
    return {
      header: this.header(),
      succeeded: ok ? true : undefined,
      responses: responses.length > 0 ? responses : undefined,
    }
  }

  /** What a PD leader change does to leases in etcd: every lease gets its full TTL again. */
  promote(): void {
    this.raftTerm += 1n
    for (const lease of this.leases.values()) this.refresh(lease)
  }

  /** Stops every lease timer (the lab is going down). */
  close(): void {
    for (const lease of this.leases.values()) if (lease.timer) clearTimeout(lease.timer)
  }

  /** For `lab status`. */
  stats(): {keys: number; leases: number; revision: string} {
    return {keys: this.kvs.size, leases: this.leases.size, revision: this.revision.toString()}
  }

  /** Lease keys' hex, to dump. */
  keys(): string[] {
    return [...this.kvs.values()].map((kv) => kv.key.toString()).sort()
  }
}
