// The shared helpers: the poll loop (with an injected clock), the concurrency limiter, the colours.
import {describe, expect, test} from 'vitest'

import {palette} from '../../src/util/colour.js'
import {mapLimit, mapLimitSettled} from '../../src/util/map-limit.js'
import {poll, sleepClock, type Clock} from '../../src/util/poll.js'

/** A clock that only moves when slept on, recording each pause. */
function fakeClock(): Clock & {pauses: number[]} {
  let t = 1000
  const pauses: number[] = []
  return {pauses, now: () => t, sleep: async (ms) => void (pauses.push(ms), (t += ms))}
}

describe('poll', () => {
  test('returns the first answer; pauses between probes; the last pause lands on the deadline', async () => {
    const clock = fakeClock()
    const seen: number[] = []
    expect(
      await poll(({attempt}) => (seen.push(attempt), attempt === 2 ? 'ok' : undefined), {
        timeoutMs: 10_000,
        intervalMs: 300,
        clock,
      }),
    ).toBe('ok')
    expect([seen, clock.pauses]).toEqual([
      [0, 1, 2],
      [300, 300],
    ])
    const late = fakeClock()
    const waits: number[] = []
    expect(
      await poll(() => undefined, {
        timeoutMs: 1000,
        intervalMs: 400,
        clock: late,
        onWait: ({elapsedMs}) => waits.push(elapsedMs),
      }),
    ).toBeUndefined()
    expect(late.pauses).toEqual([400, 400, 200])
    expect(waits).toEqual([0, 400, 800])
  })

  test('a throwing probe ends the poll; an aborted signal stops it before the next pause', async () => {
    await expect(
      poll(
        () => {
          throw new Error('boom')
        },
        {timeoutMs: 1000, intervalMs: 10, clock: fakeClock()},
      ),
    ).rejects.toThrow('boom')
    const ac = new AbortController()
    ac.abort()
    const clock = fakeClock()
    expect(await poll(() => undefined, {timeoutMs: 60_000, intervalMs: 10, clock, signal: ac.signal})).toBeUndefined()
    expect(clock.pauses).toEqual([])
  })

  test('sleepClock counts only the time slept: N one-second polls are N seconds, whatever sleep really takes', async () => {
    let calls = 0
    const clock = sleepClock(async () => void calls++)
    expect(await poll(() => undefined, {timeoutMs: 5000, intervalMs: 1000, clock})).toBeUndefined()
    expect([calls, clock.now()]).toEqual([5, 5000])
  })

  test('the system clock really waits', async () => {
    let n = 0
    expect(await poll(() => (++n === 3 ? n : undefined), {timeoutMs: 5000, intervalMs: 5})).toBe(3)
  })
})

describe('mapLimit', () => {
  test('keeps order, never runs more than the limit, and stops starting after a failure', async () => {
    let running = 0
    let peak = 0
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
      running++
      peak = Math.max(peak, running)
      await new Promise((r) => setTimeout(r, x))
      running--
      return x * 10
    })
    expect([out, peak]).toEqual([[50, 10, 40, 20, 30], 2])
    const started: number[] = []
    await expect(
      mapLimit([1, 2, 3, 4], 1, async (x) => {
        started.push(x)
        if (x === 2) throw new Error('two')
        return x
      }),
    ).rejects.toThrow('two')
    expect(started).toEqual([1, 2])
    const settled = await mapLimitSettled([1, 2], 2, async (x) => (x === 1 ? x : Promise.reject(new Error('no'))))
    expect(settled.map((r) => r.status)).toEqual(['fulfilled', 'rejected'])
  })
})

describe('palette', () => {
  test('SGR codes when on, the text itself when off; the empty string stays empty', () => {
    expect(palette(true).red('x')).toBe('\u001b[31mx\u001b[0m')
    expect(palette(true).sgr('1;32')('y')).toBe('\u001b[1;32my\u001b[0m')
    expect(palette(true).bold('')).toBe('')
    expect(palette(false).green('z')).toBe('z')
  })
})
