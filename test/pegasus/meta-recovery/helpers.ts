/** Builders of small live states for the planner's unit tests. */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {parse} from 'yaml'

import type {
  AppInfo,
  MetaRecoveryLive,
  MetaRecoveryNode,
  MetaRecoverySpec,
  ReplicaInfo,
} from '../../../src/engines/pegasus/meta-recovery/types.js'

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'PegasusMetaRecovery')
export const NOW = '2026-03-01T12:00:00.000Z'
export const ROOT = '/pegasus/onebox_recovery/127.0.0.1'

export function loadFixture(name: string): {spec: MetaRecoverySpec; live: MetaRecoveryLive} {
  const dir = join(FIXTURES, name)
  const spec = parse(readFileSync(join(dir, 'spec.yaml'), 'utf8')) as MetaRecoverySpec
  const live = JSON.parse(readFileSync(join(dir, 'live.json'), 'utf8')) as MetaRecoveryLive
  return {spec, live}
}

export function appInfo(id: number, name: string, partitions: number, extra: Partial<AppInfo> = {}): AppInfo {
  return {
    status: 1,
    app_type: 'pegasus',
    app_name: name,
    app_id: id,
    partition_count: partitions,
    envs: {},
    is_stateful: true,
    max_replica_count: 3,
    expire_second: 0,
    create_second: 1700000000,
    drop_second: 0,
    duplicating: false,
    init_partition_count: -1,
    is_bulk_loading: false,
    atomic_idempotent: false,
    ...extra,
  }
}

export function replica(pid: string, ballot: number, lcd: number, lpd: number): ReplicaInfo {
  return {
    pid,
    ballot,
    status: 1,
    last_committed_decree: lcd,
    last_prepared_decree: lpd,
    last_durable_decree: lcd,
    app_type: 'pegasus',
    disk_tag: 'default',
  }
}

export function okNode(address: string, apps: AppInfo[], replicas: ReplicaInfo[]): MetaRecoveryNode {
  return {address, ip: address, ok: true, apps, replicas}
}

export function makeSpec(nodes: string[], opts: {skipBad?: boolean; skipLost?: boolean} = {}): MetaRecoverySpec {
  return {
    apiVersion: 'lifeboat/v1',
    kind: 'PegasusMetaRecovery',
    metadata: {name: 'unit'},
    cluster: {name: 'onebox', meta_servers: ['127.0.0.1:34601'], zookeeper: {hosts: '127.0.0.1:2181', root: ROOT}},
    recovery: {
      target_nodes: nodes,
      skip_bad_nodes: opts.skipBad ?? false,
      skip_lost_partitions: opts.skipLost ?? false,
      wait_seconds: 100,
    },
  }
}

export function makeLive(nodes: MetaRecoveryNode[]): MetaRecoveryLive {
  return {
    formatVersion: 1,
    targetNodes: nodes.map((n) => n.address),
    meta: {address: '127.0.0.1:34601', error: 'ERR_UNDER_RECOVERY', recovering: true},
    appsRoot: {path: `${ROOT}/apps`, exists: false, children: []},
    nodes,
  }
}

/** The last_drops a primary change states (its `last_drops` fact, `a, b`), as a list. */
export function lastDropsOf(p: {facts?: Record<string, unknown>} | undefined): string[] {
  const v = p?.facts?.last_drops
  return typeof v === 'string' && v !== '' ? v.split(', ') : []
}
