/**
 * Questions at a terminal: the approval gate and manual-step confirmations.
 *
 * Only a terminal counts: a script piping `yes` into apply must use --auto-approve instead, so
 * that an unattended approval is always visible in the command line and the audit log.
 */
import {createInterface} from 'node:readline'

import type {Prompter} from '../apply/ui.js'

export type {Prompter} from '../apply/ui.js'

/**
 * A prompter on the process's terminal, or undefined when stdin or stdout is not one. EOF (Ctrl-D)
 * and Ctrl-C answer with an empty string, which no gate accepts.
 */
export function terminalPrompter(
  input: NodeJS.ReadStream = process.stdin,
  output: NodeJS.WriteStream = process.stdout,
): Prompter | undefined {
  if (!input.isTTY || !output.isTTY) return undefined
  return {
    ask(question: string): Promise<string> {
      return new Promise((resolve) => {
        const rl = createInterface({input, output, terminal: true})
        let answered = false
        rl.question(question, (answer) => {
          answered = true
          rl.close()
          resolve(answer.trim())
        })
        // Ctrl-C at a prompt (the terminal is in raw mode, so readline receives it, not the process):
        // an empty answer, which no gate accepts, so apply cancels or stops before any further write.
        rl.on('SIGINT', () => rl.close())
        rl.once('close', () => {
          if (!answered) {
            output.write('\n')
            resolve('')
          }
        })
      })
    },
  }
}
