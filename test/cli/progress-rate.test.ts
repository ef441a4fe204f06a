// Rate and ETA of a phase with a count, and elapsed time of one without: pure functions over
// (time, count) samples, and the task lists that show them, on a clock the test moves.
import {describe, expect, it} from 'vitest'

import {
  addSample,
  describeProgress,
  etaMs,
  formatDurationShort,
  formatNumber,
  formatRate,
  LiveTaskList,
  PhaseLine,
  PhaseMeter,
  PlainPhase,
  PlainTaskList,
  rateOf,
  RATE_WINDOW_MS,
  type CountSample,
} from '../../src/cli/progress.js'

function samples(...pairs: Array<[number, number]>): CountSample[] {
  return pairs.reduce<CountSample[]>((all, [at, done]) => addSample(all, {at, done}), [])
}

describe('rate and ETA', () => {
  it('knows no rate until the samples span a second and the count moved', () => {
    expect(rateOf([])).toBeUndefined()
    expect(rateOf(samples([0, 0], [500, 6000]))).toBeUndefined()
    expect(rateOf(samples([0, 100], [3000, 100]))).toBeUndefined()
    expect(rateOf(samples([0, 0], [1000, 12_400]))).toBe(12_400)
  })

  it('measures over the last 10 s only, so a phase that speeds up shows its current pace', () => {
    // 1/s for 60 s, then 100/s for 20 s.
    let all: CountSample[] = []
    for (let s = 0; s <= 60; s++) all = addSample(all, {at: s * 1000, done: s})
    for (let s = 1; s <= 20; s++) all = addSample(all, {at: (60 + s) * 1000, done: 60 + 100 * s})
    expect(all[0]!.at).toBeGreaterThanOrEqual(80_000 - RATE_WINDOW_MS)
    expect(rateOf(all)).toBe(100)
    // A phase that reports rarely keeps the sample before the window, so it still has a rate.
    expect(rateOf(samples([0, 0], [30_000, 300]))).toBe(10)
  })

  it('starts afresh when the count goes back', () => {
    const all = samples([0, 0], [2000, 500], [3000, 10])
    expect(all).toEqual([{at: 3000, done: 10}])
    expect(rateOf(all)).toBeUndefined()
  })

  it('computes the time left from the rate and the total', () => {
    expect(etaMs({done: 1000, total: 5000}, 400)).toBe(10_000)
    expect(etaMs({done: 1000}, 400)).toBeUndefined()
    expect(etaMs({done: 1000, total: 5000}, undefined)).toBeUndefined()
    expect(etaMs({done: 6000, total: 5000}, 400)).toBe(0)
  })

  it('formats numbers, rates and durations for a terminal line', () => {
    expect(formatNumber(12_400)).toBe('12,400')
    expect(formatNumber(999)).toBe('999')
    expect(formatNumber(1_234_567.4)).toBe('1,234,567')
    expect(formatRate(12_400, 'nodes')).toBe('12,400 nodes/s')
    expect(formatRate(2.54, 'ops')).toBe('2.5 ops/s')
    expect(formatRate(0.25, 'ops')).toBe('0.25 ops/s')
    expect(formatDurationShort(8_400)).toBe('8s')
    expect(formatDurationShort(125_000)).toBe('2m05s')
    expect(formatDurationShort(3_720_000)).toBe('1h02m')
  })

  it('describes a phase: count, rate and ETA once known; elapsed time without a count, after 2 s', () => {
    const count = {done: 1000, total: 5000, unit: 'nodes'}
    expect(describeProgress(count, samples([0, 0]), 0)).toBe('1,000/5,000 nodes')
    expect(describeProgress(count, samples([0, 0], [2500, 1000]), 2500)).toBe(
      '1,000/5,000 nodes · 400 nodes/s · ETA 10s',
    )
    expect(describeProgress({done: 1000, unit: 'regions'}, samples([0, 0], [2000, 1000]), 2000)).toBe(
      '1,000 regions · 500 regions/s',
    )
    expect(describeProgress({done: 5000, total: 5000, unit: 'nodes'}, samples([0, 0], [2000, 5000]), 2000)).toBe(
      '5,000/5,000 nodes · 2,500 nodes/s',
    )
    expect(describeProgress(undefined, [], 1500)).toBeUndefined()
    expect(describeProgress(undefined, [], 12_000)).toBe('12s')
  })

  it('a meter on an injected clock: a new total or unit starts the rate afresh', () => {
    let now = 0
    const meter = new PhaseMeter(() => now)
    meter.start()
    now = 3000
    expect(meter.describe()).toBe('3s')
    meter.report({done: 0, total: 10, unit: 'ops'})
    now = 5000
    meter.report({done: 4, total: 10, unit: 'ops'})
    expect(meter.describe()).toBe('4/10 ops · 2.0 ops/s · ETA 3s')
    meter.report({done: 4, total: 200, unit: 'partitions'})
    expect(meter.describe()).toBe('4/200 partitions')
  })
})

