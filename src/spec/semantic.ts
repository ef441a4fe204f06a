/**
 * Checks the schema cannot express: endpoints, duplicates, ZooKeeper paths, the node-list file,
 * and options that contradict each other. They run on the document as written (before defaults,
 * so "explicitly set" can be told apart) and stay quiet where the schema already complained.
 */
import {isAbsolute, join, resolve} from 'node:path'

import {isMap, isPair, isScalar} from 'yaml'
import type {Document, LineCounter} from 'yaml'

import {parseEndpoint, parseHostPort, type HostPortResult} from './host-port.js'
import {parseNodeList} from './node-list.js'
import {joinPointer, keyPos, locate, valuePos} from './positions.js'
import {readTextFile} from './read-file.js'
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
}

export interface SemanticResult {
  diagnostics: Diagnostic[]
  /** PegasusMetaRecovery: the resolved node list. */
  targetNodes?: string[]
}

/** Largest TiKV id: ids are uint64. */
const MAX_U64 = 18446744073709551615n

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined)
const arr = (v: unknown): unknown[] | undefined => (Array.isArray(v) ? v : undefined)

/** ZooKeeper's own path rules (PathUtils.validatePath) plus ours: absolute, no trailing slash. */
export function zkRootProblem(root: string): string | undefined {
  if (!root.startsWith('/')) return `"${root}" is not an absolute path`
  if (root === '/') return undefined
  if (root.endsWith('/')) return `"${root}" ends with "/"`
  const parts = root.slice(1).split('/')
  if (parts.some((p) => p === '')) return `"${root}" has an empty path component ("//")`
  if (parts.some((p) => p === '.' || p === '..')) return `"${root}" has a relative component ("." or "..")`
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f\ud800-\uf8ff\ufff0-\uffff]/.test(root)) return `"${root}" contains a character ZooKeeper refuses in paths`
  if (parts[0] === 'zookeeper') return `"${root}" is under /zookeeper, which ZooKeeper reserves`
  return undefined
}

