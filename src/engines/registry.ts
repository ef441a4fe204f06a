/**
 * Which engine handles which spec kind.
 *
 * Two sources, merged by kind:
 * - the built-in engines, listed in BUILT_IN below: adding a store's engine is one line there;
 * - the engine plugin hook: ES modules named in the environment variable
 *   `LIFEBOAT_ENGINE_MODULES` (comma-separated absolute paths). Each module's default export is an
 *   Engine, optionally with `specSchema`, the JSON Schema (draft 2020-12) of a whole spec document
 *   of its kind; the spec loader validates specs of that kind against it. This is how an engine
 *   that lives outside the package (the test engine under `test/engine/`, a site-specific store)
 *   reaches the real `lifeboat` binary without a rebuild.
 *
 * A plugin cannot replace a built-in kind: two engines claiming one kind is an error, because a
 * plan computed by one engine must never be applied by another.
 */
import {isAbsolute} from 'node:path'
import {pathToFileURL} from 'node:url'

import {LifeboatError, describeError} from '../errors.js'
import type {Engine} from './types.js'

/** Any engine, whatever its spec, live-state and context types. */
export type AnyEngine = Engine<unknown, unknown, unknown>

/** An engine as a plugin module exports it: the Engine plus, optionally, the schema of its spec kind. */
export type EngineModule = AnyEngine & {
  /** JSON Schema (draft 2020-12) of a whole spec document of this kind. */
  specSchema?: Record<string, unknown>
}

/** The environment variable of the engine plugin hook. */
export const ENGINE_MODULES_ENV = 'LIFEBOAT_ENGINE_MODULES'

/**
 * The engines shipped with lifeboat, one entry per store kind: a new store's engine is added here.
 * Each is imported when its kind is first asked for: an engine brings its wire protocols (Thrift,
 * ZooKeeper, protobuf), and a command about one kind should not load the others (a second of CPU
 * at every start). A test checks that each loads the kind it is listed under.
 */
export const BUILT_IN: readonly {kind: string; load: () => Promise<AnyEngine>}[] = [
  {
    kind: 'PegasusMetaRecovery',
    load: async () => (await import('./pegasus/meta-recovery/engine.js')).metaRecoveryEngine as AnyEngine,
  },
  {
    kind: 'PegasusDddRecovery',
    load: async () => (await import('./pegasus/ddd/engine.js')).dddRecoveryEngine as AnyEngine,
  },
  {
    kind: 'PegasusZkMigration',
    load: async () => (await import('./pegasus/zk-migration/engine.js')).zkMigrationEngine as AnyEngine,
  },
  {
    kind: 'TiKVUnsafeRecovery',
    load: async () => (await import('./tikv/engine.js')).tikvUnsafeRecoveryEngine as AnyEngine,
  },
  {
    kind: 'OpenMLDBRecovery',
    load: async () => (await import('./openmldb/engine.js')).openmldbRecoveryEngine as AnyEngine,
  },
]

/** An engine of the registry: where it came from, and the engine itself, imported on first use. */
export interface RegisteredEngine {
  source: string
  load(): Promise<EngineModule>
}

/** Every engine known in this process, by kind, with where it came from. */
export interface EngineRegistry {
  engines: Map<string, RegisteredEngine>
  /** Spec schemas of plugin kinds, for loadSpecFile's `extraKinds`. */
  extraKinds: Record<string, Record<string, unknown>>
}

const cache = new Map<string, Promise<EngineRegistry>>()

/**
 * Loads the registry: the built-in engines plus the plugin modules named in
 * `env.LIFEBOAT_ENGINE_MODULES`. Cached per value of that variable.
 */
export function loadEngineRegistry(env: Record<string, string | undefined> = process.env): Promise<EngineRegistry> {
  const list = env[ENGINE_MODULES_ENV] ?? ''
  let loading = cache.get(list)
  if (!loading) {
    loading = buildRegistry(list)
    // A failed load is not cached: the operator fixes the path and runs again in the same process (tests).
    loading.catch(() => cache.delete(list))
    cache.set(list, loading)
  }
  return loading
}

