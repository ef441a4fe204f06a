// One real ZooKeeper for the whole test run; tests reach it through inject('zookeeper'). The run
// gets a temporary directory of its own as TMPDIR (the workers, the CLI, the labs and ZooKeeper
// inherit it), removed at the end, so the thousands of workspaces the tests make do not pile up.
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {TestProject} from 'vitest/node'

import {LifeboatError} from '../src/errors.js'
import {startZooKeeper, type RunningZooKeeper} from '../src/lab/zookeeper/server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    zookeeper: string
  }
}

let server: RunningZooKeeper | undefined
let runDir: string | undefined

export async function setup(project: TestProject): Promise<void> {
  runDir = mkdtempSync(join(tmpdir(), 'lifeboat-test-run-'))
  process.env.TMPDIR = runDir
  try {
    server = await startZooKeeper({heap: '1g'})
  } catch (err) {
    // vitest prints only the message: put the hints (how to install ZooKeeper) into it.
    if (err instanceof LifeboatError)
      throw new Error(`The test suite needs a real ZooKeeper: ${err.message}\n${err.hints.join('\n')}`)
    throw err
  }
  project.provide('zookeeper', server.connectString)
}

export async function teardown(): Promise<void> {
  await server?.stop()
  if (runDir) rmSync(runDir, {recursive: true, force: true})
}
