/**
 * Checks the schema cannot express: endpoints, duplicates, ZooKeeper paths, files a spec names,
 * and options that contradict each other. They run on the document as written (before defaults,
 * so "explicitly set" can be told apart) and stay quiet where the schema already complained.
 *
 * A kind's own checks live with its engine (`Engine.checkSpec`, e.g.
 * src/engines/pegasus/meta-recovery/spec-checks.ts); this module gives them the toolkit
 * ({@link SpecChecks}): positions, reporting, and the checks kinds share (endpoint lists,
 * ZooKeeper blocks).
 */
import {isScalar} from 'yaml'
import type {Document, LineCounter} from 'yaml'

import {parseHostPort, type HostPortResult} from './host-port.js'
import {keyPos, locate, valuePos} from './positions.js'
import type {Diagnostic} from './types.js'

/** What the checks need. */
export interface SemanticContext {
  doc: Document
  lc: LineCounter
  /** The spec's name as the caller gave it (diagnostics carry it). */
  file: string
  /** Absolute directory relative paths are resolved from. */
  dir: string
  /** The document as written. */
  data: Record<string, unknown>
  kind: string
  /** Pointers the schema already reported. */
  reported: Set<string>
  /** Files the spec names must stay inside `dir` (LoadOptions.restrictPaths). */
  restrictPaths?: boolean
}

export interface SemanticResult {
  diagnostics: Diagnostic[]
  /** PegasusMetaRecovery: the resolved node list. */
  targetNodes?: string[]
}

export type Obj = Record<string, unknown>
export const obj = (v: unknown): Obj | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined
export const arr = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined)

/** ZooKeeper's own path rules (PathUtils.validatePath) plus ours: absolute, no trailing slash. */
export function zkRootProblem(root: string): string | undefined {
  if (!root.startsWith('/')) return `"${root}" is not an absolute path`
  if (root === '/') return undefined
  if (root.endsWith('/')) return `"${root}" ends with "/"`
  const parts = root.slice(1).split('/')
  if (parts.some((p) => p === '')) return `"${root}" has an empty path component ("//")`
  if (parts.some((p) => p === '.' || p === '..')) return `"${root}" has a relative component ("." or "..")`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/.test(root))
    return `"${root}" contains a character ZooKeeper refuses in paths`
  if (parts[0] === 'zookeeper') return `"${root}" is under /zookeeper, which ZooKeeper reserves`
  return undefined
}

/** The toolkit a kind's checks get: where things are, how to report them, and the shared checks. */
export interface SpecChecks {
  doc: Document
  lc: LineCounter
  /** The spec's name as the caller gave it (diagnostics carry it). */
  file: string
  /** Absolute directory relative paths are resolved from. */
  dir: string
  /** The document as written (before defaults). */
  data: Record<string, unknown>
  kind: string
  /** Reports a problem at `pos` about the value at JSON pointer `path`. */
  add(code: string, path: string, pos: Pos, message: string, hint?: string, severity?: 'error' | 'warning'): void
  /** Reports diagnostics made elsewhere (node-list parsing, file reads). */
  push(...diagnostics: Diagnostic[]): void
  /** Where the value at a JSON pointer is. */
  at(pointer: string): Pos
  /** Where the key of the member at a JSON pointer is. */
  keyAt(pointer: string): Pos
  /** Whether the schema already reported this pointer (then a check says nothing more about it). */
  skip(pointer: string): boolean
  /** Marks a pointer as reported, so that later checks stay quiet about it. */
  markReported(pointer: string): void
  /** A list of endpoints: each parsed, duplicates reported at the later item. Returns key → pointer. */
  endpointList(pointer: string, value: unknown, parse?: (s: string) => HostPortResult): Map<string, string>
  /** One endpoint; its normalised key, or undefined when it is missing or was reported. */
  oneEndpoint(pointer: string, value: unknown): string | undefined
  /** Hosts and root of a ZooKeeper block; the normalised identity for comparisons. */
  zookeeper(pointer: string, value: unknown): {hosts: string[]; root: string} | undefined
  /** Files the spec names must stay inside `dir` (`validate` without --allow-outside-paths). */
  restrictPaths?: boolean
}

/** What a kind's checks found besides diagnostics. */
export interface SpecCheckResult {
  /** PegasusMetaRecovery: the resolved node list. */
  targetNodes?: string[]
}

/** A kind's semantic checks (an engine's `checkSpec`). */
export type SpecCheck = (checks: SpecChecks) => Promise<SpecCheckResult | void>

type Pos = {line: number; col: number}

