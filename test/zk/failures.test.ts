// Failure modes against real servers: a request queued while disconnected fails by its deadline
// (and is never sent late), session expiry is surfaced, and a copy whose destination dies part-way
// fails with a clear error and completes when run again after a restart on the same port and data dir.
import {randomUUID} from 'node:crypto'
import {mkdtemp, rm} from 'node:fs/promises'
import {createServer, connect, type AddressInfo, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {LifeboatError} from '../../src/errors.js'
import {startZooKeeper, type RunningZooKeeper} from '../../src/lab/zookeeper/server.js'
import {
  ZkError,
  connectZk,
  copyTree,
  diffTrees,
  removeTree,
  type ZkClient,
  type ZkClientState,
  type ZkOp,
} from '../../src/zk/index.js'

const shared = inject('zookeeper')
const base = `/t-${randomUUID()}`
let dir: string
let server: RunningZooKeeper
let source: ZkClient

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-zk-failures-'))
  ;[server, source] = await Promise.all([startZooKeeper({dir, heap: '256m'}), connectZk({hosts: shared})])
})

afterAll(async () => {
  await removeTree(source, base)
  await source.close()
  await server.stop()
  await rm(dir, {recursive: true, force: true})
})

/** Restarts the private server on the same port and data directory. */
async function restart(): Promise<void> {
  server = await startZooKeeper({dir, port: server.port, heap: '256m'})
}

function waitForState(client: ZkClient, wanted: ZkClientState): Promise<void> {
  return new Promise((resolve) => {
    if (client.state === wanted) resolve()
    const off = client.onState((s) => {
      if (s === wanted) {
        off()
        resolve()
      }
    })
  })
}

describe('session expiry', () => {
  it('surfaces ZK_SESSION_EXPIRED after a partition longer than the session timeout; reopen() works', async () => {
    // A TCP proxy in front of the shared server stands in for the network: cutting it for longer
    // than the session timeout makes the server expire the session, and the client learns it when
    // it gets through again, exactly as after a real partition.
    const [host, port] = shared.split(':')
    let cut = false
    const pairs = new Set<Socket>()
    const proxy = createServer((down) => {
      if (cut) return void down.destroy()
      const up = connect(Number(port), host)
      pairs.add(down).add(up)
      const end = (): void => {
        down.destroy()
        up.destroy()
        pairs.delete(down)
        pairs.delete(up)
      }
      down.on('error', end).on('close', end).pipe(up)
      up.on('error', end).on('close', end).pipe(down)
    })
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    const via = `127.0.0.1:${(proxy.address() as AddressInfo).port}`
    const zk = await connectZk({hosts: via, sessionTimeoutMs: 4000})
    try {
      await zk.create(`${base}-eph`, null, {mode: 'ephemeral'})
      const expired = waitForState(zk, 'expired')
      cut = true
      for (const s of pairs) s.destroy()
      // The server checks sessions every tick (2 s): 4 s timeout + a tick + margin.
      await new Promise((r) => setTimeout(r, 7500))
      cut = false
      await expired
      expect(zk.state).toBe('expired')
      const err = await zk.get('/').then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(err).toBeInstanceOf(ZkError)
      expect((err as ZkError).code).toBe('ZK_SESSION_EXPIRED')
      expect((err as ZkError).message).toContain(via)
      expect((err as ZkError).hints.join(' ')).toMatch(/ephemeral/)
      const fresh = await zk.reopen()
      expect(fresh.state).toBe('connected')
      expect(await fresh.exists(`${base}-eph`)).toBeNull()
      await fresh.close()
    } finally {
      await zk.close()
      for (const s of pairs) s.destroy()
      await new Promise((r) => proxy.close(r))
    }
  })
})

describe('server stopped', () => {
  it('fails a request queued while disconnected by its deadline and never sends it later', async () => {
    const zk = await connectZk({hosts: server.connectString, sessionTimeoutMs: 30_000, callDeadlineMs: 800})
    const path = `/queued-${randomUUID()}`
    const disconnected = waitForState(zk, 'disconnected')
    await server.stop()
    await disconnected
    const err = await zk.create(path, Buffer.from('late')).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(ZkError)
    expect((err as ZkError).code).toBe('ZK_TIMEOUT')
    expect((err as ZkError).message).toContain(server.connectString)
    expect((err as ZkError).message).toContain(path)
    expect((err as ZkError).hints.join(' ')).toMatch(/unknown/)
    expect(zk.state).toBe('closed')
    await restart()
    const check = await connectZk({hosts: server.connectString})
    // Give a (wrongly) surviving client time to reconnect and flush its queue; ours was closed.
    await new Promise((r) => setTimeout(r, 1500))
    expect(await check.exists(path)).toBeNull()
    await Promise.all([check.close(), zk.close()])
  })

  it('a copy whose destination dies part-way fails clearly; run again after a restart, it completes', async () => {
    const src = `${base}/copy-src`
    const dst = '/restored'
    // 3,001 nodes, each ~300 bytes of JSON.
    await source.mkdirp(src)
    let ops: ZkOp[] = []
    for (let t = 0; t < 30; t++) {
      const table = `${src}/t${t}`
      ops.push({
        op: 'create',
        path: table,
        data: Buffer.from(JSON.stringify({app_name: `table_${t}`, partition_count: 99}).padEnd(300)),
      })
      for (let p = 0; p < 99; p++)
        ops.push({
          op: 'create',
          path: `${table}/${p}`,
          data: Buffer.from(JSON.stringify({pid: `${t}.${p}`, ballot: p}).padEnd(300)),
        })
      if (ops.length >= 200) {
        await source.multi(ops)
        ops = []
      }
    }
    await source.multi(ops)
    const total = 1 + 30 * 100

    let dest = await connectZk({hosts: server.connectString, callDeadlineMs: 3000})
    let killed = false
    const err = await copyTree(source, src, dest, dst, {
      batchOps: 20,
      inFlightMultis: 2,
      readInFlight: 20,
      onProgress: (p) => {
        // A crash, not a clean shutdown: the destination dies with multis in flight.
        if (!killed && p.nodesRead >= 1000) {
          killed = true
          process.kill(server.pid, 'SIGKILL')
        }
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(killed).toBe(true)
    expect(err).toBeInstanceOf(LifeboatError)
    const copyErr = err as LifeboatError
    expect(copyErr.code).toBe('ZK_COPY_INCOMPLETE')
    expect(copyErr.message).toContain(server.connectString)
    expect(copyErr.message).toMatch(/connection lost|no answer within/)
    expect(copyErr.hints.join(' ')).toMatch(/run the same copy again/)
    await dest.close()
    await server.stop()

    await restart()
    dest = await connectZk({hosts: server.connectString})
    const partial = await diffTrees(source, src, dest, dst)
    expect(partial.length).toBeGreaterThan(0)
    expect(partial.length).toBeLessThan(total)
    const second = await copyTree(source, src, dest, dst, {batchOps: 20, inFlightMultis: 2})
    expect(second.nodesRead).toBe(total)
    expect(second.created).toBeGreaterThan(0)
    expect(second.created + second.updated + second.unchanged).toBe(total)
    expect(await diffTrees(source, src, dest, dst)).toEqual([])
    await dest.close()
  })
})
