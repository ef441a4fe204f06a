// Through the real binary (issue 16 item 6): refusals an operator can read.
// - A stale plan's refusal starts with what changed in the cluster, in its terms, then the detail.
// - A plan with error findings never ends with "To perform exactly these actions".
// - A plan for a cluster that no longer answers says so, and to plan again.
import {readFileSync, writeFileSync} from 'node:fs'
import {createConnection, createServer, type Server, type Socket} from 'node:net'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {readStore, runCli, setKey, testStore, workspace} from '../cli/helpers.js'

const store = testStore()
const zk = store.zk

/** A TCP proxy on 127.0.0.1 (port 0) to `target`; close() stops it and cuts every connection. */
async function proxyTo(target: string): Promise<{address: string; close(): Promise<void>}> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))]
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = createConnection({host, port})
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => s.destroy())
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    address: `127.0.0.1:${(server.address() as {port: number}).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

describe('readable refusals', () => {
  it('a stale plan: what changed first, in the cluster terms, then every difference', async () => {
    const ws = workspace(zk, 'set: {a: "1", b: "2"}')
    await setKey(store.client, ws.root, 'a', 'old')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    await setKey(store.client, ws.root, 'a', 'other')
    await setKey(store.client, ws.root, 'z', 'new')
    const r = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(5)
    const head = r.stderr.indexOf('What changed in the cluster since the plan was made:')
    const detail = r.stderr.indexOf('Every difference from a plan made now:')
    expect(head).toBeGreaterThan(-1)
    expect(detail).toBeGreaterThan(head)
    const summary = r.stderr.slice(head, detail)
    expect(summary).toContain('- keys: 1 → 2')
    expect(summary).toContain('- 1 key would now be changed differently (kv:a)')
    expect(summary).toContain('- step 01-set-a would now expect version 1 (the plan has 0)')
    expect(await readStore(store.client, ws.root)).toEqual({a: 'other', z: 'new'})
  })

  it('a plan with error findings is saved for review, never offered to apply', async () => {
    const ws = workspace(zk, 'set: {a: "1"}\nfindings: [{code: BROKEN, severity: error, message: the node is gone}]')
    const r = await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})
    expect(r.code).toBe(1)
    expect(r.stdout + r.stderr).not.toContain('To perform exactly these actions')
    expect(r.stdout).toContain('for review only: apply refuses a plan with error findings')
    const ok = workspace(zk, 'set: {a: "1"}')
    const good = await runCli(['plan', ok.spec, '--out', 'plan.json'], {cwd: ok.dir})
    expect(good.code).toBe(0)
    expect(good.stdout.trimEnd()).toMatch(/To perform exactly these actions, run:\n\s+\S+ apply plan\.json$/)
  })

  it('a plan for a cluster that no longer answers: says so and to plan again (exit 5), nothing written', async () => {
    const proxy = await proxyTo(zk)
    const ws = workspace(proxy.address, 'set: {a: "1"}')
    // A lock file, so that only the cluster itself stops answering.
    writeFileSync(
      ws.spec,
      readFileSync(ws.spec, 'utf8').replace(
        `  name: ${ws.cluster}\n`,
        `  name: ${ws.cluster}\n  lock_file: ${join(ws.dir, 'lock')}\n`,
      ),
    )
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    await proxy.close()
    const r = await runCli(['apply', 'plan.json', '--auto-approve'], {cwd: ws.dir})
    expect(r.code, r.stderr).toBe(5)
    expect(r.stderr).toContain('The cluster no longer answers')
    expect(r.stderr).toContain('plan again')
    expect(await readStore(store.client, ws.root)).toEqual({})
  })
})