describe('task lists with counts', () => {
  it('on a terminal, a running step shows count, rate and ETA before its message, redrawn in place', () => {
    let out = ''
    let now = 0
    const list = new LiveTaskList([{id: '01-copy', description: 'Copy the tree'}], (t) => (out += t), {
      color: false,
      width: 100,
      now: () => now,
      tickMs: 0,
    })
    list.update('01-copy', 'running', 'Copy the tree')
    list.update('01-copy', 'running', 'copying /pegasus', {done: 0, total: 20_000, unit: 'nodes'})
    now = 2000
    list.update('01-copy', 'running', 'copying /pegasus', {done: 5000, total: 20_000, unit: 'nodes'})
    const last = out.split('\u001B[1A').at(-1)!
    expect(last).toBe('\u001B[2K› 01-copy  running  5,000/20,000 nodes · 2,500 nodes/s · ETA 6s  copying /pegasus\n')
    list.update('01-copy', 'done', '20,000 nodes')
    expect(out.split('\u001B[1A').at(-1)).toBe('\u001B[2K✓ 01-copy  done     20,000 nodes\n')
    list.finish()
  })

  it('on a terminal, a step without a count shows how long it has run, redrawn by the ticker', () => {
    let out = ''
    let now = 0
    const list = new LiveTaskList([{id: '02-wait', description: 'Wait'}], (t) => (out += t), {
      color: false,
      width: 100,
      now: () => now,
      tickMs: 0,
    })
    list.update('02-wait', 'running', 'waiting for the meta server')
    expect(out).toBe('\u001B[2K› 02-wait  running  waiting for the meta server\n')
    now = 12_000
    list.tick()
    expect(out.split('\u001B[1A').at(-1)).toBe('\u001B[2K› 02-wait  running  12s  waiting for the meta server\n')
    // Paused (a prompt below): the ticker draws nothing.
    list.pause()
    const before = out
    now = 13_000
    list.tick()
    expect(out).toBe(before)
    list.finish()
  })

  it('without a terminal, a count that moves alone is printed at most every 15 s, with its rate', () => {
    let out = ''
    let now = 0
    const list = new PlainTaskList(
      [{id: '01', description: 'copy'}],
      (t) => (out += t),
      () => now,
    )
    for (let s = 0; s <= 40; s++) {
      now = s * 1000
      list.update('01', 'running', 'copying /pegasus', {done: s * 100, total: 4000, unit: 'nodes'})
    }
    expect(out.trimEnd().split('\n')).toEqual([
      '[1/1] 01: running (copying /pegasus) 0/4,000 nodes',
      '[1/1] 01: running (copying /pegasus) 1,500/4,000 nodes · 100 nodes/s · ETA 25s',
      '[1/1] 01: running (copying /pegasus) 3,000/4,000 nodes · 100 nodes/s · ETA 10s',
    ])
    list.update('01', 'done', '4,000 nodes')
    expect(out.trimEnd().split('\n').at(-1)).toBe('[1/1] 01: done (4,000 nodes)')
  })
})

describe('phase line (gather, re-check)', () => {
  it('keeps each message, rewrites a counted one in place, shows elapsed time after 2 s', () => {
    let out = ''
    let now = 0
    const line = new PhaseLine((t) => (out += t), {width: 100, now: () => now, tickMs: 0})
    line.progress('reading PD at http://127.0.0.1:2379')
    now = 3000
    line.tick()
    // The same message again (a poll of a step that goes on): in place, its elapsed time goes on.
    now = 4000
    line.progress('reading PD at http://127.0.0.1:2379')
    line.progress('reading regions', {done: 0, unit: 'regions'})
    now = 6000
    line.progress('reading regions', {done: 40_000, unit: 'regions'})
    line.progress('PD v8: 3 stores, 40,000 regions')
    line.end()
    line.tick()
    expect(out.split('\n').slice(0, -1)).toEqual([
      '\u001B[2K  reading PD at http://127.0.0.1:2379',
      '\u001B[1A\u001B[2K  reading PD at http://127.0.0.1:2379  · 3s',
      '\u001B[1A\u001B[2K  reading PD at http://127.0.0.1:2379  · 4s',
      '\u001B[2K  reading regions  · 0 regions',
      '\u001B[1A\u001B[2K  reading regions  · 40,000 regions · 20,000 regions/s',
      '\u001B[2K  PD v8: 3 stores, 40,000 regions',
    ])
  })

  it('a count for the message just shown rewrites it, and the ETA is rounded up', () => {
    let out = ''
    let now = 0
    const line = new PhaseLine((t) => (out += t), {width: 100, now: () => now, tickMs: 0})
    line.progress('asking 20 tablets')
    line.progress('asking 20 tablets', {done: 1, total: 20, unit: 'tablets'})
    now = 1500
    line.progress('asking 20 tablets', {done: 4, total: 20, unit: 'tablets'})
    line.end()
    expect(out.split('\n').at(-2)).toBe(
      '\u001B[1A\u001B[2K  asking 20 tablets  · 4/20 tablets · 2.0 tablets/s · ETA 8s',
    )
    expect(out.split('\u001B[1A')).toHaveLength(3)
  })
})

describe('plain phase (a log or a pipe)', () => {
  it('prints a line when the step changes, and the same step again at most every 15 s, with its count', () => {
    let out = ''
    let now = 0
    const phase = new PlainPhase(
      (t) => (out += t),
      () => now,
    )
    phase.progress('zk-loss: meta servers stopped; removing /pegasus/scale')
    for (let s = 0; s <= 20; s++) {
      now = 1000 + s * 1000
      phase.progress('zk-loss: removing /pegasus/scale', {done: s * 1000, unit: 'nodes'})
    }
    now = 30_000
    phase.progress('zk-loss: restarting the meta servers in recovery mode on /pegasus/scale_recovery')
    expect(out.trimEnd().split('\n')).toEqual([
      'zk-loss: meta servers stopped; removing /pegasus/scale',
      'zk-loss: removing /pegasus/scale (0 nodes)',
      'zk-loss: removing /pegasus/scale (15,000 nodes · 1,000 nodes/s)',
      'zk-loss: restarting the meta servers in recovery mode on /pegasus/scale_recovery',
    ])
  })
})
