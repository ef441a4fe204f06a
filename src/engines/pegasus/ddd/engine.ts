/**
 * The PegasusDddRecovery engine: `ddd_diagnose -d -a` made reviewable. It gathers the meta's DDD
 * list and the replicas' own facts, plans one ASSIGN_PRIMARY proposal per decided partition, and
 * applies them, waits for the primaries and verifies.
 */
import type {Finding, PlanBody} from '../../../plan/types.js'
import type {Engine, EngineIo, PlanOptions} from '../../types.js'
import {MetaClient} from '../client/meta-client.js'
import {pegasusClusterIdentity, pegasusLock} from '../cluster-identity.js'
import {ReplicaClient} from '../client/replica-client.js'
import {RpcPool} from '../client/rpc-pool.js'
import {pegasusTimeouts} from '../client/timeouts.js'
import {dddDriftOf} from './drift.js'
import {gatherDdd} from './gather.js'
import {planDddRecovery} from './planner.js'
import {dddSteps, verifyDdd, type DddContext} from './steps.js'
import {DDD_KIND, STEP_VERIFY, type DddLiveState, type DddRecoverySpec, type VerifyParams} from './types.js'
import {checkDddRecoverySpec} from './spec-checks.js'
import {pegasusStatus} from '../status.js'

/** Tunables of the engine; the defaults suit a production cluster. */
export interface DddEngineOptions {
  /** Deadline of each RPC (default 5000 ms, as rDSN's). */
  timeoutMs?: number
  /** Servers and tables asked at once (default 32). */
  concurrency?: number
  /** Pause between polls while waiting for primaries (default 1000 ms, as the shell). */
  pollMs?: number
}

function openClients(
  spec: DddRecoverySpec,
  opts: DddEngineOptions,
): {pool: RpcPool; meta: MetaClient; replica: ReplicaClient} {
  const pool = new RpcPool({timeoutMs: opts.timeoutMs})
  return {
    pool,
    meta: new MetaClient({metaServers: spec.cluster.meta_servers, pool, timeoutMs: opts.timeoutMs}),
    replica: new ReplicaClient({pool, timeoutMs: opts.timeoutMs}),
  }
}

/** Builds the engine; {@link dddRecoveryEngine} is the one with default options. */
export function createDddRecoveryEngine(
  opts: DddEngineOptions = {},
): Engine<DddRecoverySpec, DddLiveState, DddContext> {
  const concurrency = opts.concurrency ?? 32
  const pools = new WeakMap<DddContext, RpcPool>()
  return {
    kind: DDD_KIND,
    checkSpec: checkDddRecoverySpec,
    status: (spec, io) => pegasusStatus(spec.cluster, io),

    cluster: (spec) => pegasusClusterIdentity(spec.cluster),

    lock: (spec, io) => pegasusLock(spec.cluster, io),

    async gather(spec, io: EngineIo): Promise<DddLiveState> {
      const {pool, meta, replica} = openClients(spec, opts)
      try {
        // The per-node deadline is a setting (cluster.timeouts.collect_seconds, --collect-timeout);
        // an engine built with a shorter RPC deadline uses that as its default.
        const collect = pegasusTimeouts(spec.cluster, io.env, {
          collectSeconds: opts.timeoutMs === undefined ? undefined : opts.timeoutMs / 1000,
        }).collect
        return await gatherDdd(
          spec,
          io,
          {meta, replica},
          {timeoutMs: opts.timeoutMs, collectMs: collect.ms, concurrency},
        )
      } finally {
        pool.close()
      }
    },

    plan(spec, live, planOpts: PlanOptions): PlanBody {
      return planDddRecovery(spec, live, planOpts)
    },

    async connect(spec): Promise<DddContext> {
      const {pool, meta, replica} = openClients(spec, opts)
      const ctx: DddContext = {
        meta,
        replica,
        timeoutMs: opts.timeoutMs,
        concurrency,
        pollMs: opts.pollMs ?? 1000,
        now: () => performance.now(),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      }
      pools.set(ctx, pool)
      return ctx
    },

    async close(ctx) {
      pools.get(ctx)?.close()
      pools.delete(ctx)
    },

    steps: dddSteps,

    driftOf: dddDriftOf,

    async verify(ctx, plan: PlanBody): Promise<Finding[]> {
      const step = plan.steps.find((s) => s.kind === STEP_VERIFY)
      if (step === undefined) return []
      return verifyDdd(ctx, step.params as unknown as VerifyParams)
    },
  }
}

/** The PegasusDddRecovery engine, for the registry. */
export const dddRecoveryEngine: Engine<DddRecoverySpec, DddLiveState, DddContext> = createDddRecoveryEngine()
