// The gather and the step executors against a real ZooKeeper, with the meta and replica servers
// replaced by stand-ins: these tests check lifeboat's mechanics (what is read, sent, compared), not
// Pegasus's algorithm, which the lab's simulated meta server checks end to end.
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {metaRecoveryEngine} from '../../../src/engines/pegasus/meta-recovery/engine.js'
import {
  gatherWithPorts,
  readAppsRoot,
  targetNodesOf,
  type MetaRecoveryPorts,
} from '../../../src/engines/pegasus/meta-recovery/gather.js'
import {planMetaRecovery} from '../../../src/engines/pegasus/meta-recovery/planner.js'
import {metaRecoverySteps, type MetaRecoveryContext} from '../../../src/engines/pegasus/meta-recovery/steps.js'
import type {MetaRecoverySpec} from '../../../src/engines/pegasus/meta-recovery/types.js'
import type {PlanBody} from '../../../src/plan/types.js'
import {connectZk, removeTree, type ZkClient} from '../../../src/zk/index.js'
import {NOW, loadFixture} from './helpers.js'

const hosts = inject('zookeeper')
let zk: ZkClient
let n = 0

beforeAll(async () => {
  zk = await connectZk({hosts})
})
afterAll(async () => {
  await zk?.close()
})

/** A fixture's spec moved to a fresh ZooKeeper root. */
function freshSpec(name: string): {spec: MetaRecoverySpec; root: string} {
  const {spec} = loadFixture(name)
  const root = `/lifeboat-test/meta-recovery-${process.pid}-${n++}`
  return {spec: {...spec, cluster: {...spec.cluster, zookeeper: {...spec.cluster.zookeeper, hosts, root}}}, root}
}

/** Writes the plan's changes as a meta that did exactly that would (apps root last, unlocked). */
async function writeTree(
  body: PlanBody,
  mutate: (path: string, doc: unknown) => unknown = (_p, d) => d,
): Promise<void> {
  const zks = body.changes.filter((c) => c.address.startsWith('zk:'))
  for (const c of zks) {
    const path = c.address.slice(3)
    const doc = mutate(path, c.after)
    await zk.mkdirp(path, Buffer.from(typeof doc === 'string' ? doc : JSON.stringify(doc)))
  }
}

/** A meta stand-in: list_apps / cluster_info answer `state.err`; start_recovery runs `onStart`. */
function fakeMeta(
  state: {err: string; tables: {app_id: number; app_name: string}[]},
  onStart: () => Promise<{err: string; hint_message: string}>,
) {
  const calls: unknown[] = []
  const meta = {
    async call(name: string) {
      if (name !== 'RPC_CM_LIST_APPS') throw new Error(`unexpected ${name}`)
      return {
        server: '127.0.0.1:34601',
        response: {err: state.err, infos: state.tables.map((t) => ({...t, status: 1}))},
      }
    },
    async clusterInfo() {
      return {err: state.err, keys: [], values: []}
    },
    async startRecovery(req: unknown, o: unknown) {
      calls.push({req, o})
      return onStart()
    },
    close() {},
  }
  return {meta, calls}
}

function ctxOf(spec: MetaRecoverySpec, meta: unknown, flag: string | null = 'false'): MetaRecoveryContext {
  return {spec, zk, meta: meta as MetaRecoveryContext['meta'], sleep: async () => {}, readMetaConfig: async () => flag}
}