async function buildRegistry(list: string): Promise<EngineRegistry> {
  const engines = new Map<string, RegisteredEngine>()
  const extraKinds: Record<string, Record<string, unknown>> = {}
  for (const {kind, load} of BUILT_IN) {
    let loading: Promise<AnyEngine> | undefined
    engines.set(kind, {source: 'built-in', load: () => (loading ??= load())})
  }
  const paths = list
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')
  for (const path of paths) {
    const engine = await importEngineModule(path)
    const existing = engines.get(engine.kind)
    if (existing) {
      throw new LifeboatError(
        'ENGINE_DUPLICATE_KIND',
        `two engines handle the kind ${engine.kind}: ${existing.source} and ${path}`,
        {
          hints: [`Remove one of them from ${ENGINE_MODULES_ENV}; a plugin cannot replace a built-in engine.`],
        },
      )
    }
    engines.set(engine.kind, {source: path, load: () => Promise.resolve(engine)})
    if (engine.specSchema) extraKinds[engine.kind] = engine.specSchema
  }
  return {engines, extraKinds}
}

/** Imports one plugin module and checks that its default export looks like an Engine. */
async function importEngineModule(path: string): Promise<EngineModule> {
  const hints = [
    `${ENGINE_MODULES_ENV} lists absolute paths of ES modules, separated by commas; each default-exports an engine.`,
  ]
  if (!isAbsolute(path)) {
    throw new LifeboatError('ENGINE_MODULE_INVALID', `engine module path ${path} is not absolute`, {hints})
  }
  let mod: {default?: unknown}
  try {
    mod = (await import(pathToFileURL(path).href)) as {default?: unknown}
  } catch (err) {
    throw new LifeboatError('ENGINE_MODULE_INVALID', `could not load the engine module ${path}`, {
      detail: describeError(err),
      hints,
      cause: err,
    })
  }
  const engine = mod.default as Partial<EngineModule> | undefined
  const missing = engine === undefined || engine === null ? ['default export'] : missingMembers(engine)
  if (missing.length > 0) {
    throw new LifeboatError(
      'ENGINE_MODULE_INVALID',
      `${path} does not default-export an engine: missing ${missing.join(', ')}`,
      {hints},
    )
  }
  return engine as EngineModule
}

function missingMembers(engine: Partial<EngineModule>): string[] {
  const missing: string[] = []
  if (typeof engine.kind !== 'string' || engine.kind === '') missing.push('kind')
  for (const fn of ['cluster', 'lock', 'gather', 'plan', 'connect', 'close', 'verify'] as const) {
    if (typeof engine[fn] !== 'function') missing.push(fn)
  }
  if (typeof engine.steps !== 'object' || engine.steps === null) missing.push('steps')
  if (engine.specSchema !== undefined && (typeof engine.specSchema !== 'object' || engine.specSchema === null))
    missing.push('specSchema (an object)')
  return missing
}

/** The kinds some engine handles, sorted. */
export function knownKinds(registry: EngineRegistry): string[] {
  return [...registry.engines.keys()].sort()
}

/** The engine for a spec kind, or a LifeboatError listing the kinds that have one. */
export async function engineFor(
  kind: string,
  env: Record<string, string | undefined> = process.env,
): Promise<EngineModule> {
  const registry = await loadEngineRegistry(env)
  const found = registry.engines.get(kind)
  if (found) return found.load()
  const known = knownKinds(registry)
  throw new LifeboatError('ENGINE_UNKNOWN_KIND', `no engine handles the kind ${kind}`, {
    detail:
      known.length > 0
        ? `Engines are available for: ${known.join(', ')}.`
        : 'No engine is available in this build of lifeboat.',
    hints: [
      `Check the spec's kind; an engine outside lifeboat is added through ${ENGINE_MODULES_ENV}=/abs/path/engine.js.`,
    ],
  })
}
