// Issue 19 item 9 through the CLI against Pegasus labs: after a ZooKeeper migration, "Verified" is
// printed only once the cluster kept serving for the grace period (verify-serving.ts), not after one
// good answer. A meta given a tree it cannot live with (a table the replica servers hold is missing
// from it) crashes at the replica servers' next config sync; a replica server that died after the
// copy never comes back alive on the new meta. Both runs must fail verification.
import {readFileSync, rmSync, writeFileSync} from 'node:fs'

import {afterAll, describe, expect, inject, it} from 'vitest'
import {parseDocument} from 'yaml'

import {appsRootPath} from '../../src/engines/pegasus/zk-layout.js'
import {connectZk, removeTree} from '../../src/zk/index.js'
import {expectExit, labUp, tempDir, writeScenario, type CliResult, type Lab} from './helpers.js'

const zk = inject('zookeeper')
const NAME = `e2e_serve_${process.pid}_${Date.now() % 100000}`
const dirs: string[] = []
const labs: Lab[] = []
afterAll(async () => {
  for (const lab of labs) await lab.down().catch(() => undefined)
  for (const d of dirs) rmSync(d, {recursive: true, force: true})
})

interface Target {
  hosts: string
  root: string
}

/**
 * A migration lab (a live table and a dropped one the replica servers still hold), copied up to the
 * manual switch. `waitSeconds`: the spec's migration.wait_seconds (how long the switch's check waits
 * for a meta to answer; 100 by default). `servingSeconds`: cluster.timeouts.serving_seconds (the
 * lab's specs say 3).
 */
async function copiedUpToSwitch(
  name: string,
  opts: {waitSeconds?: number; servingSeconds?: number} = {},
): Promise<{lab: Lab; target: Target}> {
  const dir = tempDir('lifeboat-e2e-scenario-')
  dirs.push(dir)
  const scenario = writeScenario(dir, name, {
    engine: 'pegasus',
    name,
    replica_servers: 3,
    zookeepers: 2,
    tables: [
      {name: 'old', app_id: 1, partitions: 4, replicas: 3, rows: 40, dropped: true},
      {name: 'temp', app_id: 2, partitions: 8, replicas: 3, rows: 800},
    ],
  })
  const lab = await labUp(scenario, {zk})
  labs.push(lab)
  const target = (lab.endpoints as typeof lab.endpoints & {migration_target: Target}).migration_target
  const spec = `${lab.cwd}/copy.yaml`
  const doc = parseDocument(readFileSync(lab.endpoints.specs['pegasus-zk-migration-copy']!, 'utf8'))
  if (opts.waitSeconds !== undefined) doc.setIn(['migration', 'wait_seconds'], opts.waitSeconds)
  if (opts.servingSeconds !== undefined) doc.setIn(['cluster', 'timeouts', 'serving_seconds'], opts.servingSeconds)
  writeFileSync(spec, doc.toString())
  expectExit(await lab.cli(['plan', spec, '--out', 'copy.json']), 0)
  const first = expectExit(
    await lab.cli(['apply', 'copy.json', '--auto-approve', '--confirm', '01-stop-follower-metas']),
    3,
  )
  expect(first.stdout).toContain('Waiting for manual step 05-switch-metas-to-target')
  return {lab, target}
}

/** The first meta as `lab status` shows it, once `met` holds (the lab's word, polled). */
async function waitForMeta(
  lab: Lab,
  met: (m: {phase: string; crash?: string}) => boolean,
): Promise<{phase: string; crash?: string}> {
  for (let i = 0; ; i++) {
    const m = (await lab.status()).meta_servers[0] as {phase: string; crash?: string}
    if (met(m) || i === 120) return m
    await new Promise((r) => setTimeout(r, 500))
  }
}

/** The operator's switch, then the resume that confirms it. */
async function switchAndResume(lab: Lab, target: Target): Promise<CliResult> {
  await lab.lab('fault', 'restart-meta', '--zk', target.hosts, '--root', target.root, '--no-recover')
  return lab.cli(['apply', 'copy.json', '--resume', '--auto-approve', '--confirm', '05-switch-metas-to-target'])
}

describe('Verified means serving, after a ZooKeeper migration', () => {
  it('a meta that crashes on the tree it was given fails verification', async () => {
    // The crashed meta never answers again: the switch's check gives up after wait_seconds, kept short.
    // The watch keeps lifeboat's default, 10 s: on a busy machine the crash may come late.
    const {lab, target} = await copiedUpToSwitch(`${NAME}_crash`, {waitSeconds: 20, servingSeconds: 10})
    // After the copy was verified, the dropped table leaves the target tree: the replica servers still hold it.
    const client = await connectZk({hosts: target.hosts})
    try {
      await removeTree(client, `${appsRootPath(target.root)}/1`)
    } finally {
      await client.close()
    }
    const r = await switchAndResume(lab, target)
    expect(r.code).not.toBe(0)
    expect(r.code).not.toBe(null)
    expect(r.stdout).not.toContain('Verified')
    expect(r.stdout + r.stderr).not.toMatch(/\n\s+at /)
    const meta = await waitForMeta(lab, (m) => m.phase === 'crashed')
    expect(meta.phase).toBe('crashed')
    expect(meta.crash).toMatch(/gpid\(1\.\d\) on node\(\S+\) is not exist on meta server/)
  })

  it('a replica server that died after the copy fails verification: the meta answers, the node is not alive', async () => {
    const {lab, target} = await copiedUpToSwitch(`${NAME}_dead`)
    await lab.lab('fault', 'kill-node', 'replica2')
    const r = await switchAndResume(lab, target)
    expect(r.code).toBe(1)
    expect(r.stdout).not.toContain('Verified')
    const out = (r.stdout + r.stderr).replace(/\s+/g, ' ')
    expect(out).toContain('PEGASUS_NOT_SERVING_STEADILY')
    expect(out).toMatch(
      /the cluster did not keep serving for 3 s after the change: (replica server\(s\) \S+ not alive|\d+ partition\(s\) have a primary)/,
    )
    expect((await lab.status()).meta_servers[0]).toMatchObject({phase: 'serving'})
  })
})
