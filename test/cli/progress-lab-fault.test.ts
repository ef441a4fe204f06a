// A lab fault's progress (issue 17 item 1): the lab removes a root by listing and multis, reporting
// its count, and the daemon answers GET /fault/progress with the running fault's step while the
// fault runs (lab fault polls it). Real ZooKeeper, a real lab daemon in this process.
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, inject, it} from 'vitest'

import {controlRequest} from '../../src/lab/control.js'
import {hostLab, type FaultProgress} from '../../src/lab/daemon.js'
import {createTolerant, freshZooKeeper, onBatchProgress, removeRoot} from '../../src/lab/pegasus/zk-batch.js'
import {connectZk, type ZkOp} from '../../src/zk/index.js'

const zk = inject('zookeeper')

describe('lab fault progress', () => {
  it('removeRoot removes a deep, wide tree without reading every node, reports its count, and leaves siblings', async () => {
    const base = `/progress-test-${process.pid}-${Date.now() % 100000}`
    const root = `${base}/cluster`
    const ops: ZkOp[] = [
      `${base}`,
      `${base}/sibling`,
      root,
      `${root}/apps`,
      `${root}/a`,
      `${root}/a/b`,
      `${root}/a/b/c`,
    ].map((path): ZkOp => ({op: 'create', path}))
    // 250 tables of 8 partitions (leaves), and a table with 130 partitions (more than one multi).
    for (let t = 0; t < 250; t++) {
      ops.push({op: 'create', path: `${root}/apps/${t}`})
      for (let p = 0; p < 8; p++) ops.push({op: 'create', path: `${root}/apps/${t}/${p}`})
    }
    ops.push({op: 'create', path: `${root}/apps/wide`})
    for (let p = 0; p < 130; p++) ops.push({op: 'create', path: `${root}/apps/wide/${p}`})
    const c = await connectZk({hosts: zk})
    try {
      for (const op of ops.slice(0, 7)) await c.create(op.path)
      await createTolerant(c, ops.slice(7))
      const nodes = ops.length - 2 // all under root, root included
      const counts: number[] = []
      onBatchProgress((message, count) => {
        expect(message).toBe(`removing ${root}`)
        expect(count.unit).toBe('nodes')
        counts.push(count.done)
      })
      await removeRoot(zk, root)
      onBatchProgress(undefined)
      expect(await c.exists(root)).toBeNull()
      expect(await c.exists(`${base}/sibling`)).not.toBeNull()
      expect(counts.length).toBeGreaterThan(1)
      expect(counts).toEqual([...counts].sort((a, b) => a - b))
      expect(counts.at(-1)).toBe(nodes)
      // Nothing there: nothing to do.
      await removeRoot(zk, root)
    } finally {
      await c.remove(`${base}/sibling`, -1).catch(() => undefined)
      await c.remove(base, -1).catch(() => undefined)
      await c.close()
    }
  })

  it('the daemon answers the running fault and its step while zk-loss runs, and no fault when idle', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-fault-progress-'))
    const name = `fp${process.pid}_${Date.now() % 100000}`
    const tables = Array.from({length: 20}, (_, i) => `  - {name: t${i}, partitions: 8, replicas: 3, rows: 8}`)
    writeFileSync(
      join(dir, 'scenario.yaml'),
      `engine: pegasus\nname: ${name}\nreplica_servers: 3\ntables:\n${tables.join('\n')}\n`,
    )
    const hosted = await hostLab({
      scenario: join(dir, 'scenario.yaml'),
      stateDir: join(dir, 'lab'),
      zk,
      detached: false,
    })
    try {
      const state = hosted.state
      expect(await controlRequest<FaultProgress>(state, 'GET', '/fault/progress')).toEqual({running: false})
      let finished = false
      const fault = controlRequest<{message: string}>(state, 'POST', '/fault', {type: 'zk-loss'}).finally(
        () => (finished = true),
      )
      // Waits on the answers, not on a clock: ask until the fault is seen running, or it ended.
      const seen: FaultProgress[] = []
      while (!finished) {
        const p = await controlRequest<FaultProgress>(state, 'GET', '/fault/progress')
        if (p.running) seen.push(p)
      }
      expect((await fault).message).toContain('the meta waits in recovery mode')
      expect(seen.length).toBeGreaterThan(0)
      expect(seen.every((p) => p.fault === 'zk-loss' && typeof p.elapsed_ms === 'number')).toBe(true)
      const steps = new Set(seen.map((p) => p.step).filter(Boolean))
      expect(steps.size).toBeGreaterThan(0)
      for (const s of steps)
        expect(s).toMatch(
          /meta servers stopped|removing \/pegasus\/|removed|restarting the meta|encoding the collect replies/,
        )
      expect(await controlRequest<FaultProgress>(state, 'GET', '/fault/progress')).toEqual({running: false})
    } finally {
      await hosted.stop()
      await freshZooKeeper(zk, `/pegasus/${name}`, false)
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
