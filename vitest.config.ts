import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real ZooKeeper server for the whole run, started by the suite itself.
    globalSetup: ['test/global-setup.ts'],
    disableConsoleIntercept: true,
    // Limits for a hung test, not budgets: on this 2-core machine under load (another suite beside
    // it) one CLI start takes seconds, and a test of ten CLI runs must not fail for time. Tests wait
    // on conditions, never on clocks.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Two cores: ZooKeeper, the lab and the tests share them.
    maxWorkers: 2,
  },
})
