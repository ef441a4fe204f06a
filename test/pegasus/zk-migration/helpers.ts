// Helpers of the PegasusZkMigration tests: lab scenarios built in code, specs for a lab, and a
// step runner that plays the operator's part at manual steps the way `lifeboat apply` runs steps.
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parse} from 'yaml'

import {memoryRecorder, runSteps as runPlanSteps} from '../../../src/apply/runner.js'
import {silentReporter} from '../../../src/apply/ui.js'
import type {ZkMigrationContext} from '../../../src/engines/pegasus/zk-migration/steps.js'
import {zkMigrationSteps} from '../../../src/engines/pegasus/zk-migration/steps.js'
import type {ZkMigrationLive, ZkMigrationSpec} from '../../../src/engines/pegasus/zk-migration/types.js'
import {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import type {PegasusScenario, ScenarioTable} from '../../../src/lab/scenario.js'
import type {Finding, PlanBody, Step} from '../../../src/plan/types.js'

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'PegasusZkMigration')
export const NOW = '2026-03-01T12:00:00.000Z'

export function loadFixture(name: string): {spec: ZkMigrationSpec; live: ZkMigrationLive} {
  const dir = join(FIXTURES, name)
  return {
    spec: parse(readFileSync(join(dir, 'spec.yaml'), 'utf8')) as ZkMigrationSpec,
    live: JSON.parse(readFileSync(join(dir, 'live.json'), 'utf8')) as ZkMigrationLive,
  }
}

let counter = 0

/** A scenario with a unique cluster name and fast intervals. */
export function scenario(tables: ScenarioTable[], metas = 1): PegasusScenario {
  counter++
  return {
    engine: 'pegasus',
    name: `zkm${process.pid}_${counter}`,
    meta_servers: metas,
    replica_servers: 3,
    tables,
    faults: [],
    meta: {lb_interval_ms: 200, fd_grace_ms: 800},
    replica: {beacon_interval_ms: 100, config_sync_interval_ms: 200},
  }
}

/** A lab in a fresh state directory; `close` stops it and removes the directory. */
export async function startLab(zk: string, s: PegasusScenario): Promise<{lab: PegasusLab; close: () => Promise<void>}> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-zkm-test-'))
  const lab = await PegasusLab.up({scenario: s, stateDir: dir, zkHosts: zk})
  return {
    lab,
    close: async () => {
      await lab.down()
      rmSync(dir, {recursive: true, force: true})
    },
  }
}

/** The spec of a migration of the lab's cluster to `target`. */
export function specFor(
  lab: PegasusLab,
  method: 'copy' | 'recovery',
  target: {hosts: string; root: string},
  removeSource = false,
): ZkMigrationSpec {
  return {
    apiVersion: 'lifeboat/v1',
    kind: 'PegasusZkMigration',
    metadata: {name: `${lab.layout.cluster_name}-zk-move`},
    cluster: {
      name: lab.layout.cluster_name,
      meta_servers: lab.layout.meta_servers.map((m) => m.address),
      zookeeper: {hosts: lab.layout.zk_hosts, root: lab.layout.cluster_root},
    },
    migration: {method, target, ignore_ephemeral: true, remove_source_after: removeSource, wait_seconds: 30},
  }
}

export const errorsOf = (findings: Finding[]) => findings.filter((f) => f.severity === 'error')

/**
 * Runs a plan's steps through apply's own step runner (src/apply/runner.ts: isDone, then run and
 * verify; a manual step not yet done: the operator acts, then verify confirms), up to and
 * including `until`. Returns the step ids that were skipped as already done; a failed step throws.
 */
export async function runSteps(
  ctx: ZkMigrationContext,
  body: PlanBody,
  operator: (step: Step) => Promise<void>,
  until?: string,
): Promise<string[]> {
  const last = until === undefined ? body.steps.length : body.steps.findIndex((s) => s.id === until) + 1
  const steps = body.steps.slice(0, last)
  const executors = new Map(steps.map((s) => [s.id, zkMigrationSteps[s.kind]]))
  for (const s of steps) if (!executors.get(s.id) && !s.manual) throw new Error(`no executor for ${s.kind}`)
  const result = await runPlanSteps({
    steps,
    executors,
    ctx,
    recorder: memoryRecorder(),
    tasks: silentReporter,
    actor: 'test',
    askManual: async (step) => {
      await operator(step)
      return true
    },
  })
  if (result.end.kind === 'failed') throw result.end.error
  if (result.end.kind !== 'completed') throw new Error(`the steps ended ${result.end.kind}`)
  return result.steps.filter((o) => o.status === 'skipped').map((o) => o.id)
}
