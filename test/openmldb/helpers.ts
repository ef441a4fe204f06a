// Fixture loading for the OpenMLDBRecovery planner tests.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {parse} from 'yaml'

import {normalizeSpec} from '../../src/engines/openmldb/spec.js'
import type {OpenMLDBLiveState, OpenMLDBRecoverySpec} from '../../src/engines/openmldb/types.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/OpenMLDBRecovery/', import.meta.url))
export const NOW = '2026-01-01T00:00:00.000Z'

export function loadFixture(name: string): {source: string; spec: OpenMLDBRecoverySpec; live: OpenMLDBLiveState} {
  const source = readFileSync(join(FIXTURES, name, 'spec.yaml'), 'utf8')
  return {
    source,
    spec: normalizeSpec(parse(source) as OpenMLDBRecoverySpec),
    live: JSON.parse(readFileSync(join(FIXTURES, name, 'live.json'), 'utf8')) as OpenMLDBLiveState,
  }
}
