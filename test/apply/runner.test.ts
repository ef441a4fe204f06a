// apply's step runner on in-memory executors: order, skips, earlier runs, failures, manual steps,
// interruption, and the always steps that still run after each way of stopping.
import {describe, expect, it} from 'vitest'

import {memoryRecorder, runSteps, type RunStepsInput} from '../../src/apply/runner.js'
import {silentReporter} from '../../src/apply/ui.js'
import type {StepExecutor} from '../../src/engines/types.js'
import {LifeboatError} from '../../src/errors.js'
import type {Step} from '../../src/plan/types.js'

/** A tiny store: a set of step ids whose effect is there, and a log of the writes. */
function store() {
  const done = new Set<string>()
  const writes: string[] = []
  const failing = new Set<string>()
  let onRun: ((id: string) => void) | undefined
  const executor: StepExecutor<unknown> = {
    isDone: async (_ctx, step) => done.has(step.id),
    async run(_ctx, step, _progress, signal) {
      onRun?.(step.id)
      if (signal?.aborted && !step.always) throw new LifeboatError('INTERRUPTED', 'gave up')
      if (failing.has(step.id)) throw new LifeboatError('BOOM', `${step.id} broke`)
      writes.push(step.id)
      done.add(step.id)
      return {summary: `${step.id} written`}
    },
    verify: async (_ctx, step) =>
      done.has(step.id) ? [] : [{code: 'NOT_THERE', severity: 'error', message: `${step.id} is missing`}],
  }
  return {
    done,
    writes,
    failing,
    executor,
    set onRun(f: (id: string) => void) {
      onRun = f
    },
  }
}

const step = (id: string, extra: Partial<Step> = {}): Step => ({
  id,
  kind: 'k',
  params: {},
  risk: 'safe',
  description: id,
  expect: '',
  ...extra,
})

function input(steps: Step[], s: ReturnType<typeof store>, extra: Partial<RunStepsInput<unknown>> = {}) {
  const recorder = memoryRecorder()
  return {
    recorder,
    input: {
      steps,
      executors: new Map(steps.map((st) => [st.id, s.executor])),
      ctx: undefined,
      recorder,
      tasks: silentReporter,
      actor: 'tester',
      ...extra,
    },
  }
}

const events = (r: ReturnType<typeof memoryRecorder>) =>
  r.records.map((x) => `${x.event} ${String(x.data.step)}${x.data.always ? ' always' : ''}`)

