// Issue 16 item 3 through the real binary, on one pegasus-meta-recovery lab for the file: a
// ZooKeeper that refuses fails at once with a lab hint, a ZooKeeper that never answers fails at
// --zk-timeout naming that setting, and a hung replica server is asked twice and reported as slow
// (cluster.timeouts.collect_seconds) before skip_bad_nodes is suggested.
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse as parseYaml, stringify as stringifyYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {runCli} from './helpers.js'

const zk = inject('zookeeper')
let dir = ''
let stateDir = ''
let labSpec = ''
const cli = (...args: string[]) => runCli(args, {cwd: dir})

/** A TCP server that accepts connections and never says a word. */
let silent: Server | undefined
const sockets: Socket[] = []

interface SpecDoc {
  cluster: {zookeeper: {hosts: string; root: string}; timeouts?: Record<string, number>}
}
/** The lab's meta-recovery spec with `edit` applied, written as `name` beside it (in the lab's specs folder). */
function variant(name: string, edit: (doc: SpecDoc) => void): string {
  const doc = parseYaml(readFileSync(labSpec, 'utf8')) as SpecDoc
  edit(doc)
  const file = join(stateDir, 'specs', name)
  writeFileSync(file, stringifyYaml(doc))
  return file
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-timeouts-'))
  stateDir = join(dir, 'lab')
  const up = await cli('lab', 'up', 'pegasus-meta-recovery', '--detach', '--state-dir', stateDir, '--zk', zk)
  expect(up.code, up.stderr).toBe(0)
  labSpec = join(stateDir, 'specs', 'pegasus-meta-recovery.yaml')
  silent = createServer((s) => sockets.push(s))
  await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r))
})

afterAll(async () => {
  for (const s of sockets) s.destroy()
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()))
  if (stateDir) await cli('lab', 'down', '--state-dir', stateDir)
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('ZooKeeper deadlines', () => {
  it('a ZooKeeper that refuses fails at once, printed once, with the lab hint', async () => {
    const spec = variant('zk-refused.yaml', (d) => (d.cluster.zookeeper.hosts = '127.0.0.1:1'))
    const r = await cli('plan', spec)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Error: ZooKeeper 127.0.0.1:1 refused the connection')
    // Refused is an answer: no deadline was waited for.
    expect(r.stderr).not.toContain('could not connect within')
    expect(r.stderr.match(/refused the connection/g)).toHaveLength(1)
    expect(r.stderr).toContain(`lifeboat lab status --state-dir ${stateDir}`)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('a ZooKeeper that never answers fails at --zk-timeout and names the setting; the spec sets it too', async () => {
    const port = (silent!.address() as {port: number}).port
    const spec = variant('zk-silent.yaml', (d) => (d.cluster.zookeeper.hosts = `127.0.0.1:${port}`))
    const r = await cli('plan', spec, '--zk-timeout', '1')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`ZooKeeper 127.0.0.1:${port} gave no session within 1 s`)
    expect(r.stderr).toContain('raise --zk-timeout (now 1 s)')
    // Every line of the message is printed once.
    expect(r.stderr.match(/gave no session/g)).toHaveLength(1)

    const fromSpec = variant('zk-silent-2.yaml', (d) => {
      d.cluster.zookeeper.hosts = `127.0.0.1:${port}`
      d.cluster.timeouts = {zk_connect_seconds: 2}
    })
    expect((await cli('validate', fromSpec)).code).toBe(0)
    const s = await cli('plan', fromSpec)
    expect(s.code).toBe(1)
    expect(s.stderr).toContain('gave no session within 2 s')
    expect(s.stderr).toContain('cluster.timeouts.zk_connect_seconds in the spec, or --zk-timeout SECONDS (now 2 s)')
  })

  it('validate refuses a timeout the schema does not know', async () => {
    const spec = variant('bad-timeouts.yaml', (d) => (d.cluster.timeouts = {zk_connect_second: 3}))
    const v = await cli('validate', spec)
    expect(v.code).toBe(1)
    expect(v.stdout + v.stderr).toContain('zk_connect_second')
  })
})

describe('a replica server that does not answer in time', () => {
  it('is asked twice and reported as slow, naming collect_seconds, before skip_bad_nodes', async () => {
    const f = await cli('lab', 'fault', 'hang-node', 'replica1', '--state-dir', stateDir)
    expect(f.code, f.stderr).toBe(0)
    const node = /\((127\.0\.0\.1:\d+)\)/.exec(f.stdout)![1]
    const spec = variant('collect-1s.yaml', (d) => (d.cluster.timeouts = {collect_seconds: 1}))
    const r = await cli('plan', spec, '--json')
    const plan = JSON.parse(r.stdout) as {
      findings: Array<{code: string; subject?: string; message: string; hint?: string}>
    }
    const bad = plan.findings.find((x) => x.code === 'PEGASUS_BAD_NODE' && x.subject === node)
    expect(bad?.message).toContain('ERR_TIMEOUT')
    expect(bad?.hint).toContain('asked twice: it may be slow rather than lost')
    expect(bad?.hint).toContain('cluster.timeouts.collect_seconds')
    // Slow first, lost last: skip_bad_nodes is the hint's final resort.
    expect(bad!.hint!.indexOf('collect_seconds')).toBeLessThan(bad!.hint!.indexOf('skip_bad_nodes'))
  })
})
