// OpenMLDBRecovery end to end (issue 13), one-click data recovery: the built-in
// `openmldb-recoverdata` lab (every tablet restarted, nothing loaded, two is_leader replicas after
// an earlier failover, a lagging follower) on the suite's ZooKeeper, driven through the real binary:
// plan, a stale saved plan refused with exit 5, apply killed with SIGKILL in the middle and finished
// with --resume, the ops the nameserver ran compared with the plan's, and `lab verify`.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {OpenMLDBClient} from '../../src/engines/openmldb/client.js'
import {confOf, opsOf, tablesOf} from '../../src/engines/openmldb/gather.js'
import {startCli, waitFor} from '../cli/helpers.js'
import {auditRecords, expectExit, labUp, readPlan, type Lab, type PlanDoc} from './helpers.js'

interface OpenMLDBLabUp {
  zookeeper: {hosts: string; root: string}
  nameservers: string[]
  tablets: string[]
  specs: Record<string, string>
}

let lab: Lab
let up: OpenMLDBLabUp
let spec: string
let client: OpenMLDBClient

/** `lab up`, once more when the lab's own restart-all did not settle (a lab race, not this engine's). */
async function labUpSettled(scenario: string): Promise<Lab> {
  try {
    return await labUp(scenario, {zk: inject('zookeeper')})
  } catch (err) {
    if (!String(err).includes('LAB_NOT_SETTLED')) throw err
    return labUp(scenario, {zk: inject('zookeeper')})
  }
}

/** The ops the nameserver created after `since`, as `type table/pid status`, sorted. */
async function opsSince(since: string): Promise<string[]> {
  return opsOf(await client.ns('ShowOPStatus', {}))
    .filter((o) => BigInt(o.op_id) > BigInt(since))
    .map((o) => `${o.op_type} ${o.name}/${o.pid} ${o.status}`)
    .sort()
}

/** The largest op id the nameserver reports now. */
async function lastOpId(): Promise<string> {
  return opsOf(await client.ns('ShowOPStatus', {})).at(-1)?.op_id ?? '0'
}

beforeAll(async () => {
  lab = await labUpSettled('openmldb-recoverdata')
  up = lab.endpoints as unknown as OpenMLDBLabUp
  spec = up.specs['openmldb-recoverdata-recover']
  client = new OpenMLDBClient({nameservers: up.nameservers, authorization: 'foo'})
})

afterAll(async () => {
  await lab?.down()
})

