// Smaller mismatches with upstream (issue 11 item 5), against the lab through ZooKeeper.
import {describe, expect, inject, it} from 'vitest'

import {LifeboatError} from '../../../src/errors.js'
import {ConfigType} from '../../../src/engines/pegasus/wire/index.js'
import {callRpc} from '../../../src/lab/pegasus/rpc-call.js'
import {parsePegasusScenario} from '../../../src/lab/pegasus/scenario.js'
import {connectZk} from '../../../src/zk/index.js'
import {labPerTest} from './helpers.js'

const zk = inject('zookeeper')
const lab = labPerTest(zk)

describe('scenarios Pegasus could not have', () => {
  it('refuses a dropped table newer than the live table of the same name', () => {
    const doc = {
      engine: 'pegasus',
      replica_servers: 3,
      tables: [
        {name: 'temp', app_id: 2, partitions: 4},
        {name: 'temp', app_id: 5, partitions: 4, dropped: true},
      ],
    }
    const err = (() => {
      try {
        parsePegasusScenario(doc, 'newer-drop.yaml')
      } catch (e) {
        return e
      }
      return undefined
    })()
    expect(err).toBeInstanceOf(LifeboatError)
    expect((err as LifeboatError).code).toBe('LAB_SCENARIO_INVALID')
    expect((err as LifeboatError).detail).toContain(
      '/tables/1: the dropped table "temp" (app_id 5) is newer than the live one (/tables/0, app_id 2)',
    )
    // The other way round is what Pegasus allows: create, drop, create again.
    expect(
      parsePegasusScenario(
        {
          ...doc,
          tables: [
            {name: 'temp', app_id: 5, partitions: 4},
            {name: 'temp', app_id: 2, partitions: 4, dropped: true},
          ],
        },
        'ok.yaml',
      ).tables,
    ).toHaveLength(2)
  })

  it("refuses table envs create_app would refuse (app_env_validator's words)", () => {
    const doc = {
      engine: 'pegasus',
      replica_servers: 3,
      tables: [{name: 'temp', partitions: 4, envs: {'no.such.env': '1', 'rocksdb.allow_ingest_behind': 'yes'}}],
    }
    let err: unknown
    try {
      parsePegasusScenario(doc, 'envs.yaml')
    } catch (e) {
      err = e
    }
    expect((err as LifeboatError).code).toBe('LAB_SCENARIO_INVALID')
    expect((err as LifeboatError).detail).toBe(
      "/tables/0/envs/no.such.env: app_env 'no.such.env' is not supported; Pegasus refuses the create\n" +
        "/tables/0/envs/rocksdb.allow_ingest_behind: invalid value 'yes', should be a boolean; Pegasus refuses the create",
    )
    const ok = {...doc, tables: [{name: 'temp', partitions: 4, envs: {default_ttl: '86400'}}]}
    expect(parsePegasusScenario(ok, 'ok.yaml').tables[0]!.envs).toEqual({default_ttl: '86400'})
  })
})

describe('dropped tables', () => {
  it('last_drops lists the secondaries first and the primary last, as CT_DROP_PARTITION leaves them', async () => {
    const l = await lab([{name: 'old', partitions: 1, replicas: 3, rows: 5, dropped: true}])
    const [r1, r2, r3] = l.layout.replica_servers.map((r) => r.address)
    const c = await connectZk({hosts: zk})
    try {
      const pc = JSON.parse((await c.get(`${l.layout.cluster_root}/apps/1/0`)).data.toString()) as {
        last_drops: string[]
        hp_last_drops: string[]
        primary: string
      }
      // Partition 1.0 was placed on replica1 (primary), replica2, replica3.
      expect(pc.last_drops).toEqual([r2, r3, r1])
      expect(pc.hp_last_drops).toEqual([r2, r3, r1])
      expect(pc.primary).toBe('invalid address')
    } finally {
      await c.close()
    }
  })
})

describe('lab fault ddd', () => {
  it('says when the guardian cures the partition by itself instead of reporting DDD', async () => {
    const l = await lab([{name: 'temp', partitions: 8, replicas: 3, rows: 8000}], {replica_servers: 5})
    // Both last drops alive and consistent: the guardian assigns the larger ballot itself.
    const healed = await l.fault({type: 'ddd', gpids: ['1.5']})
    expect(healed).toMatch(/^1\.5 is not DDD: the guardian assigned primary 127\.0\.0\.1:\d+ by itself$/)
    expect(l.leader()?.partition('1.5')?.hp_primary).not.toBe('')
    // The meta's committed decree ahead of both: DDD.
    expect(await l.fault({type: 'ddd', gpids: ['1.0'], config_lcd: 5000})).toBe('1.0 is in DDD')
  })
})

