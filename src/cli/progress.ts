/**
 * Progress for a human: apply's steps as a live task list redrawn in place on a terminal, plain
 * progress lines otherwise (CI logs, pipes); the phases outside it (gathers, re-checks, a lab
 * fault) as one line each. A phase that reports a count shows done/total, a rate and an ETA (pure
 * functions below, on the caller's clock); one without shows its elapsed time. Never part of any
 * result: the audit log is the record.
 */

import type {ProgressCount, TaskReporter, TaskStatus} from '../apply/ui.js'
import {palette} from '../util/colour.js'

export type {ProgressCount, TaskReporter, TaskStatus} from '../apply/ui.js'
export {silentReporter} from '../apply/ui.js'

/** One line of the task list. */
export interface Task {
  id: string
  description: string
  status: TaskStatus
  /** The latest progress message or result summary. */
  note?: string
  /** While running: how far it is, with rate and ETA, or how long it has run (see {@link describeProgress}). */
  progress?: string
}

// ---- Rate and ETA: pure functions over (time, done) samples; the caller owns the clock. ----

/** One reading of a phase's count at a time in milliseconds (any monotonic clock). */
export interface CountSample {
  at: number
  done: number
}

/** The rate is measured over the samples of the last this many milliseconds. */
export const RATE_WINDOW_MS = 10_000
/** A rate is known once the samples span at least this long and the count moved. */
export const MIN_RATE_SPAN_MS = 1_000
/** A phase without a count shows its elapsed time once it has run this long. */
export const SHOW_ELAPSED_AFTER_MS = 2_000

/**
 * The samples after `sample`: those older than the window are dropped, but the newest of them is
 * kept as the window's start, so a phase that reports rarely still has a span. A count that went
 * back (a new phase reusing the reporter) starts afresh. Pure: returns a new array.
 */
export function addSample(samples: readonly CountSample[], sample: CountSample): CountSample[] {
  const last = samples.at(-1)
  if (last && (sample.done < last.done || sample.at < last.at)) return [sample]
  const all = [...samples, sample]
  let first = 0
  while (first + 1 < all.length && all[first + 1]!.at <= sample.at - RATE_WINDOW_MS) first++
  return all.slice(first)
}

/** Units per second over the samples, or undefined until they span {@link MIN_RATE_SPAN_MS} and the count moved. */
export function rateOf(samples: readonly CountSample[]): number | undefined {
  const first = samples[0]
  const last = samples.at(-1)
  if (!first || !last) return undefined
  const span = last.at - first.at
  if (span < MIN_RATE_SPAN_MS || last.done <= first.done) return undefined
  return ((last.done - first.done) * 1000) / span
}

/** Milliseconds left at `rate` units per second, or undefined without a total or a rate. */
export function etaMs(count: ProgressCount, rate: number | undefined): number | undefined {
  if (count.total === undefined || rate === undefined || rate <= 0) return undefined
  return (Math.max(0, count.total - count.done) * 1000) / rate
}

