/**
 * The TiKV lab as a {@link LabEngine}: a PD (HTTP API and etcd v3 gateway) and simulated TiKV/TiFlash
 * stores in the lab process, no ZooKeeper. See docs/tikv-lab.md.
 */
import {parseArgs} from 'node:util'

import {LifeboatError} from '../../errors.js'
import type {LabDescription, LabEngine, LabFaultHelp, LabUpContext, LabVerifyResult, RunningLab} from '../engine.js'
import type {TikvLabLayout} from './cluster.js'
import {parseTikvScenario, type TikvFault, type TikvScenario} from './scenario.js'

export const TIKV_FAULTS: readonly LabFaultHelp[] = [
  {
    name: 'kill-store',
    usage: 'lab fault kill-store STORE_ID [--down-for SECONDS]',
    summary:
      'stops a store: no heartbeats, no reads; --down-for backdates its last heartbeat (Disconnected after 20 s, Down after max-store-down-time)',
  },
  {
    name: 'start-store',
    usage: 'lab fault start-store STORE_ID',
    summary: 'starts a stopped store again (refused once PD has buried it as Tombstone)',
  },
  {
    name: 'lag-peer',
    usage: 'lab fault lag-peer REGION_ID STORE_ID INDEX',
    summary: "cuts a follower's raft log back to INDEX (last, commit and applied index)",
  },
  {
    name: 'restart-pd',
    usage: 'lab fault restart-pd',
    summary: 'restarts PD on the same port: a running unsafe recovery is lost',
  },
  {
    name: 'split',
    usage: 'lab fault split REGION_ID TABLE_ID [HANDLE]',
    summary:
      'splits a region at t{TABLE}[_r{HANDLE}] through AskBatchSplit (refused while scheduling is halted); lagging peers keep the old range',
  },
  {
    name: 'merge',
    usage: 'lab fault merge SOURCE_REGION TARGET_REGION',
    summary:
      'merges adjacent regions; when the target has lost quorum the CommitMerge stays in flight (has_commit_merge)',
  },
]

function usage(name: string, why: string): LifeboatError {
  const help = TIKV_FAULTS.find((f) => f.name === name)
  return new LifeboatError('USAGE', why, {
    hints: [help ? `Usage: lifeboat ${help.usage}` : `Faults: ${TIKV_FAULTS.map((f) => f.name).join(', ')}.`],
  })
}

function parseFault(name: string, argv: string[]): TikvFault {
  if (!TIKV_FAULTS.some((f) => f.name === name)) throw usage(name, `the TiKV lab has no fault "${name}"`)
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: argv,
      options: name === 'kill-store' ? {'down-for': {type: 'string'}} : {},
      allowPositionals: true,
      strict: true,
    })
  } catch (e) {
    throw usage(name, `lab fault ${name}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const pos = parsed.positionals
  const int = (v: string | undefined, what: string): number => {
    if (v === undefined || !/^\d+$/.test(v))
      throw usage(
        name,
        `lab fault ${name}: ${what} must be a non-negative integer${v === undefined ? ' (missing)' : `, not "${v}"`}`,
      )
    return Number(v)
  }
  const count = (min: number, max: number): void => {
    if (pos.length < min || pos.length > max)
      throw usage(
        name,
        `lab fault ${name} takes ${min === max ? min : `${min} to ${max}`} arguments, got ${pos.length}`,
      )
  }
  switch (name) {
    case 'kill-store': {
      count(1, 1)
      const down = parsed.values['down-for'] as string | undefined
      return {
        type: 'kill-store',
        store: int(pos[0], 'STORE_ID'),
        ...(down !== undefined ? {down_for_seconds: int(down, '--down-for')} : {}),
      }
    }
    case 'start-store':
      count(1, 1)
      return {type: 'start-store', store: int(pos[0], 'STORE_ID')}
    case 'lag-peer':
      count(3, 3)
      return {
        type: 'lag-peer',
        region: int(pos[0], 'REGION_ID'),
        store: int(pos[1], 'STORE_ID'),
        index: int(pos[2], 'INDEX'),
      }
    case 'restart-pd':
      count(0, 0)
      return {type: 'restart-pd'}
    case 'split':
      count(2, 3)
      return {
        type: 'split',
        region: int(pos[0], 'REGION_ID'),
        table: int(pos[1], 'TABLE_ID'),
        ...(pos[2] !== undefined ? {handle: int(pos[2], 'HANDLE')} : {}),
      }
    default:
      count(2, 2)
      return {type: 'merge', source: int(pos[0], 'SOURCE_REGION'), target: int(pos[1], 'TARGET_REGION')}
  }
}

async function up(ctx: LabUpContext<TikvScenario>): Promise<RunningLab> {
  // The simulator is imported here, not with the module: the other lab commands need only this file.
  const {TikvLab} = await import('./cluster.js')
  const lab = await TikvLab.up(ctx.scenario, ctx.stateDir, ctx.log)
  return {
    layout: () => ({...lab.layout}) as unknown as Record<string, unknown>,
    status: () => lab.status(),
    fault: (payload) => lab.fault(payload as TikvFault),
    writeSpecs: () => lab.writeSpecs(),
    down: () => lab.down(),
  }
}

interface TikvStatus {
  pd: string
  stores: {
    id: number
    address: string
    tiflash: boolean
    running: boolean
    state_name: string
    peers: number
    leaders: number
  }[]
  regions: number
  scheduling_halted: boolean
  recovery: {stage: string; step: number; failed_stores: number[]; reported: string; history: string[]}
}

function formatStatus(status: Record<string, unknown>): string[] {
  const s = status as unknown as TikvStatus
  const out = [`  pd ${s.pd}: ${s.regions} regions${s.scheduling_halted ? ', scheduling halted' : ''}`]
  for (const st of s.stores) {
    out.push(
      `  ${`store ${st.id}`.padEnd(9)} ${st.address.padEnd(22)} ${st.tiflash ? 'TiFlash' : 'TiKV   '} ${st.running ? 'running' : 'stopped'}, PD: ${st.state_name}, ${st.peers} peers, ${st.leaders} leaders`,
    )
  }
  const r = s.recovery
  out.push(
    r.stage === 'Idle'
      ? '  unsafe recovery: none'
      : `  unsafe recovery: ${r.stage} (failed stores ${r.failed_stores.join(', ') || 'auto-detected'}; reports ${r.reported}; stages ${r.history.join(' -> ')})`,
  )
  return out
}

function describe(layout: Record<string, unknown>): LabDescription {
  const l = layout as unknown as TikvLabLayout
  return {
    json: {pd: l.pd, stores: l.stores, failed_stores: l.failed_stores},
    lines: [
      `  pd:      http://${l.pd}  (PD API under /pd/api/v1, etcd v3 gateway under /v3)`,
      `  stores:  ${l.stores.map((s) => `${s.id}${s.tiflash ? '(tiflash)' : ''}=${s.address}`).join(', ')}`,
      `  tables:  ${l.tables.map((t) => `${t.name}(${t.id}): ${t.rows} rows`).join('; ')}`,
      `  failed:  stores ${l.failed_stores.join(', ') || '(none)'}`,
    ],
  }
}

/** The TiKV lab. */
export const tikvLab: LabEngine<TikvScenario> = {
  engine: 'tikv',
  needsZooKeeper: false,
  parseScenario: parseTikvScenario,
  up,
  faults: TIKV_FAULTS,
  parseFault,
  verify: async (layout: Record<string, unknown>): Promise<LabVerifyResult> =>
    (await import('./verify.js')).verifyTikvRows(layout as unknown as TikvLabLayout),
  formatStatus,
  describe,
}
