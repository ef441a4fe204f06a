// Resume that converges (issue 16 item 4), Pegasus, through the real binary on one
// `pegasus-meta-recovery` lab: a step that cannot be repeated safely. start_recovery finished in an
// earlier run (the apply stopped at the manual restart); the metadata is then lost again (the same
// root emptied, the meta back in recovery mode). `apply --resume` finds the apps root gone, never
// sends start_recovery a second time from the old plan, and says to plan again (exit 5); the plan
// made again from the cluster as it is now recovers it. (The step kinds that run again when their
// effect is gone are shown on the DDD executors in test/pegasus/ddd/engine.test.ts, on OpenMLDB in
// resume-openmldb.test.ts and on TestKV in test/cli/step-status.test.ts.)
import {rmSync} from 'node:fs'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {waitFor} from '../cli/helpers.js'
import {auditRecords, builtinScenarioAs, expectExit, labUp, readPlan, readZkTree, tempDir, type Lab} from './helpers.js'

let lab: Lab
// The built-in scenario under a name of its own (builtinScenarioAs): the meta-recovery demo's lab
// (test/e2e/pegasus-meta-recovery-demo.test.ts) runs it on the same ZooKeeper, maybe at the same time.
const scenarioDir = tempDir('lifeboat-e2e-scenario-')

beforeAll(async () => {
  const scenario = builtinScenarioAs('pegasus-meta-recovery', `resume_peg_${process.pid}`, scenarioDir)
  lab = await labUp(scenario, {zk: inject('zookeeper')})
})

afterAll(async () => {
  await lab?.down()
  rmSync(scenarioDir, {recursive: true, force: true})
})

const RESTART = '05-restart-meta-normal-mode'

describe('Pegasus: a step that cannot be repeated safely, its effect gone on resume', () => {
  it('start_recovery done in an earlier run, the apps root lost since: resume stops before it and says to plan again; the new plan converges', async () => {
    await lab.lab('fault', 'zk-loss')
    const spec = lab.endpoints.specs['pegasus-meta-recovery']!
    expectExit(await lab.cli(['plan', spec, '--out', 'plan.json']), 0)
    const stopped = expectExit(await lab.cli(['apply', 'plan.json', '--auto-approve']), 3)
    expect(stopped.stdout).toContain(`Waiting for manual step ${RESTART}`)
    const start = readPlan(`${lab.cwd}/plan.json`).steps.find((s) => s.id === '02-start-recovery')!
    const appsRoot = start.params.apps_root as string
    const hosts = lab.endpoints.zookeeper.hosts
    expect((await readZkTree(hosts, appsRoot)).size).toBeGreaterThan(1)

    // The metadata is lost again: the same root, emptied, and the meta waits in recovery mode on it.
    await lab.lab('fault', 'zk-loss', '--root', appsRoot.replace(/\/apps$/, ''))
    const resumed = await lab.cli(['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', RESTART])
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(5)
    expect(resumed.stderr).toContain(
      'step 02-start-recovery was done in an earlier run, but its effect is no longer there, and it cannot be repeated safely from this plan',
    )
    expect(resumed.stderr).toContain('Plan again from the cluster as it is now: `lifeboat plan SPEC --out plan.json`')
    expect(resumed.stdout).toContain('01-check-preconditions: done in an earlier run')
    expect(resumed.stderr).not.toMatch(/\n\s+at /)
    // Nothing was sent: no second start_recovery, the root still empty.
    const resumedRun = auditRecords(lab.auditLog).at(-1)!.run
    expect(
      auditRecords(lab.auditLog).filter((r) => r.run === resumedRun && r.event === 'step.started' && !r.data.always),
    ).toEqual([])
    expect((await readZkTree(hosts, appsRoot)).size).toBeLessThanOrEqual(1)

    // Planned again from the cluster as it is now, the recovery converges.
    expectExit(await lab.cli(['plan', spec, '--out', 'again.json']), 0)
    expectExit(await lab.cli(['apply', 'again.json', '--auto-approve']), 3)
    await lab.lab('fault', 'restart-meta', '--no-recover')
    const done = expectExit(
      await lab.cli(['apply', 'again.json', '--resume', '--auto-approve', '--confirm', RESTART]),
      0,
    )
    expect(done.stdout).toContain('Verified: the cluster matches the plan.')
    await waitFor('every row readable', async () => ((await lab.verify()).found === 10000 ? true : undefined), 60_000)
  })
})
