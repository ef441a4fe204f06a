// Through the real binary, on the Pegasus lab (issue 18, hole 5): the fingerprint covers where the
// meta actually runs. A meta restarted in recovery mode on another cluster root would write the
// recovered tables there; the saved plan is stale (exit 5), the refusal says the meta moved, and
// nothing is written under either root.
import {copyFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {expectExit, labUp, readPlan, readZkTree, tempDir, writeScenario, type Lab} from '../e2e/helpers.js'

const zk = inject('zookeeper')
const NAME = `gates_root_${process.pid}_${Date.now() % 100000}`

describe('a meta restarted on another cluster root makes the plan stale', () => {
  let lab: Lab

  beforeAll(async () => {
    const cwd = tempDir()
    const scenario = writeScenario(cwd, NAME, {
      engine: 'pegasus',
      name: NAME,
      replica_servers: 3,
      tables: [{name: 'temp', app_id: 1, partitions: 4, replicas: 3, rows: 200}],
    })
    lab = await labUp(scenario, {zk, cwd})
  })
  afterAll(async () => {
    await lab?.down()
  })

  it('exit 5 naming the meta root, nothing written under the planned root or the new one', async () => {
    await lab.lab('fault', 'zk-loss')
    // The spec kept beside the plan, as in a repository (the lab rewrites its own when the meta moves).
    const spec = join(lab.cwd, 'spec.yaml')
    copyFileSync(lab.endpoints.specs['pegasus-meta-recovery']!, spec)
    expectExit(await lab.cli(['plan', spec, '--out', 'plan.json']), 0)
    const plan = readPlan(join(lab.cwd, 'plan.json'))
    expect(plan.applyable).toBe(true)
    const appsRoot = plan.steps.find((s) => s.id === '02-start-recovery')!.params.apps_root as string

    const elsewhere = `/lifeboat_gates/${NAME}_elsewhere`
    await lab.lab('fault', 'restart-meta', '--root', elsewhere, '--recover')
    const r = await lab.cli(['apply', 'plan.json', '--auto-approve', '--allow-data-loss'])
    expect(r.code, r.stdout + r.stderr).toBe(5)
    expect(r.stderr).toContain('Saved plan is stale')
    expect(r.stderr).toContain(elsewhere)
    const hosts = lab.endpoints.zookeeper.hosts
    expect([...(await readZkTree(hosts, appsRoot)).keys()].filter((p) => p !== appsRoot)).toEqual([])
    expect([...(await readZkTree(hosts, `${elsewhere}/apps`)).keys()].filter((p) => p !== `${elsewhere}/apps`)).toEqual(
      [],
    )
  })
})
