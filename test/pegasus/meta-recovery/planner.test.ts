import {readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {planMetaRecovery, splitHintMessage} from '../../../src/engines/pegasus/meta-recovery/planner.js'
import {metaRecoveryEngine} from '../../../src/engines/pegasus/meta-recovery/engine.js'
import type {PlanBody} from '../../../src/plan/types.js'
import {expectGoldens} from '../../plan/goldens.js'
import {FIXTURES, NOW, ROOT, lastDropsOf, loadFixture} from './helpers.js'

const scenarios = readdirSync(FIXTURES, {withFileTypes: true})
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()

function planFixture(name: string): PlanBody {
  const {spec, live} = loadFixture(name)
  return planMetaRecovery(spec, live, {now: NOW})
}

const messages = (body: PlanBody, code: string) => body.findings.filter((f) => f.code === code).map((f) => f.message)
const errors = (body: PlanBody) => body.findings.filter((f) => f.severity === 'error')
const startStep = (body: PlanBody) => body.steps.find((s) => s.id === '02-start-recovery')!

describe('PegasusMetaRecovery planner: golden plans', () => {
  it('has the scenarios the issue lists', () => {
    expect(scenarios).toEqual(
      expect.arrayContaining([
        'all-good',
        'node-down',
        'node-down-skip',
        'partition-one-of-three',
        'partition-two-of-three',
        'partition-lost',
        'partition-lost-skip',
        'duplicate-names',
        'soft-deleted',
        'conflicting-app-info',
        'root-not-empty',
        'drop-holder',
      ]),
    )
  })
  for (const name of scenarios) {
    it(`${name}: matches plan.json, plan.txt and plan.md; deterministic`, async () => {
      const body = planFixture(name)
      const text = `${JSON.stringify(body, null, 2)}\n`
      // The same inputs, with the live node records in another order, give the same bytes.
      const {spec, live} = loadFixture(name)
      live.nodes.reverse()
      expect(`${JSON.stringify(planMetaRecovery(spec, live, {now: NOW}), null, 2)}\n`).toBe(text)
      await expectGoldens(join(FIXTURES, name), metaRecoveryEngine.cluster(spec), body)
    })
  }
})

describe('PegasusMetaRecovery planner: outcomes and Pegasus wording (reference/pegasus.md 2.3-2.5)', () => {
  it('all nodes good: every partition gets the greatest replica as primary, the next two as last_drops', () => {
    const body = planFixture('all-good')
    expect(errors(body)).toEqual([])
    // The only warning: 1.1's primary is picked by ballot although another replica committed more.
    expect(body.findings.filter((f) => f.severity === 'warning').map((f) => `${f.code} ${f.subject}`)).toEqual([
      'PEGASUS_PRIMARY_BEHIND 1.1',
    ])
    expect(body.changes.map((c) => c.address)).toEqual([
      `zk:${ROOT}/apps`,
      `zk:${ROOT}/apps/1`,
      ...[0, 1, 2, 3].map((p) => `zk:${ROOT}/apps/1/${p}`),
    ])
    // 1.1: ballots 4, 6, 5 -> primary is the ballot-6 node despite its smaller decrees.
    const p11 = body.primaries.find((p) => p.partition === '1.1')!
    expect(p11.after).toBe('127.0.0.1:34802')
    expect(lastDropsOf(p11)).toEqual(['127.0.0.1:34801', '127.0.0.1:34803'])
    expect(p11.risk).toBe('lossy') // it had prepared only up to 81 while others committed 100
    const pc11 = body.changes.find((c) => c.address.endsWith('/apps/1/1'))!.after
    expect(pc11).toEqual({
      pid: '1.1',
      ballot: 6,
      max_replica_count: 3,
      primary: '127.0.0.1:34802',
      secondaries: [],
      last_drops: ['127.0.0.1:34801', '127.0.0.1:34803'],
      last_committed_decree: 0,
      partition_flags: 0,
      hp_primary: '127.0.0.1:34802',
      hp_secondaries: [],
      hp_last_drops: ['127.0.0.1:34801', '127.0.0.1:34803'],
    })
    // 1.3: a full tie -> the first node in the request keeps it; last_drops ascending, so the second node is the latest.
    const p13 = body.primaries.find((p) => p.partition === '1.3')!
    expect(p13.after).toBe('127.0.0.1:34801')
    expect(lastDropsOf(p13)).toEqual(['127.0.0.1:34803', '127.0.0.1:34802'])
    const app = body.changes.find((c) => c.address === `zk:${ROOT}/apps/1`)!.after
    expect(app).toMatchObject({
      status: 'app_status::AS_AVAILABLE',
      app_name: 'temp',
      app_id: 1,
      partition_count: 4,
      is_stateful: 1,
    })
    expect(startStep(body).params).toMatchObject({
      expect_err: 'ERR_OK',
      expect_hints: [],
      recovery_nodes: ['127.0.0.1:34801', '127.0.0.1:34802', '127.0.0.1:34803'],
    })
  })

  it('a node down without skip_bad_nodes: the Pegasus error, ERR_TRY_AGAIN, nothing written', () => {
    const body = planFixture('node-down')
    expect(messages(body, 'PEGASUS_BAD_NODE')).toEqual([
      'ERROR: collect app and replica info from node(127.0.0.1:34803) failed with err(ERR_NETWORK_FAILURE), you can skip it by set skip_bad_nodes option',
    ])
    expect(errors(body).map((f) => f.code)).toEqual(['PEGASUS_BAD_NODE'])
    expect(body.changes).toEqual([])
    expect(startStep(body).params).toMatchObject({expect_err: 'ERR_TRY_AGAIN'})
  })

  it('a node down with skip_bad_nodes: a warning, and every partition collects 2/3', () => {
    const body = planFixture('node-down-skip')
    expect(errors(body)).toEqual([])
    expect(messages(body, 'PEGASUS_BAD_NODE')).toEqual([
      'WARNING: collect app and replica info from node(127.0.0.1:34803) failed with err(ERR_TIMEOUT), skip the bad node',
    ])
    expect(messages(body, 'PEGASUS_PARTITION_UNDER_REPLICATED')).toEqual(
      [0, 1, 2, 3].map((p) => `WARNING: partition(1.${p}) only collects 2/3 of replicas, may lost data`),
    )
    expect(startStep(body).params).toMatchObject({skip_bad_nodes: true, expect_err: 'ERR_OK'})
    expect(body.changes).toHaveLength(6)
  })

  it('partitions with 1/3 and 2/3 replicas warn in Pegasus words; primary and last_drops follow the collected ones', () => {
    const one = planFixture('partition-one-of-three')
    expect(messages(one, 'PEGASUS_PARTITION_UNDER_REPLICATED')).toEqual([
      'WARNING: partition(1.2) only collects 1/3 of replicas, may lost data',
    ])
    expect(one.primaries.find((p) => p.partition === '1.2')).toMatchObject({after: '127.0.0.1:34802'})
    expect(lastDropsOf(one.primaries.find((p) => p.partition === '1.2'))).toEqual([])
    const two = planFixture('partition-two-of-three')
    expect(messages(two, 'PEGASUS_PARTITION_UNDER_REPLICATED')).toEqual([
      'WARNING: partition(1.1) only collects 2/3 of replicas, may lost data',
    ])
    expect(two.primaries.find((p) => p.partition === '1.1')).toMatchObject({after: '127.0.0.1:34803'})
    expect(lastDropsOf(two.primaries.find((p) => p.partition === '1.1'))).toEqual(['127.0.0.1:34801'])
    expect(errors(one)).toEqual([])
    expect(errors(two)).toEqual([])
  })

  it('a partition with no replica: an error without skip_lost_partitions', () => {
    const body = planFixture('partition-lost')
    expect(messages(body, 'PEGASUS_PARTITION_LOST')).toEqual([
      'ERROR: partition(1.3) has no replica collected, you can force recover it by set skip_lost_partitions option',
    ])
    // All hints accumulate before the meta gives up, in its order.
    expect(startStep(body).params).toMatchObject({
      expect_err: 'ERR_TRY_AGAIN',
      expect_hints: [
        'WARNING: partition(1.1) only collects 1/3 of replicas, may lost data',
        'ERROR: partition(1.3) has no replica collected, you can force recover it by set skip_lost_partitions option',
      ],
    })
    expect(body.changes).toEqual([])
  })

  it('a partition with no replica and skip_lost_partitions: a lossy step that says what is lost', () => {
    const body = planFixture('partition-lost-skip')
    expect(errors(body)).toEqual([])
    expect(messages(body, 'PEGASUS_PARTITION_LOST')).toEqual([
      'WARNING: partition(1.3) has no replica collected, force recover the lost partition to empty',
    ])
    const step = startStep(body)
    expect(step.risk).toBe('lossy')
    expect(step.riskReason).toContain('1.3')
    expect(body.primaries.find((p) => p.partition === '1.3')).toMatchObject({
      after: null,
      risk: 'lossy',
      atStake: 'every row of partition 1.3 of temp',
    })
    expect(body.changes.find((c) => c.address.endsWith('/apps/1/3'))!.after).toMatchObject({
      pid: '1.3',
      ballot: 0,
      primary: 'invalid address',
      hp_primary: 'invalid host_port',
      last_drops: [],
      max_replica_count: 3,
    })
  })

  it('duplicate names: holders for the gaps, renames from the highest id down (upstream construct_apps_test)', () => {
    const body = planFixture('duplicate-names')
    const names = body.changes
      .filter((c) => /\/apps\/\d+$/.test(c.address))
      .map((c) => {
        const a = c.after as {app_id: number; app_name: string; status: string}
        return `${a.app_id}:${a.app_name}:${a.status}`
      })
    expect(names).toEqual([
      '1:__drop_holder__1:app_status::AS_DROPPED',
      '2:test__4__2:app_status::AS_AVAILABLE',
      '3:__drop_holder__3:app_status::AS_DROPPED',
      '4:test__4:app_status::AS_AVAILABLE',
      '5:__drop_holder__5:app_status::AS_DROPPED',
      '6:test:app_status::AS_AVAILABLE',
    ])
    expect(startStep(body).params).toMatchObject({
      expect_hints: [
        "WARNING: app(4)'s old name(test) is conflict with others, rename it to (test__4)",
        "WARNING: app(2)'s old name(test__4) is conflict with others, rename it to (test__4__2)",
      ],
    })
    expect(messages(body, 'PEGASUS_APP_RENAMED')).toHaveLength(2)
  })

  it('a soft-deleted table comes back AVAILABLE under a new name, with a warning', () => {
    const body = planFixture('soft-deleted')
    expect(messages(body, 'PEGASUS_APP_RENAMED')).toEqual([
      "WARNING: app(1)'s old name(temp) is conflict with others, rename it to (temp__1)",
    ])
    expect(body.findings.filter((f) => f.code === 'PEGASUS_SOFT_DELETED_RESTORED').map((f) => f.subject)).toEqual([
      'app(1)',
    ])
    expect(body.changes.find((c) => c.address === `zk:${ROOT}/apps/1`)!.after).toMatchObject({
      status: 'app_status::AS_AVAILABLE',
      app_name: 'temp__1',
    })
  })

  it("envs: the first reporting node's come back, other nodes' differing envs are ignored and named", () => {
    const {spec, live} = loadFixture('all-good')
    const [n1, n2, n3] = live.nodes
    // 34801 holds the creation envs; 34802 a replica added after set_app_envs; 34803 restarted.
    n1!.apps[0]!.envs = {'business.info': 'v1', 'rocksdb.allow_ingest_behind': 'false'}
    n2!.apps[0]!.envs = {'business.info': 'v2', default_ttl: '86400', 'rocksdb.allow_ingest_behind': 'true'}
    n3!.apps[0]!.envs = {'rocksdb.allow_ingest_behind': 'true'}
    const body = planMetaRecovery(spec, live, {now: NOW})
    expect(body.changes.find((c) => c.address === `zk:${ROOT}/apps/1`)!.after).toMatchObject({
      envs: {'business.info': 'v1', 'rocksdb.allow_ingest_behind': 'false'},
    })
    const envs = body.findings.filter((f) => f.code.startsWith('PEGASUS_APP_ENVS'))
    expect(envs.map((f) => `${f.severity} ${f.code} ${f.subject}`)).toEqual([
      'warning PEGASUS_APP_ENVS_RECOVERED app(1)',
      'info PEGASUS_APP_ENVS_UNKNOWN envs',
    ])
    expect(envs[0]!.message).toBe(
      'temp gets back the envs 127.0.0.1:34801 reports, the first node that reports it: business.info=v1, rocksdb.allow_ingest_behind=false; the meta does not compare envs and ignores the other reports: 127.0.0.1:34802 reports business.info=v2, default_ttl=86400, rocksdb.allow_ingest_behind=true; 127.0.0.1:34803 reports rocksdb.allow_ingest_behind=true',
    )
    expect(envs[1]!.message).toMatch(
      /^for every table, a replica server reports the envs its replicas were created with/,
    )
  })

  it('conflicting app info: an error, because the meta server would crash', () => {
    const body = planFixture('conflicting-app-info')
    expect(errors(body).map((f) => f.code)).toEqual(['PEGASUS_APP_CONFLICT'])
    expect(messages(body, 'PEGASUS_APP_CONFLICT')[0]).toMatch(
      /^conflict app info from \(127\.0\.0\.1:34802\) for id\(1\): partition_count 8 here, 4 from \(127\.0\.0\.1:34801\)$/,
    )
    expect(body.changes).toEqual([])
    expect(startStep(body).params).toMatchObject({expect_err: 'CRASH'})
  })

  it('conflicting app info: each field app_info_compatible_equal compares, and only those', () => {
    const differ: Record<string, unknown> = {
      status: 6,
      app_type: 'other',
      app_name: 'renamed',
      partition_count: 64,
      is_stateful: false,
      max_replica_count: 5,
      expire_second: 7,
      create_second: 8,
      drop_second: 9,
      atomic_idempotent: true,
    }
    const ignored: Record<string, unknown> = {
      envs: {a: 'b'},
      duplicating: true,
      init_partition_count: 3,
      is_bulk_loading: true,
    }
    for (const [field, value] of Object.entries({...differ, ...ignored})) {
      const {spec, live} = loadFixture('all-good')
      // The second node's report of the first node's app (app_id changed, it would be another app).
      Object.assign(live.nodes[1]!.apps[0]!, {[field]: value})
      const body = planMetaRecovery(spec, live, {now: NOW})
      const conflict = messages(body, 'PEGASUS_APP_CONFLICT')
      if (field in differ) expect(conflict, field).toEqual([expect.stringContaining(`: ${field} `)])
      else expect(conflict, field).toEqual([])
    }
  })

  it('a non-empty apps root: an error that names what is there', () => {
    const body = planFixture('root-not-empty')
    expect(errors(body).map((f) => f.code)).toEqual(['PEGASUS_ROOT_NOT_EMPTY'])
    expect(errors(body)[0]!.message).toBe(`${ROOT}/apps already holds 2 app node(s): 1, 2`)
  })

  it('a gap in app ids: a drop holder whose expire_second is marked volatile', () => {
    const body = planFixture('drop-holder')
    const holder = body.changes.find((c) => c.address === `zk:${ROOT}/apps/2`)!
    expect(holder.after).toEqual({
      status: 'app_status::AS_DROPPED',
      app_type: 'pegasus',
      app_name: '__drop_holder__2',
      app_id: 2,
      partition_count: 1,
      envs: {},
      is_stateful: 1,
      max_replica_count: 3,
      expire_second: Date.parse(NOW) / 1000,
      create_second: 0,
      drop_second: 0,
      duplicating: 0,
      init_partition_count: -1,
      is_bulk_loading: 0,
      atomic_idempotent: 0,
    })
    expect(body.changes.find((c) => c.address === `zk:${ROOT}/apps/2/0`)!.after).toMatchObject({
      pid: '2.0',
      ballot: 0,
      max_replica_count: 3,
    })
    expect(body.steps.find((s) => s.id === '04-verify-metadata')!.params.volatile).toEqual([
      {address: `zk:${ROOT}/apps/2`, fields: ['expire_second']},
    ])
    expect(errors(body)).toEqual([])
  })

  it('a meta server that is not in recovery mode: an error with the flag to set', () => {
    const body = planFixture('not-in-recovery')
    const f = errors(body)
    expect(f.map((x) => x.code)).toEqual(['PEGASUS_NOT_IN_RECOVERY'])
    expect(f[0]!.hint).toContain('recover_from_replica_server = true')
  })
})

describe('splitHintMessage', () => {
  it('splits lines with and without trailing newlines (versions differ)', () => {
    const master =
      'WARNING: collect app and replica info from node(a:1) failed with err(ERR_TIMEOUT), skip the bad node' +
      "WARNING: app(2)'s old name(t) is conflict with others, rename it to (t__2)\n" +
      'WARNING: partition(1.0) only collects 2/3 of replicas, may lost dataWARNING: partition(1.1) only collects 1/3 of replicas, may lost data'
    expect(splitHintMessage(master)).toEqual([
      'WARNING: collect app and replica info from node(a:1) failed with err(ERR_TIMEOUT), skip the bad node',
      "WARNING: app(2)'s old name(t) is conflict with others, rename it to (t__2)",
      'WARNING: partition(1.0) only collects 2/3 of replicas, may lost data',
      'WARNING: partition(1.1) only collects 1/3 of replicas, may lost data',
    ])
    expect(splitHintMessage('')).toEqual([])
  })
})
