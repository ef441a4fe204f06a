/**
 * Planning: load a spec, gather the live state through its engine, plan, and wrap the body into a
 * Plan. Also re-planning a saved plan from the spec embedded in it, for the stale check.
 */
import {open} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'

import {LifeboatError} from '../errors.js'
import {engineFor, loadEngineRegistry, type EngineModule} from '../engines/registry.js'
import type {EngineIo} from '../engines/types.js'
import {buildPlan} from '../plan/build.js'
import {hostLocalLockFinding} from './lock.js'
import {fileProblemHint, readRegularFile} from '../util/files.js'
import type {Plan, PlanBody, PlanSpec} from '../plan/types.js'
import {loadSpecFile, validateSpecText} from '../spec/index.js'
import {MAX_FILE_BYTES} from '../spec/read-file.js'
import type {Diagnostic, LoadResult, LoadedSpec} from '../spec/index.js'

/** What planning needs from the outside world. */
export interface PlanIo {
  env: Record<string, string | undefined>
  /** The plan's `createdAt`, ISO 8601; planners never read a clock. */
  now: string
  toolVersion: string
  /** Progress for humans (gathering can take a while). */
  progress?: EngineIo['progress']
  /** Receives the live state the plan is made from (apply's stale check asks the engine about it). */
  onLive?: (live: unknown) => void
}

/** A spec ready for its engine. */
export interface SpecForEngine {
  engine: EngineModule
  /** The spec with the schema's defaults filled in: what engines receive. */
  spec: unknown
  /** The spec as embedded in plans. */
  planSpec: PlanSpec
  /** The spec's directory, for relative paths inside it. */
  dir: string
}

/** A planned spec: the plan and what made it. */
export interface PlannedSpec extends SpecForEngine {
  plan: Plan
}

/** The diagnostics of a spec as one error that lists them, each as `file:line:col code message`. */
export function specInvalidError(path: string, diagnostics: Diagnostic[]): LifeboatError {
  const errors = diagnostics.filter((d) => d.severity === 'error')
  const lines = errors.map((d) => `${d.file}:${d.line}:${d.col} ${d.code} ${d.message}${d.hint ? ` (${d.hint})` : ''}`)
  return new LifeboatError(
    'SPEC_INVALID',
    `${path} is not a valid spec: ${errors.length} ${errors.length === 1 ? 'error' : 'errors'}`,
    {
      detail: lines.join('\n'),
      hints: [`Fix the spec, then check it with \`lifeboat validate ${path}\`.`],
    },
  )
}

/** The loaded spec, or SPEC_INVALID listing its errors. */
function loadedOrThrow(result: LoadResult, label: string): LoadedSpec {
  if (!result.ok || !result.spec) throw specInvalidError(label, result.diagnostics)
  return result.spec
}

function toPlanSpec(loaded: LoadedSpec): PlanSpec {
  const spec: PlanSpec = {
    kind: loaded.kind,
    name: loaded.name,
    sha256: loaded.sha256,
    source: loaded.source,
    path: loaded.path,
    document: loaded.document,
  }
  if (loaded.ticket !== undefined) spec.ticket = loaded.ticket
  return spec
}

/** Loads and validates a spec file and finds its engine. */
export async function loadSpecForEngine(
  specPath: string,
  env: Record<string, string | undefined>,
): Promise<SpecForEngine> {
  const registry = await loadEngineRegistry(env)
  const loaded = loadedOrThrow(
    await loadSpecFile(specPath, {extraKinds: registry.extraKinds, engines: registry.engines}),
    specPath,
  )
  const engine = await engineFor(loaded.kind, env)
  return {engine, spec: loaded.spec, planSpec: toPlanSpec(loaded), dir: loaded.dir}
}

/**
 * The spec embedded in a saved plan, validated again with this build's schema and made ready for
 * its engine. Relative paths in it resolve from where the spec was when the plan was made.
 */
export async function specOfPlan(plan: Plan, env: Record<string, string | undefined>): Promise<SpecForEngine> {
  const registry = await loadEngineRegistry(env)
  const label = plan.spec.path ?? `the spec embedded in the plan (${plan.spec.name})`
  const baseDir = dirname(resolve(plan.spec.path ?? '.'))
  const loaded = loadedOrThrow(
    await validateSpecText(plan.spec.source, plan.spec.path ?? 'plan.spec', {
      extraKinds: registry.extraKinds,
      engines: registry.engines,
      baseDir,
    }),
    label,
  )
  const engine = await engineFor(loaded.kind, env)
  // The plan's own copy stays authoritative: same sha256, path and document as when it was made.
  return {engine, spec: loaded.spec, planSpec: plan.spec, dir: baseDir}
}

