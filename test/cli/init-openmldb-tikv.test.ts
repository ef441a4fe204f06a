// `lifeboat init OpenMLDBRecovery --zk` and `lifeboat init TiKVUnsafeRecovery --pd` through the real
// binary, on an openmldb-failover lab (tablet2 killed) and a tikv-unsafe-recovery lab (stores 4 and
// 5 down), both started once for the file with `lab up --detach` and stopped at the end.
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse as parseYaml} from 'yaml'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import {runCli} from './helpers.js'

const zk = inject('zookeeper')
let dir = ''
const labs = {openmldb: '', tikv: ''}
const cli = (...args: string[]) => runCli(args, {cwd: dir})

interface LabSpec {
  cluster: {name: string; zookeeper?: {hosts: string; root: string}; pd?: string[]}
}
const labSpec = (file: string) => parseYaml(readFileSync(file, 'utf8')) as LabSpec
const omSpec = () => join(labs.openmldb, 'specs', 'openmldb-failover-recover.yaml')
const tikvSpec = () => join(labs.tikv, 'specs', 'tikv-unsafe-recovery.yaml')

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lifeboat-init-om-tikv-'))
  labs.openmldb = join(dir, 'om-lab')
  labs.tikv = join(dir, 'tikv-lab')
  const [om, tk] = await Promise.all([
    cli('lab', 'up', 'openmldb-failover', '--detach', '--state-dir', labs.openmldb, '--zk', zk),
    cli('lab', 'up', 'tikv-unsafe-recovery', '--detach', '--state-dir', labs.tikv),
  ])
  expect(om.code, om.stderr).toBe(0)
  expect(tk.code, tk.stderr).toBe(0)
})

afterAll(async () => {
  await Promise.all(
    Object.values(labs)
      .filter((d) => d !== '')
      .map((d) => cli('lab', 'down', '--state-dir', d)),
  )
  if (dir) rmSync(dir, {recursive: true, force: true})
})

describe('lifeboat init OpenMLDBRecovery', () => {
  it('--zk writes a spec that validates, naming the killed tablet and the cluster from the root', async () => {
    const {cluster} = labSpec(omSpec())
    const out = join(dir, 'openmldb.yaml')
    const r = await cli(
      'init',
      'OpenMLDBRecovery',
      '--zk',
      `${cluster.zookeeper!.hosts}${cluster.zookeeper!.root}`,
      '-o',
      out,
    )
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain('Not kHealthy:')
    const text = readFileSync(out, 'utf8')
    expect(text.split('\n')[0]).toMatch(/^# yaml-language-server: \$schema=.*schemas\/spec\.schema\.json$/)
    const doc = parseYaml(text) as LabSpec & {kind: string; recovery: {offline_endpoints: string[]}}
    expect(doc.kind).toBe('OpenMLDBRecovery')
    // Without --name, the cluster is named after the last segment of its ZooKeeper root (the lab's
    // own root: its scenario's name and a suffix of its own).
    const root = cluster.zookeeper!.root
    expect(doc.cluster.name).toBe(root.slice(root.lastIndexOf('/') + 1))
    expect(doc.cluster.name.startsWith(`${cluster.name}-`)).toBe(true)
    expect(doc.cluster.zookeeper).toEqual(cluster.zookeeper)
    // Taking a tablet out is the operator's decision: it is named in a comment, never filled in.
    expect(doc.recovery.offline_endpoints).toEqual([])
    expect(text).toMatch(/#\s+127\.0\.0\.1:\d+\s+kOffline/)
    const v = await cli('validate', out)
    expect(v.code, v.stdout + v.stderr).toBe(0)
  })

  it('--json reports the facts; --from takes the name and ZooKeeper of a spec; wrong flags are refused', async () => {
    const j = await cli('init', 'OpenMLDBRecovery', '--from', omSpec(), '--name', 'prod', '--json')
    expect(j.code, j.stderr).toBe(0)
    const res = JSON.parse(j.stdout) as {
      facts: {
        cluster_name: string
        tablets: Array<{state: string}>
        down_tablets: string[]
        unhealthy_partitions: number
      }
      spec: string
    }
    expect(res.facts.cluster_name).toBe('prod')
    expect(res.facts.tablets).toHaveLength(3)
    expect(res.facts.down_tablets).toHaveLength(1)
    expect(res.facts.unhealthy_partitions).toBeGreaterThan(0)
    expect(res.spec).toContain('  name: prod\n')

    const pd = await cli('init', 'OpenMLDBRecovery', '--pd', '127.0.0.1:2379')
    expect(pd.code).toBe(1)
    expect(pd.stderr).toContain('--pd does not apply to OpenMLDBRecovery')
    const none = await cli('init', 'OpenMLDBRecovery')
    expect(none.code).toBe(1)
    expect(none.stderr).toContain('--zk HOSTS/ROOT')
  })
})

describe('lifeboat init TiKVUnsafeRecovery', () => {
  it('--pd writes a spec that validates, with the stores PD sees down as failed_stores', async () => {
    const {cluster} = labSpec(tikvSpec())
    const out = join(dir, 'tikv.yaml')
    const r = await cli('init', 'TiKVUnsafeRecovery', '--pd', cluster.pd![0], '--name', 'lab', '-o', out)
    expect(r.code, r.stderr).toBe(0)
    const text = readFileSync(out, 'utf8')
    const doc = parseYaml(text) as LabSpec & {recovery: {failed_stores: number[]}}
    expect(doc.cluster.name).toBe('lab')
    expect(doc.cluster.pd).toEqual(cluster.pd)
    // The scenario stops stores 4 and 5; PD lists them Down.
    expect(doc.recovery.failed_stores).toEqual([4, 5])
    expect(text).toMatch(/#\s+6\s+127\.0\.0\.1:\d+\s+Up\s+\(TiFlash\)/)
    const v = await cli('validate', out)
    expect(v.code, v.stdout + v.stderr).toBe(0)
    // The spec is the lab's own cluster: plan reads it (lost regions make it an error plan, exit 1).
    const plan = await cli('plan', out, '--json')
    expect(JSON.parse(plan.stdout).cluster.name).toBe('lab')
  })

  it('fails with a hint, not a trace, when no PD answers', async () => {
    const r = await cli('init', 'TiKVUnsafeRecovery', '--pd', '127.0.0.1:1')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Error: no PD endpoint answered/)
    expect(r.stderr).toContain('hint:')
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })
})