describe('OpenMLDB recoverdata through the CLI', () => {
  let plan: PlanDoc
  let planned: {primaries: {partition: string; after: string | null}[]}

  it('plans: every partition unhealthy, a leader per partition by largest offset, loads and RecoverTable ops, the restore as an always step', async () => {
    const r = expectExit(await lab.cli(['plan', spec, '--out', 'plan.json']), 0)
    expect(r.stdout).toContain('Leaders to assign (12)')
    plan = readPlan(join(lab.cwd, 'plan.json'))
    planned = JSON.parse(readFileSync(join(lab.cwd, 'plan.json'), 'utf8'))
    expect(plan.applyable).toBe(true)
    expect(plan.observed.summary).toMatchObject({partitions: 12, unhealthy: 12, healthy: 0, auto_failover: 'false'})
    expect(plan.steps.map((s) => s.kind)).toEqual([
      'openmldb.load-leaders',
      'openmldb.recover-tables',
      'openmldb.confset',
      'openmldb.verify',
    ])
    const restore = JSON.parse(readFileSync(join(lab.cwd, 'plan.json'), 'utf8')).steps[2]
    expect(restore).toMatchObject({always: true, params: {key: 'auto_failover', value: 'true'}})
    // A leader per partition, and each follower to recover loaded from its own disk beside them.
    const loads = plan.steps[0].params.loads as {name: string; pid: number; endpoint: string}[]
    const ops = plan.steps[1].params.ops as {name: string; pid: number; endpoint: string; then: string}[]
    expect(loads.length).toBe(36)
    expect(ops.length).toBe(24)
    const at = (x: {name: string; pid: number; endpoint: string}): string => `${x.name}/${x.pid}@${x.endpoint}`
    const leaders = planned.primaries.map((p) => `${p.partition.split('.')[1]}@${p.after}`)
    expect([...ops.map(at), ...leaders].sort()).toEqual(loads.map(at).sort())
    expect(new Set(ops.map((o) => o.then))).toEqual(new Set(['kReAddReplicaSimplifyOP|kReAddReplicaWithDropOP']))
  })

  it('refuses the saved plan with exit 5 once a tablet loaded a partition behind its back', async () => {
    // Someone loads shop.users pid 0 on its planned leader by hand: the tablet's state moved past the plan's.
    const load = (
      plan.steps[0].params.loads as {name: string; pid: number; tid: number; endpoint: string; db: string}[]
    ).find(
      (l) =>
        `${l.db}.${l.name}/${l.pid}` === 'shop.users/0' &&
        planned.primaries.some((p) => p.after === l.endpoint && p.partition === 'shop.users/0'),
    )!
    await client.tablet(load.endpoint, 'LoadTable', {
      table_meta: {
        name: load.name,
        db: load.db,
        tid: load.tid,
        pid: load.pid,
        ttl: 0,
        seg_cnt: 8,
        storage_mode: 'kMemory',
      },
    })
    await waitFor('the hand load', async () => {
      const s = await client.tablet(load.endpoint, 'GetTableStatus', {tid: load.tid, pid: load.pid})
      return JSON.stringify(s).includes('kTableNormal') ? true : undefined
    })
    const r = await lab.cli(['apply', 'plan.json', '--auto-approve'])
    expect(r.code, r.stdout + r.stderr).toBe(5)
    expect(r.stdout + r.stderr).toContain('Saved plan is stale')
    // Nothing was written: auto_failover is still off.
    expect(confOf(await client.ns('ConfGet', {})).auto_failover).toBe('false')
  })

  it('apply killed with SIGKILL during the RecoverTable ops, then --resume: converges, ops as planned, auto_failover as the spec says, every row found', async () => {
    expectExit(await lab.cli(['plan', spec, '--out', 'plan.json']), 0)
    plan = readPlan(join(lab.cwd, 'plan.json'))
    planned = JSON.parse(readFileSync(join(lab.cwd, 'plan.json'), 'utf8'))
    const since = await lastOpId()
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {cwd: lab.cwd})
    // Killed once the nameserver has run some of the RecoverTable ops, not all of them.
    await waitFor(
      'RecoverTable ops under way',
      async () =>
        (await opsSince(since)).filter((o) => o.startsWith('kRecoverTableOP') && o.endsWith('kDone')).length >= 3
          ? true
          : undefined,
      120_000,
    )
    proc.child.kill('SIGKILL')
    const killed = await proc.done
    expect(killed.signal).toBe('SIGKILL')
    expect(confOf(await client.ns('ConfGet', {})).auto_failover).toBe('false')

    // The dead run's lock outlives it until its ZooKeeper session expires: resume waits for that.
    const resumed = await lab.cli(['apply', 'plan.json', '--resume', '--auto-approve', '--lock-timeout', '90s'])
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(resumed.stdout).toContain('Verified: the cluster matches the plan.')
    expect(confOf(await client.ns('ConfGet', {})).auto_failover).toBe('true')

    // The ops the nameserver ran: one kRecoverTableOP per planned replica, each with one of its predicted child ops.
    const ops = await opsSince(since)
    const recover = plan.steps[1].params.ops as {name: string; pid: number; then: string}[]
    const left = [...ops]
    for (const op of recover) {
      const i = left.indexOf(`kRecoverTableOP ${op.name}/${op.pid} kDone`)
      expect(i, `kRecoverTableOP ${op.name}/${op.pid} in ${ops.join(', ')}`).toBeGreaterThanOrEqual(0)
      left.splice(i, 1)
      const j = left.findIndex((o) => op.then.split('|').some((t) => o === `${t} ${op.name}/${op.pid} kDone`))
      expect(j, `one of ${op.then} for ${op.name}/${op.pid} in ${ops.join(', ')}`).toBeGreaterThanOrEqual(0)
      left.splice(j, 1)
    }
    expect(left).toEqual([])

    // The leaders are the planned ones, node for node.
    const tables = tablesOf(await client.ns('ShowTable', {show_all: true}))
    for (const p of planned.primaries) {
      const [dbTable, pid] = p.partition.split('/')
      const t = tables.find((x) => `${x.db}.${x.name}` === dbTable)!
      expect(
        t.partitions[Number(pid)].replicas.filter((r) => r.is_leader && r.is_alive).map((r) => r.endpoint),
        p.partition,
      ).toEqual([p.after])
    }
    const records = auditRecords(lab.auditLog)
    expect(records.some((r) => r.event === 'run.resumed')).toBe(true)
    expect(records.at(-1)).toMatchObject({event: 'run.finished', data: {status: 'succeeded'}})

    const rows = await lab.verify()
    expect(`${rows.found} of ${rows.total}`).toBe('2600 of 2600')
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })
})
