// The suite runs most commands in the test worker (test/in-process.ts). That is only a faithful
// stand-in for the binary if both give the same exit code, stdout and stderr: here each command
// runs both ways, from success through the command's own errors to ones oclif handles itself.
// Topic help comes first: oclif's help renames the commands it lists in place, which broke every
// later `lab` command of a worker that shared one Config between runs.
import {join} from 'node:path'
import {tmpdir} from 'node:os'

import {describe, expect, it} from 'vitest'

import {REPO, runCli} from './helpers.js'

const SPECS = 'test/fixtures/specs'

const COMMANDS: string[][] = [
  ['lab'],
  ['audit'],
  ['--version'],
  ['--help'],
  ['validate', `${SPECS}/pegasus-meta-recovery.yaml`],
  ['validate', `${SPECS}/invalid/misspelt-key.yaml`],
  ['validate', '--json', `${SPECS}/tikv-unsafe-recovery.yaml`],
  ['validate', '--no-such-flag'],
  ['show', 'no-such-plan.json'],
  ['audit', 'verify', '--audit-log', 'no-such-log.jsonl'],
  ['no-such-command'],
  ['lab', 'up', 'no-such-scenario', '--state-dir', join(tmpdir(), 'lifeboat-in-process-lab')],
]

describe('a command run in the test worker', () => {
  it('exits, prints and fails exactly as the binary does', async () => {
    const codes: Array<number | null> = []
    for (const args of COMMANDS) {
      const inWorker = await runCli(args, {cwd: REPO})
      const child = await runCli(args, {cwd: REPO, process: true})
      expect({args, ...inWorker}).toEqual({args, ...child})
      codes.push(inWorker.code)
    }
    // Successes, the command's own errors (1) and oclif's (2) are all among them.
    expect(new Set(codes)).toEqual(new Set([0, 1, 2]))
  })
})
