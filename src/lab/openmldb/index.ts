/**
 * The OpenMLDB lab as a {@link LabEngine}: nameservers and tablets over brpc's HTTP+JSON on a real
 * ZooKeeper (./cluster.ts), its faults, the specs it writes, and `lab verify` through Get.
 */
import {LifeboatError} from '../../errors.js'
import type {LabDescription, LabEngine, LabFaultHelp, LabUpContext, LabVerifyResult, RunningLab} from '../engine.js'
import type {OpenMLDBLabLayout} from './cluster.js'
import {FAULT_HELP, parseOpenMLDBFault} from './faults.js'
import {parseOpenMLDBScenario, type OpenMLDBFault, type OpenMLDBScenario} from './scenario.js'

interface OpenMLDBStatus {
  cluster: string
  zookeeper: {hosts: string; root: string}
  auto_failover?: boolean
  nameservers: {name: string; endpoint: string; running: boolean; leader: boolean}[]
  tablets: {name: string; endpoint: string; running: boolean; hung: boolean; loaded: number; on_disk: number}[]
  partitions: {total: number; unhealthy: number}
  ops: {queued: number; done: number; failed: number}
}

async function up(ctx: LabUpContext<OpenMLDBScenario>): Promise<RunningLab> {
  if (!ctx.zkHosts)
    throw new LifeboatError('INTERNAL', 'internal error: the OpenMLDB lab was started without a ZooKeeper')
  // The simulator is imported here, not with the module: the other lab commands need only this file.
  const {OpenMLDBLab} = await import('./cluster.js')
  const lab = await OpenMLDBLab.up({scenario: ctx.scenario, stateDir: ctx.stateDir, zkHosts: ctx.zkHosts, log: ctx.log})
  return {
    layout: () => lab.layout as unknown as Record<string, unknown>,
    status: () => lab.status(),
    fault: (payload) => lab.fault(payload as OpenMLDBFault),
    writeSpecs: () => lab.writeSpecs(),
    down: () => lab.down(),
  }
}

async function verify(layout: Record<string, unknown>): Promise<LabVerifyResult> {
  const {verifyOpenMLDBRows} = await import('./verify.js')
  return verifyOpenMLDBRows(layout as unknown as OpenMLDBLabLayout)
}

function formatStatus(status: Record<string, unknown>): string[] {
  const s = status as unknown as OpenMLDBStatus
  const out = [
    `  zookeeper ${s.zookeeper.hosts} root ${s.zookeeper.root}, auto_failover ${s.auto_failover === undefined ? 'unknown (no leader)' : String(s.auto_failover)}`,
  ]
  for (const n of s.nameservers)
    out.push(
      `  ${n.name.padEnd(10)} ${n.endpoint.padEnd(22)} ${n.running ? (n.leader ? 'leader' : 'standby') : 'killed'}`,
    )
  for (const t of s.tablets)
    out.push(
      `  ${t.name.padEnd(10)} ${t.endpoint.padEnd(22)} ${t.running ? (t.hung ? 'hung (no HTTP reply)' : 'running') : 'killed'}, ${t.loaded} tables loaded, ${t.on_disk} on disk`,
    )
  out.push(
    `  partitions: ${s.partitions.total}, ${s.partitions.unhealthy} not fully healthy; ops: ${s.ops.queued} queued, ${s.ops.done} done, ${s.ops.failed} failed`,
  )
  return out
}

function describe(layout: Record<string, unknown>): LabDescription {
  const l = layout as unknown as OpenMLDBLabLayout
  const json = {
    zookeeper: {hosts: l.zk_hosts, root: l.zk_root},
    nameservers: l.nameservers.map((n) => n.endpoint),
    tablets: l.tablets.map((t) => t.endpoint),
  }
  const lines = [
    `  zookeeper root: ${l.zk_root}`,
    `  nameservers:    ${l.nameservers.map((n) => `${n.name}=${n.endpoint}`).join(', ')}`,
    `  tablets:        ${l.tablets.map((t) => `${t.name}=${t.endpoint}`).join(', ')}`,
    `  tables:         ${l.tables.map((t) => `${t.db}.${t.name}(tid ${t.tid}): ${t.partitions} partitions, ${t.rows} rows`).join('; ')}`,
  ]
  return {json, lines}
}

/** The OpenMLDB lab. */
export const openmldbLab: LabEngine<OpenMLDBScenario> = {
  engine: 'openmldb',
  needsZooKeeper: true,
  parseScenario: parseOpenMLDBScenario,
  up,
  faults: FAULT_HELP satisfies readonly LabFaultHelp[],
  parseFault: parseOpenMLDBFault,
  verify,
  formatStatus,
  describe,
}
