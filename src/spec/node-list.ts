/**
 * Pegasus's node-list format, as the shell's `recover -f FILE` reads it
 * (src/shell/commands/recovery.cpp): each line is trimmed; empty lines and lines starting with `#`
 * or `;` are skipped; every other line is one `host:port`, the whole trimmed line.
 */
import {parseHostPort} from './host-port.js'
import type {Diagnostic} from './types.js'

/** Malformed lines reported one by one; past this the file is not a node list. */
const MAX_REPORTED = 5
/** How much of an offending token a message quotes: file contents are never echoed beyond it. */
const EXCERPT_CHARS = 24

/** The first word of `text`, cut to EXCERPT_CHARS. */
function excerpt(text: string): string {
  const word = text.split(/\s/)[0] ?? ''
  return word.length > EXCERPT_CHARS ? `${word.slice(0, EXCERPT_CHARS)}…` : word
}

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
    // A file that is not a node list at all is reported by its first few lines, never echoed whole.
    if (diagnostics.length > MAX_REPORTED) return
    const line = i + 1
    const trimmed = raw.trim()
    if (trimmed === '' || trimmed.startsWith('#') || trimmed.startsWith(';')) return
    const col = raw.indexOf(trimmed) + 1
    const at = {file: fileName, line, col, path}
    if (/\s/.test(trimmed)) {
      diagnostics.push({
        ...at,
        code: 'NODES_FILE_MALFORMED',
        severity: 'error',
        message: `line ${line} is not a single host:port: "${excerpt(trimmed)}"`,
        hint: 'Pegasus reads the whole trimmed line as one node: put one host:port on each line, comments on lines of their own starting with # or ;',
      })
      return
    }
    const r = parseHostPort(trimmed)
    if (!r.ok) {
      diagnostics.push({
        ...at,
        code: 'NODES_FILE_MALFORMED',
        severity: 'error',
        message: `line ${line} is not a host:port: "${excerpt(trimmed)}"`,
        hint: r.hint ?? 'each line must be host:port with a port 1-65535',
      })
      return
    }
    const first = seen.get(r.value.key)
    if (first !== undefined) {
      diagnostics.push({
        ...at,
        code: 'DUPLICATE_NODE',
        severity: 'error',
        message: `${trimmed} is listed twice (first on line ${first})`,
        hint: 'remove the repeated line; a duplicate usually means another node is missing from the list',
      })
      return
    }
    seen.set(r.value.key, line)
    nodes.push(trimmed)
  })
  if (diagnostics.length > MAX_REPORTED) {
    diagnostics.length = MAX_REPORTED
    diagnostics.push({
      file: fileName,
      line: 1,
      col: 1,
      path,
      code: 'NODES_FILE_MALFORMED',
      severity: 'error',
      message: `more lines are not host:port; this does not look like a node list`,
      hint: 'check that target_nodes_file names the right file',
    })
  }
  if (nodes.length === 0 && diagnostics.length === 0) {
    diagnostics.push({
      file: fileName,
      line: 1,
      col: 1,
      path,
      code: 'NODES_FILE_MALFORMED',
      severity: 'error',
      message: 'the node list names no node',
      hint: 'list the replica servers, one host:port per line',
    })
  }
  return {nodes, diagnostics}
}
