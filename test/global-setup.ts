// One real ZooKeeper for the whole test run; tests reach it through inject('zookeeper').
import type {TestProject} from 'vitest/node'

import {startZooKeeper, type RunningZooKeeper} from '../src/lab/zookeeper/server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    zookeeper: string
  }
}

let server: RunningZooKeeper | undefined

export async function setup(project: TestProject): Promise<void> {
  server = await startZooKeeper({heap: '1g'})
  project.provide('zookeeper', server.connectString)
}

export async function teardown(): Promise<void> {
  await server?.stop()
}
