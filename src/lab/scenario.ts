/**
 * Lab scenarios: YAML files, either a built-in (`src/lab/scenarios/<name>.yaml`, by name, whatever
 * its engine) or any path. The envelope (`schemas/lab-scenario.schema.json`: `engine`, `name`,
 * `description`) is checked here; the scenario's `engine:` picks the lab (./registry.ts), whose
 * `parseScenario` validates the rest.
 */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {basename, join, resolve} from 'node:path'

import {parseDocument} from 'yaml'

import {LifeboatError} from '../errors.js'
import {packageRoot} from '../package-root.js'
import type {LabEngine} from './engine.js'
import {labEngine} from './registry.js'

// The Pegasus vocabulary, where earlier code and tests import it from.
export type {FaultSpec, MetaLevelName, PegasusScenario, ScenarioTable} from './pegasus/scenario.js'

/** The part of a scenario every lab shares. */
export interface ScenarioEnvelope {
  engine: string
  name: string
}

/** A loaded scenario, its lab, and where it came from. */
export interface LoadedScenario<S extends ScenarioEnvelope = ScenarioEnvelope> {
  scenario: S
  /** The lab of the scenario's `engine:`. */
  lab: LabEngine<S>
  /** Absolute path of the file. */
  path: string
  /** The built-in name, when it is one. */
  builtin?: string
}

/** Where the built-in scenarios are. */
export function builtinScenarioDir(): string {
  return join(packageRoot(), 'src', 'lab', 'scenarios')
}

/** Names of the built-in scenarios. */
export function builtinScenarios(): string[] {
  try {
    return readdirSync(builtinScenarioDir())
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => basename(f, '.yaml'))
      .sort()
  } catch {
    return []
  }
}

/** Loads a scenario by built-in name or path; every problem is a LifeboatError with hints. */
// The lab is chosen by the document, so the caller that knows the engine narrows the type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function loadScenario<S extends ScenarioEnvelope = any>(
  nameOrPath: string,
  cwd = process.cwd(),
): LoadedScenario<S> {
  const builtins = builtinScenarios()
  let path: string
  let builtin: string | undefined
  const asPath = resolve(cwd, nameOrPath)
  if (existsSync(asPath)) {
    path = asPath
  } else if (builtins.includes(nameOrPath)) {
    path = join(builtinScenarioDir(), `${nameOrPath}.yaml`)
    builtin = nameOrPath
  } else {
    throw new LifeboatError(
      'LAB_SCENARIO_NOT_FOUND',
      `scenario "${nameOrPath}" is neither a file nor a built-in scenario`,
      {
        hints: [
          `Built-in scenarios: ${builtins.join(', ') || '(none found)'}.`,
          'Or give the path of a scenario YAML file.',
        ],
      },
    )
  }
  const text = readFileSync(path, 'utf8')
  const doc = parseDocument(text)
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    const where = e.linePos ? `${path}:${e.linePos[0].line}:${e.linePos[0].col}` : path
    throw new LifeboatError('LAB_SCENARIO_INVALID', `${where}: ${e.message.split('\n')[0]}`, {
      hints: ['Fix the YAML syntax of the scenario.'],
    })
  }
  const data = doc.toJS() as unknown
  const engine =
    data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as {engine?: unknown}).engine : undefined
  if (typeof engine !== 'string') {
    throw new LifeboatError('LAB_SCENARIO_INVALID', `scenario ${path} does not say which store it simulates`, {
      detail: "/: must have required property 'engine'",
      hints: [
        'Add engine: pegasus (or openmldb, tikv) at the top of the scenario; see schemas/lab-scenario.schema.json.',
      ],
    })
  }
  const lab = labEngine(engine, path) as unknown as LabEngine<S>
  return {scenario: lab.parseScenario(data, path), lab, path, builtin}
}
