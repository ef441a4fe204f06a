// Fixture loading for the TiKV engine's planner tests.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {parse} from 'yaml'

import {toTiKVSpec} from '../../src/engines/tikv/spec.js'
import type {TiKVLiveState, TiKVSpec} from '../../src/engines/tikv/types.js'

export const FIXTURES = fileURLToPath(new URL('../fixtures/TiKVUnsafeRecovery/', import.meta.url))
export const NOW = '2026-01-01T00:00:00.000Z'

export interface Fixture {
  source: string
  document: Record<string, unknown>
  spec: TiKVSpec
  live: TiKVLiveState
}

export function loadFixture(name: string): Fixture {
  const source = readFileSync(join(FIXTURES, name, 'spec.yaml'), 'utf8')
  const document = parse(source) as Record<string, unknown>
  return {
    source,
    document,
    spec: toTiKVSpec(document),
    live: JSON.parse(readFileSync(join(FIXTURES, name, 'live.json'), 'utf8')) as TiKVLiveState,
  }
}
