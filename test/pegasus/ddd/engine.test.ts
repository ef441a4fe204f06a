// Gather and the step executors over the real THFT wire, against a scripted meta and replica
// servers built from the fixtures (fake-pegasus.ts). The lab's simulator is tested against the
// planner elsewhere; this checks that what lifeboat reads and sends is what the plan assumes.
import {readdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterEach, beforeAll, describe, expect, it} from 'vitest'

import {memoryRecorder, runSteps} from '../../../src/apply/runner.js'
import {silentReporter} from '../../../src/apply/ui.js'
import {LifeboatError} from '../../../src/errors.js'
import {createDddRecoveryEngine, dddRecoveryEngine} from '../../../src/engines/pegasus/ddd/engine.js'
import type {AnyEngine} from '../../../src/engines/registry.js'
import type {DddContext} from '../../../src/engines/pegasus/ddd/steps.js'
import type {DddLiveState, DddRecoverySpec} from '../../../src/engines/pegasus/ddd/types.js'
import type {PlanBody, Step} from '../../../src/plan/types.js'
import {loadSpecFile} from '../../../src/spec/index.js'
import {FakePegasus} from './fake-pegasus.js'

const FIXTURES = fileURLToPath(new URL('../../fixtures/PegasusDddRecovery/', import.meta.url))
const SCENARIOS = readdirSync(FIXTURES, {withFileTypes: true})
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
const NOW = {now: '2026-01-01T00:00:00.000Z'}
const io = {env: {}, specDir: FIXTURES, progress: () => {}}
const engine = createDddRecoveryEngine({timeoutMs: 400, pollMs: 5, concurrency: 4})

const specs = new Map<string, DddRecoverySpec>()
beforeAll(async () => {
  for (const s of SCENARIOS) {
    const loaded = await loadSpecFile(join(FIXTURES, s, 'spec.yaml'))
    specs.set(s, loaded.spec!.spec as DddRecoverySpec)
  }
})

let open: {fake: FakePegasus; ctx?: DddContext}[] = []
afterEach(async () => {
  for (const o of open) {
    if (o.ctx) await engine.close(o.ctx)
    await o.fake.close()
  }
  open = []
})

function fixtureLive(scenario: string): DddLiveState {
  return JSON.parse(readFileSync(join(FIXTURES, scenario, 'live.json'), 'utf8')) as DddLiveState
}

/** A fake cluster for a scenario, and the scenario's spec pointing at it. */
async function cluster(scenario: string): Promise<{fake: FakePegasus; spec: DddRecoverySpec}> {
  const fake = await FakePegasus.start(fixtureLive(scenario))
  open.push({fake})
  const renamed = JSON.stringify(specs.get(scenario)).replace(
    /\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}\b/g,
    (m) => fake.names.get(m) ?? m,
  )
  return {fake, spec: JSON.parse(renamed) as DddRecoverySpec}
}

async function connect(fake: FakePegasus, spec: DddRecoverySpec): Promise<DddContext> {
  const ctx = await engine.connect(spec, io)
  open.find((o) => o.fake === fake)!.ctx = ctx
  return ctx
}

/** Runs one step through apply's own step runner: skip when done, else run then verify. A failure throws. */
async function runStep(ctx: DddContext, step: Step, progress: string[] = []): Promise<'skipped' | 'done'> {
  const tasks = {
    ...silentReporter,
    update: (_id: string, status: string, note?: string) => {
      if (status === 'running' && note !== undefined && note !== step.description) progress.push(note)
    },
  }
  const result = await runSteps({
    steps: [step],
    executors: new Map([[step.id, engine.steps[step.kind]]]),
    ctx,
    recorder: memoryRecorder(),
    tasks,
    actor: 'test',
  })
  if (result.end.kind === 'failed') throw result.end.error
  return result.steps[0]!.status === 'skipped' ? 'skipped' : 'done'
}