describe('gather', () => {
  it('records what each node answered, with the error name the meta would see, in list order', async () => {
    const {spec, root} = freshSpec('all-good')
    const {live: fixture} = loadFixture('all-good')
    const ports: MetaRecoveryPorts = {
      probeMeta: async () => ({address: '127.0.0.1:34601', error: 'ERR_UNDER_RECOVERY', recovering: true}),
      readAppsRoot: (p) => readAppsRoot(zk, p),
      collect: async (nodes) =>
        nodes.map((node) =>
          node.endsWith('34803')
            ? {node, ok: false, pegasusError: 'ERR_NETWORK_FAILURE', detail: 'connect ECONNREFUSED'}
            : {node, ok: true, apps: fixture.nodes[0]!.apps, replicas: []},
        ),
      resolve: async (node) => (node.startsWith('127.') ? node : null),
      close: async () => {},
    }
    const live = await gatherWithPorts(
      spec,
      ['127.0.0.1:34801', '127.0.0.1:34803', '127.0.0.1:34801', 'nosuch.invalid:1'],
      ports,
    )
    expect(live.targetNodes).toEqual(['127.0.0.1:34801', '127.0.0.1:34803', 'nosuch.invalid:1'])
    expect(live.nodes.map((x) => [x.address, x.ip, x.ok, x.error ?? null])).toEqual([
      ['127.0.0.1:34801', '127.0.0.1:34801', true, null],
      ['127.0.0.1:34803', '127.0.0.1:34803', false, 'ERR_NETWORK_FAILURE'],
      ['nosuch.invalid:1', null, true, null],
    ])
    expect(live.appsRoot).toEqual({path: `${root}/apps`, exists: false, children: []})
    await zk.mkdirp(`${root}/apps/7`)
    await zk.mkdirp(`${root}/apps/10`)
    expect(await readAppsRoot(zk, `${root}/apps`)).toEqual({
      path: `${root}/apps`,
      exists: true,
      data: '',
      children: ['7', '10'],
    })
    await removeTree(zk, root)
  })

  it('reads target_nodes_file relative to the spec, in Pegasus node-list format', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-mr-'))
    writeFileSync(join(dir, 'recover_node_list'), '# nodes\n127.0.0.1:34801\n\n; old\n  127.0.0.1:34802  \n')
    const {spec} = freshSpec('all-good')
    const fileSpec = {
      ...spec,
      recovery: {...spec.recovery, target_nodes: undefined, target_nodes_file: 'recover_node_list'},
    }
    expect(await targetNodesOf(fileSpec, dir)).toEqual(['127.0.0.1:34801', '127.0.0.1:34802'])
    writeFileSync(join(dir, 'bad'), '127.0.0.1\n')
    await expect(
      targetNodesOf({...fileSpec, recovery: {...fileSpec.recovery, target_nodes_file: 'bad'}}, dir),
    ).rejects.toMatchObject({code: 'SPEC_NODES_FILE_INVALID'})
  })
})

