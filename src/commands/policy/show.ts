/**
 * `lifeboat policy show SPEC`: the cluster's minimum approval policy and the spec's, and what
 * apply enforces (the stricter of the two, class by class).
 */
import {Args} from '@oclif/core'

import {clusterPolicy, stricterPolicy} from '../../apply/approvals.js'
import {approverPolicyOf} from '../../apply/gates.js'
import {loadSpecForEngine} from '../../apply/plan-spec.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {describePolicy} from './set.js'

export default class PolicyShow extends BaseCommand {
  static override summary = "Show the cluster's minimum approval policy and what apply enforces."

  static override description = withExitCodes(
    "Reads the policy `lifeboat policy set` stored in the cluster and the spec's approval.approvers.",
  )

  static override examples = ['<%= config.bin %> policy show spec.yaml']

  static override args = {
    spec: Args.string({description: 'A recovery spec naming the cluster.', required: true}),
  }

  async run(): Promise<unknown> {
    const {args} = await this.parse(PolicyShow)
    const {engine, spec, planSpec} = await loadSpecForEngine(args.spec, process.env)
    const cluster = engine.cluster(spec).name
    const fromCluster = await clusterPolicy(engine.lock(spec, {env: process.env}))
    const fromSpec = approverPolicyOf(planSpec.document)
    const enforced = stricterPolicy(fromSpec, fromCluster)
    if (this.jsonEnabled()) return {cluster, cluster_policy: fromCluster, spec_policy: fromSpec, enforced}
    this.log(
      [
        `Cluster ${cluster}:`,
        `  cluster minimum: ${describePolicy(fromCluster)}`,
        `  spec:            ${describePolicy(fromSpec)}`,
        `  apply enforces:  ${describePolicy(enforced)}`,
      ].join('\n'),
    )
    return undefined
  }
}
