import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real ZooKeeper server for the whole run, started by the suite itself.
    globalSetup: ['test/global-setup.ts'],
    disableConsoleIntercept: true,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Two cores: ZooKeeper, the lab and the tests share them.
    maxWorkers: 2,
  },
})
