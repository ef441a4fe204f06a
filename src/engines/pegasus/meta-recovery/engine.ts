/**
 * The PegasusMetaRecovery engine: rebuilds lost ZooKeeper metadata from the replica servers
 * (`recover -f nodes [--skip_bad_nodes] [--skip_lost_partitions]`) with a reviewable plan.
 */
import {setTimeout as sleep} from 'node:timers/promises'

import type {Finding, PlanBody} from '../../../plan/types.js'
import {walkTree} from '../../../zk/index.js'
import type {Engine} from '../../types.js'
import {appsRootPath} from '../zk-layout.js'
import {metaClientFor, readMetaConfigHttp} from '../client/index.js'
import {connectClusterZk, pegasusTimeouts} from '../client/timeouts.js'
import {pegasusClusterIdentity, pegasusLock} from '../cluster-identity.js'
import {gatherMetaRecovery} from './gather.js'
import {STEP_KINDS, planMetaRecovery} from './planner.js'
import {metaRecoverySteps, type MetaRecoveryContext} from './steps.js'
import type {MetaReadParams, MetaRecoveryLive, MetaRecoverySpec} from './types.js'
import {VERIFY_CODES, recoveredTreeCheck} from './verify.js'
import {checkMetaRecoverySpec} from './spec-checks.js'
import {pegasusStatus} from '../status.js'

/** The engine the registry lists for kind `PegasusMetaRecovery`. */
export const metaRecoveryEngine: Engine<MetaRecoverySpec, MetaRecoveryLive, MetaRecoveryContext> = {
  kind: 'PegasusMetaRecovery',
  checkSpec: checkMetaRecoverySpec,
  status: (spec, io) => pegasusStatus(spec.cluster, io),
  cluster: (spec) => pegasusClusterIdentity(spec.cluster),
  lock: (spec, io) => pegasusLock(spec.cluster, io),
  gather: gatherMetaRecovery,
  plan: (spec, live, opts) => planMetaRecovery(spec, live, opts),
  async connect(spec, io) {
    // The same connect as the gather's: a refusal fails at once, the deadline is cluster.timeouts.zk_connect_seconds.
    const zk = await connectClusterZk(
      {
        hosts: spec.cluster.zookeeper.hosts,
        root: spec.cluster.zookeeper.root,
        auth: spec.cluster.zookeeper.auth,
        env: io.env,
      },
      pegasusTimeouts(spec.cluster, io.env).zkConnect,
    )
    return {
      spec,
      zk,
      meta: metaClientFor(spec.cluster.meta_servers, [{zk, root: spec.cluster.zookeeper.root}]),
      sleep: (ms) => sleep(ms),
      readMetaConfig: readMetaConfigHttp,
    }
  },
  async close(ctx) {
    ctx.meta.close()
    await ctx.zk.close()
  },
  steps: metaRecoverySteps,
  async verify(ctx, plan: PlanBody): Promise<Finding[]> {
    const appsRoot = appsRootPath(ctx.spec.cluster.zookeeper.root)
    const verifyStep = plan.steps.find((s) => s.kind === STEP_KINDS.verify)
    const params = verifyStep?.params as unknown as MetaReadParams | undefined
    if (!plan.changes.some((c) => c.address.startsWith('zk:'))) return []
    // Node by node as the tree is read: the 65,001 nodes of a 64,000-partition tree are never held.
    const check = recoveredTreeCheck(plan.changes, params?.volatile ?? [], appsRoot)
    await walkTree(ctx.zk, appsRoot, {onNode: (e) => check.node(e.path, e.data.toString('utf8'))})
    const findings = check.finish()
    if (params) {
      try {
        const {response} = await ctx.meta.call('RPC_CM_LIST_APPS', {status: 0})
        const listed = new Set(
          response.err === 'ERR_OK'
            ? response.infos.filter((i) => i.status === 1).map((i) => `${i.app_id}:${i.app_name}`)
            : [],
        )
        for (const t of params.expect_tables) {
          if (!listed.has(t))
            findings.push({
              code: VERIFY_CODES.notListed,
              severity: 'error',
              subject: t,
              message: `table ${t} is not listed by the meta server (list_apps: ${response.err})`,
            })
        }
      } catch (err) {
        findings.push({
          code: VERIFY_CODES.notListed,
          severity: 'error',
          subject: ctx.spec.cluster.meta_servers.join(','),
          message: `list_apps failed: ${(err as Error).message}`,
        })
      }
    }
    return findings
  },
}

export default metaRecoveryEngine
