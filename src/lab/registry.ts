/**
 * The labs, by the `engine:` of their scenarios. Adding a store's lab is one line here.
 */
import {LifeboatError} from '../errors.js'
import type {LabEngine} from './engine.js'
import {openmldbLab} from './openmldb/index.js'
import {pegasusLab} from './pegasus/index.js'
import {tikvLab} from './tikv/index.js'

/** Every lab, by engine name. */
const LABS: readonly LabEngine[] = [
  openmldbLab as unknown as LabEngine,
  pegasusLab as unknown as LabEngine,
  tikvLab as unknown as LabEngine,
]

/** The labs, sorted by engine name. */
export function labEngines(): LabEngine[] {
  return [...LABS].sort((a, b) => a.engine.localeCompare(b.engine))
}

/** The lab of `engine`; LAB_ENGINE_UNKNOWN (naming `where`, a scenario file or a lab state) when there is none. */
export function labEngine(engine: string, where?: string): LabEngine {
  const lab = LABS.find((l) => l.engine === engine)
  if (lab) return lab
  throw new LifeboatError('LAB_ENGINE_UNKNOWN', `${where ? `${where}: ` : ''}the lab has no engine "${engine}"`, {
    hints: [
      `Labs: ${labEngines()
        .map((l) => l.engine)
        .join(', ')}; set engine: to one of them.`,
    ],
  })
}
