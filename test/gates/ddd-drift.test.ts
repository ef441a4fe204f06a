// The PegasusDddRecovery engine's driftOf (issue 18): what apply checks before a proposal still to
// send, on a resume after a partial write and before each later disruptive step. From the fixture
// `one-last-drop-dead` (proposal 2.2 -> 10.0.0.2:34801): an unchanged cluster and a proposal that
// took effect are not drift; a replica removed from the partition, a changed replica, a dead
// target and another primary are, each said in the cluster's terms.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

import {dddDriftOf} from '../../src/engines/pegasus/ddd/drift.js'
import {dddRecoveryEngine} from '../../src/engines/pegasus/ddd/engine.js'
import {planDddRecovery} from '../../src/engines/pegasus/ddd/planner.js'
import type {DddLiveState, DddRecoverySpec} from '../../src/engines/pegasus/ddd/types.js'
import type {PlanBody} from '../../src/plan/types.js'
import {loadSpecFile} from '../../src/spec/index.js'

const DIR = fileURLToPath(new URL('../fixtures/PegasusDddRecovery/one-last-drop-dead/', import.meta.url))
const NOW = '2026-01-01T00:00:00.000Z'

let spec: DddRecoverySpec
let plan: PlanBody
const live = (): DddLiveState => JSON.parse(readFileSync(join(DIR, 'live.json'), 'utf8')) as DddLiveState

beforeAll(async () => {
  const loaded = await loadSpecFile(join(DIR, 'spec.yaml'))
  if (!loaded.ok || !loaded.spec) throw new Error(JSON.stringify(loaded.diagnostics))
  spec = loaded.spec.spec as DddRecoverySpec
  plan = planDddRecovery(spec, live(), {now: NOW})
})

const drift = (l: DddLiveState) => dddDriftOf(spec, l, plan, plan.steps)

describe('DDD driftOf', () => {
  it('is the engine method apply calls', () => {
    expect(dddRecoveryEngine.driftOf).toBe(dddDriftOf)
    expect(plan.steps.map((s) => s.id)).toEqual(['01-propose-2.2', '02-wait-primaries', '03-verify'])
  })

  it('an unchanged cluster, and a proposal that took effect, are not drift', () => {
    expect(drift(live())).toEqual([])
    const done = live()
    done.configs.find((c) => c.pid === '2.2')!.primary = '10.0.0.2:34801'
    done.ddd = done.ddd.filter((p) => p.config.pid !== '2.2')
    expect(drift(done)).toEqual([])
  })

  it('a replica removed from the partition not yet proposed is drift', () => {
    const l = live()
    const p = l.ddd.find((x) => x.config.pid === '2.2')!
    p.dropped = p.dropped.filter((d) => d.node !== '10.0.0.3:34801')
    expect(drift(l)).toContain(
      'partition 2.2: the replica on 10.0.0.3:34801 is gone (it had alive true, collected true, ballot 4, last_committed_decree 90, last_prepared_decree 95)',
    )
  })

  it('a replica whose decrees moved, a dead target and another primary are drift', () => {
    const moved = live()
    const target = moved.ddd.find((x) => x.config.pid === '2.2')!.dropped.find((d) => d.node === '10.0.0.3:34801')!
    target.last_committed_decree = 99
    expect(drift(moved).join('\n')).toContain(
      'partition 2.2: the replica on 10.0.0.3:34801 changed: alive true, collected true, ballot 4, last_committed_decree 90, last_prepared_decree 95 → alive true, collected true, ballot 4, last_committed_decree 99',
    )

    const dead = live()
    dead.nodes.find((n) => n.node === '10.0.0.2:34801')!.alive = false
    for (const p of dead.ddd) for (const d of p.dropped) if (d.node === '10.0.0.2:34801') d.is_alive = false
    expect(drift(dead)).toContain('node 10.0.0.2:34801 no longer answers as alive (the plan makes it primary of 2.2)')

    const other = live()
    other.configs.find((c) => c.pid === '2.2')!.primary = '10.0.0.3:34801'
    expect(drift(other)).toEqual(['partition 2.2 now has primary 10.0.0.3:34801 (the plan proposes 10.0.0.2:34801)'])
  })
})
