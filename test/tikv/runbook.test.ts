// The shipped runbook is a spec of this kind and plans.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'
import {parse} from 'yaml'

import {planUnsafeRecovery} from '../../src/engines/tikv/planner.js'
import {toTiKVSpec} from '../../src/engines/tikv/spec.js'
import type {TiKVLiveState} from '../../src/engines/tikv/types.js'

const RUNBOOK = fileURLToPath(new URL('../../runbooks/tikv-unsafe-recovery.yaml', import.meta.url))
const LIVE = fileURLToPath(new URL('../fixtures/TiKVUnsafeRecovery/quorum-lost/live.json', import.meta.url))

describe('runbooks/tikv-unsafe-recovery.yaml', () => {
  it('names the schema and plans: stores 4 and 5 buried, three force leaders', () => {
    const text = readFileSync(RUNBOOK, 'utf8')
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schemas/spec.schema.json')
    const spec = toTiKVSpec(parse(text))
    expect(spec.recovery).toEqual({
      failed_stores: ['4', '5'],
      auto_detect: false,
      timeout_seconds: 300,
      skip_lost_partitions: false,
      plan_execution_timeout_seconds: 60,
    })
    const body = planUnsafeRecovery(spec, JSON.parse(readFileSync(LIVE, 'utf8')) as TiKVLiveState, {
      now: '2026-01-01T00:00:00.000Z',
    })
    expect(body.primaries.map((p) => [p.partition, p.after])).toEqual([
      ['region/1002', 'store 1'],
      ['region/1003', 'store 2'],
      ['region/1005', 'store 3'],
    ])
    expect(body.findings.filter((f) => f.severity === 'error')).toEqual([])
  })
})