async function failure(p: Promise<unknown>): Promise<LifeboatError> {
  try {
    await p
  } catch (err) {
    if (err instanceof LifeboatError) return err
    throw err
  }
  throw new Error('expected a failure')
}

const decisionsOf = (body: PlanBody, names: Map<string, string>) => {
  const back = new Map([...names.entries()].map(([k, v]) => [v, k]))
  const text = JSON.stringify({primaries: body.primaries, steps: body.steps, findings: body.findings})
  return JSON.parse(text.replace(/127\.0\.0\.1:\d+/g, (m) => back.get(m) ?? m)) as Omit<
    PlanBody,
    'observed' | 'changes'
  >
}

describe('the engine', () => {
  it('is an Engine the registry can hold, with an executor for every step kind it plans', () => {
    const e: AnyEngine = dddRecoveryEngine
    expect(e.kind).toBe('PegasusDddRecovery')
    expect(Object.keys(e.steps).sort()).toEqual([
      'pegasus.ddd.propose-primary',
      'pegasus.ddd.verify',
      'pegasus.ddd.wait-primaries',
    ])
    const spec = specs.get('one-last-drop-dead')!
    expect(e.cluster(spec)).toEqual({
      name: 'onebox',
      facts: [
        {name: 'zookeeper', label: 'ZooKeeper', value: '127.0.0.1:2181/pegasus/onebox'},
        {name: 'meta_servers', label: 'endpoints', value: '10.0.0.100:34601'},
      ],
    })
    const lock = e.lock({...spec, cluster: {name: 'on box', meta_servers: []}}, {env: {}})
    expect(lock.hostLocal).toBe(true)
    expect(lock.where).toMatch(/\/\.lifeboat\/locks\/pegasus-on_box\.lock$/)
  })
})

describe('gather over the wire', () => {
  for (const scenario of SCENARIOS) {
    it(`${scenario}: reads back the fixture's live state, and plans the same`, async () => {
      const {fake, spec} = await cluster(scenario)
      const live = await engine.gather(spec, io)
      expect(live).toEqual(fake.live)
      const fromWire = decisionsOf(engine.plan(spec, live, NOW), fake.names)
      const fromFixture = decisionsOf(engine.plan(specs.get(scenario)!, fixtureLive(scenario), NOW), new Map())
      expect(fromWire).toEqual(fromFixture)
    })
  }
})

describe('the per-node deadline (issue 16 item 3)', () => {
  it('is cluster.timeouts.collect_seconds, overridden by --collect-timeout; a node that times out is asked once more', async () => {
    const {fake, spec} = await cluster('no-replica-info-collected')
    const silent = fake.names.get('10.0.0.2:34801')!
    const lines: string[] = []
    const withSpec = {...spec, cluster: {...spec.cluster, timeouts: {collect_seconds: 1}}}
    const live = await engine.gather(withSpec, {...io, progress: (m: string) => lines.push(m)})
    expect(lines).toContain(`${silent} did not answer within 1 s: asking it once more`)
    expect(live.replicas.find((r) => r.node === silent)).toMatchObject({reachable: false, error: 'ERR_TIMEOUT'})
    // The flag (LIFEBOAT_COLLECT_TIMEOUT, which --collect-timeout sets) wins over the spec.
    lines.length = 0
    await engine.gather(withSpec, {...io, env: {LIFEBOAT_COLLECT_TIMEOUT: '2'}, progress: (m: string) => lines.push(m)})
    expect(lines).toContain(`${silent} did not answer within 2 s: asking it once more`)
    // The plan's warning says slow before lost, and names the setting.
    const finding = engine
      .plan(withSpec, live, NOW)
      .findings.find((f) => f.code === 'PEGASUS_REPLICA_SERVER_UNREACHABLE' && f.subject === silent)
    expect(finding?.hint).toContain('asked twice: it may be slow rather than lost')
    expect(finding?.hint).toContain('cluster.timeouts.collect_seconds in the spec (or --collect-timeout SECONDS)')
  })
})

