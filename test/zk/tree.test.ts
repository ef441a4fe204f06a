// Tree read, copy (fresh and resumed), diff and recursive delete against the suite's real ZooKeeper.
import {randomUUID} from 'node:crypto'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {connectZk, copyTree, diffTrees, readTree, removeTree, type ZkClient, type ZkOp} from '../../src/zk/index.js'

const hosts = inject('zookeeper')
const base = `/t-${randomUUID()}`
let zk: ZkClient
let other: ZkClient

/** A small Pegasus-like tree: `tables` table nodes of `parts` partitions, created with multis. */
async function buildTree(client: ZkClient, root: string, tables: number, parts: number): Promise<number> {
  await client.mkdirp(root)
  let ops: ZkOp[] = []
  let count = 1
  for (let t = 0; t < tables; t++) {
    const table = `${root}/t${String(t).padStart(3, '0')}`
    ops.push({op: 'create', path: table, data: Buffer.from(JSON.stringify({app_id: t, partition_count: parts}))})
    for (let p = 0; p < parts; p++)
      ops.push({op: 'create', path: `${table}/${p}`, data: Buffer.from(JSON.stringify({pidx: p, ballot: t + p}))})
    count += 1 + parts
    if (ops.length >= 100) {
      await client.multi(ops)
      ops = []
    }
  }
  if (ops.length > 0) await client.multi(ops)
  return count
}

beforeAll(async () => {
  ;[zk, other] = await Promise.all([connectZk({hosts}), connectZk({hosts})])
  await zk.mkdirp(base)
})

afterAll(async () => {
  await removeTree(zk, base)
  await Promise.all([zk.close(), other.close()])
})

describe('readTree', () => {
  it('reads every node sorted by path, leaves ephemeral nodes out unless asked', async () => {
    const root = `${base}/read`
    const total = await buildTree(zk, root, 12, 9)
    await other.create(`${root}/t000/owner`, Buffer.from('live'), {mode: 'ephemeral'})
    const entries = await readTree(zk, root, {inFlight: 7})
    expect(entries).toHaveLength(total)
    expect(entries.map((e) => e.path)).toEqual(entries.map((e) => e.path).sort())
    expect(entries[0].path).toBe(root)
    const t3 = entries.find((e) => e.path === `${root}/t003`)
    expect(JSON.parse(t3!.data.toString())).toEqual({app_id: 3, partition_count: 9})
    expect(t3!.stat.numChildren).toBe(9)
    const withEph = await readTree(zk, root, {includeEphemeral: true})
    expect(withEph).toHaveLength(total + 1)
    expect(withEph.find((e) => e.path.endsWith('/owner'))!.stat.ephemeralOwner).toBe(other.sessionId)

    const streamed: string[] = []
    expect(await readTree(zk, root, {onNode: (e) => void streamed.push(e.path)})).toEqual([])
    expect(streamed).toHaveLength(total)
    // Parents always come before their children.
    const seen = new Set<string>()
    for (const p of streamed) {
      if (p !== root) expect(seen.has(p.slice(0, p.lastIndexOf('/')))).toBe(true)
      seen.add(p)
    }
  })

  it('fails with ZK_NO_NODE for a missing root', async () => {
    await expect(readTree(zk, `${base}/absent`)).rejects.toMatchObject({code: 'ZK_NO_NODE', path: `${base}/absent`})
  })
})

describe('removeTree', () => {
  it('removes a deep and wide tree children first; a missing path is fine', async () => {
    const root = `${base}/deep`
    let path = root
    for (let i = 0; i < 60; i++) path += `/d${i}`
    await zk.mkdirp(path)
    await buildTree(zk, `${root}/wide`, 5, 40)
    await other.create(`${root}/d0/eph`, null, {mode: 'ephemeral'})
    const removed = await removeTree(zk, root, {inFlight: 50})
    expect(removed).toBe(60 + 1 + 1 + 5 * 41 + 1)
    expect(await zk.exists(root)).toBeNull()
    expect(await removeTree(zk, root)).toBe(0)
    await expect(removeTree(zk, '/')).rejects.toMatchObject({code: 'ZK_REMOVE_ROOT'})
  })
})

