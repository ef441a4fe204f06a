// The pure halves of `lifeboat status`: live facts in, verdict, problems and sections out. No servers.
import {describe, expect, it} from 'vitest'

import {renderStatusText} from '../../src/commands/status.js'
import {summarizeOpenMLDBStatus} from '../../src/engines/openmldb/status.js'
import type {OpenMLDBLiveState} from '../../src/engines/openmldb/types.js'
import {summarizePegasusStatus, type PegasusStatusFacts} from '../../src/engines/pegasus/status.js'
import {summarizeTiKVStatus} from '../../src/engines/tikv/status.js'
import type {RegionFacts, TiKVLiveState} from '../../src/engines/tikv/types.js'

const pegasusHealthy: PegasusStatusFacts = {
  store: 'pegasus',
  cluster: 'onebox',
  meta_server: '127.0.0.1:34601',
  recovery_mode: false,
  stored_level: 'fl_steady',
  effective_level: 'fl_steady',
  cluster_name: 'onebox',
  zookeeper: {hosts: '127.0.0.1:2181', root: '/pegasus/onebox'},
  nodes: [
    {node: '127.0.0.1:34801', alive: true},
    {node: '127.0.0.1:34802', alive: true},
    {node: '127.0.0.1:34803', alive: true},
  ],
  tables: [{app_id: 2, name: 'temp', partitions: 8, no_primary: 0, under_replicated: 0}],
  ddd: [],
}

describe('Pegasus status', () => {
  it('a serving cluster with every partition served is healthy', () => {
    const s = summarizePegasusStatus(pegasusHealthy)
    expect(s.healthy).toBe(true)
    expect(s.problems).toEqual([])
    const text = renderStatusText('onebox', 'PegasusDddRecovery', s)
    expect(text).toContain('Healthy: nothing needs recovery.')
    expect(text).toMatch(/temp \(app 2\)\s+8 partitions, healthy/)
  })

  it('a meta frozen by dead nodes shows both levels and names the dead nodes', () => {
    const s = summarizePegasusStatus({
      ...pegasusHealthy,
      effective_level: 'fl_freezed',
      nodes: [
        {node: '127.0.0.1:34801', alive: true},
        {node: '127.0.0.1:34802', alive: false},
        {node: '127.0.0.1:34803', alive: false},
      ],
    })
    expect(s.healthy).toBe(false)
    const level = s.sections[0].rows.find(([l]) => l === 'level')![1]
    expect(level).toBe('fl_freezed (stored fl_steady; frozen while too few replica servers are alive)')
    expect(s.problems).toContain('2 replica servers dead: 127.0.0.1:34802, 127.0.0.1:34803')
    expect(s.problems.join('\n')).toContain('fl_freezed')
  })

  it('recovery mode is the one problem, with nothing else asked', () => {
    const s = summarizePegasusStatus({
      ...pegasusHealthy,
      recovery_mode: true,
      stored_level: null,
      effective_level: null,
      nodes: [],
      tables: [],
      ddd: null,
    })
    expect(s.healthy).toBe(false)
    expect(s.problems).toHaveLength(1)
    expect(s.problems[0]).toContain('recovery mode')
    expect(s.sections).toHaveLength(1)
  })
})

const openmldbHealthy: OpenMLDBLiveState = {
  nameserver: '127.0.0.1:7527',
  auto_failover: false,
  last_op_id: '12',
  tablets: [
    {endpoint: '127.0.0.1:9527', state: 'kHealthy', reachable: true, tables: []},
    {endpoint: '127.0.0.1:9528', state: 'kHealthy', reachable: true, tables: []},
  ],
  tables: [
    {
      db: 'db',
      name: 't1',
      tid: 1,
      storage_mode: 'kMemory',
      partitions: [
        {
          pid: 0,
          replicas: [
            {endpoint: '127.0.0.1:9527', is_leader: true, is_alive: true, offset: '10'},
            {endpoint: '127.0.0.1:9528', is_leader: false, is_alive: true, offset: '10'},
          ],
        },
      ],
    },
  ],
  running_ops: [],
}