/** Runs the shared setup and the kind's own checks, when its engine has them. */
export async function semanticChecks(ctx: SemanticContext, check?: SpecCheck): Promise<SemanticResult> {
  const out: Diagnostic[] = []
  const {doc, lc, file} = ctx
  const add = (
    code: string,
    path: string,
    pos: Pos,
    message: string,
    hint?: string,
    severity: 'error' | 'warning' = 'error',
  ) => {
    out.push({code, severity, message, hint, file, line: pos.line, col: pos.col, path})
  }
  const at = (p: string) => valuePos(doc, lc, p)
  const keyAt = (p: string) => keyPos(doc, lc, p)
  const skip = (p: string) => ctx.reported.has(p)
  const badHostPort = (p: string, pos: Pos, text: string, r: {message: string; hint?: string}) =>
    add('BAD_HOST_PORT', p, pos, `${text}: ${r.message}`, r.hint ?? 'write host:port with a port 1-65535')

  /** A list of endpoints: each parsed, duplicates reported at the later item. Returns key → pointer. */
  const endpointList = (
    pointer: string,
    value: unknown,
    parse: (s: string) => HostPortResult = parseHostPort,
  ): Map<string, string> => {
    const seen = new Map<string, string>()
    arr(value)?.forEach((item, i) => {
      const p = `${pointer}/${i}`
      if (typeof item !== 'string' || skip(p)) return
      const r = parse(item)
      if (!r.ok) {
        badHostPort(p, at(p), item, r)
        return
      }
      const first = seen.get(r.value.key)
      if (first !== undefined) {
        add('DUPLICATE_NODE', p, at(p), `${item} is listed twice`, `first listed on line ${at(first).line}; remove one`)
        return
      }
      seen.set(r.value.key, p)
    })
    return seen
  }

  const oneEndpoint = (pointer: string, value: unknown): string | undefined => {
    if (typeof value !== 'string' || skip(pointer)) return undefined
    const r = parseHostPort(value)
    if (!r.ok) {
      badHostPort(pointer, at(pointer), value, r)
      return undefined
    }
    return r.value.key
  }

  /** Hosts and root of a ZooKeeper block; returns the normalised identity for comparisons. */
  const zookeeper = (pointer: string, value: unknown): {hosts: string[]; root: string} | undefined => {
    const zk = obj(value)
    if (!zk) return undefined
    let hostKeys: string[] | undefined
    const hp = `${pointer}/hosts`
    if (typeof zk.hosts === 'string' && !skip(hp)) {
      hostKeys = []
      const node = locate(doc, hp).node
      const start = node?.range
        ? node.range[0] + (isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') ? 1 : 0)
        : undefined
      const posOf = (offset: number) => (start === undefined ? at(hp) : lc.linePos(start + offset))
      const seen = new Set<string>()
      let offset = 0
      for (const part of zk.hosts.split(',')) {
        const pos = posOf(offset + (part.length - part.trimStart().length))
        const trimmed = part.trim()
        offset += part.length + 1
        if (trimmed === '') {
          add(
            'BAD_HOST_PORT',
            hp,
            pos,
            'the connect string has an empty entry',
            'separate host:port entries with single commas',
          )
          continue
        }
        const slash = trimmed.indexOf('/')
        if (slash >= 0) {
          add(
            'BAD_HOST_PORT',
            hp,
            pos,
            `"${trimmed}" carries a chroot path`,
            `put the path in ${pointer.slice(1).replace(/\//g, '.')}.root and leave hosts as host:port[,host:port...]`,
          )
          continue
        }
        const r = parseHostPort(trimmed)
        if (!r.ok) {
          badHostPort(hp, pos, trimmed, r)
          continue
        }
        if (seen.has(r.value.key)) {
          add('DUPLICATE_NODE', hp, pos, `${trimmed} is listed twice in the connect string`)
          continue
        }
        seen.add(r.value.key)
        hostKeys.push(r.value.key)
      }
    }
    const rp = `${pointer}/root`
    let root: string | undefined
    if (typeof zk.root === 'string' && !skip(rp)) {
      const problem = zkRootProblem(zk.root)
      if (problem)
        add(
          'BAD_ZK_ROOT',
          rp,
          at(rp),
          `ZooKeeper root ${problem}`,
          'write an absolute path without a trailing slash, e.g. /pegasus/onebox',
        )
      else root = zk.root
    }
    return hostKeys && hostKeys.length > 0 && root !== undefined ? {hosts: hostKeys.sort(), root} : undefined
  }

  if (!check) return {diagnostics: out}
  const checks: SpecChecks = {
    doc,
    lc,
    file,
    dir: ctx.dir,
    data: ctx.data,
    kind: ctx.kind,
    add,
    push: (...d) => out.push(...d),
    at,
    keyAt,
    skip,
    markReported: (p) => void ctx.reported.add(p),
    endpointList,
    oneEndpoint,
    zookeeper,
    restrictPaths: ctx.restrictPaths,
  }
  const found = await check(checks)
  return {diagnostics: out, ...(found?.targetNodes ? {targetNodes: found.targetNodes} : {})}
}

/** The directory part of a spec's name as the operator gave it (`.` when it has none). */
export function specDirOf(file: string): string {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'))
  return i < 0 ? '.' : file.slice(0, i) || '/'
}