describe('step executors and engine.verify', () => {
  it("runs start_recovery with the plan's nodes and flags, then verifies the tree node for node", async () => {
    const {spec, root} = freshSpec('node-down-skip')
    const {live} = loadFixture('node-down-skip')
    live.appsRoot.path = `${root}/apps`
    const body = planMetaRecovery(spec, live, {now: NOW})
    const hints = body.steps[1]!.params.expect_hints as string[]
    const state = {err: 'ERR_UNDER_RECOVERY', tables: [] as {app_id: number; app_name: string}[]}
    const {meta, calls} = fakeMeta(state, async () => {
      await writeTree(body, (path, doc) => (path.endsWith('/apps/1') ? {...(doc as object), expire_second: 0} : doc))
      state.err = 'ERR_OK'
      state.tables = [{app_id: 1, app_name: 'temp'}]
      // Master glues some lines together without a newline: the executor must split them.
      return {err: 'ERR_OK', hint_message: hints.join('')}
    })
    const ctx = ctxOf(spec, meta)
    const [check, start, wait, verify, restart] = body.steps
    expect(await metaRecoverySteps[check!.kind]!.isDone(ctx, check!)).toBe(false)
    await metaRecoverySteps[check!.kind]!.run(ctx, check!, () => {})
    expect(await metaRecoverySteps[start!.kind]!.isDone(ctx, start!)).toBe(false)
    const progress: string[] = []
    const result = await metaRecoverySteps[start!.kind]!.run(ctx, start!, (m) => progress.push(m))
    expect(result.summary).toBe(`Recover result: ERR_OK (${hints.length} hint line(s))`)
    expect(calls).toEqual([
      {
        req: {
          recovery_nodes: ['127.0.0.1:34801', '127.0.0.1:34802', '127.0.0.1:34803'],
          skip_bad_nodes: true,
          skip_lost_partitions: false,
          hp_recovery_nodes: ['127.0.0.1:34801', '127.0.0.1:34802', '127.0.0.1:34803'],
        },
        o: {timeoutMs: 100_000},
      },
    ])
    expect(await metaRecoverySteps[start!.kind]!.verify(ctx, start!)).toEqual([])
    expect(await metaRecoverySteps[start!.kind]!.isDone(ctx, start!)).toBe(true)
    expect(await metaRecoverySteps[wait!.kind]!.isDone(ctx, wait!)).toBe(true)
    expect(await metaRecoverySteps[verify!.kind]!.verify(ctx, verify!)).toEqual([])
    expect(await metaRecoveryEngine.verify(ctx, body)).toEqual([])
    expect(await metaRecoverySteps[restart!.kind]!.isDone(ctx, restart!)).toBe(true)
    expect(await metaRecoverySteps[restart!.kind]!.isDone(ctxOf(spec, meta, null), restart!)).toBe(false)
    expect(
      (await metaRecoverySteps[restart!.kind]!.verify(ctxOf(spec, meta, 'true'), restart!)).map((f) => f.code),
    ).toEqual(['PEGASUS_STILL_IN_RECOVERY_MODE'])

    // A tree that differs, and a hint the plan did not predict, are findings.
    state.tables = []
    const pc = `${root}/apps/1/0`
    await zk.set(
      pc,
      Buffer.from(
        JSON.stringify({...(JSON.parse((await zk.get(pc)).data.toString()) as object), max_replica_count: 5}),
      ),
      -1,
    )
    const f = await metaRecoveryEngine.verify(ctx, body)
    expect(f.map((x) => `${x.code} ${x.subject}`)).toEqual([
      `PEGASUS_VERIFY_NODE_DIFFERS ${pc}`,
      'PEGASUS_VERIFY_TABLE_NOT_LISTED 1:temp',
    ])
    ctx.lastRecovery = {
      err: 'ERR_OK',
      hintLines: [...hints, 'WARNING: partition(1.9) only collects 1/3 of replicas, may lost data'],
    }
    expect((await metaRecoverySteps[start!.kind]!.verify(ctx, start!)).map((x) => x.code)).toEqual([
      'PEGASUS_VERIFY_HINT_MISMATCH',
    ])
    await removeTree(zk, root)
  })

  it("reports a refused recovery with the meta's answer and hint, and a meta not in recovery", async () => {
    const {spec, root} = freshSpec('node-down')
    const {live} = loadFixture('node-down')
    live.appsRoot.path = `${root}/apps`
    const body = planMetaRecovery(spec, live, {now: NOW})
    const hint = body.steps[1]!.params.expect_hints as string[]
    const {meta} = fakeMeta({err: 'ERR_UNDER_RECOVERY', tables: []}, async () => ({
      err: 'ERR_TRY_AGAIN',
      hint_message: `${hint[0]}\n`,
    }))
    const start = body.steps[1]!
    await expect(metaRecoverySteps[start.kind]!.run(ctxOf(spec, meta), start, () => {})).rejects.toMatchObject({
      code: 'PEGASUS_RECOVERY_FAILED',
      message: 'Recover result: ERR_TRY_AGAIN',
      detail: hint[0],
    })
    const {meta: started} = fakeMeta({err: 'ERR_OK', tables: []}, async () => ({
      err: 'ERR_SERVICE_ALREADY_RUNNING',
      hint_message: '',
    }))
    await expect(
      metaRecoverySteps[body.steps[0]!.kind]!.run(ctxOf(spec, started), body.steps[0]!, () => {}),
    ).rejects.toMatchObject({code: 'PEGASUS_NOT_IN_RECOVERY'})
  })
})
