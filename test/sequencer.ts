// The order test files start in. vitest runs the files that took longest last time first, from
// its cache; a fresh checkout (CI) has no cache, and vitest then starts the largest files first,
// which put the 90-second demo files near the end of the run, alone on a worker while the others
// sat idle. Files measured slow on the 2-core machine (in seconds, a full run beside other work)
// start first here, longest first; the rest follow in vitest's own order. A stale entry costs
// nothing but a worse order.
import {BaseSequencer, type TestSpecification} from 'vitest/node'

const SLOW_FIRST = [
  'test/e2e/pegasus-meta-recovery-demo.test.ts', // 130
  'test/e2e/pegasus-zk-migration-demo.test.ts', // 130
  'test/pegasus/zk-migration/cli.test.ts', // 122
  'test/e2e/openmldb-recoverdata-demo.test.ts', // 119
  'test/cli/kill-resume.test.ts', // 97
  'test/e2e/tikv-unsafe-recovery-demo.test.ts', // 92
  'test/inputs/file-types.test.ts', // 83
  'test/e2e/pegasus-ddd-demo.test.ts', // 82
  'test/lab/pegasus/cli.test.ts', // 55
  'test/pegasus/zk-migration/lab.test.ts', // 52
  'test/e2e/pegasus-zk-migration.test.ts', // 51
  'test/e2e/openmldb-recovery.test.ts', // 49
  'test/e2e/pegasus-serving-verify.test.ts', // 47
  'test/cli/manual-and-pty.test.ts', // 45
  'test/e2e/tikv-unsafe-recovery.test.ts', // 34
  'test/audit/anchor.test.ts', // 32
  'test/cli/step-status.test.ts', // 31
  'test/e2e/openmldb-failover.test.ts', // 30
  'test/gates/drift-remaining.test.ts', // 29
  'test/engine/plugin-engines.test.ts', // 29
  'test/cli/progress-pty.test.ts', // 27
  'test/lab/pegasus/two-zk.test.ts', // 24
]

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const root = this.ctx.config.root
    const rank = (f: TestSpecification): number => {
      const i = SLOW_FIRST.indexOf(f.moduleId.slice(root.length + 1))
      return i === -1 ? SLOW_FIRST.length : i
    }
    const rest = await super.sort(files)
    const order = new Map(rest.map((f, i) => [f, i]))
    return [...files].sort((a, b) => rank(a) - rank(b) || order.get(a)! - order.get(b)!)
  }
}
