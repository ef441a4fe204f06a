/**
 * Reading a file an operator named, safely: never a hang on a FIFO, never a 100 MB read, never a
 * stack trace. Every refusal is a diagnostic.
 */
import {constants} from 'node:fs'
import {open} from 'node:fs/promises'

import {regularFileProblem} from '../util/files.js'
import type {Diagnostic} from './types.js'

/**
 * The largest spec or node-list file read. Specs are a few KiB and a node list of 10,000 servers
 * is about 200 KiB; the cap keeps the worst case (a file of nothing but distinct keys) to a
 * fraction of a second of parsing on a busy machine.
 */
export const MAX_FILE_BYTES = 256 * 1024

export type ReadResult = {ok: true; bytes: Buffer; text: string} | {ok: false; diagnostic: Diagnostic}

/** Where a refusal is reported: in the file itself (a spec) or at the spec field that names it (a node list). */
export interface ReportAt {
  file: string
  line: number
  col: number
  path: string
}

function fail(at: ReportAt, code: string, message: string, hint?: string): ReadResult {
  return {ok: false, diagnostic: {...at, code, severity: 'error', message, hint}}
}

/**
 * Reads a UTF-8 text file of at most MAX_FILE_BYTES. `codes` lets the node-list reader report
 * every failure as NODES_FILE_UNREADABLE while a spec gets the precise code.
 */
export async function readTextFile(
  path: string,
  at: ReportAt,
  what = 'file',
  codes?: {all: string; shown?: string; notFoundHint?: string},
): Promise<ReadResult> {
  const code = (c: string) => codes?.all ?? c
  // The operator's own spelling of the path where there is one (relative to the spec, say).
  const shown = codes?.shown ?? path
  // The type first (following symlinks): a device, a FIFO or a file under /proc is never opened.
  const problem = await regularFileProblem(path, what)
  if (problem?.kind === 'not-regular')
    return fail(
      at,
      code('NOT_A_FILE'),
      problem.message.replace(path, shown),
      'name a regular file (not a device, FIFO, socket or a file under /proc, /sys or /dev)',
    )
  let handle
  try {
    // O_NONBLOCK: opening a FIFO would otherwise wait for a writer forever.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'ENOENT')
      return fail(
        at,
        code('FILE_NOT_FOUND'),
        `${what} ${shown} does not exist`,
        codes?.notFoundHint ?? 'check the path; a relative path is taken from the current directory',
      )
    if (e.code === 'EISDIR') return fail(at, code('NOT_A_FILE'), `${what} ${shown} is a directory`, 'name a file')
    if (e.code === 'EACCES' || e.code === 'EPERM')
      return fail(at, code('FILE_UNREADABLE'), `${what} ${shown} cannot be read: permission denied`)
    if (e.code === 'ENOTDIR')
      return fail(at, code('FILE_NOT_FOUND'), `${what} ${shown} does not exist (a parent is not a directory)`)
    return fail(at, code('FILE_UNREADABLE'), `${what} ${shown} cannot be read: ${e.code ?? e.message}`)
  }
  try {
    const st = await handle.stat()
    if (st.isDirectory()) return fail(at, code('NOT_A_FILE'), `${what} ${shown} is a directory`, 'name a file')
    if (!st.isFile())
      return fail(
        at,
        code('NOT_A_FILE'),
        `${what} ${shown} is not a regular file`,
        'name a regular file (not a device, FIFO or socket)',
      )
    if (st.size > MAX_FILE_BYTES) {
      return fail(
        at,
        code('FILE_TOO_LARGE'),
        `${what} ${shown} is ${st.size} bytes, more than the ${MAX_FILE_BYTES} allowed`,
        'a spec is a few KiB; check that this is the right file',
      )
    }
    // Read one byte past the cap: a file that grew after the stat is still refused.
    const buf = Buffer.alloc(MAX_FILE_BYTES + 1)
    let n = 0
    for (;;) {
      const {bytesRead} = await handle.read(buf, n, buf.length - n, n)
      if (bytesRead === 0) break
      n += bytesRead
      if (n > MAX_FILE_BYTES)
        return fail(at, code('FILE_TOO_LARGE'), `${what} ${shown} is more than ${MAX_FILE_BYTES} bytes`)
    }
    const bytes = buf.subarray(0, n)
    const decoded = decodeText(bytes)
    if (!decoded.ok)
      return fail(
        at,
        code('BINARY_FILE'),
        `${what} ${shown} is not text: ${decoded.reason}`,
        'a spec is UTF-8 YAML (or JSON); check that this is the right file',
      )
    return {ok: true, bytes: Buffer.from(bytes), text: decoded.text}
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (e.code === 'EISDIR') return fail(at, code('NOT_A_FILE'), `${what} ${shown} is a directory`, 'name a file')
    return fail(at, code('FILE_UNREADABLE'), `${what} ${shown} cannot be read: ${e.code ?? e.message}`)
  } finally {
    await handle.close().catch(() => undefined)
  }
}

/** UTF-8 text without NUL bytes or stray control characters; anything else is binary. */
export function decodeText(bytes: Uint8Array): {ok: true; text: string} | {ok: false; reason: string} {
  const nul = bytes.indexOf(0)
  if (nul >= 0) return {ok: false, reason: `it contains a NUL byte at offset ${nul}`}
  let text: string
  try {
    // ignoreBOM keeps a byte-order mark in the text (yaml skips it), so the text's bytes are the
    // file's bytes and the sha256 of a spec re-validated from a plan's `source` matches the file's.
    text = new TextDecoder('utf-8', {fatal: true, ignoreBOM: true}).decode(bytes)
  } catch {
    return {ok: false, reason: 'it is not valid UTF-8'}
  }
  // Control characters other than tab, CR and LF do not belong in YAML and mark a binary file.
  // eslint-disable-next-line no-control-regex
  const ctrl = /[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text)
  if (ctrl)
    return {
      ok: false,
      reason: `it contains the control character U+${ctrl[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}`,
    }
  return {ok: true, text}
}
