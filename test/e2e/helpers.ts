// Shared helpers of the end-to-end tests: the real `lifeboat` binary run as a child process, and
// labs brought up and torn down through the CLI, each in its own temporary working directory (so
// that `.lifeboat/audit.jsonl` is per lab) and state directory.
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {parseDocument, stringify} from 'yaml'

import {connectZk, readTree} from '../../src/zk/index.js'
import {canRunInProcess, runInProcess} from '../in-process.js'

const here = dirname(fileURLToPath(import.meta.url))
export const REPO = resolve(here, '..', '..')
export const BIN = join(REPO, 'bin', 'run.js')

/** How a command ended and what it printed. */
export interface CliResult {
  args: string[]
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** The environment of every run: no colour, no engine plugged in by another suite. */
function cliEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, NO_COLOR: '1', ...extra}
  delete env.LIFEBOAT_ENGINE_MODULES
  delete env.LIFEBOAT_TEST_STEP_DELAY_MS
  return env
}

/**
 * Runs `lifeboat ARGS` to completion in `cwd`, without a terminal (stdin is /dev/null): in the test
 * worker when it can (test/in-process.ts), else as a child process killed after `timeoutMs`.
 */
export async function lifeboat(
  args: string[],
  opts: {cwd: string; env?: Record<string, string>; timeoutMs?: number},
): Promise<CliResult> {
  if (canRunInProcess(args)) return {args, ...(await runInProcess(args, opts.cwd, cliEnv(opts.env ?? {})))}
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd,
      env: cliEnv(opts.env ?? {}),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 240_000)
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolveRun({args, code, signal, stdout, stderr})
    })
  })
}

