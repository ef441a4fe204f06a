/**
 * The lifeboat binary run as an operator runs it, for the benches that time it whole: a child
 * process with its wall time and, where GNU time is installed, its peak RSS. Not a bench itself
 * (the runner loads only `*.bench.js`).
 */
import {spawn} from 'node:child_process'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {packageRoot} from '../src/package-root.js'

const GNU_TIME = '/usr/bin/time'

/** What one run of the binary gave. */
export interface Timed {
  code: number | null
  stdout: string
  stderr: string
  wallMs: number
  /** Peak RSS of the child in KB, when GNU time measured it. */
  rssKb?: number
}

/** Runs `lifeboat ARGS` in `cwd`, with GNU time's peak RSS where installed. */
export function lifeboat(args: string[], cwd: string): Promise<Timed> {
  const bin = join(packageRoot(), 'bin', 'run.js')
  const measure = existsSync(GNU_TIME)
  const rssFile = join(cwd, `.rss-${process.pid}-${Date.now()}`)
  const argv = measure
    ? [GNU_TIME, '-f', '%M', '-o', rssFile, process.execPath, bin, ...args]
    : [process.execPath, bin, ...args]
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd,
      env: {...process.env, NO_COLOR: '1'},
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code) => {
      const wallMs = performance.now() - t0
      let rssKb: number | undefined
      if (measure && existsSync(rssFile)) {
        const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? ''
        rssKb = /^\d+$/.test(last) ? Number(last) : undefined
        rmSync(rssFile, {force: true})
      }
      resolve({code, stdout, stderr, wallMs, rssKb})
    })
  })
}

/** lifeboat() that rejects on a non-zero exit, with what the command printed. */
export async function lifeboatOk(args: string[], cwd: string): Promise<Timed> {
  const r = await lifeboat(args, cwd)
  if (r.code !== 0)
    throw new Error(`lifeboat ${args.join(' ')} exited ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`)
  return r
}

/** Milliseconds as seconds with two decimals. */
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

/** A peak RSS in KB as MB, or n/a when it was not measured. */
export const mb = (kb: number | undefined): string => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(0)} MB`)