describe('OpenMLDB status', () => {
  it('healthy with every leader alive', () => {
    expect(summarizeOpenMLDBStatus('c', openmldbHealthy)).toMatchObject({healthy: true, problems: []})
  })

  it('an offline tablet, the partition it led and a running op', () => {
    const live: OpenMLDBLiveState = {
      ...openmldbHealthy,
      tablets: [{...openmldbHealthy.tablets[0], state: 'kOffline', reachable: false}, openmldbHealthy.tablets[1]],
      tables: [
        {
          ...openmldbHealthy.tables[0],
          partitions: [
            {
              pid: 0,
              replicas: [
                {endpoint: '127.0.0.1:9527', is_leader: true, is_alive: false, offset: '10'},
                {endpoint: '127.0.0.1:9528', is_leader: false, is_alive: true, offset: '10'},
              ],
            },
          ],
        },
      ],
      running_ops: [
        {op_id: '13', op_type: 'kChangeLeaderOP', status: 'kDoing', db: 'db', name: 't1', pid: 0, task_type: '-'},
      ],
    }
    const s = summarizeOpenMLDBStatus('c', live)
    expect(s.healthy).toBe(false)
    expect(s.problems).toEqual([
      '1 tablet not healthy: 127.0.0.1:9527 (kOffline)',
      '1 partition unhealthy',
      '1 op still running on the nameserver',
    ])
    const partitions = s.sections.find((x) => x.title === 'Unhealthy partitions')!
    expect(partitions.rows).toEqual([['db.t1 pid 0', 'no alive leader; replicas down: 127.0.0.1:9527']])
  })
})

const region = (id: string, leader: string | null, stores: string[]): RegionFacts => ({
  id,
  start_key: '',
  end_key: '',
  epoch: {conf_ver: '1', version: '1'},
  approximate_size: 1,
  approximate_keys: 1,
  leader_store: leader,
  peers: stores.map((s, i) => ({id: `${id}${i}`, store_id: s, role: 'Voter' as const, pending: false, down: false})),
})

const tikvHealthy: TiKVLiveState = {
  pd: {endpoint: '127.0.0.1:2379', members: ['pd-1'], leader: 'pd-1', version: '8.5.0'},
  stores: ['1', '2', '3'].map((id) => ({
    id,
    address: `127.0.0.1:2016${id}`,
    state_name: 'Up',
    engine: 'tikv' as const,
    tiflash_compute: false,
    physically_destroyed: false,
  })),
  regions: [region('10', '1', ['1', '2', '3'])],
  schedule: {halt_scheduling: false, max_store_down_time: '30m0s'},
  recovery: {state: 'idle', info: ''},
}

describe('TiKV status', () => {
  it('healthy with every store Up and every region led', () => {
    expect(summarizeTiKVStatus('c', tikvHealthy)).toMatchObject({healthy: true, problems: []})
  })

  it('down stores, leaderless regions and a recovery in progress', () => {
    const live: TiKVLiveState = {
      ...tikvHealthy,
      stores: tikvHealthy.stores.map((s) => (s.id === '1' ? s : {...s, state_name: 'Down'})),
      regions: [region('10', null, ['1', '2', '3']), region('20', '1', ['1', '2', '3'])],
      recovery: {state: 'running', info: 'Unsafe recovery enters force leader stage'},
    }
    const s = summarizeTiKVStatus('c', live)
    expect(s.healthy).toBe(false)
    expect(s.problems).toEqual([
      '2 stores not Up: 2 127.0.0.1:20162 (Down), 3 127.0.0.1:20163 (Down)',
      '1 region without a leader',
      'an unsafe recovery is in progress: Unsafe recovery enters force leader stage',
    ])
    expect(s.sections.find((x) => x.title === 'Regions without a leader')!.rows).toEqual([
      ['region 10', 'peers on stores 1, 2, 3'],
    ])
  })
})
