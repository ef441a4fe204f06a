// The pure DDD planner against fixture folders (golden plan.json) and the facts each plan must state.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {beforeAll, describe, expect, it} from 'vitest'

import {observedFingerprint, planDddRecovery} from '../../../src/engines/pegasus/ddd/planner.js'
import type {DddLiveState, DddRecoverySpec} from '../../../src/engines/pegasus/ddd/types.js'
import {dddRecoveryEngine} from '../../../src/engines/pegasus/ddd/engine.js'
import type {PlanBody} from '../../../src/plan/types.js'
import {expectGoldens} from '../../plan/goldens.js'
import {loadSpecFile} from '../../../src/spec/index.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/PegasusDddRecovery/', import.meta.url))
const NOW = {now: '2026-01-01T00:00:00.000Z'}

const SCENARIOS = readdirSync(FIXTURES, {withFileTypes: true})
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
const specs = new Map<string, DddRecoverySpec>()

// Every fixture spec goes through the real loader: it must pass the schema, and gets its defaults.
beforeAll(async () => {
  for (const scenario of SCENARIOS) {
    const loaded = await loadSpecFile(join(FIXTURES, scenario, 'spec.yaml'))
    if (!loaded.ok || loaded.spec === undefined)
      throw new Error(`${scenario}/spec.yaml: ${JSON.stringify(loaded.diagnostics)}`)
    specs.set(scenario, loaded.spec.spec as DddRecoverySpec)
  }
})

function load(scenario: string): {spec: DddRecoverySpec; live: DddLiveState} {
  return {
    spec: specs.get(scenario) as DddRecoverySpec,
    live: JSON.parse(readFileSync(join(FIXTURES, scenario, 'live.json'), 'utf8')) as DddLiveState,
  }
}

function planOf(scenario: string): PlanBody {
  const {spec, live} = load(scenario)
  return planDddRecovery(spec, live, NOW)
}

const codes = (body: PlanBody, severity: string): string[] =>
  body.findings.filter((f) => f.severity === severity).map((f) => `${f.code} ${f.subject}`)

describe('golden plans', () => {
  const scenarios = SCENARIOS

  it('has every scenario the issue names', () => {
    expect(scenarios).toEqual(
      expect.arrayContaining([
        'both-alive-consistent',
        'larger-ballot-smaller-committed',
        'one-last-drop-dead',
        'no-replica-info-collected',
        'override-lossy',
        'max-last-prepared',
        'override-dead-node',
        'meta-level-below-steady',
      ]),
    )
  })

  for (const scenario of scenarios) {
    it(`${scenario}: plan.json, plan.txt and plan.md`, async () => {
      const {spec} = load(scenario)
      await expectGoldens(join(FIXTURES, scenario), dddRecoveryEngine.cluster(spec), planOf(scenario))
    })
  }
})

