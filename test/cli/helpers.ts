// Shared helpers of the CLI integration tests: a workspace with a TestKV spec, the real binary
// run as a child process, the audit log and the store read back from the real ZooKeeper.
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {randomUUID} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, inject} from 'vitest'

import {connectZk, isZkError, type ZkClient} from '../../src/zk/index.js'
import {canRunInProcess, runInProcess} from '../in-process.js'

const here = dirname(fileURLToPath(import.meta.url))
export const REPO = resolve(here, '..', '..')
export const BIN = join(REPO, 'bin', 'run.js')
export const TEST_ENGINE = join(REPO, 'test', 'engine', 'test-kv.js')
export const PTY_RUN = join(here, 'pty-run.py')

/** The environment every CLI run gets: the test engine plugged in, no colour. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, LIFEBOAT_ENGINE_MODULES: TEST_ENGINE, NO_COLOR: '1', ...extra}
  delete env.LIFEBOAT_TEST_STEP_DELAY_MS
  if (extra.LIFEBOAT_TEST_STEP_DELAY_MS) env.LIFEBOAT_TEST_STEP_DELAY_MS = extra.LIFEBOAT_TEST_STEP_DELAY_MS
  return env
}

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/**
 * Runs `lifeboat ARGS` to completion, without a terminal (stdin is /dev/null): in the test worker
 * when it can (test/in-process.ts), else, or with `process`, as a child process.
 */
export function runCli(
  args: string[],
  opts: {cwd: string; env?: Record<string, string>; process?: boolean},
): Promise<CliResult> {
  if (!opts.process && canRunInProcess(args)) return runInProcess(args, opts.cwd, cliEnv(opts.env))
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: cliEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code, signal) => resolveRun({code, signal, stdout, stderr}))
  })
}

/** Starts `lifeboat ARGS` in the background; `done` resolves when it exits. */
export function startCli(
  args: string[],
  opts: {cwd: string; env?: Record<string, string>},
): {child: ChildProcess; done: Promise<CliResult>} {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
  const done = new Promise<CliResult>((resolveRun, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolveRun({code, signal, stdout, stderr}))
  })
  return {child, done}
}

/**
 * Runs `lifeboat ARGS` in a pseudo-terminal (python3's pty module), answering each prompt: when
 * the output since the last answer contains `expect`, it runs `before` (an argv) if given, then
 * types `answer` and Enter.
 */
export function runInPty(
  args: string[],
  answers: Array<[expect: string, answer: string, before?: string[]]>,
  opts: {cwd: string; env?: Record<string, string>},
): CliResult {
  const config = JSON.stringify({argv: [process.execPath, BIN, ...args], answers, cwd: opts.cwd, timeout: 60})
  const r = spawnSync('python3', [PTY_RUN, config], {
    cwd: opts.cwd,
    env: cliEnv(opts.env),
    encoding: 'utf8',
    timeout: 90_000,
  })
  return {code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr}
}

/** A fresh directory with a TestKV spec for a unique cluster and ZooKeeper root. */
export interface Workspace {
  dir: string
  spec: string
  cluster: string
  root: string
  audit: string
  /** Rewrites the spec with another `recovery` (and optional extra top-level YAML). */
  writeSpec(recovery: string, extra?: string): void
}

export function workspace(zk: string, recovery: string, extra = ''): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-'))
  const id = randomUUID().slice(0, 8)
  const cluster = `kv-${id}`
  const root = `/lifeboat-test/${id}`
  const spec = join(dir, 'spec.yaml')
  const ws: Workspace = {
    dir,
    spec,
    cluster,
    root,
    audit: join(dir, '.lifeboat', 'audit.jsonl'),
    writeSpec(rec: string, more = '') {
      writeFileSync(
        spec,
        [
          'apiVersion: lifeboat/v1',
          'kind: TestKV',
          'metadata: {name: kv-test, ticket: INC-42}',
          'cluster:',
          `  name: ${cluster}`,
          `  zookeeper: {hosts: "${zk}", root: ${root}}`,
          'recovery:',
          ...rec
            .trim()
            .split('\n')
            .map((l) => `  ${l}`),
          more.trim(),
          '',
        ].join('\n'),
      )
    },
  }
  ws.writeSpec(recovery, extra)
  return ws
}

/** The audit log's records (empty when there is none yet). */
export function auditRecords(
  path: string,
): Array<{seq: number; run: string; event: string; data: Record<string, unknown>}> {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l)]
      } catch {
        // A line being written right now.
        return []
      }
    })
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/**
 * Waits until the audit log at `path` records `event` (for step `step`, when given): how a test
 * knows how far an apply it started has gone before it kills or interrupts it.
 */
export function waitForAudit(path: string, event: string, step?: string, timeoutMs = 240_000): Promise<true> {
  const what = `the audit event ${event}${step ? ` of step ${step}` : ''}`
  return waitFor(
    what,
    () =>
      auditRecords(path).some((r) => r.event === event && (step === undefined || r.data.step === step))
        ? true
        : undefined,
    timeoutMs,
  )
}

/**
 * The test ZooKeeper of this run, and a client on it for reading the store back: opened before the
 * file's tests and closed after them. Call it once, at the top of a test file.
 */
export function testStore(): {zk: string; readonly client: ZkClient} {
  const zk = inject('zookeeper')
  let client: ZkClient | undefined
  beforeAll(async () => {
    client = await connectZk({hosts: zk})
  })
  afterAll(async () => {
    await client?.close()
  })
  return {
    zk,
    get client(): ZkClient {
      if (client === undefined) throw new Error('the store client is opened in beforeAll: use it inside a test')
      return client
    },
  }
}

/** The data of each child of `path`, by name (empty when `path` does not exist). */
async function readChildren(client: ZkClient, path: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {}
  let names: string[] = []
  try {
    names = await client.getChildren(path)
  } catch (err) {
    if (!isZkError(err, 'ZK_NO_NODE')) throw err
  }
  for (const name of names.sort()) out[name] = (await client.get(`${path}/${name}`)).data.toString('utf8')
  return out
}

/** The store's keys and values under the workspace's root. */
export function readStore(client: ZkClient, root: string): Promise<Record<string, string>> {
  return readChildren(client, `${root}/data`)
}

/** How many times each step's write really happened (the test engine's effect counters). */
export async function readEffects(client: ZkClient, root: string): Promise<Record<string, number>> {
  const counters = await readChildren(client, `${root}/effects`)
  return Object.fromEntries(Object.entries(counters).map(([step, n]) => [step, Number(n)]))
}

/** Sets a key directly, as something outside lifeboat would. */
export async function setKey(client: ZkClient, root: string, key: string, value: string): Promise<void> {
  await client.mkdirp(`${root}/data`)
  const path = `${root}/data/${key}`
  if (await client.exists(path)) await client.set(path, Buffer.from(value), -1)
  else await client.create(path, Buffer.from(value))
}

/** An argv that creates a znode (with its parents) on the test ZooKeeper, for a pty answer's `before`. */
export function createNodeCommand(zk: string, path: string): string[] {
  const code =
    `const z = await import(${JSON.stringify(join(REPO, 'dist', 'src', 'zk', 'index.js'))}); ` +
    `const c = await z.connectZk({hosts: ${JSON.stringify(zk)}}); await c.mkdirp(${JSON.stringify(path)}); await c.close()`
  return [process.execPath, '--input-type=module', '-e', code]
}
