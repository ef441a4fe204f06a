// The PegasusZkMigration planner on fixtures (live states gathered from the lab, ports normalised):
// golden plans for both methods, a non-empty target, remove_source_after, an UNALIVE node.
import {readFileSync, readdirSync} from 'node:fs'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'

import {zkMigrationEngine} from '../../../src/engines/pegasus/zk-migration/engine.js'
import {planZkMigration, predictEnvs} from '../../../src/engines/pegasus/zk-migration/planner.js'
import type {PlanBody} from '../../../src/plan/types.js'
import {validateSpecText} from '../../../src/spec/index.js'
import {expectGoldens} from '../../plan/goldens.js'
import {FIXTURES, NOW, loadFixture} from './helpers.js'

const scenarios = readdirSync(FIXTURES, {withFileTypes: true})
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
const plan = (name: string): PlanBody => {
  const {spec, live} = loadFixture(name)
  return planZkMigration(spec, live, {now: NOW})
}
/** The target root of the fixtures, as a change address. */
const T = 'zk:127.0.0.1:2182/pegasus/onebox'
const errors = (b: PlanBody) => b.findings.filter((f) => f.severity === 'error')
const codes = (b: PlanBody, severity: string) =>
  b.findings.filter((f) => f.severity === severity).map((f) => `${f.code} ${f.subject}`)

describe('PegasusZkMigration planner: golden plans', () => {
  it('has the scenarios the issue asks for', () => {
    expect(scenarios).toEqual([
      'copy',
      'copy-remove-source-after',
      'copy-target-not-empty',
      'recovery',
      'recovery-node-unalive',
      'recovery-target-not-empty',
    ])
  })
  for (const name of scenarios) {
    it(`${name}: a valid spec; matches plan.json, plan.txt and plan.md; deterministic`, async () => {
      const dir = join(FIXTURES, name)
      const source = readFileSync(join(dir, 'spec.yaml'), 'utf8')
      const loaded = await validateSpecText(source, 'spec.yaml')
      expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([])
      const body = plan(name)
      const text = `${JSON.stringify(body, null, 2)}\n`
      // Lists in another order give the same bytes.
      const {spec, live} = loadFixture(name)
      live.nodes.reverse()
      live.tables.reverse()
      expect(`${JSON.stringify(planZkMigration(spec, live, {now: NOW}), null, 2)}\n`).toBe(text)
      await expectGoldens(dir, zkMigrationEngine.cluster(spec), body)
    })
  }
})