describe('the guardian cases', () => {
  it('both last drops alive and consistent but behind the config: none, undecided and untouched', () => {
    const body = planOf('both-alive-consistent')
    expect(body.primaries).toEqual([])
    expect(body.steps).toEqual([])
    expect(codes(body, 'warning')).toEqual(['PEGASUS_DDD_UNDECIDED 2.0'])
    const diag = body.findings.find((f) => f.code === 'PEGASUS_DDD_DIAGNOSIS')?.message
    expect(diag).toContain('ddd_reason: ;')
    expect(diag).toContain('recommend_primary: none')
    expect(diag).toContain('last_drops[2]: node(10.0.0.2:34801)  <== the latest')
    expect(diag).toContain('last_drops[1]: node(10.0.0.1:34801)  <== the secondary latest')
  })

  it('the latest with the larger ballot but the smaller committed decree: the secondary latest, not lossy', () => {
    const body = planOf('larger-ballot-smaller-committed')
    expect(body.primaries.map((p) => [p.partition, p.after, p.risk])).toEqual([['2.1', '10.0.0.1:34801', 'disruptive']])
    expect(body.primaries[0].reason).toMatch(/secondary latest has the larger last_committed\(110 > 100\)/)
    expect(body.primaries[0].table).toBe('temp')
    expect(body.steps.map((s) => [s.id, s.kind, s.risk])).toEqual([
      ['01-propose-2.1', 'pegasus.ddd.propose-primary', 'disruptive'],
      ['02-wait-primaries', 'pegasus.ddd.wait-primaries', 'read'],
      ['03-verify', 'pegasus.ddd.verify', 'read'],
    ])
    expect(body.steps[0].params).toEqual({
      gpid: '2.1',
      node: '10.0.0.1:34801',
      type: 'CT_ASSIGN_PRIMARY',
      force: false,
      index: 1,
      total: 1,
    })
    expect(body.steps[1].params).toEqual({partitions: [{gpid: '2.1', node: '10.0.0.1:34801'}], wait_seconds: 60})
  })

  it('one last drop dead: the alive one when it is not behind the config, else undecided', () => {
    const body = planOf('one-last-drop-dead')
    expect(body.primaries.map((p) => [p.partition, p.after, p.risk])).toEqual([['2.2', '10.0.0.2:34801', 'disruptive']])
    expect(body.steps.find((s) => s.kind === 'pegasus.ddd.verify')?.params.untouched).toEqual(['2.3'])
    expect(codes(body, 'warning')).toEqual(['PEGASUS_DDD_UNDECIDED 2.3'])
    const marks = Object.fromEntries(body.primaries[0].candidates.map((c) => [c.node, c.marks ?? []]))
    expect(marks['10.0.0.2:34801']).toEqual(['the latest', 'recommend_primary'])
    expect(marks['10.0.0.1:34801']).toEqual(['the secondary latest', 'query_replica_info failed'])
  })

  it('no replica info collected: none; facts lifeboat read itself appear as candidates facts, never as a decision', () => {
    const body = planOf('no-replica-info-collected')
    expect(body.primaries).toEqual([])
    expect(codes(body, 'warning')).toEqual([
      'PEGASUS_DDD_UNDECIDED 2.4',
      'PEGASUS_DDD_UNDECIDED 2.5',
      'PEGASUS_REPLICA_SERVER_UNREACHABLE 10.0.0.2:34801',
    ])
    const undecided = body.findings.find((f) => f.code === 'PEGASUS_DDD_UNDECIDED' && f.subject === '2.4')?.message
    expect(undecided).toContain(
      'query_replica_info reports: node(10.0.0.1:34801) ballot(6), last_committed(100), last_prepared(104)',
    )
  })
})

describe('choices beyond Pegasus rule', () => {
  it('an override below another replica is lossy with the decrees at stake', () => {
    const body = planOf('override-lossy')
    const [p] = body.primaries
    expect([p.partition, p.after, p.risk]).toEqual(['2.6', '10.0.0.1:34801', 'lossy'])
    expect(p.atStake).toBe(
      'committed decrees 96..103 (8) known on node(10.0.0.2:34801); ' +
        'node(10.0.0.1:34801) itself prepared up to 97 in ballot 7, which it may still commit as primary',
    )
    expect(p.reason).toMatch(/diagnose_recommend picks node\(10\.0\.0\.2:34801\)/)
    expect(body.steps[0].risk).toBe('lossy')
    expect(body.steps[0].riskReason).toContain('96..103')
  })

  it('max_last_prepared picks the alive node with the largest last_prepared, lossy', () => {
    const body = planOf('max-last-prepared')
    const [p] = body.primaries
    expect([p.partition, p.after, p.risk]).toEqual(['2.7', '10.0.0.3:34801', 'lossy'])
    expect(p.atStake).toBe(
      'committed decrees 81..96 (16) known on node(10.0.0.2:34801); ' +
        'committed decrees 97..100 (4) recorded by the meta (config last_committed(100)) and held by no known replica; ' +
        'node(10.0.0.1:34801) is not alive: its decrees are unknown; ' +
        'node(10.0.0.3:34801) itself prepared up to 99 in ballot 4, which it may still commit as primary',
    )
  })

  it('overrides naming a dead node or a node without a replica are errors, and nothing is planned for them', () => {
    const body = planOf('override-dead-node')
    expect(codes(body, 'error')).toEqual(['PEGASUS_DDD_OVERRIDE_DEAD_NODE 2.8', 'PEGASUS_DDD_OVERRIDE_NO_REPLICA 2.9'])
    expect(body.steps).toEqual([])
  })

  it('says the meta level is too low, with the command to raise it', () => {
    const body = planOf('meta-level-below-steady')
    const [f] = body.findings
    expect([f.code, f.severity]).toEqual(['PEGASUS_META_LEVEL_BELOW_STEADY', 'error'])
    expect(f.message).toContain('fl_freezed')
    expect(f.hint).toContain('set_meta_level steady')
    expect(body.steps).toEqual([])
  })
})

