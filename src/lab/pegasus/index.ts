/**
 * The Pegasus lab as a {@link LabEngine}: meta and replica servers on loopback over a real
 * ZooKeeper (./cluster.ts), the ZooKeeper-migration target when the scenario asks for one
 * (./migration.ts), the specs it writes, its faults, and `lab verify` over THFT.
 */
import {LifeboatError} from '../../errors.js'
import type {LabDescription, LabEngine, LabFaultHelp, LabUpContext, LabVerifyResult, RunningLab} from '../engine.js'
import {processAlive} from '../state.js'
import type {RunningZooKeeper} from '../zookeeper/server.js'
import type {PegasusLab, PegasusLabLayout} from './cluster.js'
import {FAULT_HELP, parsePegasusFault} from './faults.js'
import {currentTarget, type LabMigration} from './migration-place.js'
import {parsePegasusScenario, type PegasusScenario} from './scenario.js'

/** What the Pegasus lab keeps as `cluster` in lab.json: its layout and the migration, if any. */
export type PegasusLabState = PegasusLabLayout & {migration?: LabMigration}

/** One ZooKeeper as `lab status` shows it. */
interface ZooKeeperLine {
  label: 'first' | 'second'
  hosts: string
  pid?: number
  started: boolean
}

/** What the Pegasus lab answers to `lab status` (PegasusLab.status() plus the ZooKeepers and the migration). */
interface PegasusStatus {
  cluster: string
  zookeeper: {hosts: string; root: string}
  zookeepers?: ZooKeeperLine[]
  meta_servers: {name: string; address: string; phase: string; level: string; crash?: string}[]
  replica_servers: {name: string; address: string; mode: string; replicas: number; alive_in_meta: boolean}[]
  partitions: {total: number; fully_healthy: number; ddd: number}
  migration?: LabMigration
}

async function up(ctx: LabUpContext<PegasusScenario>): Promise<RunningLab> {
  // The simulator is imported here, not with the module: `lab status`, `lab fault` and `lab verify`
  // need only this file's formatting and parsing (a CLI start without the cluster's code).
  const [
    {PegasusLab},
    {writePegasusSpecs},
    {removeRoot},
    {migrationTargetRoot, startTargetZooKeeper, wantsMigration, writeMigrationSpecs},
  ] = await Promise.all([
    import('./cluster.js'),
    import('./specs.js'),
    import('./zk-batch.js'),
    import('./migration.js'),
  ])
  const s = ctx.scenario
  const zkHosts = ctx.zkHosts
  if (!zkHosts) throw new LifeboatError('INTERNAL', 'internal error: the Pegasus lab was started without a ZooKeeper')
  // A scenario with a migration target: a second ZooKeeper (zookeepers: 2) or another root, emptied.
  let zk2: RunningZooKeeper | undefined
  let migration: LabMigration | undefined
  let lab: PegasusLab
  try {
    if (wantsMigration(s)) {
      if ((s.zookeepers ?? 1) === 2) zk2 = await startTargetZooKeeper(ctx.stateDir)
      const target = {hosts: zk2?.connectString ?? zkHosts, root: migrationTargetRoot(s)}
      // Whatever an earlier lab left at the target goes (a shared ZooKeeper keeps it).
      await removeRoot(target.hosts, target.root)
      migration = {
        source: {hosts: zkHosts, root: ''},
        target,
        ...(zk2 ? {zookeeper: {hosts: zk2.connectString, pid: zk2.pid, started_by_lab: true as const}} : {}),
      }
    }
    lab = await PegasusLab.up({
      scenario: s,
      stateDir: ctx.stateDir,
      zkHosts,
      ownZooKeeper: ctx.zkPid !== undefined,
      log: ctx.log,
    })
    if (migration) migration.source.root = lab.layout.cluster_root
  } catch (err) {
    await zk2?.stop()
    throw err
  }
  ctx.log(
    `pegasus: ${lab.layout.meta_servers.length} meta, ${lab.layout.replica_servers.length} replica servers${zk2 ? `, second ZooKeeper ${zk2.connectString}` : ''}`,
  )
  const zookeepers: ZooKeeperLine[] = [
    {label: 'first', hosts: zkHosts, pid: ctx.zkPid, started: ctx.zkPid !== undefined},
    ...(zk2 ? [{label: 'second' as const, hosts: zk2.connectString, pid: zk2.pid, started: true}] : []),
  ]
  return {
    layout: () =>
      ({...lab.layout, ...(migration ? {migration} : {})}) satisfies PegasusLabState as unknown as Record<
        string,
        unknown
      >,
    status: () => ({...lab.status(), ...(migration ? {migration, zookeepers} : {})}),
    fault: (payload) => lab.fault(payload as Parameters<PegasusLab['fault']>[0]),
    writeSpecs: () => ({
      ...writePegasusSpecs(ctx.stateDir, lab.layout),
      ...(migration ? writeMigrationSpecs(ctx.stateDir, lab.layout, migration) : {}),
    }),
    down: async () => {
      await lab.down()
      await zk2?.stop()
    },
    processes: () => (zk2 ? [{pid: zk2.pid, what: `the second ZooKeeper (${zk2.connectString})`}] : []),
  }
}

