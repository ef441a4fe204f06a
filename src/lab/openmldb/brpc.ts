/**
 * brpc's HTTP+JSON face, as OpenMLDB's servers show it: `POST /<Service>/<Method>` (or the full
 * `/<package>.<Service>/<Method>`), an `Authorization` header required because OpenMLDB sets an
 * authenticator, the body converted by json2pb (required fields checked, enums by name or number),
 * and the reply written by pb2json (enums by name, unset fields and empty repeated fields left out,
 * uint64 as plain digits). Transport failures are brpc's: HTTP 403/404/400 with a text body;
 * application errors are HTTP 200 with `code`/`msg`.
 *
 * Also the client the nameserver's tasks, `lab up` and `lab verify` use to call these servers.
 */
import http from 'node:http'
import type {AddressInfo} from 'node:net'

import protobuf from 'protobufjs'

import {parseJson, stringifyJson} from '../../http/json.js'
import {protoType} from './proto.js'

// brpc's errno.proto.
const ENOMETHOD = 1002
const EREQUEST = 1003
const ERPCAUTH = 1004

/** A method: its request type (full protobuf name) and its handler. */
export interface BrpcMethod {
  request: string
  handle(req: Record<string, unknown>): Promise<Record<string, unknown>> | Record<string, unknown>
}

/** A service: short name (`NameServer`), full name (`openmldb.nameserver.NameServer`), methods. */
export interface BrpcService {
  name: string
  fullName: string
  methods: Record<string, BrpcMethod>
}

/** A brpc-like HTTP server on 127.0.0.1. */
export class BrpcServer {
  private readonly server: http.Server
  private readonly byName = new Map<string, BrpcService>()
  private readonly sockets = new Set<import('node:net').Socket>()
  /** While paused: the requests read and not answered, each waiting for resume(). */
  private held?: (() => void)[]

  constructor(services: BrpcService[]) {
    for (const s of services) {
      this.byName.set(s.name, s)
      this.byName.set(s.fullName, s)
    }
    this.server = http.createServer((req, res) => void this.serve(req, res))
    this.server.keepAliveTimeout = 30_000
    this.server.on('connection', (socket) => {
      this.sockets.add(socket)
      socket.on('close', () => this.sockets.delete(socket))
    })
  }

  /** Listens on 127.0.0.1:`port` (0: any free port); returns the port. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject)
        resolve((this.server.address() as AddressInfo).port)
      })
    })
  }

  /**
   * A wedged server: connections are still accepted and requests read, but none is answered
   * until resume() (a brpc server whose worker threads are all stuck, or a stopped process).
   */
  pause(): void {
    this.held ??= []
  }

  /** Answers the requests held while paused, in arrival order, and serves again. */
  resume(): void {
    const held = this.held ?? []
    this.held = undefined
    for (const go of held) go()
  }

  /** Stops listening and drops every connection (held requests included), as a killed process would. */
  close(): Promise<void> {
    this.held = undefined
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    const body = Buffer.concat(chunks).toString('utf8')
    const held = this.held
    // Handled after resume() even when the caller gave up meanwhile, as a server that wakes up does.
    if (held) await new Promise<void>((go) => held.push(go))
    const path = (req.url ?? '/').split('?')[0]
    if (req.headers.authorization === undefined) {
      // brpc's SendUnauthorizedResponse: 403 and "[<ERPCAUTH>]Fail to authenticate", no "E".
      return send(res, 403, 'text/plain', `[${ERPCAUTH}]Fail to authenticate`)
    }
    const parts = path.split('/').filter((p) => p !== '')
    const service = parts.length === 2 ? this.byName.get(parts[0]) : undefined
    const method = service?.methods[parts[1]]
    if (!service || !method) return send(res, 404, 'text/plain', `[E${ENOMETHOD}]Fail to find method on \`${path}'`)
    const parsed = parseRequest(method.request, body)
    if ('error' in parsed) return send(res, 400, 'text/plain', `[E${EREQUEST}]${parsed.error}`)
    let reply: Record<string, unknown>
    try {
      reply = await method.handle(parsed.value)
    } catch (err) {
      return send(res, 500, 'text/plain', `[E2001]${err instanceof Error ? err.message : String(err)}`)
    }
    send(res, 200, 'application/json', stringifyJson(pruneReply(reply)))
  }
}

function send(res: http.ServerResponse, status: number, type: string, text: string): void {
  if (res.destroyed) return
  res.writeHead(status, {'Content-Type': type, 'Content-Length': Buffer.byteLength(text)})
  res.end(text)
}

/** pb2json's shape: undefined members and empty arrays left out, recursively. */
export function pruneReply(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(pruneReply)
  if (v && typeof v === 'object' && typeof (v as {toJSON?: unknown}).toJSON !== 'function') {
    const out: Record<string, unknown> = {}
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined || (Array.isArray(x) && x.length === 0)) continue
      out[k] = pruneReply(x)
    }
    return out
  }
  return v
}

/** True when `t` has a required field (what protobuf's IsInitialized fails on for an empty message). */
function hasRequired(t: protobuf.Type): boolean {
  return t.fieldsArray.some((f) => f.required)
}