/** The result, when it exited with `code`; otherwise an error that shows what it printed. */
export function expectExit(r: CliResult, code: number): CliResult {
  if (r.code !== code) {
    throw new Error(
      `lifeboat ${r.args.join(' ')} exited ${r.code ?? r.signal}, expected ${code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    )
  }
  return r
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'lifeboat-e2e-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** What `lab up --json` prints. */
export interface LabEndpoints {
  zookeeper: {hosts: string; root: string}
  meta_servers: string[]
  replica_servers: string[]
  specs: Record<string, string>
}

/** A lab brought up through the CLI. */
export interface Lab {
  /** The working directory of every command run through `cli` (plans, `.lifeboat/audit.jsonl`). */
  cwd: string
  stateDir: string
  endpoints: LabEndpoints
  /** The audit log commands run in `cwd` write by default. */
  auditLog: string
  /** Runs `lifeboat ARGS` in the lab's working directory. */
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>
  /** Runs `lifeboat lab SUB ARGS --state-dir DIR` and expects exit 0. */
  lab(sub: string, ...args: string[]): Promise<CliResult>
  /** `lab verify --json`: rows readable now (exit 1 when some are missing is not an error here). */
  verify(): Promise<{
    found: number
    total: number
    tables: {app_id: number; name: string; found: number; total: number}[]
  }>
  /** `lab status --json`. */
  status(): Promise<
    {
      meta_servers: {name: string; address: string; phase: string; crash?: string}[]
      zookeeper: {hosts: string; root: string}
    } & Record<string, unknown>
  >
  /** Stops the lab (by the CLI) and removes its directories; safe to call twice. */
  down(): Promise<void>
}

/**
 * `lifeboat lab up SCENARIO --detach --json` in a fresh working directory (`--zk` to share a
 * ZooKeeper). Always pair with `down()` in afterAll or finally.
 */
export async function labUp(scenario: string, opts: {zk?: string; cwd?: string} = {}): Promise<Lab> {
  const cwd = opts.cwd ?? tempDir()
  const stateDir = join(cwd, 'lab')
  let downed = false
  const cli = (args: string[], env?: Record<string, string>) => lifeboat(args, {cwd, env})
  const down = async (): Promise<void> => {
    if (downed) return
    downed = true
    const r = await cli(['lab', 'down', '--state-dir', stateDir])
    if (r.code === 0) rmSync(cwd, {recursive: true, force: true})
    else throw new Error(`lab down failed (files kept in ${cwd}):\n${r.stdout}\n${r.stderr}`)
  }
  const up = await cli([
    'lab',
    'up',
    scenario,
    '--detach',
    '--json',
    '--state-dir',
    stateDir,
    ...(opts.zk ? ['--zk', opts.zk] : []),
  ])
  if (up.code !== 0) {
    // A lab that half started still holds processes: stop them before failing.
    if (existsSync(join(stateDir, 'lab.json'))) await down().catch(() => {})
    expectExit(up, 0)
  }
  const endpoints = JSON.parse(up.stdout) as LabEndpoints
  const lab: Lab = {
    cwd,
    stateDir,
    endpoints,
    auditLog: join(cwd, '.lifeboat', 'audit.jsonl'),
    cli,
    down,
    async lab(sub, ...args) {
      return expectExit(await cli(['lab', sub, ...args, '--state-dir', stateDir]), 0)
    },
    async verify() {
      const r = await cli(['lab', 'verify', '--json', '--state-dir', stateDir])
      if (r.code !== 0 && r.code !== 1) expectExit(r, 0)
      return JSON.parse(r.stdout)
    },
    async status() {
      return JSON.parse(expectExit(await cli(['lab', 'status', '--json', '--state-dir', stateDir]), 0).stdout)
    },
  }
  return lab
}

/**
 * A built-in scenario (`src/lab/scenarios/<builtin>.yaml`) written into `dir` under another name.
 * Labs on the suite's shared ZooKeeper must not share a name: a Pegasus lab's root is
 * `/pegasus/<name>` (a fresh lab empties it) and every engine's apply lock is
 * `/lifeboat/locks/<name>`, so two files running the same built-in scenario at once (a demo and
 * a test) would wipe or lock each other's cluster.
 */
export function builtinScenarioAs(builtin: string, name: string, dir: string): string {
  const text = readFileSync(join(REPO, 'src', 'lab', 'scenarios', `${builtin}.yaml`), 'utf8')
  const renamed = text.replace(/^name: .*$/m, `name: ${name}`)
  if (renamed === text) throw new Error(`src/lab/scenarios/${builtin}.yaml has no top-level name: line`)
  const path = join(dir, `${name}.yaml`)
  writeFileSync(path, renamed)
  return path
}

/** Writes a lab scenario (YAML) into `dir` and returns its path. */
export function writeScenario(dir: string, name: string, scenario: Record<string, unknown>): string {
  const path = join(dir, `${name}.yaml`)
  writeFileSync(path, stringify(scenario))
  return path
}

/**
 * Copies a spec to `dest` with `recovery` fields replaced (comments and order kept), e.g.
 * `{skip_bad_nodes: true}`.
 */
export function editSpec(src: string, dest: string, recovery: Record<string, unknown>): string {
  const doc = parseDocument(readFileSync(src, 'utf8'))
  for (const [k, v] of Object.entries(recovery)) doc.setIn(['recovery', k], v)
  writeFileSync(dest, doc.toString())
  return dest
}

/** An audit record as the tests read it. */
export interface AuditRecord {
  seq: number
  run: string
  event: string
  data: Record<string, unknown>
}

/** The audit log's records (empty when there is none). */
export function auditRecords(path: string): AuditRecord[] {
  if (!existsSync(path)) return []
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as AuditRecord)
}

/** A ZooKeeper node as read back: its data as text and its data version. */
export interface ZkNode {
  data: string
  version: number
}

/** Every node under `root` (itself included), by absolute path; empty when `root` does not exist. */
export async function readZkTree(hosts: string, root: string): Promise<Map<string, ZkNode>> {
  const client = await connectZk({hosts})
  try {
    if (!(await client.exists(root))) return new Map()
    const entries = await readTree(client, root)
    return new Map(entries.map((e) => [e.path, {data: e.data.toString('utf8'), version: e.stat.version}]))
  } finally {
    await client.close()
  }
}

/** A saved plan as the tests read it (the fields they use). */
export interface PlanDoc {
  applyable: boolean
  digest: string
  changes: {address: string; action: string; before: unknown; after: unknown}[]
  steps: {id: string; kind: string; risk: string; params: Record<string, unknown>; manual?: unknown}[]
  findings: {code: string; severity: string; subject?: string; message: string; hint?: string}[]
  observed: {summary: Record<string, unknown>}
}

/** Reads a plan file written by `plan --out`. */
export function readPlan(path: string): PlanDoc {
  return JSON.parse(readFileSync(path, 'utf8')) as PlanDoc
}

/** The `step.finished` record of a step in the audit log (the last one), or undefined. */
export function stepFinished(records: AuditRecord[], stepId: string): AuditRecord | undefined {
  return records.filter((r) => r.event === 'step.finished' && r.data.step === stepId).at(-1)
}

/** A node's data as JSON when it is JSON, else the text (`unlock`). */
function parseData(data: string): unknown {
  try {
    return JSON.parse(data)
  } catch {
    return data
  }
}

/**
 * Node-for-node differences between the `zk:` changes of a plan and a tree read back (every node
 * under the root the changes create, the root included). Fields listed in `ignore` (by change
 * address: time-dependent values) are left out of the comparison. Empty when they are equal.
 */
export function diffPlannedTree(
  changes: PlanDoc['changes'],
  tree: Map<string, ZkNode>,
  ignore: Map<string, string[]> = new Map(),
): string[] {
  const planned = new Map(
    changes
      .filter((c) => c.address.startsWith('zk:') && c.action !== 'delete')
      .map((c) => [c.address.slice(3), c.after]),
  )
  const out: string[] = []
  for (const path of [...tree.keys()].filter((p) => !planned.has(p)).sort())
    out.push(`${path}: in ZooKeeper, not in the plan`)
  for (const [path, after] of [...planned].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const node = tree.get(path)
    if (!node) {
      out.push(`${path}: in the plan, not in ZooKeeper`)
      continue
    }
    const strip = (v: unknown): unknown => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return v
      const copy = {...(v as Record<string, unknown>)}
      for (const f of ignore.get(`zk:${path}`) ?? []) delete copy[f]
      return copy
    }
    const actual = JSON.stringify(sortKeys(strip(parseData(node.data))))
    const expected = JSON.stringify(sortKeys(strip(after)))
    if (actual !== expected) out.push(`${path}: ZooKeeper holds ${actual}, the plan says ${expected}`)
  }
  return out
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys)
  if (typeof v !== 'object' || v === null) return v
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
  )
}
