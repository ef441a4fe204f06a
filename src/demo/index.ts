/**
 * The journeys `lifeboat demo` knows. A journey is one file in this folder exporting a `Journey`
 * (see ./journey.ts); add it to JOURNEYS below and `lifeboat demo NAME` runs it.
 */
import {LifeboatError} from '../errors.js'
import type {Journey} from './journey.js'
import {openmldbRecoverdata} from './openmldb-recoverdata.js'
import {pegasusDdd} from './pegasus-ddd.js'
import {pegasusMetaRecovery} from './pegasus-meta-recovery.js'
import {pegasusZkMigration} from './pegasus-zk-migration.js'
import {tikvUnsafeRecovery} from './tikv-unsafe-recovery.js'

export {
  runJourney,
  DemoFailed,
  DemoInterrupted,
  type Journey,
  type DemoContext,
  type JourneyOutcome,
} from './journey.js'

/** The journey `lifeboat demo` runs without an argument. */
export const DEFAULT_JOURNEY = 'pegasus-meta-recovery'

/** Every journey, by name. */
export const JOURNEYS: ReadonlyMap<string, Journey> = new Map(
  [pegasusMetaRecovery, pegasusDdd, pegasusZkMigration, openmldbRecoverdata, tikvUnsafeRecovery].map((j) => [
    j.name,
    j,
  ]),
)

/** The journey of that name, or a LifeboatError listing the known ones. */
export function findJourney(name: string): Journey {
  const journey = JOURNEYS.get(name)
  if (journey) return journey
  const known = [...JOURNEYS.values()].map((j) => `${j.name}: ${j.summary}`)
  throw new LifeboatError('DEMO_UNKNOWN', `there is no demo called "${name}"`, {
    detail: `Known demos:\n${known.map((k) => `  ${k}`).join('\n')}`,
    hints: [`Run one of them: lifeboat demo ${[...JOURNEYS.keys()][0] ?? DEFAULT_JOURNEY}`],
  })
}
