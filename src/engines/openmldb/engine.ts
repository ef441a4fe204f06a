/**
 * The OpenMLDBRecovery engine: ns_client's `confset auto_failover`, `offlineendpoint`,
 * `recoverendpoint`, `changeleader`, `recovertable` and `openmldb_ops.py --cmd=recoverdata` as
 * one reviewable plan. It gathers the nameserver's and the tablets' view, plans the leaders by
 * largest offset, and applies through the nameserver's own operations.
 */
import {zookeeperLock} from '../../apply/lock.js'
import type {ClusterIdentity, Finding, PlanBody} from '../../plan/types.js'
import type {Engine, EngineIo, PlanOptions} from '../types.js'
import {openClient} from './client.js'
import {gatherOpenMLDB} from './gather.js'
import {planOpenMLDBRecovery} from './planner.js'
import {assertRecovery, normalizeSpec} from './spec.js'
import {openmldbSteps, verifyOpenMLDB, type OpenMLDBContext} from './steps.js'
import {
  OPENMLDB_KIND,
  STEP_VERIFY,
  type OpenMLDBLiveState,
  type OpenMLDBRecoverySpec,
  type VerifyParams,
} from './types.js'
import {checkOpenMLDBRecoverySpec} from './spec-checks.js'
import {summarizeOpenMLDBStatus} from './status.js'

/** Tunables of the engine; the defaults suit a production cluster. */
export interface OpenMLDBEngineOptions {
  /** Deadline of each RPC; default the spec's recovery.rpc_timeout_seconds (5 s). */
  timeoutMs?: number
  /** Tablets asked at once while gathering (default 32). */
  concurrency?: number
  /** Pause between polls of ShowOPStatus and GetTableStatus (default 200 ms). */
  pollMs?: number
}

/** A host list as one comparable string: trimmed, de-duplicated, sorted. */
function hostSet(hosts: string): string {
  return [
    ...new Set(
      hosts
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean),
    ),
  ]
    .sort()
    .join(',')
}

/** Name and ZooKeeper (`zk_cluster` + `zk_root_path`): a plan is refused against any other cluster. */
export function openmldbClusterIdentity(spec: OpenMLDBRecoverySpec): ClusterIdentity {
  return {
    name: spec.cluster.name,
    facts: [
      {
        name: 'zookeeper',
        label: 'ZooKeeper',
        value: `${hostSet(spec.cluster.zookeeper.hosts)}${spec.cluster.zookeeper.root}`,
      },
    ],
  }
}

/** Builds the engine; {@link openmldbRecoveryEngine} is the one with default options. */
export function createOpenMLDBRecoveryEngine(
  opts: OpenMLDBEngineOptions = {},
): Engine<OpenMLDBRecoverySpec, OpenMLDBLiveState, OpenMLDBContext> {
  const timeoutOf = (spec: OpenMLDBRecoverySpec): number =>
    opts.timeoutMs ?? Math.round(spec.recovery.rpc_timeout_seconds * 1000)
  return {
    kind: OPENMLDB_KIND,
    checkSpec: checkOpenMLDBRecoverySpec,
    async status(spec, io) {
      return summarizeOpenMLDBStatus(spec.cluster.name, await this.gather(spec, io))
    },

    cluster: (spec) => openmldbClusterIdentity(spec),

    lock: (spec, io) =>
      zookeeperLock(
        {hosts: spec.cluster.zookeeper.hosts, root: spec.cluster.zookeeper.root, auth: spec.cluster.zookeeper.auth},
        spec.cluster.name,
        io,
      ),

    async gather(spec, io: EngineIo): Promise<OpenMLDBLiveState> {
      const s = normalizeSpec(spec)
      assertRecovery(s.recovery)
      const client = await openClient(s, io.env, timeoutOf(s))
      return gatherOpenMLDB(client, {concurrency: opts.concurrency ?? 32, progress: io.progress})
    },

    plan(spec, live, planOpts: PlanOptions): PlanBody {
      return planOpenMLDBRecovery(spec, live, planOpts)
    },

    async connect(spec, io): Promise<OpenMLDBContext> {
      const s = normalizeSpec(spec)
      const client = await openClient(s, io.env, timeoutOf(s))
      return {
        client,
        pollMs: opts.pollMs ?? 200,
        now: () => performance.now(),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      }
    },

    async close() {},

    steps: openmldbSteps,

    async verify(ctx, plan: PlanBody): Promise<Finding[]> {
      const step = plan.steps.find((s) => s.kind === STEP_VERIFY)
      if (step === undefined) return []
      return verifyOpenMLDB(ctx, step.params as unknown as VerifyParams)
    },
  }
}

/** The OpenMLDBRecovery engine, for the registry. */
export const openmldbRecoveryEngine: Engine<OpenMLDBRecoverySpec, OpenMLDBLiveState, OpenMLDBContext> =
  createOpenMLDBRecoveryEngine()
