/**
 * `lifeboat lock status SPEC`: who holds the apply lock of the spec's cluster.
 */
import {Args} from '@oclif/core'

import {loadSpecForEngine} from '../../apply/plan-spec.js'
import {BaseCommand, withExitCodes} from '../../cli/base-command.js'

export default class LockStatus extends BaseCommand {
  static override summary = 'Show who holds the apply lock of a cluster.'

  static override description = withExitCodes(
    'Reads the lock of the cluster named in SPEC through its engine: an ephemeral node under /lifeboat/locks/ in the ' +
      "cluster's ZooKeeper, a lease-bound key in PD's etcd, or a lock file where the store has nothing shared. Prints the holder (ID, who, what, since when) " +
      'or that the cluster is not locked. Exit 0 either way.',
  )

  static override examples = [
    '<%= config.bin %> lock status runbooks/pegasus-meta-recovery.yaml',
    '<%= config.bin %> lock status spec.yaml --json',
  ]

  static override args = {
    spec: Args.string({description: 'The recovery spec naming the cluster.', required: true}),
  }

  async run(): Promise<unknown> {
    const {args} = await this.parse(LockStatus)
    const {engine, spec} = await loadSpecForEngine(args.spec, process.env)
    const cluster = engine.cluster(spec).name
    const state = await engine.lock(spec, {env: process.env}).read()
    const result = {
      cluster,
      locked: state !== null,
      lock: state === null ? null : {...state.info, kind: state.kind, where: state.where, ...state.details},
    }
    if (this.jsonEnabled()) return result
    if (state === null) {
      this.log(`The cluster ${cluster} is not locked.`)
      return undefined
    }
    this.log(`The cluster ${cluster} is locked.\n\n${state.text}`)
    return undefined
  }
}
