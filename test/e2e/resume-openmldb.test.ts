// Resume that converges (issue 16 item 4), OpenMLDB, through the real binary on one
// `openmldb-failover` lab (tablet2 killed): apply is killed with SIGKILL once `confset
// auto_failover false` and the ChangeLeader ops have finished, auto_failover is then turned on
// again behind its back (what a restarted nameserver with --auto_failover, or an operator, does),
// and `apply --resume` finds the effect gone and runs that step again (saying so), trusts the
// leaders still in place, and ends as the plan says: every leader planned, auto_failover as the
// spec restores it, verify clean.
import {rmSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {OpenMLDBClient} from '../../src/engines/openmldb/client.js'
import {confOf, tablesOf} from '../../src/engines/openmldb/gather.js'
import {startCli, waitFor} from '../cli/helpers.js'
import {auditRecords, builtinScenarioAs, editSpec, expectExit, labUp, readPlan, tempDir, type Lab} from './helpers.js'

interface OpenMLDBLabUp {
  nameservers: string[]
  tablets: string[]
  specs: Record<string, string>
}

let lab: Lab
let client: OpenMLDBClient
let up: OpenMLDBLabUp
// The built-in scenario under a name of its own (builtinScenarioAs): test/e2e/openmldb-failover.test.ts
// applies to an openmldb-failover lab on the same ZooKeeper, maybe at the same time.
const NAME = `resume_omdb_${process.pid}`
const scenarioDir = tempDir('lifeboat-e2e-scenario-')

beforeAll(async () => {
  lab = await labUp(builtinScenarioAs('openmldb-failover', NAME, scenarioDir), {zk: inject('zookeeper')})
  up = lab.endpoints as unknown as OpenMLDBLabUp
  client = new OpenMLDBClient({nameservers: up.nameservers, authorization: 'foo'})
  // Offline for longer than tablet_heartbeat_timeout (1 s in the lab): the nameserver has run its
  // offline check with auto_failover off, so turning auto_failover on later makes it do nothing itself.
  await waitFor('tablet2 kOffline in ShowTablet for 3 s', async () => {
    const reply = (await client.ns('ShowTablet', {})) as {tablets?: {endpoint: string; state: string; age: number}[]}
    const t = reply.tablets?.find((x) => x.endpoint === up.tablets[1])
    return t?.state === 'kOffline' && t.age >= 3000 ? true : undefined
  })
})

afterAll(async () => {
  await lab?.down()
  rmSync(scenarioDir, {recursive: true, force: true})
})

const autoFailover = async (): Promise<string | undefined> => confOf(await client.ns('ConfGet', {})).auto_failover

describe('OpenMLDB: a step whose effect is gone on resume runs again', () => {
  it('confset auto_failover false, undone after the run was killed, is set again; the run converges', async () => {
    const dead = up.tablets[1]!
    // The cluster runs with auto_failover on: the plan turns it off first and restores the spec's value last.
    await lab.lab('fault', 'auto-failover', 'on')
    const spec = editSpec(up.specs[`${NAME}-recover`]!, join(lab.cwd, 'offline.yaml'), {
      auto_failover: false,
      tables: 'none',
      offline_endpoints: [dead],
    })
    expectExit(await lab.cli(['plan', spec, '--out', 'plan.json']), 0)
    const plan = readPlan(join(lab.cwd, 'plan.json'))
    const ids = plan.steps.map((s) => s.id)
    const [off, changeLeaders] = plan.steps
    expect(off).toMatchObject({kind: 'openmldb.confset', params: {key: 'auto_failover', value: 'false'}})
    expect(changeLeaders!.kind).toBe('openmldb.change-leaders')

    // Killed once the leaders are changed: the always step that restores auto_failover never runs.
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {cwd: lab.cwd})
    await waitFor(
      `${changeLeaders!.id} finished`,
      async () =>
        auditRecords(lab.auditLog).some((r) => r.event === 'step.finished' && r.data.step === changeLeaders!.id)
          ? true
          : undefined,
      120_000,
    )
    proc.child.kill('SIGKILL')
    expect((await proc.done).signal).toBe('SIGKILL')
    expect(await autoFailover()).toBe('false')

    // The effect of the first step is undone behind the run's back.
    await lab.lab('fault', 'auto-failover', 'on')
    expect(await autoFailover()).toBe('true')

    // The dead run's lock outlives it until its ZooKeeper session expires; the operator, knowing the run is dead, frees it.
    const status = JSON.parse((await lab.cli(['lock', 'status', spec, '--json'])).stdout) as {
      locked: boolean
      lock?: {id: string}
    }
    if (status.locked) await lab.cli(['lock', 'force-unlock', spec, status.lock!.id, '--force'])
    const resumed = await lab.cli(['apply', 'plan.json', '--resume', '--auto-approve', '--lock-timeout', '90s'])
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(resumed.stdout).toContain(
      `${off!.id}: running (done in an earlier run, but its effect is no longer there: running it again)`,
    )
    expect(resumed.stdout).toMatch(new RegExp(`${off!.id}: done \\(ran again: set auto_failover ok \\(false\\)\\)`))
    expect(resumed.stdout).toContain(`${changeLeaders!.id}: done in an earlier run`)
    expect(resumed.stdout).toContain('Verified: the cluster matches the plan.')
    const records = auditRecords(lab.auditLog)
    expect(
      records.filter((r) => r.data.step === off!.id && r.data.again === true).map((r) => r.event),
      ids.join(','),
    ).toEqual(['step.started', 'step.finished'])
    expect(records.at(-1)).toMatchObject({event: 'run.finished', data: {status: 'succeeded'}})

    // Converged: the planned leaders, nothing left on the dead tablet, auto_failover as the spec restores it.
    const tables = tablesOf(await client.ns('ShowTable', {show_all: true}))
    const planned = (plan as unknown as {primaries: {partition: string; after: string | null}[]}).primaries
    for (const p of planned) {
      const [dbTable, pid] = p.partition.split('/')
      const t = tables.find((x) => `${x.db}.${x.name}` === dbTable)!
      expect(
        t.partitions[Number(pid)]!.replicas.filter((r) => r.is_leader && r.is_alive).map((r) => r.endpoint),
        p.partition,
      ).toEqual([p.after])
    }
    expect(await autoFailover()).toBe('false')
    expectExit(await lab.cli(['audit', 'verify']), 0)
  })
})
