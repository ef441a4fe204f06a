import {defineConfig} from 'vitest/config'

import SlowFirstSequencer from './test/sequencer.js'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One real ZooKeeper server for the whole run, started by the suite itself.
    globalSetup: ['test/global-setup.ts'],
    disableConsoleIntercept: true,
    // Limits for a hung test, not budgets, and the only ones (no file sets its own): on this 2-core
    // machine under load (another suite beside it) one CLI start takes seconds, and a test that took
    // 140 s beside another suite must not fail for time. Tests wait on conditions, never on clocks.
    testTimeout: 900_000,
    hookTimeout: 900_000,
    // Four test files at a time on two cores: most of a file's time is spent waiting on the
    // processes it started (a lab, ZooKeeper sessions) or on the cluster, not running.
    maxWorkers: 4,
    // A worker runs file after file in one process, so the CLI the tests run in the worker
    // (test/in-process.ts) and the modules they import are loaded once per worker, not once per
    // file. Nothing here mocks modules or globals; every file closes what it opened.
    isolate: false,
    // The files known to be slow start first (test/sequencer.ts).
    sequence: {sequencer: SlowFirstSequencer},
  },
})