/** `12,400`: digits grouped by thousands, whatever the locale. */
export function formatNumber(n: number): string {
  const whole = Math.round(n)
  const sign = whole < 0 ? '-' : ''
  return sign + String(Math.abs(whole)).replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** A rate: `12,400 nodes/s`, `2.5 ops/s` below 10 a second, `0.25 ops/s` below 1. */
export function formatRate(rate: number, unit?: string): string {
  const n = rate >= 10 ? formatNumber(rate) : rate >= 1 ? rate.toFixed(1) : rate.toFixed(2)
  return `${n} ${unit ?? 'items'}/s`
}

/** A duration for humans: `8s`, `2m05s`, `1h02m`. */
export function formatDurationShort(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}

/**
 * What a running phase shows beside its message. Pure. With a count: `1,200/5,000 nodes · 400 nodes/s
 * · ETA 10s` (the rate and ETA once known; no ETA without a total). Without one: the elapsed time,
 * once over {@link SHOW_ELAPSED_AFTER_MS} (`12s`), else nothing.
 */
export function describeProgress(
  count: ProgressCount | undefined,
  samples: readonly CountSample[],
  elapsed: number,
): string | undefined {
  if (count === undefined) return elapsed >= SHOW_ELAPSED_AFTER_MS ? formatDurationShort(elapsed) : undefined
  const unit = count.unit ? ` ${count.unit}` : ''
  const parts = [
    count.total === undefined
      ? `${formatNumber(count.done)}${unit}`
      : `${formatNumber(count.done)}/${formatNumber(count.total)}${unit}`,
  ]
  const rate = rateOf(samples)
  if (rate !== undefined) parts.push(formatRate(rate, count.unit))
  const eta = etaMs(count, rate)
  if (eta !== undefined && count.done < (count.total ?? 0))
    parts.push(`ETA ${formatDurationShort(Math.ceil(eta / 1000) * 1000)}`)
  return parts.join(' · ')
}

/**
 * The progress of one phase over time: feed it counts, ask it what to show. The clock is the
 * caller's (tests pass their own).
 */
export class PhaseMeter {
  private samples: CountSample[] = []
  private count?: ProgressCount
  private started?: number

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** The phase (re)starts: no count, elapsed from now. */
  start(): void {
    this.samples = []
    this.count = undefined
    this.started = this.now()
  }

  /** A new count; a count of another unit or total starts the rate afresh. */
  report(count: ProgressCount): void {
    const at = this.now()
    this.started ??= at
    if (this.count && (this.count.unit !== count.unit || this.count.total !== count.total)) this.samples = []
    this.count = count
    this.samples = addSample(this.samples, {at, done: count.done})
  }

  /** What to show now, see {@link describeProgress}. */
  describe(): string | undefined {
    const now = this.now()
    return describeProgress(this.count, this.samples, now - (this.started ?? now))
  }
}

const SYMBOL: Record<TaskStatus, string> = {
  pending: '·',
  running: '›',
  done: '✓',
  skipped: '↷',
  failed: '✗',
  waiting: '⏸',
  interrupted: '⏹',
}
const COLOR: Record<TaskStatus, string> = {
  pending: '2',
  running: '36',
  done: '32',
  skipped: '2',
  failed: '31',
  waiting: '33',
  interrupted: '33',
}

/**
 * The word shown for a task: the status, or what a `done` or `skipped` really was. The runner says
 * so in its note: `confirmed (...)` for a manual step the operator confirmed, `already done` for an
 * effect found in place, `done in an earlier run` on resume.
 */
export function statusLabel(status: TaskStatus, note?: string): string {
  if (status === 'done' && note?.startsWith('confirmed')) return 'confirmed'
  if (status === 'done' && note === 'done in an earlier run') return 'done in an earlier run'
  if (status === 'skipped' && note === 'already done') return 'already in place'
  return status
}

/** The note, without what the label already says (`confirmed (typed yes)` under `confirmed` is `typed yes`). */
function noteAfter(label: string, status: TaskStatus, note: string | undefined): string | undefined {
  if (label === status || note === undefined) return note
  if (label === 'confirmed') return /^confirmed \((.*)\)$/.exec(note)?.[1] ?? note
  return undefined
}

/** The task list as lines, each cut to `width` columns so that a redraw never wraps. Pure. */
export function renderTaskLines(tasks: readonly Task[], opts: {color: boolean; width: number}): string[] {
  const idWidth = Math.max(0, ...tasks.map((t) => t.id.length))
  const labels = tasks.map((t) => statusLabel(t.status, t.note))
  const labelWidth = Math.max(7, ...labels.map((l) => l.length))
  return tasks.map((t, i) => {
    const label = labels[i]!
    const note = noteAfter(label, t.status, t.note)
    const shown =
      t.status === 'running' && t.progress ? `${t.progress}  ${note ?? t.description}` : (note ?? t.description)
    const text = `${SYMBOL[t.status]} ${t.id.padEnd(idWidth)}  ${label.padEnd(labelWidth)}  ${shown}`.trimEnd()
    const cut = [...text].length > opts.width ? `${[...text].slice(0, Math.max(1, opts.width - 1)).join('')}…` : text
    return palette(opts.color).sgr(COLOR[t.status])(cut)
  })
}

/**
 * The live task list: the whole list redrawn in place (cursor up, clear line) on every update. A
 * running step shows its count, rate and ETA (when it reports a count) or its elapsed time, redrawn
 * every second. `pause()` leaves the list as drawn; the next update draws a fresh copy below what
 * was printed.
 */
export class LiveTaskList implements TaskReporter {
  private readonly tasks: Task[]
  private readonly meters = new Map<string, PhaseMeter>()
  private drawn = 0
  private paused = false
  private ticker?: ReturnType<typeof setInterval>

  constructor(
    tasks: readonly Omit<Task, 'status'>[],
    private readonly write: (text: string) => void,
    private readonly opts: {color: boolean; width: number; now?: () => number; tickMs?: number},
  ) {
    this.tasks = tasks.map((t) => ({...t, status: 'pending'}))
  }

  update(id: string, status: TaskStatus, note?: string, count?: ProgressCount): void {
    const task = this.tasks.find((t) => t.id === id)
    if (!task) return
    if (status === 'running') {
      let meter = this.meters.get(id)
      if (!meter || task.status !== 'running') {
        meter = new PhaseMeter(this.opts.now)
        meter.start()
        this.meters.set(id, meter)
      }
      if (count) meter.report(count)
    } else {
      this.meters.delete(id)
      task.progress = undefined
    }
    task.status = status
    task.note = note
    this.paused = false
    this.draw()
  }

  /** Redraws the running steps' progress (the ticker calls it every second; tests call it). */
  tick(): void {
    if (!this.paused && this.meters.size > 0) this.draw()
  }

  pause(): void {
    this.drawn = 0
    this.paused = true
  }

  finish(): void {
    this.stopTicker()
    this.draw()
    this.drawn = 0
  }

  private draw(): void {
    for (const t of this.tasks) t.progress = this.meters.get(t.id)?.describe()
    const lines = renderTaskLines(this.tasks, this.opts)
    const up = this.drawn > 0 ? `\u001B[${this.drawn}A` : ''
    this.write(`${up}${lines.map((l) => `\u001B[2K${l}\n`).join('')}`)
    this.drawn = lines.length
    if (this.meters.size > 0) this.startTicker()
    else this.stopTicker()
  }

  private startTicker(): void {
    if (this.ticker || this.opts.tickMs === 0) return
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs ?? 1000)
    this.ticker.unref?.()
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = undefined
  }
}

/** How often plain progress repeats an unchanged line of a long wait. */
export const PLAIN_REPEAT_MS = 15_000

/**
 * Plain progress for logs and pipes: `[2/5] 02-set-b: done (b = "2")`. A line is printed when the
 * task's status or note changes; a note that only repeats (a wait polling every second) is printed
 * again at most every {@link PLAIN_REPEAT_MS}, so a CI log shows a long wait is alive without
 * filling up with the same line. A note whose numbers change (`12 of 40 regions`) is a change. A
 * count reported beside the note (`1,200/5,000 nodes · 400 nodes/s · ETA 10s`) is shown, but a count
 * that moved alone is printed at most every {@link PLAIN_REPEAT_MS} too.
 */
export class PlainTaskList implements TaskReporter {
  private readonly ids: string[]
  private readonly last = new Map<string, {line: string; at: number}>()
  private readonly meters = new Map<string, PhaseMeter>()

  constructor(
    tasks: readonly Omit<Task, 'status'>[],
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.ids = tasks.map((t) => t.id)
  }

  update(id: string, status: TaskStatus, note?: string, count?: ProgressCount): void {
    const n = this.ids.indexOf(id) + 1
    const label = statusLabel(status, note)
    const shown = noteAfter(label, status, note)
    const line = `[${n}/${this.ids.length}] ${id}: ${label}${shown ? ` (${shown})` : ''}`
    let progress: string | undefined
    if (status === 'running' && count) {
      let meter = this.meters.get(id)
      if (!meter) {
        meter = new PhaseMeter(this.now)
        meter.start()
        this.meters.set(id, meter)
      }
      meter.report(count)
      progress = meter.describe()
    } else if (status !== 'running') {
      this.meters.delete(id)
    }
    const prev = this.last.get(id)
    const at = this.now()
    if (prev && prev.line === line && at - prev.at < PLAIN_REPEAT_MS) return
    this.last.set(id, {line, at})
    this.write(progress ? `${line} ${progress}\n` : `${line}\n`)
  }

  pause(): void {}
  finish(): void {}
}

/**
 * Progress of a phase outside the task list (gather, the re-plan before the prompt, resume's
 * re-check), for a terminal: each message on its own line, a message with a count rewritten in
 * place while the counts go on (`  reading regions · 40,000 regions · 21,300 regions/s`), and the
 * last line redrawn every second with its elapsed time once it has run 2 s. Call `end()` before
 * anything else is written: it stops the redraws.
 */
export class PhaseLine {
  private meter?: PhaseMeter
  private message?: string
  private counted = false
  private ticker?: ReturnType<typeof setInterval>

  constructor(
    private readonly write: (text: string) => void,
    private readonly opts: {width: number; indent?: string; now?: () => number; tickMs?: number},
  ) {}

  progress(message: string, count?: ProgressCount): void {
    // In place: counts that go on, the message just shown again (its elapsed time goes on), or a
    // count for it; any other message is a new line.
    const same = this.message === message && count === undefined && !this.counted
    const inPlace =
      this.message !== undefined && (same || (count !== undefined && (this.counted || this.message === message)))
    if (!inPlace || (!this.counted && !same)) {
      this.meter = new PhaseMeter(this.opts.now)
      this.meter.start()
    }
    if (count) this.meter!.report(count)
    this.counted = count !== undefined
    this.message = message
    this.draw(inPlace)
    this.startTicker()
  }

  /** Redraws the last line with its progress (the ticker calls it every second; tests call it). */
  tick(): void {
    if (this.message !== undefined) this.draw(true)
  }

  /** The phase is over: no more redraws; the next message starts a new line. */
  end(): void {
    if (this.ticker) clearInterval(this.ticker)
    this.ticker = undefined
    this.message = undefined
    this.meter = undefined
  }

  private draw(inPlace: boolean): void {
    const progress = this.meter?.describe()
    const text = `${this.opts.indent ?? '  '}${this.message}${progress ? `  · ${progress}` : ''}`
    const cut =
      [...text].length > this.opts.width ? `${[...text].slice(0, Math.max(1, this.opts.width - 1)).join('')}…` : text
    this.write(`${inPlace ? '\u001B[1A' : ''}\u001B[2K${cut}\n`)
  }

  private startTicker(): void {
    if (this.ticker || this.opts.tickMs === 0) return
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs ?? 1000)
    this.ticker.unref?.()
  }
}

