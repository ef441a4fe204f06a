// `lifeboat status` and `lifeboat init` through the real binary, on one pegasus-ddd lab shared by
// the whole file (started with `lab up --detach` on the suite's ZooKeeper, stopped at the end).
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse as parseYaml, stringify as stringifyYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {runCli, waitFor} from './helpers.js'

const zk = inject('zookeeper')
let dir = ''
let stateDir = ''
let dddSpec = ''
const cli = (...args: string[]) => runCli(args, {cwd: dir})

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-status-init-'))
  stateDir = join(dir, 'lab')
  const up = await cli('lab', 'up', 'pegasus-ddd', '--detach', '--state-dir', stateDir, '--zk', zk)
  expect(up.code, up.stderr).toBe(0)
  dddSpec = join(stateDir, 'specs', 'pegasus-ddd-recovery.yaml')
})

afterAll(async () => {
  if (stateDir) await cli('lab', 'down', '--state-dir', stateDir)
  if (dir) rmSync(dir, {recursive: true, force: true})
})

interface StatusJson {
  cluster: string
  healthy: boolean
  problems: string[]
  facts: {
    meta_server: string
    recovery_mode: boolean
    stored_level: string | null
    nodes: Array<{node: string; alive: boolean}>
    tables: Array<{name: string; partitions: number; no_primary: number}>
    ddd: Array<{gpid: string; reason: string; dropped: Array<{node: string; alive: boolean}>}> | null
    zookeeper: {hosts: string; root: string} | null
  }
}

describe('lifeboat status', () => {
  it('shows the DDD partitions with their reasons, the dead node and exits 2', async () => {
    // The lab's meta server declares the killed node dead, and finds the DDD partition it left
    // behind, on its own failure-detector and guardian rounds after `lab up` returns: wait for both.
    await waitFor(
      'the lab meta server to report its dead node and five DDD partitions',
      async () => {
        const r = await cli('status', dddSpec, '--json')
        if (r.code !== 2) return undefined
        const facts = (JSON.parse(r.stdout) as StatusJson).facts
        const dead = facts.nodes.filter((n) => !n.alive).length
        return dead === 1 && facts.ddd?.length === 5 ? true : undefined
      },
      120_000,
    )
    const text = await cli('status', dddSpec)
    expect(text.code, text.stderr).toBe(2)
    expect(text.stdout).toContain('Meta server')
    expect(text.stdout).toMatch(/level\s+fl_steady/)
    expect(text.stdout).toMatch(/alive\s+4 of 5/)
    expect(text.stdout).toContain("hasn't come back yet")
    expect(text.stdout).toContain('Needs recovery:')
    expect(text.stdout).toContain('5 DDD partitions')

    const json = await cli('status', dddSpec, '--json')
    expect(json.code).toBe(2)
    const s = JSON.parse(json.stdout) as StatusJson
    expect(s.healthy).toBe(false)
    expect(s.facts.recovery_mode).toBe(false)
    expect(s.facts.ddd?.map((d) => d.gpid)).toEqual(['1.0', '1.1', '1.2', '1.3', '1.4'])
    expect(s.facts.nodes.filter((n) => !n.alive)).toHaveLength(1)
    // Every DDD partition lacks a primary, so the table count agrees.
    expect(s.facts.tables[0].no_primary).toBeGreaterThanOrEqual(5)
    expect(s.facts.zookeeper?.hosts).toBe(zk)
  })

  it('fails with a hint, not a trace, when no meta server answers', async () => {
    const spec = join(dir, 'nowhere.yaml')
    const doc = parseYaml(readFileSync(dddSpec, 'utf8')) as {cluster: {meta_servers: string[]}}
    doc.cluster.meta_servers = ['127.0.0.1:1']
    writeFileSync(spec, stringifyYaml(doc))
    const r = await cli('status', spec)
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Error: /)
    expect(r.stderr).toContain('hint:')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})

describe('lifeboat init', () => {
  it('--from a DDD spec writes a valid PegasusMetaRecovery spec with every replica server as target', async () => {
    const out = join(dir, 'meta-recovery.yaml')
    const r = await cli('init', 'PegasusMetaRecovery', '--from', dddSpec, '--out', out)
    expect(r.code, r.stderr).toBe(0)
    const text = readFileSync(out, 'utf8')
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=.*schemas\/spec\.schema\.json$/)
    const status = JSON.parse((await cli('status', dddSpec, '--json')).stdout) as StatusJson
    const nodes = status.facts.nodes.map((n) => n.node).sort()
    expect(text).toContain(`target_nodes: [${nodes.join(', ')}]`)
    expect(text).toContain(`zookeeper: {hosts: ${zk}, root: ${status.facts.zookeeper?.root}}`)
    const v = await cli('validate', out)
    expect(v.code, v.stdout).toBe(0)
    // A second init refuses to overwrite without --force.
    const again = await cli('init', 'PegasusMetaRecovery', '--from', dddSpec, '--out', out)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('--force')
  })

  it('--meta and --zk find the same cluster; the spec on stdout validates', async () => {
    const status = JSON.parse((await cli('status', dddSpec, '--json')).stdout) as StatusJson
    const byMeta = await cli('init', 'PegasusDddRecovery', '--meta', status.facts.meta_server, '--json')
    expect(byMeta.code, byMeta.stderr).toBe(0)
    const a = JSON.parse(byMeta.stdout) as {facts: {cluster_name: string; meta_servers: string[]}; spec: string}
    const byZk = await cli('init', 'PegasusDddRecovery', '--zk', `${zk}${status.facts.zookeeper?.root}`)
    expect(byZk.code, byZk.stderr).toBe(0)
    expect(byZk.stdout).toContain(`meta_servers: [${a.facts.meta_servers.join(', ')}]`)
    expect(byZk.stdout).toContain(`name: ${a.facts.cluster_name}\n`)
    const file = join(dir, 'ddd-from-zk.yaml')
    writeFileSync(file, byZk.stdout)
    expect((await cli('validate', file)).code).toBe(0)
  })

  it('refuses what it cannot write, with a hint', async () => {
    const mig = await cli('init', 'PegasusZkMigration', '--meta', '127.0.0.1:1')
    expect(mig.code).toBe(1)
    expect(mig.stderr).toContain('--target HOSTS/ROOT')
    const none = await cli('init', 'PegasusDddRecovery')
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('--meta HOST:PORT')
    const badZk = await cli('init', 'PegasusDddRecovery', '--zk', 'localhost:2181')
    expect(badZk.code).toBe(1)
    expect(badZk.stderr).toContain('HOSTS/ROOT')
  })
})