function engineIo(dir: string, io: PlanIo): EngineIo {
  return {env: io.env, specDir: dir, progress: io.progress ?? (() => undefined)}
}

/**
 * Gathers and plans a loaded spec. A plan whose engine can only lock on this host (a lock file)
 * carries the LOCK_HOST_LOCAL warning.
 */
export async function planLoadedSpec(ready: SpecForEngine, io: PlanIo): Promise<Plan> {
  const {engine, spec} = ready
  const body = await gatherAndPlan(ready, io)
  const lockWarning = hostLocalLockFinding(engine.lock(spec, {env: io.env}))
  const findings = lockWarning ? [...body.findings, lockWarning] : body.findings
  return buildPlan({
    spec: ready.planSpec,
    cluster: engine.cluster(spec),
    body: {...body, findings},
    createdAt: io.now,
    toolVersion: io.toolVersion,
  })
}

/**
 * The engine's plan body from a fresh gather. A function of its own so that the live state is let
 * go before buildPlan copies the body (at 64,000 partitions each is a few hundred MB), unless
 * onLive keeps it.
 */
async function gatherAndPlan(ready: SpecForEngine, io: PlanIo): Promise<PlanBody> {
  const live = await ready.engine.gather(ready.spec, engineIo(ready.dir, io))
  io.onLive?.(live)
  return ready.engine.plan(ready.spec, live, {now: io.now})
}

/** `lifeboat plan SPEC`: load, validate, gather, plan. */
export async function planSpec(specPath: string, io: PlanIo): Promise<PlannedSpec> {
  const ready = await loadSpecForEngine(specPath, io.env)
  return {...ready, plan: await planLoadedSpec(ready, io)}
}

/**
 * Whether a path on the command line holds a saved plan (a JSON object with `formatVersion`) or
 * a spec (YAML). Decided by content, not by the file name.
 */
export async function isPlanFile(path: string): Promise<boolean> {
  // Only a regular file is read (a FIFO or a device would hang or never end): see util/files.ts.
  // No spec is larger than the spec reader allows, so a larger file is not read whole here: a
  // 64,000-partition plan is 134 MB, which apply then reads once (readPlanFile), not twice.
  const read = await readRegularFile(path, 'the file', MAX_FILE_BYTES)
  if (!read.ok && read.problem.kind === 'too-large') return startsLikeJson(path)
  if (!read.ok) {
    const code = {
      missing: 'FILE_NOT_FOUND',
      directory: 'NOT_A_FILE',
      'not-regular': 'NOT_A_FILE',
      'too-large': 'FILE_TOO_LARGE',
      unreadable: 'FILE_UNREADABLE',
    }[read.problem.kind]
    throw new LifeboatError(code, `could not read ${path}: ${read.problem.message.replace(`the file ${path} `, '')}`, {
      hints: [
        fileProblemHint(read.problem),
        'Give a spec (YAML) or a plan file made by `lifeboat plan SPEC --out FILE`.',
      ],
    })
  }
  const text = read.bytes.toString('utf8')
  if (!text.trimStart().startsWith('{')) return false
  // A spec may be written as JSON too (YAML is a superset); a plan file is the only JSON with formatVersion.
  // Anything else that starts like JSON is treated as a plan, so a truncated plan file is reported as one.
  try {
    const doc = JSON.parse(text) as Record<string, unknown>
    return !(
      doc !== null &&
      typeof doc === 'object' &&
      doc.formatVersion === undefined &&
      typeof doc.apiVersion === 'string'
    )
  } catch {
    return true
  }
}

/**
 * Whether a file too large to be a spec starts like JSON (`{` after any white space): then it is
 * read as a plan, and readPlanFile says what is wrong with it if it is not one; otherwise it is
 * left to the spec reader, which refuses its size.
 */
async function startsLikeJson(path: string): Promise<boolean> {
  const handle = await open(path, 'r')
  try {
    const head = Buffer.alloc(64 * 1024)
    const {bytesRead} = await handle.read(head, 0, head.length, 0)
    return head.subarray(0, bytesRead).toString('utf8').trimStart().startsWith('{')
  } finally {
    await handle.close()
  }
}
