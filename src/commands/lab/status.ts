import {Flags} from '@oclif/core'

import {BaseCommand, withExitCodes} from '../../cli/base-command.js'
import {controlRequest} from '../../lab/control.js'
import {currentTarget, type LabMigration} from '../../lab/pegasus/migration.js'
import {processAlive, requireRunningLab, stateDirOf} from '../../lab/state.js'

interface Status {
  cluster: string
  zookeeper: {hosts: string; root: string}
  meta_servers: {name: string; address: string; phase: string; level: string; crash?: string}[]
  replica_servers: {name: string; address: string; mode: string; replicas: number; alive_in_meta: boolean}[]
  partitions: {total: number; fully_healthy: number; ddd: number}
  specs: Record<string, string>
  migration?: LabMigration
}

export default class LabStatus extends BaseCommand {
  static override summary = 'Show the running lab: servers, meta phase and level, partition health.'
  static override description = withExitCodes('Asks the running lab for its state.')
  static override flags = {'state-dir': Flags.string({description: 'where the lab keeps its state', default: '.lifeboat/lab'})}

  async run(): Promise<unknown> {
    const {flags} = await this.parse(LabStatus)
    const state = requireRunningLab(stateDirOf(flags['state-dir']))
    const s = await controlRequest<Status>(state, 'GET', '/status')
    if (this.jsonEnabled()) return s
    this.log(`Lab "${state.scenario.name}" (cluster ${s.cluster}), process ${state.daemon.pid}`)
    this.log(`  zookeeper ${s.zookeeper.hosts} root ${s.zookeeper.root}`)
    if (s.migration) {
      // Both ZooKeepers: the one the lab came up on and the migration target's (the second, when it has one).
      const zks = [
        {label: 'first', hosts: state.zookeeper.hosts, pid: state.zookeeper.pid, started: state.zookeeper.started_by_lab},
        ...(s.migration.zookeeper ? [{label: 'second', hosts: s.migration.zookeeper.hosts, pid: s.migration.zookeeper.pid, started: true}] : []),
      ]
      for (const z of zks) {
        const how = z.started ? `started by the lab, process ${z.pid}${processAlive(z.pid) ? '' : ' (gone)'}` : 'given with --zk'
        this.log(`  zookeeper ${z.label}: ${z.hosts} (${how})${z.hosts === s.zookeeper.hosts ? ', the meta runs on it' : ''}`)
      }
      const t = currentTarget({...state.cluster, zk_hosts: s.zookeeper.hosts, cluster_root: s.zookeeper.root}, s.migration)
      this.log(`  migration specs move the metadata to ${t.hosts} root ${t.root}`)
    }
    for (const m of s.meta_servers) this.log(`  ${m.name.padEnd(10)} ${m.address.padEnd(22)} ${m.phase}, level ${m.level}${m.crash ? `; crashed: ${m.crash}` : ''}`)
    for (const r of s.replica_servers) {
      this.log(`  ${r.name.padEnd(10)} ${r.address.padEnd(22)} ${r.mode}, ${r.replicas} replicas, ${r.alive_in_meta ? 'ALIVE' : 'UNALIVE'} in the meta`)
    }
    this.log(`  partitions: ${s.partitions.total} served, ${s.partitions.fully_healthy} fully healthy, ${s.partitions.ddd} in DDD`)
    return s
  }
}
