/**
 * PegasusDddRecovery planner benchmark (issue 6): 1,000 DDD partitions (10 tables of 100) across
 * 100 replica servers, in a synthetic live state built here that cycles through the guardian's
 * DDD cases, planned once with `undecided: max_last_prepared` and a few overrides. Prints the wall
 * time of building, planning and serialising, and the process's peak RSS.
 */
import {performance} from 'node:perf_hooks'

import {planDddRecovery} from '../src/engines/pegasus/ddd/planner.js'
import type {
  DddLiveState,
  DddNodeFacts,
  DddPartitionFacts,
  DddRecoverySpec,
  NodeReplicas,
  ReplicaFacts,
} from '../src/engines/pegasus/ddd/types.js'

const NODES = 100
const TABLES = 10
const PARTITIONS = 100
/** Every tenth node is dead. */
const dead = (i: number): boolean => i % 10 === 9

function mb(): string {
  return `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`
}

/** A deterministic cluster: partition k dropped from 3 consecutive nodes, in one of four DDD cases. */
function buildLive(): {spec: DddRecoverySpec; live: DddLiveState} {
  const addresses = Array.from({length: NODES}, (_, i) => `10.1.${Math.floor(i / 250)}.${(i % 250) + 1}:34801`)
  const replicas: ReplicaFacts[][] = addresses.map(() => [])
  const ddd: DddPartitionFacts[] = []
  const overrides: Record<string, string> = {}
  let k = 0
  for (let t = 0; t < TABLES; t++) {
    for (let p = 0; p < PARTITIONS; p++, k++) {
      const gpid = `${t + 1}.${p}`
      const idx = [k % NODES, (k + 1) % NODES, (k + 2) % NODES]
      const nodes = idx.map((i) => addresses[i]!)
      const configLcd = 1000 + (k % 50)
      const kase = k % 4
      const dropped: DddNodeFacts[] = idx.map((i, j) => {
        const alive = !dead(i) && !(kase === 1 && j === 1)
        const collected = alive && kase !== 3
        // Case 0: the latest has the larger ballot but the smaller committed decree.
        const lcd = kase === 0 ? configLcd + 5 - j * 2 : kase === 2 ? configLcd - 3 + j : configLcd + j
        const facts = {ballot: 5 + j, last_committed_decree: lcd, last_prepared_decree: lcd + 2}
        if (alive) replicas[i]!.push({pid: gpid, status: 'PS_ERROR', last_durable_decree: lcd - 10, ...facts})
        return {
          node: nodes[j]!,
          drop_time_ms: 1_700_000_000_000 + k * 1000 + j,
          is_alive: alive,
          is_collected: collected,
          ...(collected ? facts : {ballot: -1, last_committed_decree: -1, last_prepared_decree: -1}),
        }
      })
      const reason =
        kase === 0
          ? 'for the last two drops, the node with larger ballot has smaller last committed decree'
          : kase === 1
            ? `the last dropped node(${nodes[1]}) hasn't come back yet`
            : kase === 2
              ? ''
              : `the last dropped node(${nodes[2]}) is unavailable because replica info has not been collected from the node`
      ddd.push({
        config: {
          pid: gpid,
          ballot: 8,
          max_replica_count: 3,
          primary: null,
          secondaries: [],
          last_drops: nodes,
          last_committed_decree: configLcd,
        },
        dropped,
        reason,
      })
      if (k % 50 === 7 && !dead(idx[0]!)) overrides[gpid] = nodes[0]!
    }
  }
  const nodeReplicas: NodeReplicas[] = addresses.map((node, i) =>
    dead(i)
      ? {node, reachable: false, error: 'ERR_NETWORK_FAILURE', replicas: []}
      : {node, reachable: true, replicas: replicas[i]!},
  )
  const live: DddLiveState = {
    meta_server: '10.1.9.1:34601',
    meta_level: 'fl_steady',
    queries: ['-1.-1'],
    diagnosed: true,
    ddd,
    configs: ddd.map((p) => p.config),
    apps: Array.from({length: TABLES}, (_, t) => ({app_id: t + 1, app_name: `table_${t}`, status: 'AS_AVAILABLE'})),
    nodes: addresses.map((node, i) => ({node, alive: !dead(i)})),
    replicas: nodeReplicas,
  }
  const spec: DddRecoverySpec = {
    apiVersion: 'lifeboat/v1',
    kind: 'PegasusDddRecovery',
    metadata: {name: 'bench'},
    cluster: {name: 'bench', meta_servers: ['10.1.9.1:34601']},
    recovery: {
      gpids: 'all',
      auto_diagnose: true,
      primaries: overrides,
      undecided: 'max_last_prepared',
      wait_seconds: 100,
    },
  }
  return {spec, live}
}

/** Plans the synthetic cluster once and prints the figures. */
export async function run(): Promise<void> {
  let t = performance.now()
  const {spec, live} = buildLive()
  const built = performance.now() - t
  t = performance.now()
  const body = planDddRecovery(spec, live, {now: '2026-01-01T00:00:00.000Z'})
  const planned = performance.now() - t
  t = performance.now()
  const bytes = JSON.stringify(body).length
  const serialised = performance.now() - t
  const lossy = body.primaries.filter((p) => p.risk === 'lossy').length
  console.log(
    `live state: ${NODES} replica servers, ${live.ddd.length} DDD partitions: built in ${built.toFixed(0)} ms`,
  )
  console.log(
    `plan: ${planned.toFixed(0)} ms; ${body.primaries.length} primaries (${lossy} lossy), ${body.steps.length} steps, ${body.findings.length} findings`,
  )
  console.log(`plan JSON: ${(bytes / 1e6).toFixed(1)} MB in ${serialised.toFixed(0)} ms`)
  console.log(`peak RSS: ${mb()}`)
}
