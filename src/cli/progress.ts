/**
 * Progress of apply's steps for a human: a live task list redrawn in place on a terminal, plain
 * progress lines otherwise (CI logs, pipes). Never part of any result: the audit log is the record.
 */

import type {TaskReporter, TaskStatus} from '../apply/ui.js'
import {palette} from '../util/colour.js'

export type {TaskReporter, TaskStatus} from '../apply/ui.js'
export {silentReporter} from '../apply/ui.js'

/** One line of the task list. */
export interface Task {
  id: string
  description: string
  status: TaskStatus
  /** The latest progress message or result summary. */
  note?: string
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
    const text =
      `${SYMBOL[t.status]} ${t.id.padEnd(idWidth)}  ${label.padEnd(labelWidth)}  ${note ?? t.description}`.trimEnd()
    const cut = [...text].length > opts.width ? `${[...text].slice(0, Math.max(1, opts.width - 1)).join('')}…` : text
    return palette(opts.color).sgr(COLOR[t.status])(cut)
  })
}

/**
 * The live task list: the whole list redrawn in place (cursor up, clear line) on every update.
 * `pause()` leaves the list as drawn; the next update draws a fresh copy below what was printed.
 */
export class LiveTaskList implements TaskReporter {
  private readonly tasks: Task[]
  private drawn = 0

  constructor(
    tasks: readonly Omit<Task, 'status'>[],
    private readonly write: (text: string) => void,
    private readonly opts: {color: boolean; width: number},
  ) {
    this.tasks = tasks.map((t) => ({...t, status: 'pending'}))
  }

  update(id: string, status: TaskStatus, note?: string): void {
    const task = this.tasks.find((t) => t.id === id)
    if (!task) return
    task.status = status
    task.note = note
    this.draw()
  }

  pause(): void {
    this.drawn = 0
  }

  finish(): void {
    this.draw()
    this.drawn = 0
  }

  private draw(): void {
    const lines = renderTaskLines(this.tasks, this.opts)
    const up = this.drawn > 0 ? `\u001B[${this.drawn}A` : ''
    this.write(`${up}${lines.map((l) => `\u001B[2K${l}\n`).join('')}`)
    this.drawn = lines.length
  }
}

/** How often plain progress repeats an unchanged line of a long wait. */
export const PLAIN_REPEAT_MS = 15_000

/**
 * Plain progress for logs and pipes: `[2/5] 02-set-b: done (b = "2")`. A line is printed when the
 * task's status or note changes; a note that only repeats (a wait polling every second) is printed
 * again at most every {@link PLAIN_REPEAT_MS}, so a CI log shows a long wait is alive without
 * filling up with the same line. A note whose numbers change (`12 of 40 regions`) is a change.
 */
export class PlainTaskList implements TaskReporter {
  private readonly ids: string[]
  private readonly last = new Map<string, {line: string; at: number}>()

  constructor(
    tasks: readonly Omit<Task, 'status'>[],
    private readonly write: (text: string) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.ids = tasks.map((t) => t.id)
  }

  update(id: string, status: TaskStatus, note?: string): void {
    const n = this.ids.indexOf(id) + 1
    const label = statusLabel(status, note)
    const shown = noteAfter(label, status, note)
    const line = `[${n}/${this.ids.length}] ${id}: ${label}${shown ? ` (${shown})` : ''}`
    const prev = this.last.get(id)
    const at = this.now()
    if (prev && prev.line === line && at - prev.at < PLAIN_REPEAT_MS) return
    this.last.set(id, {line, at})
    this.write(`${line}\n`)
  }

  pause(): void {}
  finish(): void {}
}
