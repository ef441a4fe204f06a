// The lab meta's failure detector on a machine that stalls (issue 16 item 12): the lab's servers
// share one process, so a stall of that process is no replica server's silence. The clock the
// detector counts silence on (AwakeClock) is tested on its own; the lab then stalls its whole
// process for several grace periods, and no node dies and no primary moves, while a node that
// really stops beaconing is still found dead.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {AwakeClock} from '../../../src/lab/pegasus/fd-clock.js'
import {scenario, startLab, waitFor} from './helpers.js'

describe('AwakeClock', () => {
  it('counts time between ticks in full, and a gap longer than the step as one step', () => {
    let now = 1_000_000
    const clock = new AwakeClock(400, () => now)
    expect(clock.read()).toBe(0)
    now += 150
    expect(clock.read()).toBe(150)
    expect(clock.tick()).toBe(150)
    now += 200
    expect(clock.tick()).toBe(350)
    // A stall of 5 s: one step of 400 ms.
    now += 5000
    expect(clock.read()).toBe(750)
    expect(clock.tick()).toBe(750)
    now += 100
    expect(clock.read()).toBe(850)
  })

  it('never goes back, even when the wall clock does', () => {
    let now = 1_000_000
    const clock = new AwakeClock(400, () => now)
    now += 300
    expect(clock.tick()).toBe(300)
    now -= 10_000
    expect(clock.read()).toBe(300)
    expect(clock.tick()).toBe(300)
    now += 50
    expect(clock.read()).toBe(350)
  })
})

const GRACE_MS = 800

describe('the failure detector when the lab process stalls', () => {
  let lab: PegasusLab
  let close: () => Promise<void>
  beforeAll(async () => {
    const s = scenario([{name: 'temp', partitions: 4, replicas: 3, rows: 40}], {
      meta: {fd_grace_ms: GRACE_MS, min_live_node_count_for_unfreeze: 1},
    })
    ;({lab, close} = await startLab(inject('zookeeper'), s))
  })
  afterAll(async () => {
    await close?.()
  })

  const primaries = (): string[] =>
    ['1.0', '1.1', '1.2', '1.3'].map((p) => lab.leader()!.partition(p)!.hp_primary ?? '')
  const ballots = (): number[] => ['1.0', '1.1', '1.2', '1.3'].map((p) => lab.leader()!.partition(p)!.ballot)
  const fdChecks = (): number => lab.leader()!.counters.fdChecks

  it('stalls of two grace periods each take no node away and move no primary', async () => {
    const meta = lab.leader()!
    const before = {primaries: primaries(), ballots: ballots(), changes: meta.counters.configChanges}
    expect(before.primaries.every((p) => p !== '')).toBe(true)
    for (let i = 0; i < 3; i++) {
      // The whole process stalls (as on a machine with a load of 16): no timer, beacon or check runs.
      const until = Date.now() + 2 * GRACE_MS
      while (Date.now() < until) {
        // busy: the stall itself
      }
      // Two checks after the stall: the first one wakes up to it, the second sees the beacons since.
      const checks = fdChecks()
      await waitFor('two failure-detector checks after the stall', () => (fdChecks() >= checks + 2 ? true : undefined))
      expect(meta.nodeStates().map((n) => n.alive)).toEqual([true, true, true])
    }
    expect({primaries: primaries(), ballots: ballots(), changes: meta.counters.configChanges}).toEqual(before)
  })

  it('a node that stops beaconing is still dead after the grace period, and its primaries move', async () => {
    const meta = lab.leader()!
    const victim = lab.replicas.find((r) => r.address === primaries()[0])!
    victim.hang()
    await waitFor('the hung node found dead', () =>
      meta.nodeStates().find((n) => n.node === victim.address)?.alive === false ? true : undefined,
    )
    await waitFor('1.0 has a new primary', () => {
      const p = primaries()[0]
      return p !== '' && p !== victim.address ? true : undefined
    })
    expect(ballots()[0]).toBeGreaterThan(0)
  })
})