describe('meta HTTP', () => {
  it('/meta/* answer 400 to an argument they do not take, and 200 to the ones they do', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    const status = async (path: string): Promise<number> =>
      (await fetch(`http://${l.layout.meta_servers[0].address}${path}`)).status
    expect(await status('/meta/apps?detail')).toBe(200)
    expect(await status('/meta/nodes?detail')).toBe(200)
    expect(await status('/meta/cluster')).toBe(200)
    expect(await status('/meta/apps?details')).toBe(400)
    expect(await status('/meta/nodes?detail&x=1')).toBe(400)
    expect(await status('/meta/cluster?detail')).toBe(400)
  })
})

describe('meta RPCs on an app the meta does not hold', () => {
  it('ddd_diagnose and propose answer ERR_APP_NOT_EXIST (CHECK_APP_ID_STATUS_AND_AUTHZ); a bad partition of a held app ERR_INVALID_PARAMETERS', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    const meta = l.layout.meta_servers[0].address
    const node = l.layout.replica_servers[0].address
    const diagnose = async (pid: string): Promise<string | undefined> =>
      (await callRpc(meta, 'RPC_CM_DDD_DIAGNOSE', {pid}, 5000)).response?.err
    const propose = async (gpid: string): Promise<string | undefined> => {
      const action = {target: node, node, type: ConfigType.CT_ASSIGN_PRIMARY, hp_target: node, hp_node: node}
      return (await callRpc(meta, 'RPC_CM_PROPOSE_BALANCER', {gpid, action_list: [action], force: false}, 5000))
        .response?.err
    }
    expect(await diagnose('9.-1')).toBe('ERR_APP_NOT_EXIST')
    expect(await diagnose('9.0')).toBe('ERR_APP_NOT_EXIST')
    expect(await diagnose('-1.-1')).toBe('ERR_OK')
    expect(await diagnose('1.-1')).toBe('ERR_OK')
    expect(await propose('9.0')).toBe('ERR_APP_NOT_EXIST')
    expect(await propose('1.7')).toBe('ERR_INVALID_PARAMETERS')
  })
})

describe('cluster info', () => {
  it('balance_operation_count is the balancer counters as nlohmann::json dump(2), keys sorted', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    const info = await callRpc(l.layout.meta_servers[0].address, 'RPC_CM_CLUSTER_INFO', {}, 5000)
    const r = info.response
    const value = r?.values[r.keys.indexOf('balance_operation_count')]
    expect(value).toBe('{\n  "copy_pri": 0,\n  "copy_sec": 0,\n  "move_pri": 0,\n  "total": 0\n}')
    const http = (await (await fetch(`http://${l.layout.meta_servers[0].address}/meta/cluster`)).json()) as Record<
      string,
      string
    >
    expect(JSON.parse(http.balance_operation_count)).toEqual({copy_pri: 0, copy_sec: 0, move_pri: 0, total: 0})
  })
})

describe('more /meta/* pages', () => {
  it('/meta/app?name= with and without detail, /meta/app_envs?name=, and their errors', async () => {
    const l = await lab([{name: 'temp', partitions: 2, replicas: 3, rows: 10}])
    const base = `http://${l.layout.meta_servers[0].address}`
    const general = await fetch(`${base}/meta/app?name=temp`)
    expect(general.status).toBe(200)
    expect(await general.json()).toEqual({
      general: {app_name: 'temp', app_id: '1', partition_count: '2', max_replica_count: '3'},
    })
    const detail = (await (await fetch(`${base}/meta/app?name=temp&detail`)).json()) as Record<
      string,
      Record<string, Record<string, string>>
    >
    expect(Object.keys(detail)).toEqual(['general', 'replicas', 'nodes', 'healthy'])
    expect(detail.replicas['0']).toMatchObject({pidx: '0', replica_count: '3/3'})
    expect(detail.nodes.total).toEqual({node: 'total', primary: '2', secondary: '4', total: '6'})
    expect(detail.healthy).toEqual({
      fully_healthy_partition_count: '2',
      unhealthy_partition_count: '0',
      write_unhealthy_partition_count: '0',
      read_unhealthy_partition_count: '0',
    })
    expect((await fetch(`${base}/meta/app?name=nope`)).status).toBe(404)
    expect((await fetch(`${base}/meta/app`)).status).toBe(400)
    expect((await fetch(`${base}/meta/app?name=temp&x=1`)).status).toBe(400)
    const envs = await fetch(`${base}/meta/app_envs?name=temp`)
    expect(envs.status).toBe(200)
    expect(await envs.json()).toEqual({})
    expect((await fetch(`${base}/meta/app_envs`)).status).toBe(400)
  })
})