/** `lab verify`: the rows readable through the meta leader now (dropped tables not counted). */
async function verify(layout: Record<string, unknown>, status: Record<string, unknown>): Promise<LabVerifyResult> {
  const l = layout as unknown as PegasusLabState
  const metas = (status as Partial<PegasusStatus>).meta_servers ?? l.meta_servers.map((m) => ({...m, phase: 'unknown'}))
  const leader = metas.find((m) => m.phase === 'serving' || m.phase === 'recovering') ?? metas[0]
  const {verifyRows} = await import('./verify.js')
  return verifyRows(leader.address, l.tables)
}

function formatStatus(status: Record<string, unknown>): string[] {
  const s = status as unknown as PegasusStatus
  const out = [`  zookeeper ${s.zookeeper.hosts} root ${s.zookeeper.root}`]
  if (s.migration) {
    // Both ZooKeepers: the one the lab came up on and the migration target's (the second, when it has one).
    for (const z of s.zookeepers ?? []) {
      const how = z.started
        ? `started by the lab, process ${z.pid}${processAlive(z.pid) ? '' : ' (gone)'}`
        : 'given with --zk'
      out.push(
        `  zookeeper ${z.label}: ${z.hosts} (${how})${z.hosts === s.zookeeper.hosts ? ', the meta runs on it' : ''}`,
      )
    }
    const t = currentTarget({zk_hosts: s.zookeeper.hosts, cluster_root: s.zookeeper.root}, s.migration)
    out.push(`  migration specs move the metadata to ${t.hosts} root ${t.root}`)
  }
  for (const m of s.meta_servers)
    out.push(
      `  ${m.name.padEnd(10)} ${m.address.padEnd(22)} ${m.phase}, level ${m.level}${m.crash ? `; crashed: ${m.crash}` : ''}`,
    )
  for (const r of s.replica_servers) {
    out.push(
      `  ${r.name.padEnd(10)} ${r.address.padEnd(22)} ${r.mode}, ${r.replicas} replicas, ${r.alive_in_meta ? 'ALIVE' : 'UNALIVE'} in the meta`,
    )
  }
  out.push(
    `  partitions: ${s.partitions.total} served, ${s.partitions.fully_healthy} fully healthy, ${s.partitions.ddd} in DDD`,
  )
  return out
}

function describe(layout: Record<string, unknown>): LabDescription {
  const l = layout as unknown as PegasusLabState
  const m = l.migration
  const json = {
    zookeeper: {hosts: l.zk_hosts, root: l.cluster_root},
    ...(m ? {migration_target: m.target} : {}),
    meta_servers: l.meta_servers.map((x) => x.address),
    replica_servers: l.replica_servers.map((r) => r.address),
  }
  const lines = [
    `  cluster root:    ${l.cluster_root}`,
    ...(m
      ? [
          `  migration target: ${m.target.hosts}  root ${m.target.root}${m.zookeeper ? '  (a second ZooKeeper, started by the lab)' : ''}`,
        ]
      : []),
    `  meta servers:    ${json.meta_servers.join(', ')}`,
    `  replica servers: ${l.replica_servers.map((r) => `${r.name}=${r.address}`).join(', ')}`,
    `  tables:          ${l.tables.map((t) => `${t.name}(${t.app_id}${t.dropped ? ', dropped' : ''}): ${t.partitions}x${t.replicas}, ${t.rows} rows`).join('; ')}`,
  ]
  return {json, lines}
}

/** The Pegasus lab. */
export const pegasusLab: LabEngine<PegasusScenario> = {
  engine: 'pegasus',
  needsZooKeeper: true,
  parseScenario: parsePegasusScenario,
  up,
  faults: FAULT_HELP satisfies readonly LabFaultHelp[],
  parseFault: parsePegasusFault,
  verify,
  formatStatus,
  describe,
}
