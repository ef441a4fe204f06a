/**
 * The lab meta's recovery from replica servers (pegasus.md §2): `sync_apps_from_replica_nodes`
 * with its `construct_apps` and `construct_partitions`, as `start_recovery` runs them. The meta
 * server (./meta-server.ts) wraps them: it refuses the call when not in recovery mode and writes
 * the result to ZooKeeper.
 */
import {
  AppStatus,
  parseGpid,
  type QueryAppInfoResponse,
  type QueryReplicaInfoResponse,
} from '../../engines/pegasus/wire/index.js'
import {
  appInfoCompatibleEqual,
  appInfoEqual,
  collectReplica,
  constructReplica,
  createAppState,
  type AppState,
  type StateRules,
} from './meta-state.js'
import type {MetaServerConfig} from './meta-server.js'
import {callRpc} from './rpc-call.js'

const OK = 'ERR_OK'

/** What the recovery reads and changes of its meta server. */
export interface RecoveryHost {
  address: string
  config: MetaServerConfig
  rules: StateRules
  /** The meta's apps by id: cleared, then rebuilt from what the nodes report. */
  apps: Map<number, AppState>
  existApps: Map<string, AppState>
  /** A CHECK failure: the meta is gone. */
  crash(message: string): Promise<void>
}

/**
 * Collects app and replica info from `nodes` and rebuilds the apps and partitions from them;
 * returns the error start_recovery answers and appends to `hint` what it tells the operator.
 */
export async function syncAppsFromReplicaNodes(
  host: RecoveryHost,
  nodes: string[],
  skipBadNodes: boolean,
  skipLostPartitions: boolean,
  hint: {text: string},
): Promise<string> {
  const timeout = host.config.recoveryRpcTimeoutMs
  const results = await Promise.all(
    nodes.map(async (node) => {
      const [apps, reps] = await Promise.all([
        callRpc(node, 'RPC_QUERY_APP_INFO', {meta_server: host.address, hp_meta_server: host.address}, timeout),
        callRpc(node, 'RPC_QUERY_REPLICA_INFO', {node1: node, hp_node1: node}, timeout),
      ])
      return {apps, reps}
    }),
  )
  let failed = 0
  const appResponses: (QueryAppInfoResponse | undefined)[] = []
  const replicaResponses: (QueryReplicaInfoResponse | undefined)[] = []
  results.forEach(({apps, reps}, i) => {
    let err = OK
    if (apps.err !== OK) err = apps.err
    if (reps.err !== OK) err = reps.err
    if (err !== OK) {
      failed++
      appResponses.push(undefined)
      replicaResponses.push(undefined)
      hint.text += skipBadNodes
        ? `WARNING: collect app and replica info from node(${nodes[i]}) failed with err(${err}), skip the bad node`
        : `ERROR: collect app and replica info from node(${nodes[i]}) failed with err(${err}), you can skip it by set skip_bad_nodes option`
    } else {
      appResponses.push(apps.response)
      replicaResponses.push(reps.response)
    }
  })
  if (failed > 0 && !skipBadNodes) return 'ERR_TRY_AGAIN'
  const constructed = await constructApps(host, appResponses, nodes, hint)
  if (!constructed) return 'ERR_CRASHED'
  return constructPartitions(host, replicaResponses, nodes, skipLostPartitions, hint)
}

async function constructApps(
  host: RecoveryHost,
  responses: (QueryAppInfoResponse | undefined)[],
  nodes: string[],
  hint: {text: string},
): Promise<boolean> {
  host.apps.clear()
  host.existApps.clear()
  let maxAppId = 0
  for (let i = 0; i < responses.length; i++) {
    const resp = responses[i]
    if (!resp || resp.err !== OK) continue
    for (const info of resp.apps) {
      const old = host.apps.get(info.app_id)
      if (!old) {
        host.apps.set(info.app_id, createAppState(info))
        maxAppId = Math.max(maxAppId, info.app_id)
        continue
      }
      if (appInfoEqual(info, old.info)) continue
      if (!appInfoCompatibleEqual(info, old.info)) {
        await host.crash(
          `conflict app info from (${nodes[i]}) for id(${info.app_id}): new_info(${JSON.stringify(info)}), old_info(${JSON.stringify(old.info)})`,
        )
        return false
      }
    }
  }
  const now = Math.floor(Date.now() / 1000)
  for (let id = 1; id <= maxAppId; id++) {
    const app = host.apps.get(id)
    if (!app) {
      host.apps.set(
        id,
        createAppState({
          status: AppStatus.AS_DROPPING,
          app_type: 'pegasus',
          app_name: `__drop_holder__${id}`,
          app_id: id,
          partition_count: 1,
          envs: {},
          is_stateful: true,
          max_replica_count: 3,
          expire_second: now,
          create_second: 0,
          drop_second: 0,
          duplicating: false,
          init_partition_count: -1,
          is_bulk_loading: false,
          atomic_idempotent: false,
        }),
      )
    } else {
      app.info.status = app.info.status === AppStatus.AS_AVAILABLE ? AppStatus.AS_CREATING : AppStatus.AS_DROPPING
    }
  }
  const checked = new Set<string>()
  for (let id = maxAppId; id >= 1; id--) {
    const app = host.apps.get(id) as AppState
    const old = app.info.app_name
    while (checked.has(app.info.app_name)) app.info.app_name = `${app.info.app_name}__${id}`
    if (app.info.app_name !== old) {
      hint.text += `WARNING: app(${id})'s old name(${old}) is conflict with others, rename it to (${app.info.app_name})\n`
    }
    checked.add(app.info.app_name)
  }
  return true
}

function constructPartitions(
  host: RecoveryHost,
  responses: (QueryReplicaInfoResponse | undefined)[],
  nodes: string[],
  skipLost: boolean,
  hint: {text: string},
): string {
  for (let i = 0; i < responses.length; i++) {
    const resp = responses[i]
    if (!resp || resp.err !== OK) continue
    for (const r of resp.replicas) {
      const {app_id, partition_index} = parseGpid(r.pid)
      const app = host.apps.get(app_id)
      // A replica whose app no node reported, or beyond its partition count (split garbage): ignored.
      if (!app || partition_index < 0 || partition_index >= app.pcs.length) continue
      collectReplica(app.pcs[partition_index], app.ccs[partition_index], nodes[i], r, host.rules)
    }
  }
  let failed = 0
  for (const app of [...host.apps.values()].sort((a, b) => a.info.app_id - b.info.app_id)) {
    if (app.info.status === AppStatus.AS_DROPPING) continue
    for (let p = 0; p < app.pcs.length; p++) {
      const pc = app.pcs[p]
      if (constructReplica(pc, app.ccs[p], app.info.max_replica_count)) {
        const n = (pc.hp_last_drops ?? []).length + 1
        if (n < pc.max_replica_count) {
          hint.text += `WARNING: partition(${app.info.app_id}.${p}) only collects ${n}/${pc.max_replica_count} of replicas, may lost data\n`
        }
      } else {
        failed++
        hint.text += skipLost
          ? `WARNING: partition(${app.info.app_id}.${p}) has no replica collected, force recover the lost partition to empty\n`
          : `ERROR: partition(${app.info.app_id}.${p}) has no replica collected, you can force recover it by set skip_lost_partitions option\n`
      }
    }
  }
  return failed > 0 && !skipLost ? 'ERR_TRY_AGAIN' : OK
}
