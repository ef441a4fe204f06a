/**
 * Files an operator names (a spec, a plan, an audit log, `--out`): only regular files are read or
 * replaced. A FIFO would hang a read (or an append) forever, a device or a file under /proc or
 * /sys is not a document, and replacing a device with a plan file (as root, `--out /dev/full`)
 * destroys it. Every check is made before anything is opened for real, and before any lock.
 */
import {constants} from 'node:fs'
import {open, realpath, stat} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'

import {LifeboatError} from '../errors.js'

/** Pseudo file systems whose "regular" files are not documents (and may block or never end). */
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev']

/** The largest plan file or audit log read: far beyond a 64,000-partition plan, far below a runaway read. */
export const MAX_DOCUMENT_BYTES = 256 * 1024 * 1024

/** Why a path was refused. */
export type FileProblem =
  | {kind: 'missing'; message: string}
  | {kind: 'directory'; message: string}
  | {kind: 'not-regular'; message: string}
  | {kind: 'too-large'; message: string}
  | {kind: 'unreadable'; message: string; cause?: unknown}

function describeType(st: {
  isFIFO(): boolean
  isCharacterDevice(): boolean
  isBlockDevice(): boolean
  isSocket(): boolean
  isDirectory(): boolean
}): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)'
  if (st.isCharacterDevice()) return 'a character device'
  if (st.isBlockDevice()) return 'a block device'
  if (st.isSocket()) return 'a socket'
  if (st.isDirectory()) return 'a directory'
  return 'not a regular file'
}

function underPseudoFs(real: string): string | undefined {
  return PSEUDO_ROOTS.find((root) => real === root || real.startsWith(`${root}/`))
}

/**
 * Checks that `path` is a regular file outside /proc, /sys and /dev (following symlinks), without
 * opening it. Returns the problem, or undefined when the file is fine. With `mayBeAbsent`, a path
 * that does not exist yet is fine when its directory is an ordinary one (the file is about to be created).
 */
export async function regularFileProblem(
  path: string,
  what: string,
  opts: {mayBeAbsent?: boolean} = {},
): Promise<FileProblem | undefined> {
  let st
  try {
    st = await stat(path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (!opts.mayBeAbsent) return {kind: 'missing', message: `${what} ${path} does not exist`}
      const dir = await realpath(dirname(resolve(path))).catch(() => undefined)
      const pseudo = dir && underPseudoFs(dir)
      if (pseudo)
        return {kind: 'not-regular', message: `${what} ${path} is under ${pseudo}, which holds no ordinary files`}
      return undefined
    }
    if (code === 'ELOOP') return {kind: 'unreadable', message: `${what} ${path} is a symbolic link loop`, cause: err}
    return {kind: 'unreadable', message: `${what} ${path} cannot be read: ${code ?? String(err)}`, cause: err}
  }
  if (st.isDirectory()) return {kind: 'directory', message: `${what} ${path} is a directory`}
  if (!st.isFile()) return {kind: 'not-regular', message: `${what} ${path} is ${describeType(st)}, not a regular file`}
  const real = await realpath(path).catch(() => resolve(path))
  const pseudo = underPseudoFs(real)
  if (pseudo) return {kind: 'not-regular', message: `${what} ${path} is under ${pseudo}, not an ordinary file`}
  return undefined
}

/** The hint for each kind of refusal. */
export function fileProblemHint(problem: FileProblem): string {
  switch (problem.kind) {
    case 'missing':
      return 'Check the path; a relative path is taken from the current directory.'
    case 'directory':
      return 'Name a file, not a directory.'
    case 'not-regular':
      return 'Name a regular file: not a FIFO, a device, a socket or a file under /proc, /sys or /dev.'
    case 'too-large':
      return 'Check that this is the right file.'
    case 'unreadable':
      return 'Check the path and its permissions.'
  }
}

/**
 * Throws a LifeboatError `<prefix>_NOT_FOUND`, `<prefix>_NOT_REGULAR` or `<prefix>_UNREADABLE`
 * when `path` is not a regular file (see regularFileProblem).
 */
export async function assertRegularFile(
  path: string,
  what: string,
  codePrefix: string,
  opts: {mayBeAbsent?: boolean} = {},
): Promise<void> {
  const problem = await regularFileProblem(path, what, opts)
  if (problem) throw fileProblemError(problem, codePrefix)
}

export function fileProblemError(problem: FileProblem, codePrefix: string): LifeboatError {
  const suffix = {
    missing: 'NOT_FOUND',
    directory: 'NOT_REGULAR',
    'not-regular': 'NOT_REGULAR',
    'too-large': 'TOO_LARGE',
    unreadable: 'UNREADABLE',
  }[problem.kind]
  const message = problem.message.charAt(0).toUpperCase() + problem.message.slice(1)
  return new LifeboatError(`${codePrefix}_${suffix}`, message, {
    hints: [fileProblemHint(problem)],
    cause: problem.kind === 'unreadable' ? problem.cause : undefined,
  })
}

/**
 * Reads a regular file of at most `maxBytes`: the type is checked before opening, the file is
 * opened non-blocking (a FIFO swapped in after the check cannot hang the open) and checked again
 * on the open handle, and a file that grows past the cap while it is read is refused.
 */
export async function readRegularFile(
  path: string,
  what: string,
  maxBytes = MAX_DOCUMENT_BYTES,
): Promise<{ok: true; bytes: Buffer} | {ok: false; problem: FileProblem}> {
  const problem = await regularFileProblem(path, what)
  if (problem) return {ok: false, problem}
  let handle
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return {ok: false, problem: {kind: 'missing', message: `${what} ${path} does not exist`}}
    return {
      ok: false,
      problem: {
        kind: 'unreadable',
        message: `${what} ${path} cannot be read: ${code === 'EACCES' || code === 'EPERM' ? 'permission denied' : (code ?? String(err))}`,
        cause: err,
      },
    }
  }
  try {
    const st = await handle.stat()
    if (!st.isFile())
      return {
        ok: false,
        problem: {kind: 'not-regular', message: `${what} ${path} is ${describeType(st)}, not a regular file`},
      }
    if (st.size > maxBytes)
      return {
        ok: false,
        problem: {kind: 'too-large', message: `${what} ${path} is ${st.size} bytes, more than the ${maxBytes} allowed`},
      }
    const chunks: Buffer[] = []
    let total = 0
    // The first read takes the whole file as stat saw it, into a buffer that is kept, not copied
    // (a 134 MB plan was held three times over); a file that grew meanwhile is read on in new chunks.
    let chunk = Buffer.alloc(Math.min(maxBytes + 1, Math.max(st.size + 1, 64 * 1024)))
    for (;;) {
      const {bytesRead} = await handle.read(chunk, 0, chunk.length, total)
      if (bytesRead === 0) break
      chunks.push(chunk.subarray(0, bytesRead))
      total += bytesRead
      if (total > maxBytes)
        return {ok: false, problem: {kind: 'too-large', message: `${what} ${path} is more than ${maxBytes} bytes`}}
      chunk = Buffer.alloc(64 * 1024)
    }
    return {ok: true, bytes: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)}
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    return {
      ok: false,
      problem: {kind: 'unreadable', message: `${what} ${path} cannot be read: ${code ?? String(err)}`, cause: err},
    }
  } finally {
    await handle.close().catch(() => undefined)
  }
}