// Last: these change the lab.
describe('lifeboat status as the meta level changes', () => {
  it('at fl_blind the DDD list is not asked and the level is the problem', async () => {
    const f = await cli('lab', 'fault', 'meta-level', 'blind', '--state-dir', stateDir)
    expect(f.code, f.stderr).toBe(0)
    const s = await waitFor('the meta at fl_blind', async () => {
      const r = JSON.parse((await cli('status', dddSpec, '--json')).stdout) as StatusJson
      return r.facts.stored_level === 'fl_blind' ? r : undefined
    })
    expect(s.facts.ddd).toBeNull()
    expect(s.problems.join('\n')).toContain('level fl_blind')
    const text = await cli('status', dddSpec)
    expect(text.code).toBe(2)
    expect(text.stdout).toContain('not asked')
  })
})

describe('a meta waiting in recovery mode', () => {
  it('status says so and exits 2; init --meta refuses with a hint; init --from keeps the cluster and asks for the nodes', async () => {
    // The metadata is lost: the lab's meta restarts in recovery mode (and the lab rewrites its specs).
    const f = await cli('lab', 'fault', 'zk-loss', '--state-dir', stateDir)
    expect(f.code, f.stderr).toBe(0)
    const s = await waitFor('the meta in recovery mode', async () => {
      const r = await cli('status', dddSpec, '--json')
      const doc = r.stdout.trim() === '' ? undefined : (JSON.parse(r.stdout) as StatusJson)
      return doc?.facts?.recovery_mode ? {r, doc} : undefined
    })
    expect(s.r.code).toBe(2)
    expect(s.doc.problems).toHaveLength(1)
    expect(s.doc.problems[0]).toContain('ERR_UNDER_RECOVERY')
    const text = await cli('status', dddSpec)
    expect(text.stdout).toMatch(/phase\s+recovery mode: waits for start_recovery/)

    const byMeta = await cli('init', 'PegasusMetaRecovery', '--meta', s.doc.facts.meta_server)
    expect(byMeta.code).toBe(1)
    expect(byMeta.stderr).toContain('waits in recovery mode')
    expect(byMeta.stderr).toContain('--from SPEC')

    const out = join(dir, 'recover.yaml')
    const byFrom = await cli('init', 'PegasusMetaRecovery', '--from', dddSpec, '-o', out)
    expect(byFrom.code, byFrom.stderr).toBe(0)
    expect(byFrom.stdout).toContain('fill in recovery.target_nodes')
    // An empty node list is left for the operator, and validate says so.
    expect((await cli('validate', out)).code).toBe(1)
  })
})
