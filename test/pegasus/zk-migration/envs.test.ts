// Table envs through a recovery-method migration (issue 11 item 3), on the Pegasus lab over the
// wire: envs set with the meta's update_app_env reach the meta's app node but not what the replica
// servers report in query_app_info (the envs their replicas were created with; after a restart only
// .app-info's rocksdb.allow_ingest_behind). The plan says per table which envs come back, with which
// value, and which are lost; after the migration the recovered meta (its /meta/app_envs) has
// exactly that. Then a metadata recovery (PegasusMetaRecovery) on the same lab: the plan's envs
// per table are the first listed node's, which the recovered meta has.
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {ReplicaClient} from '../../../src/engines/pegasus/client/index.js'
import {gatherMetaRecovery} from '../../../src/engines/pegasus/meta-recovery/gather.js'
import {planMetaRecovery} from '../../../src/engines/pegasus/meta-recovery/planner.js'
import {predictRecovery} from '../../../src/engines/pegasus/meta-recovery/planner-prediction.js'
import type {MetaRecoverySpec} from '../../../src/engines/pegasus/meta-recovery/types.js'
import {zkMigrationEngine} from '../../../src/engines/pegasus/zk-migration/engine.js'
import {closeZkMigrationContext, openZkMigrationContext} from '../../../src/engines/pegasus/zk-migration/engine.js'
import {gatherZkMigration} from '../../../src/engines/pegasus/zk-migration/gather.js'
import {planZkMigration, predictEnvs} from '../../../src/engines/pegasus/zk-migration/planner.js'
import {setAppEnvs} from '../../../src/lab/pegasus/app-envs.js'
import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {compareNatural} from '../../../src/plan/order.js'
import {specCluster} from '../../../src/lab/pegasus/specs.js'
import {NOW, errorsOf, runSteps, scenario, specFor, startLab} from './helpers.js'

const zk = inject('zookeeper')
const io = {env: process.env, specDir: '.', progress: () => {}}
const CREATED = {'business.info': 'v1', 'rocksdb.allow_ingest_behind': 'false'}
const SET_LATER = {'business.info': 'v2', default_ttl: '86400', 'rocksdb.allow_ingest_behind': 'true'}

let lab: PegasusLab
let close: () => Promise<void>
let meta: string
const replicas = new ReplicaClient({timeoutMs: 5000})

beforeAll(async () => {
  ;({lab, close} = await startLab(
    zk,
    scenario([
      {name: 'temp', partitions: 4, replicas: 3, rows: 200, envs: CREATED},
      {name: 'stat', partitions: 2, replicas: 3, rows: 100},
    ]),
  ))
  meta = lab.leader()!.address
})
afterAll(async () => {
  replicas.close()
  await close?.()
})

async function appEnvs(metaAddress: string, table: string): Promise<Record<string, string>> {
  const res = await fetch(`http://${metaAddress}/meta/app_envs?name=${table}`)
  expect(res.status).toBe(200)
  return (await res.json()) as Record<string, string>
}

/** The replica servers in the order `nodes -d` lists them, which the recovery list keeps. */
function byAddress(): PegasusLab['replicas'] {
  return [...lab.replicas].sort((a, b) => compareNatural(a.address, b.address))
}

async function reported(node: string): Promise<Record<string, Record<string, string>>> {
  const resp = await replicas.queryAppInfo(node)
  return Object.fromEntries(resp.apps.map((a) => [a.app_name, a.envs]))
}

