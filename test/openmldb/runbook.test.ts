// The shipped runbook is a valid spec of this kind, with the defaults, and plans.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import {describe, expect, it} from 'vitest'

import {openmldbRecoveryEngine} from '../../src/engines/openmldb/engine.js'
import {planOpenMLDBRecovery} from '../../src/engines/openmldb/planner.js'
import type {OpenMLDBLiveState, OpenMLDBRecoverySpec} from '../../src/engines/openmldb/types.js'
import {loadSpecFile} from '../../src/spec/index.js'

const RUNBOOK = fileURLToPath(new URL('../../runbooks/openmldb-recovery.yaml', import.meta.url))
const LIVE = fileURLToPath(new URL('../fixtures/OpenMLDBRecovery/recoverdata-restart-all/live.json', import.meta.url))

describe('runbooks/openmldb-recovery.yaml', () => {
  it("names the schema, validates, has the issue's defaults, and plans", async () => {
    expect(readFileSync(RUNBOOK, 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=../schemas/spec.schema.json',
    )
    const loaded = await loadSpecFile(RUNBOOK, {
      engines: new Map([['OpenMLDBRecovery', {load: async () => openmldbRecoveryEngine}]]),
    })
    expect(loaded.diagnostics).toEqual([])
    const spec = loaded.spec!.spec as unknown as OpenMLDBRecoverySpec
    expect(spec.recovery).toEqual({
      auto_failover: true,
      tables: 'all',
      offline_endpoints: [],
      recover_endpoints: [],
      leaders: {},
      skip_bad_nodes: false,
      skip_lost_partitions: false,
      concurrency: 8,
      wait_seconds: 600,
      rpc_timeout_seconds: 5,
    })
    const body = planOpenMLDBRecovery(spec, JSON.parse(readFileSync(LIVE, 'utf8')) as OpenMLDBLiveState, {
      now: '2026-01-01T00:00:00.000Z',
    })
    expect(body.primaries.map((p) => p.partition)).toEqual(['demo_db.orders/0', 'demo_db.orders/1', 'demo_db.users/0'])
  })

  it('a spec with only the required fields gets every default from the schema', async () => {
    const text =
      'apiVersion: lifeboat/v1\nkind: OpenMLDBRecovery\nmetadata: {name: m}\ncluster: {name: c, zookeeper: {hosts: 127.0.0.1:2181, root: /openmldb}}\nrecovery: {}\n'
    const {validateSpecText} = await import('../../src/spec/index.js')
    const loaded = await validateSpecText(text, 'spec.yaml')
    expect(loaded.diagnostics).toEqual([])
    expect((loaded.spec!.spec as unknown as OpenMLDBRecoverySpec).recovery).toMatchObject({
      auto_failover: true,
      tables: 'all',
      concurrency: 8,
      wait_seconds: 600,
      rpc_timeout_seconds: 5,
    })
  })
})
