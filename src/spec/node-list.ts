/**
 * Pegasus's node-list format, as the shell's `recover -f FILE` reads it
 * (src/shell/commands/recovery.cpp): each line is trimmed; empty lines and lines starting with `#`
 * or `;` are skipped; every other line is one `host:port`, the whole trimmed line.
 */
import {parseHostPort} from './host-port.js'
import type {Diagnostic} from './types.js'

export interface NodeListResult {
  /** The nodes in file order, each as written (trimmed). */
  nodes: string[]
  diagnostics: Diagnostic[]
}

/**
 * Parses a node list. Diagnostics point at the line and column in that file; `path` is the
 * pointer the caller passes (the spec field that names the file), so a report ties both together.
 */
export function parseNodeList(text: string, fileName: string, path = ''): NodeListResult {
  const nodes: string[] = []
  const diagnostics: Diagnostic[] = []
  const seen = new Map<string, number>()
  const lines = text.split(/\r\n|\n|\r/)
  lines.forEach((raw, i) => {
    const line = i + 1
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return
    const col = raw.indexOf(trimmed) + 1
    const at = {file: fileName, line, col, path}
    if (/\s/.test(trimmed)) {
      diagnostics.push({...at, code: 'NODES_FILE_MALFORMED', severity: 'error',
        message: `line ${line} is not a single host:port: "${trimmed}"`,
        hint: 'Pegasus reads the whole trimmed line as one node: put one host:port on each line, comments on lines of their own starting with # or ;'})
      return
    }
    const r = parseHostPort(trimmed)
    if (!r.ok) {
      diagnostics.push({...at, code: 'NODES_FILE_MALFORMED', severity: 'error', message: `line ${line}: ${r.message}`,
        hint: r.hint ?? 'each line must be host:port with a port 1-65535'})
      return
    }
    const first = seen.get(r.value.key)
    if (first !== undefined) {
      diagnostics.push({...at, code: 'DUPLICATE_NODE', severity: 'error', message: `${trimmed} is listed twice (first on line ${first})`,
        hint: 'remove the repeated line; a duplicate usually means another node is missing from the list'})
      return
    }
    seen.set(r.value.key, line)
    nodes.push(trimmed)
  })
  if (nodes.length === 0 && diagnostics.length === 0) {
    diagnostics.push({file: fileName, line: 1, col: 1, path, code: 'NODES_FILE_MALFORMED', severity: 'error',
      message: 'the node list names no node', hint: 'list the replica servers, one host:port per line'})
  }
  return {nodes, diagnostics}
}