/** Runs every check for the document's kind. */
export async function semanticChecks(ctx: SemanticContext): Promise<SemanticResult> {
  const out: Diagnostic[] = []
  const {doc, lc, file} = ctx
  const add = (code: string, path: string, pos: {line: number; col: number}, message: string, hint?: string, severity: 'error' | 'warning' = 'error') => {
    out.push({code, severity, message, hint, file, line: pos.line, col: pos.col, path})
  }
  const at = (p: string) => valuePos(doc, lc, p)
  const keyAt = (p: string) => keyPos(doc, lc, p)
  const skip = (p: string) => ctx.reported.has(p)
  const badHostPort = (p: string, pos: {line: number; col: number}, text: string, r: {message: string; hint?: string}) =>
    add('BAD_HOST_PORT', p, pos, `${text}: ${r.message}`, r.hint ?? 'write host:port with a port 1-65535')

  /** A list of endpoints: each parsed, duplicates reported at the later item. Returns key → pointer. */
  const endpointList = (pointer: string, value: unknown, parse: (s: string) => HostPortResult = parseHostPort): Map<string, string> => {
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
      const start = node?.range ? node.range[0] + (isScalar(node) && (node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE') ? 1 : 0) : undefined
      const posOf = (offset: number) => (start === undefined ? at(hp) : lc.linePos(start + offset))
      const seen = new Set<string>()
      let offset = 0
      for (const part of zk.hosts.split(',')) {
        const pos = posOf(offset + (part.length - part.trimStart().length))
        const trimmed = part.trim()
        offset += part.length + 1
        if (trimmed === '') {
          add('BAD_HOST_PORT', hp, pos, 'the connect string has an empty entry', 'separate host:port entries with single commas')
          continue
        }
        const slash = trimmed.indexOf('/')
        if (slash >= 0) {
          add('BAD_HOST_PORT', hp, pos, `"${trimmed}" carries a chroot path`, `put the path in ${pointer.slice(1).replace(/\//g, '.')}.root and leave hosts as host:port[,host:port...]`)
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
      if (problem) add('BAD_ZK_ROOT', rp, at(rp), `ZooKeeper root ${problem}`, 'write an absolute path without a trailing slash, e.g. /pegasus/onebox')
      else root = zk.root
    }
    return hostKeys && hostKeys.length > 0 && root !== undefined ? {hosts: hostKeys.sort(), root} : undefined
  }

  const data = ctx.data
  const cluster = obj(data.cluster)
  const recovery = obj(data.recovery)
  let targetNodes: string[] | undefined

  switch (ctx.kind) {
    case 'PegasusMetaRecovery': {
      const metas = endpointList('/cluster/meta_servers', cluster?.meta_servers)
      zookeeper('/cluster/zookeeper', cluster?.zookeeper)
      if (!recovery) break
      const hasList = recovery.target_nodes !== undefined
      const hasFile = recovery.target_nodes_file !== undefined
      if (hasList && hasFile) {
        add('CONTRADICTORY_OPTIONS', '/recovery/target_nodes_file', keyAt('/recovery/target_nodes_file'),
          'recovery has both target_nodes and target_nodes_file', 'give exactly one: the node list inline, or the file that holds it')
      } else if (!hasList && !hasFile) {
        add('SCHEMA_REQUIRED', '/recovery/target_nodes', keyAt('/recovery'), 'recovery names no replica servers',
          'give target_nodes: [host:port, ...] or target_nodes_file: FILE (Pegasus node-list format)')
      }
      const nodes = endpointList('/recovery/target_nodes', recovery.target_nodes)
      for (const [key, p] of nodes) {
        if (metas.has(key)) {
          add('CONTRADICTORY_OPTIONS', p, at(p), `${String(arr(recovery.target_nodes)?.[Number(p.split('/').pop())])} is also listed as a meta server`,
            'target_nodes are replica servers; meta servers hold no replicas')
        }
      }
      if (hasList && !hasFile && arr(recovery.target_nodes)?.every((n) => typeof n === 'string')) {
        targetNodes = recovery.target_nodes as string[]
      }
      const fp = '/recovery/target_nodes_file'
      if (typeof recovery.target_nodes_file === 'string' && recovery.target_nodes_file !== '' && !skip(fp)) {
        const name = recovery.target_nodes_file
        const abs = isAbsolute(name) ? name : resolve(ctx.dir, name)
        // Shown relative to the spec as the operator named it, so the path is one they recognise.
        const shown = isAbsolute(name) ? name : join(ctx.file === '' ? '.' : joinDir(ctx.file), name)
        const pos = at(fp)
        const read = await readTextFile(abs, {file, line: pos.line, col: pos.col, path: fp}, 'node list',
          {all: 'NODES_FILE_UNREADABLE', shown, notFoundHint: `target_nodes_file is relative to the spec's directory (${ctx.dir})`})
        if (!read.ok) {
          out.push(read.diagnostic)
        } else {
          const parsed = parseNodeList(read.text, shown, fp)
          out.push(...parsed.diagnostics)
          if (parsed.diagnostics.length === 0 && !hasList) targetNodes = parsed.nodes
        }
      }
      break
    }
    case 'PegasusDddRecovery': {
      endpointList('/cluster/meta_servers', cluster?.meta_servers)
      zookeeper('/cluster/zookeeper', cluster?.zookeeper)
      if (!recovery) break
      const primaries = obj(recovery.primaries)
      const mapNode = locate(doc, '/recovery/primaries').node
      if (isMap(mapNode)) {
        for (const pair of mapNode.items) {
          if (isPair(pair) && isScalar(pair.key) && typeof pair.key.value === 'number' && pair.key.range) {
            const written = pair.key.source ?? String(pair.key.value)
            const p = `/recovery/primaries${joinPointer([String(pair.key.value)])}`
            add('SCHEMA_TYPE', p, lc.linePos(pair.key.range[0]), `partition ${written} must be quoted`,
              `write "${written}": unquoted, YAML reads it as the number ${String(pair.key.value)}`)
            ctx.reported.add(p)
          }
        }
      }
      const gpids = recovery.gpids
      for (const [gpid, node] of Object.entries(primaries ?? {})) {
        const p = `/recovery/primaries${joinPointer([gpid])}`
        if (skip(p)) continue
        oneEndpoint(p, node)
        const appId = Number(gpid.split('.')[0])
        if (Array.isArray(gpids) && gpids.every((g) => typeof g === 'string') && !gpids.includes(gpid)) {
          add('CONTRADICTORY_OPTIONS', p, keyAt(p), `primaries overrides partition ${gpid}, which gpids does not include`,
            `add "${gpid}" to recovery.gpids, or remove the override`)
        } else if (typeof gpids === 'number' && Number.isInteger(gpids) && appId !== gpids) {
          add('CONTRADICTORY_OPTIONS', p, keyAt(p), `primaries overrides partition ${gpid}, outside table ${gpids} named by gpids`,
            'gpids restricts the recovery to one table; the override would never apply')
        }
      }
      if (recovery.auto_diagnose === false && (recovery.undecided ?? 'skip') === 'skip' && Object.keys(primaries ?? {}).length === 0) {
        add('NO_EFFECT', '/recovery/auto_diagnose', at('/recovery/auto_diagnose'),
          'with auto_diagnose false, no primaries and undecided "skip", the recovery assigns no primary',
          'set auto_diagnose: true, or name primaries, or set undecided: max_last_prepared', 'warning')
      }
      break
    }
    case 'PegasusZkMigration': {
      endpointList('/cluster/meta_servers', cluster?.meta_servers)
      const source = zookeeper('/cluster/zookeeper', cluster?.zookeeper)
      const migration = obj(data.migration)
      if (!migration) break
      const target = zookeeper('/migration/target', migration.target)
      if (source && target) {
        const sameEnsemble = source.hosts.some((h) => target.hosts.includes(h))
        const inside = (a: string, b: string) => a === '/' || b === a || b.startsWith(`${a}/`)
        if (sameEnsemble && source.root === target.root) {
          add('CONTRADICTORY_OPTIONS', '/migration/target', keyAt('/migration/target'), 'the migration target is the source itself (same ZooKeeper and root)',
            'point migration.target at another ZooKeeper, or at another root')
        } else if (sameEnsemble && (inside(source.root, target.root) || inside(target.root, source.root))) {
          add('CONTRADICTORY_OPTIONS', '/migration/target/root', at('/migration/target/root'),
            `on the same ZooKeeper, target root ${target.root} and source root ${source.root} contain one another`,
            'a tree cannot be copied into itself; choose roots that do not nest')
        }
      }
      if (migration.method === 'recovery' && migration.ignore_ephemeral !== undefined) {
        add('CONTRADICTORY_OPTIONS', '/migration/ignore_ephemeral', keyAt('/migration/ignore_ephemeral'), 'ignore_ephemeral applies to the copy method only',
          'remove it, or use method: copy', 'warning')
      }
      if (migration.method === 'copy' && migration.wait_seconds !== undefined) {
        add('CONTRADICTORY_OPTIONS', '/migration/wait_seconds', keyAt('/migration/wait_seconds'), 'wait_seconds applies to the recovery method only',
          'remove it, or use method: recovery', 'warning')
      }
      break
    }
    case 'OpenMLDBRecovery': {
      zookeeper('/cluster/zookeeper', cluster?.zookeeper)
      endpointList('/cluster/nameservers', cluster?.nameservers)
      if (!recovery) break
      endpointList('/recovery/offline_endpoints', recovery.offline_endpoints)
      const recovering = endpointList('/recovery/recover_endpoints', recovery.recover_endpoints)
      const partitionKey = (o: Obj) => `${String(o.db)}\u0000${String(o.table)}\u0000${String(o.pid)}`
      const seenLeaders = new Map<string, string>()
      arr(recovery.change_leaders)?.forEach((item, i) => {
        const o = obj(item)
        const p = `/recovery/change_leaders/${i}`
        if (!o || skip(p)) return
        if (typeof o.candidate === 'string' && o.candidate !== 'auto') oneEndpoint(`${p}/candidate`, o.candidate)
        const k = partitionKey(o)
        const first = seenLeaders.get(k)
        if (first) add('DUPLICATE_ENTRY', p, at(p), `partition ${String(o.db)}.${String(o.table)} pid ${String(o.pid)} has two leader changes`, `first on line ${at(first).line}; keep one`)
        else seenLeaders.set(k, p)
      })
      const seenTables = new Map<string, string>()
      arr(recovery.recover_tables)?.forEach((item, i) => {
        const o = obj(item)
        const p = `/recovery/recover_tables/${i}`
        if (!o || skip(p)) return
        const ep = oneEndpoint(`${p}/endpoint`, o.endpoint)
        const k = `${partitionKey(o)}\u0000${ep ?? String(o.endpoint)}`
        const first = seenTables.get(k)
        if (first) add('DUPLICATE_ENTRY', p, at(p), `replica ${String(o.db)}.${String(o.table)} pid ${String(o.pid)} on ${String(o.endpoint)} is listed twice`, `first on line ${at(first).line}; keep one`)
        else seenTables.set(k, p)
      })
      if (recovery.need_restore === true && recovering.size === 0) {
        add('CONTRADICTORY_OPTIONS', '/recovery/need_restore', keyAt('/recovery/need_restore'), 'need_restore is set but recover_endpoints is empty',
          'need_restore only affects recover_endpoints', 'warning')
      }
      break
    }
    case 'TiKVUnsafeRecovery': {
      endpointList('/cluster/pd_endpoints', cluster?.pd_endpoints, parseEndpoint)
      if (!recovery) break
      const stores = arr(recovery.failed_stores) ?? []
      stores.forEach((id, i) => {
        const p = `/recovery/failed_stores/${i}`
        if (typeof id === 'string' && /^[0-9]+$/.test(id) && !skip(p) && BigInt(id) > MAX_U64) {
          add('SCHEMA_RANGE', p, at(p), `store id ${id} is larger than the largest uint64 id (${MAX_U64})`, 'copy the id from `pd-ctl store`')
        }
      })
      const auto = recovery.auto_detect === true
      if (auto && stores.length > 0) {
        add('CONTRADICTORY_OPTIONS', '/recovery/auto_detect', keyAt('/recovery/auto_detect'), 'auto_detect is true and failed_stores is given',
          'give the failed store ids, or auto_detect: true (every store PD does not see as alive counts as failed), not both')
      } else if (!auto && stores.length === 0 && !skip('/recovery/failed_stores')) {
        add('SCHEMA_REQUIRED', '/recovery/failed_stores', keyAt('/recovery'), 'recovery names no failed store',
          'list failed_stores: ["4", "5"] (ids from `pd-ctl store`), or set auto_detect: true')
      }
      break
    }
    default:
      break
  }
  return {diagnostics: out, targetNodes}
}

function joinDir(file: string): string {
  const i = Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\'))
  return i < 0 ? '.' : file.slice(0, i) || '/'
}