describe('envs on the lab, through a recovery-method migration', () => {
  it('set_app_envs changes the meta, not what the replica servers report; a restart keeps only allow_ingest_behind', async () => {
    expect(await setAppEnvs(meta, 'temp', SET_LATER)).toEqual({err: 'ERR_OK', hint_message: ''})
    expect(await setAppEnvs(meta, 'stat', {'manual_compact.disabled': 'true'})).toMatchObject({err: 'ERR_OK'})
    expect(await setAppEnvs(meta, 'temp', {'no.such.env': '1'})).toEqual({
      err: 'ERR_INVALID_PARAMETERS',
      hint_message: "app_env 'no.such.env' is not supported",
    })
    expect(await setAppEnvs(meta, 'nope', {default_ttl: '1'})).toMatchObject({err: 'ERR_APP_NOT_EXIST'})
    expect(await appEnvs(meta, 'temp')).toEqual(SET_LATER)
    expect(await appEnvs(meta, 'stat')).toEqual({'manual_compact.disabled': 'true'})

    // The recovery list is the node list sorted by address (ports are random): restart the last.
    const [n1, , n3] = byAddress()
    // A config sync applies the envs to the replicas' behaviour; allow_ingest_behind goes to .app-info.
    for (const r of lab.replicas) r.syncWithMeta()
    expect(await reported(n1!.address)).toEqual({temp: CREATED, stat: {}})
    await lab.fault({type: 'kill-node', node: n3!.name})
    await lab.fault({type: 'start-node', node: n3!.name})
    expect(await reported(n3!.address)).toEqual({temp: {'rocksdb.allow_ingest_behind': 'true'}, stat: {}})
  })

  it("the plan's envs per table are what the recovered meta has", async () => {
    const target = {hosts: zk, root: `${lab.layout.cluster_root}_moved`}
    const spec = specFor(lab, 'recovery', target)
    const live = await gatherZkMigration(spec, io)
    expect(live.nodes.map((n) => n.status)).toEqual(['ALIVE', 'ALIVE', 'ALIVE'])
    const body = planZkMigration(spec, live, {now: NOW})
    expect(errorsOf(body.findings)).toEqual([])

    const predicted = predictEnvs(live)
    const first = byAddress()[0]!.address
    expect(predicted).toEqual([
      {
        id: '1',
        name: 'temp',
        from: first,
        same: [],
        stale: [
          {key: 'business.info', source: 'v2', back: 'v1'},
          {key: 'rocksdb.allow_ingest_behind', source: 'true', back: 'false'},
        ],
        lost: [{key: 'default_ttl', source: '86400'}],
        revived: [],
      },
      {
        id: '2',
        name: 'stat',
        from: first,
        same: [],
        stale: [],
        lost: [{key: 'manual_compact.disabled', source: 'true'}],
        revived: [],
      },
    ])
    const envFindings = body.findings.filter((f) => f.code === 'PEGASUS_APP_ENVS_LOST')
    expect(envFindings.map((f) => f.hint)).toEqual([
      'After the migration, in the Pegasus shell: use_app temp; set_app_envs business.info v2 default_ttl 86400 rocksdb.allow_ingest_behind true',
      'After the migration, in the Pegasus shell: use_app stat; set_app_envs manual_compact.disabled true',
    ])

    const ctx = openZkMigrationContext(spec, {env: process.env})
    try {
      await runSteps(ctx, body, async (step) => {
        if (step.id === '02-restart-meta-in-recovery-mode')
          await lab.restartMeta({zk: target.hosts, root: target.root, recover: true})
        if (step.id === '05-restart-metas-normal-mode')
          await lab.restartMeta({zk: target.hosts, root: target.root, recover: false})
      })
      expect(errorsOf(await zkMigrationEngine.verify(ctx, body))).toEqual([])
    } finally {
      await closeZkMigrationContext(ctx)
    }

    // What the plan said comes back is what the recovered meta serves, and nothing else.
    const recoveredMeta = lab.leader()!.address
    for (const p of predicted) {
      const back = Object.fromEntries([
        ...p.same.map((k) => [k, live.source.apps.find((a) => a.id === p.id)!.envs[k]!]),
        ...p.stale.map((s) => [s.key, s.back]),
        ...p.revived.map((r) => [r.key, r.back]),
      ])
      expect(await appEnvs(recoveredMeta, p.name)).toEqual(back)
    }
    expect(await appEnvs(recoveredMeta, 'temp')).toEqual(CREATED)
    expect(await appEnvs(recoveredMeta, 'stat')).toEqual({})
  })

  it("a metadata recovery: each table gets the first listed node's envs, as the plan says", async () => {
    // On the migrated cluster: one more env, every replica's config sync, then node 1 restarts.
    expect(await setAppEnvs(lab.leader()!.address, 'temp', {default_ttl: '100'})).toMatchObject({err: 'ERR_OK'})
    for (const r of lab.replicas) r.syncWithMeta()
    // The node the first test restarted restarts again; the other two never did.
    const n3 = byAddress()[2]!
    await lab.fault({type: 'kill-node', node: n3.name})
    await lab.fault({type: 'start-node', node: n3.name})
    await lab.fault({type: 'zk-loss'})

    // The spec's list, the restarted node first: its report defines the tables.
    const nodes = [
      n3.address,
      ...byAddress()
        .slice(0, 2)
        .map((r) => r.address),
    ]
    const spec: MetaRecoverySpec = {
      apiVersion: 'lifeboat/v1',
      kind: 'PegasusMetaRecovery',
      metadata: {name: 'envs'},
      cluster: specCluster(lab.layout),
      recovery: {target_nodes: nodes, skip_bad_nodes: false, skip_lost_partitions: false, wait_seconds: 30},
    }
    const live = await gatherMetaRecovery(spec, io)
    const predicted = predictRecovery(spec, live)
    expect(predicted.err).toBe('ERR_OK')
    const envsOf = (name: string) => predicted.apps.find((a) => a.name === name)!.info.envs
    // Restarted: only .app-info's env, which the migrated meta's config sync set back to false.
    expect(envsOf('temp')).toEqual({'rocksdb.allow_ingest_behind': 'false'})
    expect(envsOf('stat')).toEqual({})
    const body = planMetaRecovery(spec, live, {now: NOW})
    const envFindings = body.findings.filter((f) => f.code.startsWith('PEGASUS_APP_ENVS'))
    expect(envFindings.map((f) => `${f.severity} ${f.code} ${f.subject}`)).toEqual([
      'warning PEGASUS_APP_ENVS_RECOVERED app(1)',
      'info PEGASUS_APP_ENVS_UNKNOWN envs',
    ])
    expect(envFindings[0]!.message).toBe(
      `temp gets back the envs ${nodes[0]} reports, the first node that reports it: rocksdb.allow_ingest_behind=false; the meta does not compare envs and ignores the other reports: ${nodes[1]}, ${nodes[2]} report business.info=v1, rocksdb.allow_ingest_behind=false`,
    )
    expect(envFindings[1]!.message).toMatch(/^table stat gets back no envs; for every table, a replica server reports/)

    const meta = lab.leader()!.address
    const res = await callRpc(
      meta,
      'RPC_CM_START_RECOVERY',
      {recovery_nodes: nodes, hp_recovery_nodes: nodes, skip_bad_nodes: false, skip_lost_partitions: false},
      20_000,
    )
    expect(res.response?.err).toBe('ERR_OK')
    expect(await appEnvs(meta, 'temp')).toEqual(envsOf('temp'))
    expect(await appEnvs(meta, 'stat')).toEqual(envsOf('stat'))
  })
})
