// Fixture loading for the OpenMLDBRecovery planner tests: every spec goes through the real loader
// (schema with defaults, the engine's checks), so a fixture is also a valid spec.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {openmldbRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {normalizeSpec} from '../../src/engines/openmldb/spec.js'
import type {OpenMLDBLiveState, OpenMLDBRecoverySpec} from '../../src/engines/openmldb/types.js'
import {loadSpecFile} from '../../src/spec/index.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/OpenMLDBRecovery/', import.meta.url))
export const NOW = '2026-01-01T00:00:00.000Z'

export async function loadFixture(
  name: string,
): Promise<{source: string; spec: OpenMLDBRecoverySpec; document: Record<string, unknown>; live: OpenMLDBLiveState}> {
  const file = join(FIXTURES, name, 'spec.yaml')
  const loaded = await loadSpecFile(file, {
    engines: new Map([['OpenMLDBRecovery', {load: async () => openmldbRecoveryEngine}]]),
  })
  if (!loaded.ok || loaded.spec === undefined)
    throw new Error(`${name}/spec.yaml: ${JSON.stringify(loaded.diagnostics)}`)
  return {
    source: readFileSync(file, 'utf8'),
    spec: normalizeSpec(loaded.spec.spec as unknown as OpenMLDBRecoverySpec),
    document: loaded.spec.document,
    live: JSON.parse(readFileSync(join(FIXTURES, name, 'live.json'), 'utf8')) as OpenMLDBLiveState,
  }
}