describe('runSteps', () => {
  it('runs in order, records before each write, skips what is done', async () => {
    const s = store()
    s.done.add('02')
    const {recorder, input: i} = input([step('01'), step('02'), step('03')], s)
    const r = await runSteps(i)
    expect(r.end).toEqual({kind: 'completed'})
    expect(s.writes).toEqual(['01', '03'])
    expect(events(recorder)).toEqual([
      'step.started 01',
      'step.finished 01',
      'step.skipped 02',
      'step.started 03',
      'step.finished 03',
    ])
  })

  it('does not run a step finished earlier again while its effect is there; re-checks an always step', async () => {
    const s = store()
    s.done.add('01')
    const steps = [step('01'), step('02'), step('03', {always: true})]
    let lockChecks = 0
    const {recorder, input: i} = input(steps, s, {
      finishedEarlier: new Set(['01', '03']),
      beforeStep: async () => void lockChecks++,
    })
    const r = await runSteps(i)
    // The re-check of 01 only reads: the lock is asserted before each step that runs (02, 03).
    expect(lockChecks).toBe(2)
    expect(r.steps.map((o) => `${o.id}:${o.status}${o.earlier ? ':earlier' : ''}`)).toEqual([
      '01:done:earlier',
      '02:done',
      '03:done',
    ])
    expect(s.writes).toEqual(['02', '03'])
    expect(events(recorder)).toEqual(['step.started 02', 'step.finished 02', 'step.started 03', 'step.finished 03'])
  })

  it('runs a step finished earlier again when its effect is gone, and says why', async () => {
    const s = store()
    s.done.add('01')
    const notes: string[] = []
    const tasks = {
      ...silentReporter,
      update: (id: string, status: string, note?: string) => void notes.push(`${id} ${status}: ${note}`),
    }
    const steps = [step('01'), step('02'), step('03')]
    const {recorder, input: i} = input(steps, s, {finishedEarlier: new Set(['01', '02']), tasks})
    const r = await runSteps(i)
    expect(r.end).toEqual({kind: 'completed'})
    expect(s.writes).toEqual(['02', '03'])
    expect(r.steps.map((o) => `${o.id}:${o.status}${o.earlier ? ':earlier' : ''}${o.again ? ':again' : ''}`)).toEqual([
      '01:done:earlier',
      '02:done:again',
      '03:done',
    ])
    expect(r.steps[1]!.summary).toBe('ran again: 02 written')
    expect(notes).toContain('02 running: done in an earlier run, but its effect is no longer there: running it again')
    expect(recorder.records.filter((x) => x.data.step === '02').map((x) => [x.event, x.data.again])).toEqual([
      ['step.started', true],
      ['step.finished', true],
    ])
  })

  it('stops before a step that cannot be repeated when its effect is gone: plan again, exit 5; always steps run', async () => {
    const s = store()
    const executor = {...s.executor, onResume: 'plan-again' as const}
    const steps = [step('01', {expect: '01 holds.'}), step('02'), step('03', {always: true})]
    const {recorder, input: i} = input(steps, s, {finishedEarlier: new Set(['01'])})
    i.executors = new Map<string, StepExecutor<unknown>>([
      ['01', executor],
      ['02', s.executor],
      ['03', s.executor],
    ])
    const r = await runSteps(i)
    expect(r.end.kind).toBe('failed')
    const error = (r.end as {error: LifeboatError}).error
    expect(error).toMatchObject({code: 'STEP_EFFECT_GONE', exit: 5})
    expect(error.message).toBe(
      'step 01 was done in an earlier run, but its effect is no longer there, and it cannot be repeated safely from this plan',
    )
    expect(error.hints.join('\n')).toContain('lifeboat plan SPEC')
    expect(s.writes).toEqual(['03'])
    expect(events(recorder)).toEqual(['step.failed 01', 'step.started 03 always', 'step.finished 03 always'])

    // With its effect there, the same step stands as done in an earlier run.
    s.done.add('01')
    const again = input(steps, s, {finishedEarlier: new Set(['01'])})
    again.input.executors = i.executors
    expect((await runSteps(again.input)).end).toEqual({kind: 'completed'})
  })

  it('trusts a step that declares no effect of its own, and a confirmed manual step', async () => {
    const s = store()
    let asked = 0
    const trusted = {...s.executor, onResume: 'trust' as const, isDone: async () => (asked++, false)}
    const steps = [step('01'), step('02', {manual: {instructions: ['do it']}})]
    const {recorder, input: i} = input(steps, s, {finishedEarlier: new Set(['01', '02'])})
    i.executors = new Map<string, StepExecutor<unknown>>([
      ['01', trusted],
      ['02', {...s.executor, isDone: async () => (asked++, false)}],
    ])
    const r = await runSteps(i)
    expect(r.end).toEqual({kind: 'completed'})
    expect(asked).toBe(0)
    expect(r.steps.every((o) => o.earlier)).toBe(true)
    expect(recorder.records).toEqual([])
  })

  it('runs a lossy step whose effect is gone again only with allowDataLoss (exit 4 otherwise)', async () => {
    const s = store()
    const steps = [step('01', {risk: 'lossy'})]
    const refused = input(steps, s, {finishedEarlier: new Set(['01'])})
    const r = await runSteps(refused.input)
    expect(r.end.kind === 'failed' && r.end.error).toMatchObject({code: 'STEP_EFFECT_GONE', exit: 4})
    expect((r.end as {error: LifeboatError}).error.hints[0]).toContain('--allow-data-loss')
    expect(s.writes).toEqual([])
    const allowed = input(steps, s, {finishedEarlier: new Set(['01']), allowDataLoss: true})
    expect((await runSteps(allowed.input)).end).toEqual({kind: 'completed'})
    expect(s.writes).toEqual(['01'])
  })

  it('after a failure, stops and still runs the always steps after it (audited, marked always)', async () => {
    const s = store()
    s.failing.add('02')
    const steps = [step('01'), step('02'), step('03'), step('04', {always: true})]
    const {recorder, input: i} = input(steps, s)
    const r = await runSteps(i)
    expect(r.end.kind).toBe('failed')
    expect(r.end.kind === 'failed' && r.end.error.message).toMatch(/step 02 failed: 02 broke/)
    expect(s.writes).toEqual(['01', '04'])
    expect(events(recorder)).toEqual([
      'step.started 01',
      'step.finished 01',
      'step.started 02',
      'step.failed 02',
      'step.started 04 always',
      'step.finished 04 always',
    ])
  })

  it('a failing always step after a stop is reported, and the others still run', async () => {
    const s = store()
    s.failing.add('01')
    s.failing.add('02')
    const {input: i} = input([step('01'), step('02', {always: true}), step('03', {always: true})], s)
    const r = await runSteps(i)
    expect(r.end.kind).toBe('failed')
    expect(r.alwaysFailures.map((e) => e.message)).toEqual(['step 02 failed: 02 broke'])
    expect(s.writes).toEqual(['03'])
  })

  it('without a terminal, waits at an unconfirmed manual step; the always steps after it run', async () => {
    const s = store()
    const steps = [step('01'), step('02', {manual: {instructions: ['do it']}}), step('03'), step('04', {always: true})]
    const {recorder, input: i} = input(steps, s)
    const r = await runSteps(i)
    expect(r.end).toMatchObject({kind: 'waiting', step: {id: '02'}})
    expect(s.writes).toEqual(['01', '04'])
    expect(events(recorder)).toContain('step.waiting 02')
  })

  it('a confirmed manual step is checked by its executor', async () => {
    const s = store()
    s.done.add('never') // unrelated
    const steps = [step('01', {manual: {instructions: ['do it']}})]
    const asked: string[] = []
    const {recorder, input: i} = input(steps, s, {
      askManual: async (st) => {
        asked.push(st.id)
        s.done.add(st.id) // the operator did the work
        return true
      },
    })
    // isDone is asked first: not done yet, so the operator is asked.
    const r = await runSteps(i)
    expect(asked).toEqual(['01'])
    expect(r.end).toEqual({kind: 'completed'})
    expect(events(recorder)).toEqual(['step.waiting 01', 'gate.passed 01', 'step.started 01', 'step.finished 01'])
  })

  it('on an abort during a step: that call gives up, nothing further starts but the always steps', async () => {
    const s = store()
    const controller = new AbortController()
    s.onRun = (id) => {
      if (id === '02') controller.abort()
    }
    const steps = [step('01'), step('02'), step('03'), step('04', {always: true})]
    const {recorder, input: i} = input(steps, s, {signal: controller.signal})
    const r = await runSteps(i)
    expect(r.end).toEqual({kind: 'interrupted', step: '02'})
    expect(s.writes).toEqual(['01', '04'])
    expect(events(recorder)).toEqual([
      'step.started 01',
      'step.finished 01',
      'step.started 02',
      'step.interrupted 02',
      'step.started 04 always',
      'step.finished 04 always',
    ])
  })

  it('on an abort between steps: the next step never starts', async () => {
    const s = store()
    const controller = new AbortController()
    controller.abort()
    const {recorder, input: i} = input([step('01'), step('02', {always: true})], s, {signal: controller.signal})
    const r = await runSteps(i)
    expect(r.end).toEqual({kind: 'interrupted'})
    expect(events(recorder)).toEqual(['step.started 02 always', 'step.finished 02 always'])
  })

  it('an audit failure stops everything at once, always steps included', async () => {
    const s = store()
    s.failing.add('01')
    const steps = [step('01'), step('02', {always: true})]
    const {input: i} = input(steps, s)
    let n = 0
    i.recorder = {
      async append() {
        if (++n === 2) throw new LifeboatError('AUDIT_WRITE_FAILED', 'disk full')
      },
    }
    await expect(runSteps(i)).rejects.toMatchObject({code: 'AUDIT_WRITE_FAILED'})
    expect(s.writes).toEqual([])
  })
})
