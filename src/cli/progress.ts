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

/** The task list as lines, each cut to `width` columns so that a redraw never wraps. Pure. */
export function renderTaskLines(tasks: readonly Task[], opts: {color: boolean; width: number}): string[] {
  const idWidth = Math.max(0, ...tasks.map((t) => t.id.length))
  return tasks.map((t) => {
    const status = t.status.padEnd(7)
    const text = `${SYMBOL[t.status]} ${t.id.padEnd(idWidth)}  ${status}  ${t.note ?? t.description}`
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

/** Plain progress: one line per status change, `[2/5] 02-set-b: done (b = "2")`. */
export class PlainTaskList implements TaskReporter {
  private readonly ids: string[]

  constructor(
    tasks: readonly Omit<Task, 'status'>[],
    private readonly write: (text: string) => void,
  ) {
    this.ids = tasks.map((t) => t.id)
  }

  update(id: string, status: TaskStatus, note?: string): void {
    const n = this.ids.indexOf(id) + 1
    this.write(`[${n}/${this.ids.length}] ${id}: ${status}${note ? ` (${note})` : ''}\n`)
  }

  pause(): void {}
  finish(): void {}
}
