// Fixture plans for the plan, render and CLI tests: hand-written bodies under
// test/fixtures/plans/<scenario>/input.json, and a generated large one.
import {readFileSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {buildPlan, type BuildPlanInput} from '../../src/plan/build.js'
import {sha256Hex} from '../../src/plan/canonical.js'
import type {Change, Finding, Plan} from '../../src/plan/types.js'

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'plans')

/** The hand-written scenarios. */
export const SCENARIOS = ['meta-recovery', 'ddd', 'no-change', 'error-finding'] as const

export function fixtureInput(scenario: string): BuildPlanInput {
  return JSON.parse(readFileSync(join(FIXTURES, scenario, 'input.json'), 'utf8')) as BuildPlanInput
}

export function fixturePlan(scenario: string): Plan {
  if (scenario === 'large') return buildPlan(largeInput(120))
  return buildPlan(fixtureInput(scenario))
}

/**
 * A metadata recovery of one table with `partitions` partitions (and every 40th partition
 * under-replicated), built from the meta-recovery fixture's spec and cluster.
 */
export function largeInput(partitions: number): BuildPlanInput {
  const base = fixtureInput('meta-recovery')
  const nodes = ['10.0.0.1:34801', '10.0.0.2:34801', '10.0.0.3:34801', '10.0.0.4:34801']
  const changes: Change[] = [
    {
      address: 'zk:/pegasus/onebox/apps/2',
      noun: 'table',
      action: 'create',
      before: null,
      after: {
        app_id: 2,
        app_name: 'big',
        app_type: 'pegasus',
        partition_count: partitions,
        status: 'AS_AVAILABLE',
        max_replica_count: 3,
      },
    },
  ]
  const findings: Finding[] = []
  for (let p = 0; p < partitions; p++) {
    const primary = nodes[p % nodes.length]!
    changes.push({
      address: `zk:/pegasus/onebox/apps/2/${p}`,
      noun: 'partition',
      action: 'create',
      before: null,
      after: {
        pid: `2.${p}`,
        ballot: 3 + (p % 5),
        primary,
        secondaries: nodes.filter((n) => n !== primary).slice(0, 2),
        last_committed_decree: 1000 + p,
        max_replica_count: 3,
      },
    })
    if (p % 40 === 7) {
      findings.push({
        code: 'PEGASUS_PARTITION_UNDER_REPLICATED',
        severity: 'warning',
        subject: `2.${p}`,
        message: `partition(2.${p}) only collects 2/3 of replicas, may lost data`,
      })
    }
  }
  return {
    ...base,
    spec: {...base.spec, name: 'big-meta-recovery'},
    body: {
      vocabulary: base.body.vocabulary,
      observed: {fingerprint: sha256Hex(`large-${partitions}`), summary: {nodes_reached: 4, tables: 1, partitions}},
      changes,
      primaries: [],
      steps: base.body.steps,
      findings,
    },
  }
}