describe('apply', () => {
  it('proposes, waits, verifies; the undecided partition stays untouched; a second run skips everything', async () => {
    const {fake, spec} = await cluster('one-last-drop-dead')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    // The fake meta runs a partition check each time the wait step pauses.
    ctx.sleep = async () => fake.check()
    const progress: string[] = []
    for (const step of body.steps) expect(await runStep(ctx, step, progress)).toBe('done')
    const b = fake.names.get('10.0.0.2:34801')!
    expect(fake.proposals).toEqual([{gpid: '2.2', node: b, force: false}])
    expect(fake.configs.get('2.2')?.primary).toBe(b)
    expect(fake.configs.get('2.3')?.primary).toBeNull()
    expect(progress).toContain('Proposed count: 1/1')
    expect(progress).toEqual(
      expect.arrayContaining([
        'Proposed count: 1/1, primaries in place: 0/1',
        'Proposed count: 1/1, primaries in place: 1/1',
      ]),
    )
    expect((await engine.verify(ctx, body)).filter((f) => f.severity !== 'info')).toEqual([])
    for (const step of body.steps.filter((s) => s.risk !== 'read' || s.kind.endsWith('wait-primaries')))
      expect(await runStep(ctx, step)).toBe('skipped')
    expect(fake.proposals).toHaveLength(1)
  })

  it('fails a proposal the meta rejects, with its words', async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    fake.pending.set('2.1', 'someone-else:1')
    // With the chosen node dead the pending proposal cannot be an earlier run's that may still execute.
    fake.alive.set(body.primaries[0].after!, false)
    const err = await failure(engine.steps[body.steps[0].kind].run(ctx, body.steps[0], () => {}))
    expect(err.code).toBe('PEGASUS_DDD_PROPOSAL_REJECTED')
    expect(err.message).toMatch(
      /rejected `propose -g 2\.1 -p ASSIGN_PRIMARY -t 127\.0\.0\.1:\d+ -n 127\.0\.0\.1:\d+`: propose_response: ERR_INVALID_PARAMETERS/,
    )
    expect(err.hints.join(' ')).toMatch(/proposal pending/)
  })

  it("takes a proposal the meta already holds for the partition (an earlier run's) as made; the wait sees it executed", async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    ctx.sleep = async () => fake.check()
    const chosen = body.primaries[0].after!
    fake.pending.set('2.1', chosen)
    const result = await engine.steps[body.steps[0].kind].run(ctx, body.steps[0], () => {})
    expect(result.summary).toBe(
      `the meta already holds a proposal for 2.1 (propose_response: ERR_INVALID_PARAMETERS); the wait step checks that ${chosen} becomes primary`,
    )
    expect(await runStep(ctx, body.steps[1])).toBe('done')
    expect(fake.configs.get('2.1')?.primary).toBe(chosen)
  })

  it('on resume, proposes again what the meta no longer holds, and converges', async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    const [propose, wait] = body.steps
    expect(await runStep(ctx, propose)).toBe('done')
    // The run stops after the proposal; the meta then loses it (a new meta leader holds no proposal).
    fake.pending.clear()
    ctx.sleep = async () => fake.check()
    const recorder = memoryRecorder()
    const resumed = await runSteps({
      steps: [propose, wait],
      executors: new Map(body.steps.map((st) => [st.id, engine.steps[st.kind]])),
      ctx,
      recorder,
      tasks: silentReporter,
      actor: 'test',
      finishedEarlier: new Set([propose.id]),
    })
    expect(resumed.end).toEqual({kind: 'completed'})
    expect(resumed.steps.map((o) => [o.id, o.status, o.again ?? false])).toEqual([
      [propose.id, 'done', true],
      [wait.id, 'done', false],
    ])
    expect(fake.proposals).toHaveLength(2)
    expect(fake.configs.get('2.1')?.primary).toBe(body.primaries[0].after)
    // Resumed once more, every step stands: the proposal is executed, nothing is proposed again.
    const again = await runSteps({
      steps: [propose, wait],
      executors: new Map(body.steps.map((st) => [st.id, engine.steps[st.kind]])),
      ctx,
      recorder,
      tasks: silentReporter,
      actor: 'test',
      finishedEarlier: new Set([propose.id, wait.id]),
    })
    expect(again.steps.map((o) => o.earlier)).toEqual([true, true])
    expect(fake.proposals).toHaveLength(2)

    // The partition loses its primary after both steps finished: both run again and it converges.
    fake.configs.get('2.1')!.primary = null
    const lost = await runSteps({
      steps: [propose, wait],
      executors: new Map(body.steps.map((st) => [st.id, engine.steps[st.kind]])),
      ctx,
      recorder,
      tasks: silentReporter,
      actor: 'test',
      finishedEarlier: new Set([propose.id, wait.id]),
    })
    expect(lost.end).toEqual({kind: 'completed'})
    expect(lost.steps.map((o) => o.again)).toEqual([true, true])
    expect(fake.proposals).toHaveLength(3)
    expect(fake.configs.get('2.1')?.primary).toBe(body.primaries[0].after)
  })

  it('fails the wait when the chosen node died and the meta cleared the proposal', async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    await runStep(ctx, body.steps[0])
    const chosen = body.primaries[0].after!
    await fake.kill(chosen)
    fake.check()
    expect(fake.log).toEqual([
      'proposal action(CT_ASSIGN_PRIMARY) for gpid(2.1) is invalid, clear all proposal actions',
    ])
    const err = await failure(engine.steps[body.steps[1].kind].run(ctx, body.steps[1], () => {}))
    expect(err.code).toBe('PEGASUS_DDD_PROPOSAL_CLEARED')
    expect(err.message).toBe(
      `proposal action(CT_ASSIGN_PRIMARY target=${chosen} node=${chosen}) for gpid(2.1) is invalid, clear all proposal actions: node(${chosen}) is not alive`,
    )
  })

  it('stops the wait at its deadline with what is missing', async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    await runStep(ctx, body.steps[0])
    // A clock that only moves when the step sleeps: no real waiting, and no partition check ever runs.
    let t = 0
    ctx.pollMs = 10_000
    ctx.now = () => t
    ctx.sleep = async (ms) => {
      t += ms
    }
    const progress: string[] = []
    const err = await failure(engine.steps[body.steps[1].kind].run(ctx, body.steps[1], (m) => progress.push(m)))
    expect(err.code).toBe('PEGASUS_DDD_WAIT_TIMEOUT')
    expect(err.message).toBe('after 60 s, 0 of 1 partitions have their primary')
    expect(err.detail).toMatch(/partition\(2\.1\): no primary yet/)
    expect(t).toBe(60_000)
    expect(progress.at(-1)).toBe('Proposed count: 1/1, primaries in place: 0/1')
  })

  it('refuses to wait below fl_steady, where the meta executes no proposal', async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    fake.level = 'fl_freezed'
    const err = await failure(engine.steps[body.steps[1].kind].run(ctx, body.steps[1], () => {}))
    expect(err.code).toBe('PEGASUS_META_LEVEL_BELOW_STEADY')
  })

  it('verify reports a partition that got another primary', async () => {
    const {fake, spec} = await cluster('larger-ballot-smaller-committed')
    const body = engine.plan(spec, await engine.gather(spec, io), NOW)
    const ctx = await connect(fake, spec)
    const other = fake.names.get('10.0.0.3:34801')!
    fake.configs.get('2.1')!.primary = other
    const findings = await engine.verify(ctx, body)
    expect(findings.map((f) => [f.code, f.severity, f.subject])).toEqual([
      ['PEGASUS_DDD_OTHER_PRIMARY', 'error', '2.1'],
    ])
    expect(await engine.steps[body.steps[0].kind].isDone(ctx, body.steps[0])).toBe(false)
  })
})
