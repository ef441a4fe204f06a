/**
 * The TiKVUnsafeRecovery engine: `pd-ctl unsafe remove-failed-stores` made reviewable. It gathers
 * PD's view (stores, every region, `show`), predicts what PD's unsafe recovery controller will do
 * (buried stores, force leaders, demotions, TiFlash tombstones, empty regions and the data they
 * cost), POSTs the request with an explicit timeout, follows the stages, and checks PD's own
 * account against the plan. Its apply lock is a lease-bound key in PD's etcd.
 */
import type {Finding, PlanBody} from '../../plan/types.js'
import type {Engine, EngineIo, PlanOptions} from '../types.js'
import {pdEtcdLock} from './etcd-lock.js'
import {gatherTiKV} from './gather.js'
import {PdClient} from './pd-client.js'
import {planUnsafeRecovery} from './planner.js'
import {tikvClusterIdentity, toTiKVSpec} from './spec.js'
import {tikvSteps, verifyRecovery, type TiKVContext} from './steps.js'
import {STEP_VERIFY, TIKV_KIND, type TiKVLiveState, type TiKVSpec, type VerifyParams} from './types.js'
import {checkTiKVUnsafeRecoverySpec} from './spec-checks.js'
import {summarizeTiKVStatus} from './status.js'

/** Tunables; the defaults suit a production cluster. */
export interface TiKVEngineOptions {
  /** Deadline of each PD call (default 10 s). */
  timeoutMs?: number
  /** Pause between reads of `show` while following (default 1000 ms). */
  pollMs?: number
  /** How long verify waits for PD to show a leader for every region (default 60 s). */
  leaderWaitMs?: number
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(done, ms)
    function done(): void {
      clearTimeout(t)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, {once: true})
  })

/** Builds the engine; {@link tikvUnsafeRecoveryEngine} is the one with default options. */
export function createTiKVEngine(opts: TiKVEngineOptions = {}): Engine<TiKVSpec, TiKVLiveState, TiKVContext> {
  const client = (spec: TiKVSpec): PdClient => new PdClient(toTiKVSpec(spec).cluster.pd, {timeoutMs: opts.timeoutMs})
  return {
    kind: TIKV_KIND,
    checkSpec: checkTiKVUnsafeRecoverySpec,
    async status(spec, io) {
      return summarizeTiKVStatus(toTiKVSpec(spec).cluster.name, await this.gather(spec, io))
    },

    cluster: (spec) => tikvClusterIdentity(toTiKVSpec(spec)),

    lock: (spec) => pdEtcdLock(client(spec), toTiKVSpec(spec).cluster.name),

    async gather(spec, io: EngineIo): Promise<TiKVLiveState> {
      return gatherTiKV(client(spec), io)
    },

    plan(spec, live, planOpts: PlanOptions): PlanBody {
      return planUnsafeRecovery(toTiKVSpec(spec), live, planOpts)
    },

    async connect(spec): Promise<TiKVContext> {
      return {
        pd: client(spec),
        pollMs: opts.pollMs ?? 1000,
        leaderWaitMs: opts.leaderWaitMs ?? 60_000,
        now: () => performance.now(),
        sleep,
      }
    },

    async close() {},

    steps: tikvSteps,

    async verify(ctx, plan: PlanBody): Promise<Finding[]> {
      const step = plan.steps.find((s) => s.kind === STEP_VERIFY)
      return step === undefined ? [] : verifyRecovery(ctx, step.params as unknown as VerifyParams)
    },
  }
}

/** The TiKVUnsafeRecovery engine, for the registry. */
export const tikvUnsafeRecoveryEngine: Engine<TiKVSpec, TiKVLiveState, TiKVContext> = createTiKVEngine()
