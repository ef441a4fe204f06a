/**
 * How apply talks to a human, as interfaces: the command line (src/cli/) implements them with a
 * terminal prompt and a live task list; apply itself never touches a terminal.
 */

import type {ProgressCount} from '../engines/types.js'

export type {ProgressCount} from '../engines/types.js'

/** Asks one question and resolves with the answer (without the line end). */
export interface Prompter {
  ask(question: string): Promise<string>
}

/** Where a step stands. */
export type TaskStatus = 'pending' | 'running' | 'done' | 'skipped' | 'failed' | 'waiting' | 'interrupted'

/** Receives step progress from apply. */
export interface TaskReporter {
  /** Updates one task; `count` says how far a running step with countable work is. */
  update(id: string, status: TaskStatus, note?: string, count?: ProgressCount): void
  /** Stops drawing until the next update, so that a prompt or a message can be written below. */
  pause(): void
  /** Draws the final state. */
  finish(): void
}

/** A reporter that shows nothing (--json, tests). */
export const silentReporter: TaskReporter = {update() {}, pause() {}, finish() {}}