describe('copyTree and diffTrees', () => {
  it('copies a tree in byte-capped multi batches; the copy equals the source', async () => {
    const src = `${base}/copy-src`
    const dst = `${base}/copy-dst/deeper/target`
    const total = await buildTree(zk, src, 20, 30)
    // Big nodes: the byte cap, not the op cap, must split these batches.
    for (let i = 0; i < 6; i++) await zk.create(`${src}/blob${i}`, Buffer.alloc(200_000, i))
    await other.create(`${src}/t001/ephemeral`, null, {mode: 'ephemeral'})
    const progress: number[] = []
    const result = await copyTree(zk, src, other, dst, {
      batchOps: 50,
      batchBytes: 256 * 1024,
      inFlightMultis: 3,
      onProgress: (p) => progress.push(p.nodesRead),
    })
    expect(result).toMatchObject({
      nodesRead: total + 6,
      created: total + 6,
      updated: 0,
      unchanged: 0,
      skippedEphemeral: 1,
      fallbacks: 0,
    })
    expect(result.multis).toBeGreaterThanOrEqual(Math.ceil((total + 6) / 50) + 3)
    expect(progress.at(-1)).toBe(total + 6)
    expect(await diffTrees(zk, src, other, dst)).toEqual([])
    const withEph = await diffTrees(zk, src, other, dst, {ignoreEphemeral: false})
    expect(withEph).toEqual([{path: '/t001/ephemeral', kind: 'missing'}])
  })

  it('resumes on a partly copied target without losing or duplicating nodes', async () => {
    const src = `${base}/resume-src`
    const dst = `${base}/resume-dst`
    const total = await buildTree(zk, src, 15, 20)
    // A partial copy: some tables and partitions already there, some with other data, one extra node.
    await zk.mkdirp(`${dst}/t000`)
    await zk.create(`${dst}/t000/0`, Buffer.from(JSON.stringify({pidx: 0, ballot: 0})))
    await zk.create(`${dst}/t000/1`, Buffer.from('stale'))
    await zk.mkdirp(`${dst}/t007/5`)
    await zk.create(`${dst}/extra`, Buffer.from('only in target'))

    const before = await diffTrees(zk, src, zk, dst)
    expect(before.filter((d) => d.kind === 'extra')).toEqual([{path: '/extra', kind: 'extra'}])
    expect(before).toContainEqual({path: '/t000/1', kind: 'data'})
    expect(before).toContainEqual({path: '/t007', kind: 'data'})
    expect(before).toContainEqual({path: '/t001', kind: 'missing'})

    const result = await copyTree(zk, src, zk, dst, {batchOps: 40, inFlightMultis: 4})
    // Existing nodes: the root and t000/0 (same data); t000, t000/1, t007, t007/5 (other data).
    expect(result.fallbacks).toBeGreaterThan(0)
    expect(result.created + result.updated + result.unchanged).toBe(total)
    expect(result.unchanged).toBe(2)
    expect(result.updated).toBe(4)
    expect(await diffTrees(zk, src, zk, dst)).toEqual([{path: '/extra', kind: 'extra'}])

    const again = await copyTree(zk, src, zk, dst)
    expect(again).toMatchObject({created: 0, updated: 0, unchanged: total})
  })

  it('reports missing, extra and changed nodes with paths relative to the roots', async () => {
    const a = `${base}/diff-a`
    const b = `${base}/diff-b`
    await zk.mkdirp(`${a}/x/y`)
    await zk.mkdirp(`${b}/x`)
    await zk.create(`${a}/same`, Buffer.from('1'))
    await zk.create(`${b}/same`, Buffer.from('1'))
    await zk.create(`${a}/changed`, Buffer.from('1'))
    await zk.create(`${b}/changed`, Buffer.from('2'))
    await zk.create(`${b}/z`, null)
    expect(await diffTrees(zk, a, zk, b)).toEqual([
      {path: '/changed', kind: 'data'},
      {path: '/x/y', kind: 'missing'},
      {path: '/z', kind: 'extra'},
    ])
    expect((await diffTrees(zk, a, zk, `${base}/diff-none`)).every((d) => d.kind === 'missing')).toBe(true)
  })
})
