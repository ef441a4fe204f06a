/**
 * What the PegasusMetaRecovery schema cannot express, checked on the document as written (before defaults);
 * quiet where the schema already complained. Run by the spec loader through the engine's `checkSpec`.
 */
import {realpath} from 'node:fs/promises'
import {isAbsolute, join, relative, resolve} from 'node:path'

import {type SpecCheckResult, type SpecChecks, arr, obj, specDirOf} from '../../../spec/semantic.js'
import {parseNodeList} from '../../../spec/node-list.js'
import {readTextFile} from '../../../spec/read-file.js'

export async function checkMetaRecoverySpec(c: SpecChecks): Promise<SpecCheckResult> {
  const {add, at, keyAt, skip, endpointList, zookeeper, file} = c
  const cluster = obj(c.data.cluster)
  const recovery = obj(c.data.recovery)
  let targetNodes: string[] | undefined
  const metas = endpointList('/cluster/meta_servers', cluster?.meta_servers)
  zookeeper('/cluster/zookeeper', cluster?.zookeeper)
  if (!recovery) return {targetNodes}
  const hasList = recovery.target_nodes !== undefined
  const hasFile = recovery.target_nodes_file !== undefined
  if (hasList && hasFile) {
    add(
      'CONTRADICTORY_OPTIONS',
      '/recovery/target_nodes_file',
      keyAt('/recovery/target_nodes_file'),
      'recovery has both target_nodes and target_nodes_file',
      'give exactly one: the node list inline, or the file that holds it',
    )
  } else if (!hasList && !hasFile) {
    add(
      'SCHEMA_REQUIRED',
      '/recovery/target_nodes',
      keyAt('/recovery'),
      'recovery names no replica servers',
      'give target_nodes: [host:port, ...] or target_nodes_file: FILE (Pegasus node-list format)',
    )
  }
  const nodes = endpointList('/recovery/target_nodes', recovery.target_nodes)
  for (const [key, p] of nodes) {
    if (metas.has(key)) {
      add(
        'CONTRADICTORY_OPTIONS',
        p,
        at(p),
        `${String(arr(recovery.target_nodes)?.[Number(p.split('/').pop())])} is also listed as a meta server`,
        'target_nodes are replica servers; meta servers hold no replicas',
      )
    }
  }
  if (hasList && !hasFile && arr(recovery.target_nodes)?.every((n) => typeof n === 'string')) {
    targetNodes = recovery.target_nodes as string[]
  }
  const fp = '/recovery/target_nodes_file'
  if (typeof recovery.target_nodes_file === 'string' && recovery.target_nodes_file !== '' && !skip(fp)) {
    const name = recovery.target_nodes_file
    const abs = isAbsolute(name) ? name : resolve(c.dir, name)
    // Shown relative to the spec as the operator named it, so the path is one they recognise.
    const shown = isAbsolute(name) ? name : join(c.file === '' ? '.' : specDirOf(c.file), name)
    const pos = at(fp)
    const outside = c.restrictPaths ? await outsideDir(abs, c.dir) : false
    if (outside) {
      add(
        'NODES_FILE_OUTSIDE_SPEC_DIR',
        fp,
        pos,
        `target_nodes_file ${shown} is outside the spec's directory`,
        'keep the node list next to the spec, or pass --allow-outside-paths when the spec is trusted',
      )
      return {targetNodes}
    }
    const read = await readTextFile(abs, {file, line: pos.line, col: pos.col, path: fp}, 'node list', {
      all: 'NODES_FILE_UNREADABLE',
      shown,
      notFoundHint: `target_nodes_file is relative to the spec's directory (${c.dir})`,
    })
    if (!read.ok) {
      c.push(read.diagnostic)
    } else {
      const parsed = parseNodeList(read.text, shown, fp)
      c.push(...parsed.diagnostics)
      if (parsed.diagnostics.length === 0 && !hasList) targetNodes = parsed.nodes
    }
  }
  return {targetNodes}
}

/** Whether `file` (symlinks followed, where it exists) lies outside `dir`. */
async function outsideDir(file: string, dir: string): Promise<boolean> {
  const realDir = await realpath(dir).catch(() => resolve(dir))
  const realFile = await realpath(file).catch(() => resolve(file))
  const rel = relative(realDir, realFile)
  return rel === '' || rel.startsWith('..') || isAbsolute(rel)
}