describe('PegasusZkMigration planner: what each plan says', () => {
  it('copy: the target tree per top-level child and app, the level it comes back to, every gate in order', () => {
    const body = plan('copy')
    expect(errors(body)).toEqual([])
    expect(codes(body, 'warning')).toEqual(['PEGASUS_META_FOLLOWERS_RUNNING 127.0.0.1:34601,127.0.0.1:34602'])
    expect(body.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'update meta-config:zookeeper',
      'update meta-level',
      `create ${T}`,
      `create ${T}/apps`,
      `create ${T}/apps/1`,
      `create ${T}/apps/2`,
      `create ${T}/apps/3`,
      `create ${T}/backup`,
      `create ${T}/dsn.meta.server.leader`,
    ])
    const {live} = loadFixture('copy')
    expect(body.changes.find((c) => c.address === T)!.after).toEqual({
      nodes: live.source.nodes,
      apps: 3,
      partitions: 14,
    })
    // The leader lock directory is copied, its two ephemeral LOCKNODEs are not.
    expect(body.changes.find((c) => c.address.endsWith('dsn.meta.server.leader'))).toMatchObject({
      after: {nodes: 1},
      reason: '1 persistent node; 2 ephemeral nodes left out',
    })
    expect(body.changes.find((c) => c.address === 'meta-level')).toMatchObject({before: 'steady', after: 'blind'})
    expect(body.steps.map((s) => `${s.id} ${s.risk}${s.manual ? ' manual' : ''}`)).toEqual([
      '01-stop-follower-metas safe manual',
      '02-set-meta-level-blind disruptive',
      '03-copy-tree safe',
      '04-verify-copy read',
      '05-switch-metas-to-target disruptive manual',
      '06-restore-meta-level disruptive',
      '07-verify-tables read',
    ])
    expect(body.steps[5]!.params).toMatchObject({level: 'steady', from: 'blind'})
    expect(codes(body, 'info')).toEqual([
      'PEGASUS_ZK_MIGRATION_DOWNTIME step 05',
      'PEGASUS_ZK_MIGRATION_DOWNTIME steps 02-06',
    ])
  })

  it('remove_source_after: a lossy last step and the source root deleted', () => {
    const body = plan('copy-remove-source-after')
    const last = body.steps.at(-1)!
    expect(last).toMatchObject({id: '08-remove-source-tree', risk: 'lossy', kind: 'pegasus.zk-migration.remove-source'})
    expect(last.riskReason).toContain('no way back to the source ZooKeeper')
    // The same path on two ensembles: created on the target, deleted on the source.
    expect(
      body.changes
        .filter((c) => c.address.endsWith(':/pegasus/onebox') || c.address.endsWith('/pegasus/onebox'))
        .map((c) => `${c.action} ${c.address}`),
    ).toEqual(['delete zk:127.0.0.1:2181/pegasus/onebox', `create ${T}`])
  })

  it('a target root that is not empty is an error that names what is there, for either method', () => {
    for (const name of ['copy-target-not-empty', 'recovery-target-not-empty']) {
      const body = plan(name)
      expect(errors(body).map((f) => f.message)).toEqual([
        'the target root /pegasus/busy on 127.0.0.1:2182 is not empty: it holds 4 nodes under it: apps (3 nodes), lock (1 node)',
      ])
    }
    // The diff against what is there: apps exists on the target already, lock is the target's own.
    const changes = plan('copy-target-not-empty').changes
    expect(changes.find((c) => c.address === 'zk:127.0.0.1:2182/pegasus/busy/apps')).toMatchObject({
      action: 'update',
      before: {nodes: 3},
    })
    expect(changes.find((c) => c.address === 'zk:127.0.0.1:2182/pegasus/busy/lock')).toMatchObject({action: 'no-op'})
    expect(changes.find((c) => c.address === 'zk:127.0.0.1:2182/pegasus/busy/apps/3')).toMatchObject({
      action: 'update',
      before: {app_name: null},
    })
  })

  it('recovery: the recorded lists, the tables it rebuilds, and what it does not carry over', () => {
    const body = plan('recovery')
    expect(errors(body)).toEqual([])
    expect(codes(body, 'warning')).toEqual([
      'PEGASUS_APP_ENVS_LOST 2:temp',
      'PEGASUS_DROPPED_TABLE 1:old',
      'PEGASUS_ZK_NOT_CARRIED_OVER /pegasus/onebox',
    ])
    expect(body.findings.find((f) => f.code === 'PEGASUS_ZK_NOT_CARRIED_OVER')!.message).toBe(
      'the recovery rebuilds only app and partition nodes: 5 nodes of the source tree are not carried over: backup (3 nodes), apps/1 (2 nodes besides its partitions, e.g. duplication)',
    )
    expect(body.changes.map((c) => `${c.action} ${c.address}`)).toEqual([
      'update meta-config:zookeeper',
      `create ${T}/apps`,
      `create ${T}/apps/2`,
      `create ${T}/apps/3`,
    ])
    const start = body.steps.find((s) => s.id === '03-start-recovery')!
    expect(start.params).toEqual({
      meta_servers: ['127.0.0.1:34601', '127.0.0.1:34602'],
      recovery_nodes: ['127.0.0.1:34801', '127.0.0.1:34802', '127.0.0.1:34803'],
      wait_seconds: 60,
      target: {hosts: '127.0.0.1:2182', root: '/pegasus/onebox'},
    })
    expect(body.steps.filter((s) => s.manual).map((s) => s.id)).toEqual([
      '02-restart-meta-in-recovery-mode',
      '05-restart-metas-normal-mode',
    ])
    expect(body.steps.find((s) => s.id === '04-wait-for-nodes')!.expect).toBe(
      '127.0.0.1:34801 ALIVE 12, 127.0.0.1:34802 ALIVE 12, 127.0.0.1:34803 ALIVE 12',
    )
  })

  it("recovery: each table's envs as the first reporting node holds them, compared with the source", () => {
    const {spec, live} = loadFixture('recovery')
    // 34801 (first in the list) holds temp's creation envs; 34802 and 34803 hold newer ones.
    expect(predictEnvs(live)).toEqual([
      {
        id: '2',
        name: 'temp',
        from: '127.0.0.1:34801',
        same: [],
        stale: [{key: 'rocksdb.allow_ingest_behind', source: 'true', back: 'false'}],
        lost: [{key: 'replica.deny_client_request', source: 'timeout*write'}],
        revived: [],
      },
      {id: '3', name: 'stat', from: '127.0.0.1:34801', same: [], stale: [], lost: [], revived: []},
    ])
    const envs = (b: PlanBody) => b.findings.filter((f) => f.code.startsWith('PEGASUS_APP_ENVS'))
    expect(envs(planZkMigration(spec, live, {now: NOW}))[0]!.hint).toBe(
      'After the migration, in the Pegasus shell: use_app temp; set_app_envs replica.deny_client_request timeout*write rocksdb.allow_ingest_behind true',
    )

    // The first node restarted (only .app-info's env) and the second lists temp first: its envs win.
    live.reports![0]!.apps = live.reports![0]!.apps.filter((a) => a.app_id !== 2)
    live.reports![1]!.apps[1]!.envs = {default_ttl: '86400', 'rocksdb.allow_ingest_behind': 'true'}
    live.source.apps[2]!.envs = {'business.info': 'a b'}
    const [temp, stat] = predictEnvs(live)
    expect(temp).toMatchObject({from: '127.0.0.1:34802', same: ['rocksdb.allow_ingest_behind'], stale: []})
    expect(temp!.revived).toEqual([{key: 'default_ttl', back: '86400'}])
    expect(stat!.lost).toEqual([{key: 'business.info', source: 'a b'}])
    const found = envs(planZkMigration(spec, live, {now: NOW}))
    expect(found.map((f) => `${f.code} ${f.subject}`)).toEqual([
      'PEGASUS_APP_ENVS_LOST 2:temp',
      'PEGASUS_APP_ENVS_LOST 3:stat',
    ])
    expect(found[0]!.message).toMatch(
      /^table temp: rocksdb.allow_ingest_behind comes back as the source has it; default_ttl=86400 comes back though the source no longer has it; replica.deny_client_request=timeout\*write is lost\. start_recovery takes its envs from 127\.0\.0\.1:34802, /,
    )
    expect(found[0]!.hint).toBe(
      'After the migration, in the Pegasus shell: use_app temp; set_app_envs replica.deny_client_request timeout*write; del_app_envs default_ttl',
    )
    expect(found[1]!.hint).toBe(
      'After the migration, in the Pegasus shell: use_app stat; set_app_envs business.info "a b"',
    )

    // No node reports the table, or the nodes were not asked: not known, said so.
    live.reports = live.reports!.map((r) => ({...r, apps: r.apps.filter((a) => a.app_id !== 3)}))
    expect(envs(planZkMigration(spec, live, {now: NOW})).map((f) => `${f.code} ${f.subject}`)).toEqual([
      'PEGASUS_APP_ENVS_LOST 2:temp',
      'PEGASUS_APP_ENVS_UNKNOWN 3:stat',
    ])
    delete live.reports
    expect(envs(planZkMigration(spec, live, {now: NOW})).map((f) => `${f.code} ${f.subject}`)).toEqual([
      'PEGASUS_APP_ENVS_UNKNOWN 2:temp',
      'PEGASUS_APP_ENVS_UNKNOWN 3:stat',
    ])
  })

  it('recovery with an UNALIVE node: an error, as the migration script aborts', () => {
    const body = plan('recovery-node-unalive')
    expect(errors(body).map((f) => `${f.code} ${f.subject}`)).toEqual(['PEGASUS_NODE_UNALIVE 127.0.0.1:34803'])
  })

  it('the fingerprint rests on shapes and counts, not on data that moves by itself', () => {
    const {spec, live} = loadFixture('copy')
    const before = planZkMigration(spec, live, {now: NOW}).observed.fingerprint
    live.source.bytes += 10 // a ballot grew by a digit
    live.nodes[0]!.replica_count += 1 // the balancer moved a replica
    expect(planZkMigration(spec, live, {now: NOW}).observed.fingerprint).toBe(before)
    live.source.apps[1]!.partitions -= 1
    expect(planZkMigration(spec, live, {now: NOW}).observed.fingerprint).not.toBe(before)
  })
})

describe('runbooks/pegasus-zk-migration.yaml', () => {
  it('is a valid spec whose defaults give a copy without ephemeral nodes and without removing the source', async () => {
    const text = readFileSync(
      join(import.meta.dirname, '..', '..', '..', 'runbooks', 'pegasus-zk-migration.yaml'),
      'utf8',
    )
    const loaded = await validateSpecText(text, 'pegasus-zk-migration.yaml')
    expect(loaded.diagnostics).toEqual([])
    expect(loaded.spec!.spec).toMatchObject({
      kind: 'PegasusZkMigration',
      migration: {method: 'copy', ignore_ephemeral: true, remove_source_after: false},
    })
  })
})
