// The shipped runbook is a valid spec of this kind, and plans.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {planDddRecovery} from '../../../src/engines/pegasus/ddd/planner.js'
import type {DddLiveState, DddRecoverySpec} from '../../../src/engines/pegasus/ddd/types.js'
import {loadSpecFile} from '../../../src/spec/index.js'

const RUNBOOK = fileURLToPath(new URL('../../../runbooks/pegasus-ddd-recovery.yaml', import.meta.url))
const LIVE = fileURLToPath(new URL('../../fixtures/PegasusDddRecovery/one-last-drop-dead/live.json', import.meta.url))

describe('runbooks/pegasus-ddd-recovery.yaml', () => {
  it('names the schema, validates, and plans with its defaults', async () => {
    expect(readFileSync(RUNBOOK, 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=../schemas/spec.schema.json',
    )
    const loaded = await loadSpecFile(RUNBOOK)
    expect(loaded.diagnostics).toEqual([])
    expect(loaded.spec?.kind).toBe('PegasusDddRecovery')
    const spec = loaded.spec!.spec as DddRecoverySpec
    expect(spec.recovery).toEqual({
      gpids: 'all',
      auto_diagnose: true,
      primaries: {},
      undecided: 'skip',
      wait_seconds: 100,
    })
    const body = planDddRecovery(spec, JSON.parse(readFileSync(LIVE, 'utf8')) as DddLiveState, {
      now: '2026-01-01T00:00:00.000Z',
    })
    expect(body.primaries.map((p) => [p.partition, p.after, p.risk])).toEqual([['2.2', '10.0.0.2:34801', 'disruptive']])
  })
})
