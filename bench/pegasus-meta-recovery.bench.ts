/**
 * PegasusMetaRecovery planner benchmark (issue 5): 100 replica servers, 1000 tables of 64
 * partitions (64,000 partitions, 3 replicas each: 192,000 replica reports) in a synthetic live
 * state built here, planned once. Prints each phase's wall and CPU time and RSS (pegasus-phases.ts):
 * prediction, buildPlan, text rendering, serialising. Targets: plan under 5 s and 1 GB.
 */
import {pegasusClusterIdentity} from '../src/engines/pegasus/cluster-identity.js'
import {planMetaRecovery} from '../src/engines/pegasus/meta-recovery/planner.js'
import {buildPlan} from '../src/plan/build.js'
import {renderPlanText} from '../src/render/text.js'
import {serializePlan} from '../src/plan/serialize.js'
import {PhaseMeter} from './pegasus-phases.js'
import type {
  AppInfo,
  MetaRecoveryLive,
  MetaRecoveryNode,
  MetaRecoverySpec,
  ReplicaInfo,
} from '../src/engines/pegasus/meta-recovery/types.js'

const NODES = 100
const TABLES = 1000
const PARTITIONS = 64
const REPLICAS = 3
const ROOT = '/pegasus/bench'

/** A deterministic cluster: partition p of table t lives on 3 consecutive nodes with varied ballots and decrees. */
export function buildLive(): {spec: MetaRecoverySpec; live: MetaRecoveryLive} {
  const addresses = Array.from({length: NODES}, (_, i) => `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:34801`)
  const apps: AppInfo[] = Array.from({length: TABLES}, (_, i) => ({
    status: 1,
    app_type: 'pegasus',
    app_name: `table_${i % 997}`,
    app_id: i + 1,
    partition_count: PARTITIONS,
    envs: {},
    is_stateful: true,
    max_replica_count: REPLICAS,
    expire_second: 0,
    create_second: 1_700_000_000,
    drop_second: 0,
    duplicating: false,
    init_partition_count: -1,
    is_bulk_loading: false,
    atomic_idempotent: false,
  }))
  const replicas: ReplicaInfo[][] = addresses.map(() => [])
  const appsOn: Set<number>[] = addresses.map(() => new Set())
  let k = 0
  for (const app of apps) {
    for (let p = 0; p < PARTITIONS; p++, k++) {
      for (let r = 0; r < REPLICAS; r++) {
        const n = (k + r * 37) % NODES
        replicas[n]!.push({
          pid: `${app.app_id}.${p}`,
          ballot: 3 + ((k + r) % 4),
          status: 1,
          last_committed_decree: 10_000 + ((k * 7 + r) % 100),
          last_prepared_decree: 10_001 + ((k * 7 + r) % 100),
          last_durable_decree: 9_000,
          app_type: 'pegasus',
          disk_tag: 'ssd1',
        })
        appsOn[n]!.add(app.app_id - 1)
      }
    }
  }
  const nodes: MetaRecoveryNode[] = addresses.map((address, i) => ({
    address,
    ip: address,
    ok: true,
    apps: [...appsOn[i]!].sort((a, b) => a - b).map((j) => apps[j]!),
    replicas: replicas[i]!,
  }))
  const spec: MetaRecoverySpec = {
    apiVersion: 'lifeboat/v1',
    kind: 'PegasusMetaRecovery',
    metadata: {name: 'bench'},
    cluster: {name: 'bench', meta_servers: ['10.0.9.1:34601'], zookeeper: {hosts: '127.0.0.1:2181', root: ROOT}},
    recovery: {target_nodes: addresses, skip_bad_nodes: false, skip_lost_partitions: false, wait_seconds: 100},
  }
  const live: MetaRecoveryLive = {
    formatVersion: 1,
    targetNodes: addresses,
    meta: {error: 'ERR_UNDER_RECOVERY', recovering: true},
    appsRoot: {path: `${ROOT}/apps`, exists: false, children: []},
    nodes,
  }
  return {spec, live}
}

/** Plans the synthetic cluster once and prints the figures, phase by phase (pegasus-phases.ts). */
export async function run(): Promise<void> {
  const meter = new PhaseMeter()
  const {spec, live} = await meter.time('build the live state (bench only)', () => buildLive())
  const body = await meter.time('predict', () => planMetaRecovery(spec, live, {now: '2026-01-01T00:00:00.000Z'}))
  const plan = await meter.time('build (normalise, digest)', () =>
    buildPlan({
      spec: {kind: spec.kind, name: spec.metadata.name, sha256: '0'.repeat(64), source: '', document: {}},
      cluster: pegasusClusterIdentity(spec.cluster),
      body,
      createdAt: '2026-01-01T00:00:00.000Z',
      toolVersion: 'bench',
    }),
  )
  const text = await meter.time('render text', () => renderPlanText(plan, {color: false, width: 100}))
  const json = await meter.time('serialise (plan file bytes)', () => serializePlan(plan))
  meter.stop()
  console.log(
    `live state: ${NODES} replica servers, ${TABLES} tables, ${TABLES * PARTITIONS} partitions, ${TABLES * PARTITIONS * REPLICAS} replicas; ` +
      `${body.changes.length} changes, ${body.primaries.length} primaries, ${body.findings.length} findings; ` +
      `${text.split('\n').length} lines of text, plan file ${(json.length / 1e6).toFixed(1)} MB`,
  )
  for (const line of meter.report('pure planning (predict + build, target ≤ 5 s with the gather)', [
    'predict',
    'build (normalise, digest)',
  ]))
    console.log(line)
  for (const line of meter.report('every phase')) console.log(line)
}
