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

import {metaRecoveryEngine} from '../../src/engines/pegasus/meta-recovery/engine.js'
import type {MetaRecoverySpec} from '../../src/engines/pegasus/meta-recovery/types.js'
import {LifeboatError} from '../../src/errors.js'
import {HttpError, httpRequest} from '../../src/http/client.js'
import {ZkError} from '../../src/zk/errors.js'
import {builtinScenarioAs} from '../e2e/helpers.js'
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
  // Under a name of its own: the meta-recovery demo runs this built-in scenario on the same ZooKeeper.
  const scenario = builtinScenarioAs('pegasus-meta-recovery', `timeouts_${process.pid}`, dir)
  const up = await cli('lab', 'up', scenario, '--detach', '--state-dir', stateDir, '--zk', zk)
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

describe('status keeps the deadline of cluster.timeouts', () => {
  it('a meta server that never answers fails status at collect_seconds, naming that setting; --collect-timeout overrides it', async () => {
    const port = (silent!.address() as {port: number}).port
    const spec = variant('status-silent-meta.yaml', (d) => {
      ;(d.cluster as {meta_servers?: string[]}).meta_servers = [`127.0.0.1:${port}`]
      d.cluster.timeouts = {collect_seconds: 1}
    })
    const r = await cli('status', spec)
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`127.0.0.1:${port} did not answer RPC_CM_LIST_APPS within 1000 ms`)
    expect(r.stderr).toContain(
      'If the meta server is merely slow, raise cluster.timeouts.collect_seconds in the spec, or --collect-timeout SECONDS (now 1 s).',
    )
    expect(r.stderr).not.toMatch(/\n\s+at /)

    const flag = await cli('status', spec, '--collect-timeout', '2')
    expect(flag.code).toBe(1)
    expect(flag.stderr).toContain('within 2000 ms')
    expect(flag.stderr).toContain('raise --collect-timeout (now 2 s)')
  })
})

describe('every "raise the deadline" hint names a real setting', () => {
  it('a ZooKeeper timeout names the setting it was given, and suggests raising nothing without one', () => {
    const withSetting = new ZkError('ZK_TIMEOUT', {
      server: '127.0.0.1:2181',
      op: 'connect',
      setting: 'cluster.timeouts.zk_connect_seconds in the spec, or --zk-timeout SECONDS (now 10 s)',
    })
    expect(withSetting.hints.join('\n')).toContain(
      'if it is merely slow, raise cluster.timeouts.zk_connect_seconds in the spec, or --zk-timeout SECONDS (now 10 s).',
    )
    for (const op of ['get', 'set']) {
      const bare = new ZkError('ZK_TIMEOUT', {server: '127.0.0.1:2181', op, path: '/x'})
      expect(bare.hints.join('\n')).not.toMatch(/raise/)
      expect(bare.hints.at(-1)).toBe(
        'Check that ZooKeeper 127.0.0.1:2181 is reachable (echo srvr | nc HOST PORT) and not overloaded, then run the command again.',
      )
    }
  })

  it('an HTTP timeout names the setting the caller gave (OpenMLDB: recovery.rpc_timeout_seconds), or says there is none', async () => {
    const port = (silent!.address() as {port: number}).port
    const server = `127.0.0.1:${port}`
    const named = await httpRequest({
      server,
      method: 'POST',
      path: '/NameServer/ShowTable',
      timeoutMs: 300,
      timeoutSetting: 'recovery.rpc_timeout_seconds in the spec',
    }).catch((e: unknown) => e as HttpError)
    expect(named).toMatchObject({code: 'HTTP_TIMEOUT'})
    expect((named as HttpError).hints).toEqual([
      `Check the load and health of ${server}; if it is merely slow, raise recovery.rpc_timeout_seconds in the spec (now 0.3 s).`,
    ])
    const bare = await httpRequest({server, method: 'POST', path: '/pd/api/v1/x', timeoutMs: 300}).catch(
      (e: unknown) => e as HttpError,
    )
    expect((bare as HttpError).hints.join('\n')).not.toMatch(/raise/)
    expect((bare as HttpError).hints[0]).toContain('this deadline, 0.3 s, is not a setting')
  })

  it("the apply-time ZooKeeper connect of PegasusMetaRecovery fails at the spec's deadline and names it", async () => {
    const port = (silent!.address() as {port: number}).port
    const spec = parseYaml(readFileSync(labSpec, 'utf8')) as MetaRecoverySpec
    spec.cluster.zookeeper.hosts = `127.0.0.1:${port}`
    spec.cluster.timeouts = {zk_connect_seconds: 1}
    const err = await metaRecoveryEngine
      .connect(spec, {env: {}, specDir: dir, progress: () => {}})
      .catch((e: unknown) => e as LifeboatError)
    expect(err).toMatchObject({code: 'PEGASUS_ZK_UNREACHABLE'})
    expect((err as LifeboatError).message).toContain('gave no session within 1 s')
    expect((err as LifeboatError).hints.join('\n')).toContain(
      'cluster.timeouts.zk_connect_seconds in the spec, or --zk-timeout SECONDS (now 1 s)',
    )
  })
})