/**
 * Where a command's gather progress goes: a {@link PhaseLine} on a terminal (stderr when stdout
 * carries a result), nothing otherwise. `end()` before printing anything else.
 */
export function terminalPhase(stream: NodeJS.WriteStream, on: boolean): PhaseLine | undefined {
  return on && stream.isTTY
    ? new PhaseLine((t) => stream.write(t), {width: stream.columns || 100, indent: ''})
    : undefined
}

/**
 * Progress of a phase for a log or a pipe: a line when the message changes, and the same message
 * again (with its count, rate and ETA) at most every {@link PLAIN_REPEAT_MS}.
 */
export class PlainPhase {
  private last?: {message: string; at: number}
  private readonly meter: PhaseMeter

  constructor(
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.meter = new PhaseMeter(now)
  }

  progress(message: string, count?: ProgressCount): void {
    const at = this.now()
    if (this.last?.message !== message) this.meter.start()
    if (count) this.meter.report(count)
    if (this.last && this.last.message === message && at - this.last.at < PLAIN_REPEAT_MS) return
    this.last = {message, at}
    const progress = this.meter.describe()
    this.write(`${message}${progress ? ` (${progress})` : ''}\n`)
  }

  end(): void {
    this.last = undefined
  }
}

/** A phase's progress on `stream`: in place on a terminal, plain lines otherwise. */
export function phaseProgress(stream: NodeJS.WriteStream): PhaseLine | PlainPhase {
  const write = (t: string) => void stream.write(t)
  return stream.isTTY ? new PhaseLine(write, {width: stream.columns || 100, indent: ''}) : new PlainPhase(write)
}
