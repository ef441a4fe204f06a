/**
 * The one poll/wait loop: ask, and ask again after a pause, until an answer comes or the time is
 * up. The clock is injected, so that tests run a minute of polling in no time and a wait measured
 * in polls ("once a second for N seconds") is exactly that.
 */

/** Time as a poll loop sees it. */
export interface Clock {
  /** Milliseconds, monotonic enough for deadlines. */
  now(): number
  sleep(ms: number): Promise<void>
}

/** Wall-clock time and real timers. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
}

/**
 * A clock whose time is only the time slept through `sleep` (which it calls): for waits counted in
 * polls, and for tests whose sleep returns at once.
 */
export function sleepClock(sleep: (ms: number) => Promise<void>): Clock {
  let slept = 0
  return {
    now: () => slept,
    sleep: async (ms) => {
      await sleep(ms)
      slept += ms
    },
  }
}

/** Where a poll is. */
export interface PollTick {
  /** 0 for the first probe. */
  attempt: number
  /** Time since the first probe, by the poll's clock. */
  elapsedMs: number
}

export interface PollOptions {
  /** How long to keep asking, from the first probe; the last probe is at or after this. */
  timeoutMs: number
  /** Pause between probes (shortened so that the last probe falls on the deadline). */
  intervalMs: number
  clock?: Clock
  /** Stops the poll (it returns undefined) before the next pause. */
  signal?: AbortSignal
  /** Called before each pause with the probe that just came back empty, e.g. for progress. */
  onWait?(tick: PollTick): void
}

/**
 * Calls `probe` until it returns something other than undefined and returns that; returns
 * undefined when the time is up (or the signal aborts) with no answer. The probe runs at least
 * once; whatever it throws ends the poll.
 */
export async function poll<T>(
  probe: (tick: PollTick) => Promise<T | undefined> | T | undefined,
  opts: PollOptions,
): Promise<T | undefined> {
  const clock = opts.clock ?? systemClock
  const start = clock.now()
  const deadline = start + opts.timeoutMs
  for (let attempt = 0; ; attempt++) {
    const tick = {attempt, elapsedMs: clock.now() - start}
    const answer = await probe(tick)
    if (answer !== undefined) return answer
    const now = clock.now()
    if (now >= deadline || opts.signal?.aborted) return undefined
    opts.onWait?.(tick)
    await clock.sleep(Math.max(0, Math.min(opts.intervalMs, deadline - now)))
  }
}
