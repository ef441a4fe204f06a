// Through the real binary, on the TiKV lab (issue 18): the cluster minimum policy lives in PD's
// etcd (`/lifeboat/policy/<cluster>`, through PD's v3 JSON gateway). `policy set` stores it, `policy
// show` reads it back, and an apply whose spec asks for nobody is refused (exit 4) with nothing
// sent to PD.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {parse, stringify} from 'yaml'

import {httpJson} from '../../src/http/client.js'
import {expectExit, labUp, type Lab} from '../e2e/helpers.js'

interface Stores {
  stores: Array<{store: {id: number; state_name: string}}>
}

describe('the cluster minimum policy on TiKV (PD etcd)', () => {
  let lab: Lab
  let pd: string
  let spec: string

  beforeAll(async () => {
    lab = await labUp('tikv-unsafe-recovery')
    const up = lab.endpoints as unknown as {pd: string; specs: Record<string, string>}
    pd = up.pd
    const doc = parse(readFileSync(up.specs['tikv-unsafe-recovery']!, 'utf8')) as {recovery: Record<string, unknown>}
    spec = join(lab.cwd, 'spec.yaml')
    writeFileSync(spec, stringify({...doc, recovery: {...doc.recovery, skip_lost_partitions: true}}))
  })

  afterAll(async () => {
    await lab?.down()
  })

  it('policy set stores it in etcd, a spec cannot lower it, and apply is refused with nothing sent', async () => {
    expect(JSON.parse(expectExit(await lab.cli(['policy', 'show', spec, '--json']), 0).stdout)).toMatchObject({
      cluster_policy: {},
    })
    expectExit(await lab.cli(['policy', 'set', spec, '--lossy', '2']), 0)
    const shown = JSON.parse(expectExit(await lab.cli(['policy', 'show', spec, '--json']), 0).stdout)
    expect(shown).toMatchObject({cluster_policy: {lossy: 2}, enforced: {lossy: 2}})
    // Where it lives: PD's etcd, read straight through the gateway.
    const cluster = (parse(readFileSync(spec, 'utf8')) as {cluster: {name: string}}).cluster.name
    const range = await httpJson<{kvs?: Array<{value: string}>}>({
      server: pd,
      method: 'POST',
      path: '/v3/kv/range',
      body: {key: Buffer.from(`/lifeboat/policy/${cluster}`).toString('base64')},
    })
    expect(JSON.parse(Buffer.from(range.kvs![0]!.value, 'base64').toString('utf8'))).toEqual({approvers: {lossy: 2}})
    const lower = await lab.cli(['policy', 'set', spec, '--lossy', '0'])
    expect(lower.code).toBe(1)
    expect(lower.stderr).toContain('--allow-lower')

    const before = await httpJson<Stores>({
      server: pd,
      method: 'GET',
      path: '/pd/api/v1/stores?state=0&state=1&state=2',
    })
    const r = await lab.cli(['apply', spec, '--auto-approve', '--allow-data-loss'])
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toContain('needs 2 distinct approvals')
    const after = await httpJson<Stores>({server: pd, method: 'GET', path: '/pd/api/v1/stores?state=0&state=1&state=2'})
    const states = (s: Stores) =>
      s.stores.map((x) => `${x.store.id} ${x.store.state_name}`).sort((a, b) => a.localeCompare(b))
    expect(states(after)).toEqual(states(before))
    const lock = JSON.parse(expectExit(await lab.cli(['lock', 'status', spec, '--json']), 0).stdout)
    expect(lock.locked).toBe(false)
  })
})