/** json2pb: the body as the request message (plain object, enums as names), or brpc's error text. */
export function parseRequest(typeName: string, body: string): {value: Record<string, unknown>} | {error: string} {
  const t = protoType(typeName)
  if (body.trim() === '') {
    if (hasRequired(t)) return {error: `${typeName} needs to be created from a non-empty json, it has required fields.`}
    return {value: {}}
  }
  let json: unknown
  try {
    json = parseJson(body)
  } catch {
    return {error: `Fail to parse http json body as ${typeName}: Invalid json: Invalid value.`}
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) {
    return {error: `Fail to parse http json body as ${typeName}: The input is not a json object [${t.name}]`}
  }
  const errors: string[] = []
  const value = convertMessage(t, json as Record<string, unknown>, errors)
  if (value === undefined) return {error: `Fail to parse http json body as ${typeName}: ${errors.join(', ')}`}
  return {value}
}

const INT_TYPES = new Set([
  'int32',
  'uint32',
  'sint32',
  'fixed32',
  'sfixed32',
  'int64',
  'uint64',
  'sint64',
  'fixed64',
  'sfixed64',
])
const UNSIGNED = new Set(['uint32', 'fixed32', 'uint64', 'fixed64'])

function fullFieldName(f: protobuf.Field): string {
  return `${(f.parent as protobuf.Type).fullName.replace(/^\./, '')}.${f.name}`
}

function convertMessage(
  t: protobuf.Type,
  json: Record<string, unknown>,
  errors: string[],
): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {}
  for (const f of t.fieldsArray) {
    const raw = json[f.name]
    if (raw === undefined || raw === null) {
      if (f.required) {
        errors.push(`Missing required field: ${fullFieldName(f)}`)
        return undefined
      }
      continue
    }
    if (f.repeated) {
      const items = Array.isArray(raw) ? raw : undefined
      if (!items) {
        errors.push(`Invalid value for repeated field: ${fullFieldName(f)}`)
        return undefined
      }
      const vals: unknown[] = []
      for (const item of items) {
        const v = convertScalar(f, item, errors)
        if (v === INVALID) return undefined
        vals.push(v)
      }
      out[f.name] = vals
      continue
    }
    const v = convertScalar(f, raw, errors)
    if (v === INVALID) {
      if (f.required) return undefined
      continue // json2pb notes the error and leaves an optional field unset
    }
    out[f.name] = v
  }
  return out
}

const INVALID = Symbol('invalid')

function convertScalar(f: protobuf.Field, v: unknown, errors: string[]): unknown {
  const bad = (should: string): typeof INVALID => {
    const shown = typeof v === 'string' ? v : stringifyJson(v)
    errors.push(
      `Invalid value \`${shown}' for ${!f.required && !f.repeated ? 'optional ' : ''}field \`${fullFieldName(f)}' which SHOULD be ${should}`,
    )
    return INVALID
  }
  if (f.resolvedType instanceof protobuf.Type) {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return bad('object')
    const m = convertMessage(f.resolvedType, v as Record<string, unknown>, errors)
    return m === undefined ? INVALID : m
  }
  if (f.resolvedType instanceof protobuf.Enum) {
    const e = f.resolvedType
    if (typeof v === 'string' && e.values[v] !== undefined) return v
    if (typeof v === 'number' && e.valuesById[v] !== undefined) return e.valuesById[v]
    return bad('enum')
  }
  if (f.type === 'string' || f.type === 'bytes') return typeof v === 'string' ? v : bad(f.type)
  if (f.type === 'bool') return typeof v === 'boolean' ? v : bad('bool')
  if (INT_TYPES.has(f.type)) {
    const n = typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? v : undefined
    if (n === undefined || (UNSIGNED.has(f.type) && n < 0)) return bad(f.type)
    return f.type.endsWith('64') ? BigInt(n) : Number(n)
  }
  if (f.type === 'double' || f.type === 'float') return typeof v === 'number' ? v : bad(f.type)
  return v
}

/** An HTTP client for these servers: keep-alive, `Authorization` sent, replies parsed losslessly. */
export class BrpcClient {
  private readonly agent = new http.Agent({keepAlive: true, maxSockets: 64})

  /** Calls `/<service>/<method>` on `endpoint` (`host:port`); resolves the reply, rejects on transport or HTTP errors. */
  call<T = Record<string, unknown>>(
    endpoint: string,
    service: string,
    method: string,
    body: Record<string, unknown>,
    timeoutMs = 10_000,
  ): Promise<T> {
    const [host, port] = splitEndpoint(endpoint)
    const payload = stringifyJson(body)
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host,
          port,
          path: `/${service}/${method}`,
          method: 'POST',
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            Authorization: 'lifeboat-lab',
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            if (res.statusCode !== 200)
              return reject(new BrpcCallError(endpoint, method, `HTTP ${res.statusCode}: ${text}`))
            try {
              resolve(parseJson(text) as T)
            } catch {
              reject(new BrpcCallError(endpoint, method, `not JSON: ${text.slice(0, 200)}`))
            }
          })
          res.on('error', (err) => reject(new BrpcCallError(endpoint, method, err.message)))
        },
      )
      req.on('timeout', () => req.destroy(new Error(`no reply in ${timeoutMs} ms`)))
      req.on('error', (err) => reject(new BrpcCallError(endpoint, method, err.message)))
      req.end(payload)
    })
  }

  close(): void {
    this.agent.destroy()
  }
}

/** A call that did not get an application reply (connection refused, HTTP error, timeout). */
export class BrpcCallError extends Error {
  constructor(
    readonly endpoint: string,
    readonly method: string,
    reason: string,
  ) {
    super(`${method} on ${endpoint}: ${reason}`)
    this.name = 'BrpcCallError'
  }
}

/** `host:port` → [host, port]. */
export function splitEndpoint(endpoint: string): [string, number] {
  const i = endpoint.lastIndexOf(':')
  return [endpoint.slice(0, i), Number(endpoint.slice(i + 1))]
}