describe('policy switches', () => {
  it('auto_diagnose false leaves a recommended partition undecided and says which node Pegasus recommends', () => {
    const {spec, live} = load('larger-ballot-smaller-committed')
    const body = planDddRecovery({...spec, recovery: {...spec.recovery, auto_diagnose: false}}, live, NOW)
    expect(body.primaries).toEqual([])
    const f = body.findings.find((x) => x.code === 'PEGASUS_DDD_UNDECIDED')
    expect(f?.message).toContain('recommend_primary is node(10.0.0.1:34801), but recovery.auto_diagnose is false')
  })

  it('an override that agrees with Pegasus rule is not lossy', () => {
    const {spec, live} = load('override-lossy')
    const body = planDddRecovery(
      {...spec, recovery: {...spec.recovery, primaries: {'2.6': '10.0.0.2:34801'}}},
      live,
      NOW,
    )
    expect(body.primaries.map((p) => [p.after, p.risk, p.atStake])).toEqual([
      ['10.0.0.2:34801', 'disruptive', undefined],
    ])
  })

  it('an override for a partition that is not DDD is ignored with a warning, and a listed healthy gpid is reported', () => {
    const {spec, live} = load('override-lossy')
    const configs = [
      ...live.configs,
      {
        pid: '2.7',
        ballot: 3,
        max_replica_count: 3,
        primary: '10.0.0.3:34801',
        secondaries: [],
        last_drops: [],
        last_committed_decree: 9,
      },
    ]
    const body = planDddRecovery(
      {
        ...spec,
        recovery: {
          ...spec.recovery,
          gpids: ['2.6', '2.7'],
          primaries: {'2.6': '10.0.0.1:34801', '2.7': '10.0.0.1:34801'},
        },
      },
      {...live, configs},
      NOW,
    )
    expect(codes(body, 'warning')).toContain('PEGASUS_DDD_OVERRIDE_NOT_DDD 2.7')
    expect(body.findings.find((f) => f.code === 'PEGASUS_PARTITION_NOT_DDD')?.message).toContain(
      'it has primary 10.0.0.3:34801',
    )
  })

  it('a DDD partition that has a primary again is left alone', () => {
    const {spec, live} = load('larger-ballot-smaller-committed')
    const configs = live.configs.map((c) => ({...c, primary: '10.0.0.3:34801'}))
    const body = planDddRecovery(spec, {...live, configs}, NOW)
    expect(body.steps).toEqual([])
    expect(codes(body, 'info')).toContain('PEGASUS_DDD_RESOLVED 2.1')
  })
})

describe('determinism and the fingerprint', () => {
  it('gives byte-identical plans whatever the input order', () => {
    const {spec, live} = load('one-last-drop-dead')
    const shuffled: DddLiveState = {
      ...live,
      ddd: [...live.ddd].reverse(),
      nodes: [...live.nodes].reverse(),
      replicas: [...live.replicas].reverse(),
    }
    expect(JSON.stringify(planDddRecovery(spec, shuffled, NOW).primaries)).toBe(
      JSON.stringify(planDddRecovery(spec, live, NOW).primaries),
    )
  })

  it('ignores drop times and durable decrees, and sees ballots, decrees, liveness and collection', () => {
    const {live} = load('one-last-drop-dead')
    const base = observedFingerprint(live)
    const clone = (): DddLiveState => JSON.parse(JSON.stringify(live)) as DddLiveState
    const moved = clone()
    moved.ddd[0].dropped[0].drop_time_ms += 5000
    moved.replicas[1].replicas[0].last_durable_decree += 3
    expect(observedFingerprint(moved)).toBe(base)
    const edits: ((l: DddLiveState) => void)[] = [
      (l) => {
        l.ddd[0].dropped[2].ballot += 1
      },
      (l) => {
        l.ddd[0].dropped[2].last_committed_decree += 1
      },
      (l) => {
        l.ddd[0].dropped[2].last_prepared_decree += 1
      },
      (l) => {
        l.ddd[0].dropped[1].is_alive = true
      },
      (l) => {
        l.ddd[0].dropped[0].is_collected = false
      },
      (l) => {
        l.replicas[1].replicas[0].last_committed_decree += 1
      },
      (l) => {
        l.ddd[0].config.last_committed_decree += 1
      },
    ]
    for (const edit of edits) {
      const l = clone()
      edit(l)
      expect(observedFingerprint(l)).not.toBe(base)
    }
  })
})
