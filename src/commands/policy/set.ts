/**
 * `lifeboat policy set SPEC --lossy N ...`: the cluster's minimum approval policy, kept in the
 * cluster's own shared store beside its lock (ZooKeeper `/lifeboat/policy/<cluster>`; for TiKV the
 * same key in PD's etcd). apply
 * enforces the stricter of it and the spec's `approval.approvers`: no spec can lower it.
 */
import {Args, Flags} from '@oclif/core'

import {CLUSTER_POLICY_VALUE, clusterPolicy, stricterPolicy} from '../../apply/approvals.js'
import type {ApproverPolicy} from '../../apply/gates.js'
import {loadSpecForEngine} from '../../apply/plan-spec.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {LifeboatError} from '../../errors.js'

export default class PolicySet extends BaseCommand {
  static override summary = "Set the cluster's minimum approval policy, which no spec can lower."

  static override description = withExitCodes(
    "Stores the minimum number of distinct signed approvers per risk class in the cluster's shared store (ZooKeeper " +
      "/lifeboat/policy/<cluster>, with the spec's digest ACL where it uses digest auth; for TiKV the same key in PD's etcd). apply enforces, class by class, the " +
      "stricter of this and the spec's approval.approvers. Raising is always allowed; lowering needs --allow-lower.",
  )

  static override examples = ['<%= config.bin %> policy set spec.yaml --lossy 2 --disruptive 1']

  static override args = {
    spec: Args.string({description: 'A recovery spec naming the cluster.', required: true}),
  }

  static override flags = {
    safe: Flags.integer({description: 'Approvers needed for plans with safe steps.', min: 0, max: 20}),
    disruptive: Flags.integer({description: 'Approvers needed for plans with disruptive steps.', min: 0, max: 20}),
    lossy: Flags.integer({description: 'Approvers needed for plans with lossy steps.', min: 0, max: 20}),
    'allow-lower': Flags.boolean({description: 'Allow a class to go lower than it is now.'}),
  }

  async run(): Promise<unknown> {
    const {args, flags} = await this.parse(PolicySet)
    const {engine, spec} = await loadSpecForEngine(args.spec, process.env)
    const cluster = engine.cluster(spec).name
    const provider = engine.lock(spec, {env: process.env})
    if (!provider.writeValue || !provider.readValue) {
      throw new LifeboatError(
        'POLICY_UNSUPPORTED',
        `the ${engine.kind} engine's ${provider.kind} lock has no shared store for a cluster policy`,
        {
          hints: [
            'Use approval.approvers in the spec; a cluster policy needs a lock kept in the cluster (ZooKeeper or PD etcd).',
          ],
        },
      )
    }
    const current = await clusterPolicy(provider)
    const wanted: ApproverPolicy = {...current}
    for (const risk of ['safe', 'disruptive', 'lossy'] as const) {
      const n = flags[risk]
      if (n === undefined) continue
      if (n < (current[risk] ?? 0) && !flags['allow-lower']) {
        throw new LifeboatError('POLICY_LOWER', `${risk}: ${n} is lower than the cluster's ${current[risk]}`, {
          hints: [
            "Pass --allow-lower if lowering the cluster's minimum is intended (it is recorded by whoever can write the store).",
          ],
        })
      }
      if (n > 0) wanted[risk] = n
      else delete wanted[risk]
    }
    const next = stricterPolicy(wanted, {})
    await provider.writeValue(CLUSTER_POLICY_VALUE, JSON.stringify({approvers: next}))
    const result = {cluster, approvers: next}
    if (this.jsonEnabled()) return result
    this.log(`The minimum approval policy of ${cluster} is now: ${describePolicy(next)}.`)
    return undefined
  }
}

export function describePolicy(p: ApproverPolicy): string {
  const parts = (['safe', 'disruptive', 'lossy'] as const).filter((r) => p[r]).map((r) => `${r} ${p[r]}`)
  return parts.length > 0 ? parts.join(', ') : 'none'
}
