/**
 * The PegasusZkMigration engine: moves a Pegasus cluster's metadata to another ZooKeeper, by tree
 * copy (meta level blind + a streaming copy, zkcopy's path) or by metadata recovery
 * (pegasus_migrate_zookeeper.sh's path), with a reviewable plan.
 */
import {setTimeout as sleep} from 'node:timers/promises'

import type {Finding, PlanBody} from '../../../plan/types.js'
import type {ZkClient} from '../../../zk/index.js'
import type {Engine, EngineIo} from '../../types.js'
import {metaClientFor, readMetaConfigHttp} from '../client/index.js'
import {pegasusClusterIdentity, pegasusLock} from '../cluster-identity.js'
import {connectPlace, gatherZkMigration} from './gather.js'
import {planZkMigration} from './planner.js'
import {metaZookeeperHttp, zkMigrationSteps, type ZkMigrationContext} from './steps.js'
import {STEP_KINDS, type ZkMigrationLive, type ZkMigrationSpec} from './types.js'
import {checkZkMigrationSpec} from './spec-checks.js'
import {pegasusStatus} from '../status.js'

/** Sessions on the source and target ZooKeepers, opened on first use and reopened after one died. */
class Sessions {
  private readonly open = new Map<'source' | 'target', Promise<ZkClient>>()

  constructor(
    private readonly spec: ZkMigrationSpec,
    private readonly io: Pick<EngineIo, 'env'>,
  ) {}

  async get(which: 'source' | 'target'): Promise<ZkClient> {
    const existing = this.open.get(which)
    if (existing) {
      const client = await existing.catch(() => undefined)
      // A call that missed its deadline closes the client; expiry kills it: start a new session.
      if (client && (client.state === 'connected' || client.state === 'disconnected')) return client
    }
    const place = which === 'source' ? this.spec.cluster.zookeeper : this.spec.migration.target
    const opening = connectPlace(place, this.io)
    this.open.set(which, opening)
    opening.catch(() => this.open.delete(which))
    return opening
  }

  async close(): Promise<void> {
    const all = [...this.open.values()]
    this.open.clear()
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()))
  }
}

const sessions = new WeakMap<ZkMigrationContext, Sessions>()

/** Opens the context the executors share; `close` it when done. */
export function openZkMigrationContext(spec: ZkMigrationSpec, io: Pick<EngineIo, 'env'>): ZkMigrationContext {
  const s = new Sessions(spec, io)
  const ctx: ZkMigrationContext = {
    spec,
    zk: (which) => s.get(which),
    // The metas move between ZooKeepers during the run, so the leader is found by asking them.
    meta: metaClientFor(spec.cluster.meta_servers),
    sleep: (ms) => sleep(ms),
    metaZookeeper: metaZookeeperHttp,
    readMetaConfig: readMetaConfigHttp,
  }
  sessions.set(ctx, s)
  return ctx
}

/** Closes what openZkMigrationContext opened. */
export async function closeZkMigrationContext(ctx: ZkMigrationContext): Promise<void> {
  ctx.meta.close()
  await sessions.get(ctx)?.close()
}

/** The engine the registry lists for kind `PegasusZkMigration`. */
export const zkMigrationEngine: Engine<ZkMigrationSpec, ZkMigrationLive, ZkMigrationContext> = {
  kind: 'PegasusZkMigration',
  checkSpec: checkZkMigrationSpec,
  status: (spec, io) => pegasusStatus(spec.cluster, io),
  cluster: (spec) => pegasusClusterIdentity(spec.cluster),
  // The source holds the lock: it is the ensemble every meta runs on until the switch.
  lock: (spec, io) => pegasusLock(spec.cluster, io),
  gather: gatherZkMigration,
  plan: (spec, live, opts) => planZkMigration(spec, live, opts),
  async connect(spec, io) {
    return openZkMigrationContext(spec, io)
  },
  close: closeZkMigrationContext,
  steps: zkMigrationSteps,
  async verify(ctx, plan: PlanBody): Promise<Finding[]> {
    // The end state: the metas on the target (the last switch), the level, the tables, the source gone if planned.
    const last = <K extends string>(kind: K) => plan.steps.filter((s) => s.kind === kind).at(-1)
    const checks = [
      last(STEP_KINDS.switchMeta),
      last(STEP_KINDS.setLevel),
      last(STEP_KINDS.verifyTables),
      last(STEP_KINDS.removeSource),
    ]
    const findings: Finding[] = []
    for (const step of checks) {
      if (step) findings.push(...(await zkMigrationSteps[step.kind]!.verify(ctx, step)))
    }
    return findings
  },
}

export default zkMigrationEngine
