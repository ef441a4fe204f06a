// One real ZooKeeper for the whole test run; tests reach it through inject('zookeeper').
import type {TestProject} from 'vitest/node'

import {LifeboatError} from '../src/errors.js'
import {startZooKeeper, type RunningZooKeeper} from '../src/lab/zookeeper/server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    zookeeper: string
  }
}

let server: RunningZooKeeper | undefined

export async function setup(project: TestProject): Promise<void> {
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
}
