// PD's JSON (reference tikv.md section 8) as the planner's facts: omitted zero fields, role names,
// pending and down peers, upper-case hex keys, ids past 2^53 exact.
import {describe, expect, it} from 'vitest'

import {regionFacts, storeFacts} from '../../src/engines/tikv/gather.js'
import {parsePdJson} from '../../src/engines/tikv/pd-client.js'
import {parseJson} from '../../src/http/json.js'

describe('PD JSON to facts', () => {
  it('a store: state_name as PD derives it, TiFlash by its engine label, heartbeat kept for display only', () => {
    const up = storeFacts(
      parseJson(
        '{"store":{"id":1,"address":"10.0.1.1:20160","version":"8.5.0","state_name":"Up"},"status":{"last_heartbeat_ts":"2026-01-01T00:00:00Z"}}',
      ),
    )
    expect(up).toEqual({
      id: '1',
      address: '10.0.1.1:20160',
      state_name: 'Up',
      engine: 'tikv',
      tiflash_compute: false,
      physically_destroyed: false,
      last_heartbeat: '2026-01-01T00:00:00Z',
    })
    const tomb = storeFacts(
      parseJson(
        '{"store":{"id":18446744073709551615,"address":"x:1","state":2,"state_name":"Tombstone","labels":[{"key":"engine","value":"tiflash"}],"physically_destroyed":true},"status":{}}',
      ),
    )
    expect(tomb).toMatchObject({
      id: '18446744073709551615',
      state_name: 'Tombstone',
      engine: 'tiflash',
      physically_destroyed: true,
    })
    // pd-ctl zeroes state and keeps state_name; an old PD may send only the number.
    expect(storeFacts(parseJson('{"store":{"id":3,"state":1},"status":{}}')).state_name).toBe('Offline')
  })

  it('a region: roles by name or number, pending and down peers, no leader as a zero peer', () => {
    const r = regionFacts(
      parseJson(`{"id":1002,"start_key":"6d00000000000000f8","end_key":"","epoch":{"conf_ver":5,"version":7},
      "peers":[{"id":10025,"store_id":5},{"id":10021,"store_id":1,"role":1,"role_name":"Learner","is_learner":true},{"id":10024,"store_id":4,"role_name":"DemotingVoter","role":3}],
      "leader":{"role_name":"Voter"},"down_peers":[{"peer":{"id":10025,"store_id":5},"down_seconds":700}],"pending_peers":[{"id":10024,"store_id":4}],
      "approximate_size":2,"approximate_keys":300}`),
    )
    expect(r).toEqual({
      id: '1002',
      start_key: '6D00000000000000F8',
      end_key: '',
      epoch: {conf_ver: '5', version: '7'},
      peers: [
        {id: '10021', store_id: '1', role: 'Learner', pending: false, down: false},
        {id: '10024', store_id: '4', role: 'DemotingVoter', pending: true, down: false},
        {id: '10025', store_id: '5', role: 'Voter', pending: false, down: true},
      ],
      leader_store: null,
      approximate_size: 2,
      approximate_keys: 300,
    })
    expect(
      regionFacts(parseJson('{"id":9,"peers":[{"id":91,"store_id":2}],"leader":{"id":91,"store_id":2}}')).leader_store,
    ).toBe('2')
  })
})

describe('parsePdJson', () => {
  it('keeps uint64 ids exact as decimal strings and never touches strings', () => {
    expect(
      parsePdJson(
        '{"id":18446744073709551615,"s":"a\\"b:12345678901234567890","n":-12345678901234567,"f":1234567890123456.5,"a":[9007199254740993, 3],"k":"7480000000000000FF"}',
      ),
    ).toEqual({
      id: '18446744073709551615',
      s: 'a"b:12345678901234567890',
      n: '-12345678901234567',
      f: 1234567890123456.5,
      a: ['9007199254740993', 3],
      k: '7480000000000000FF',
    })
    // A string that looks like a value position: the fast path breaks, the lossless parser reads it.
    expect(parsePdJson('{"v":"x:12345678901234567890,","id":18446744073709551615}')).toEqual({
      v: 'x:12345678901234567890,',
      id: 18446744073709551615n,
    })
    expect(
      regionFacts(
        parsePdJson('{"id":18446744073709551615,"peers":[{"id":18446744073709551614,"store_id":9007199254740993}]}'),
      ).peers[0],
    ).toEqual({id: '18446744073709551614', store_id: '9007199254740993', role: 'Voter', pending: false, down: false})
  })
})
