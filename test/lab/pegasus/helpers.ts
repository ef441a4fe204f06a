// Shared helpers of the Pegasus lab tests: scenarios built in code, a lab per test, polling.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterEach} from 'vitest'

import {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import type {PegasusScenario, ScenarioTable, FaultSpec} from '../../../src/lab/scenario.js'

let counter = 0

/** A scenario with a unique cluster name (so each test has its own ZooKeeper root) and fast intervals. */
export function scenario(
  tables: ScenarioTable[],
  opts: Partial<PegasusScenario> & {faults?: FaultSpec[]} = {},
): PegasusScenario {
  counter++
  return {
    engine: 'pegasus',
    name: `t${process.pid}_${counter}_${Date.now() % 100000}`,
    meta_servers: 1,
    replica_servers: 3,
    tables,
    faults: [],
    ...opts,
    meta: {lb_interval_ms: 200, fd_grace_ms: 800, ...(opts.meta ?? {})},
    replica: {beacon_interval_ms: 100, config_sync_interval_ms: 200, ...(opts.replica ?? {})},
  }
}

/** Brings a lab up in a fresh state directory; `close` stops it and removes the directory. */
export async function startLab(zk: string, s: PegasusScenario): Promise<{lab: PegasusLab; close: () => Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-lab-test-'))
  const lab = await PegasusLab.up({scenario: s, stateDir: dir, zkHosts: zk})
  return {
    lab,
    close: async () => {
      await lab.down()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** `lab(tables, opts)` for a test file: brings a lab up on `zk`; every lab is stopped after each test. */
export function labPerTest(zk: string): (...args: Parameters<typeof scenario>) => Promise<PegasusLab> {
  const closers: (() => Promise<void>)[] = []
  afterEach(async () => {
    while (closers.length > 0) await closers.pop()?.()
  })
  return async (...args) => {
    const l = await startLab(zk, scenario(...args))
    closers.push(l.close)
    return l.lab
  }
}

/** Polls `fn` until it returns a value that is not undefined, or fails after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 15000,
): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}
