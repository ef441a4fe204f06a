// Reading PD's `show` in every version's wording, and TiDB keys as PD's codec reads them.
import {describe, expect, it} from 'vitest'

import {compareId, describeKey, keyMeaning, metaOrTable, tablesInRange} from '../../src/engines/tikv/keys.js'
import {currentRound, digestRound, recoveryState, stageName, toStageEntries} from '../../src/engines/tikv/show.js'

// Memcomparable encodings as PD prints them (upper-case hex).
const T64 = '7480000000000000FF4000000000000000F8'
const T64_R1000 = '7480000000000000FF405F728000000000FF0003E80000000000FA'
const META = '6D00000000000000F8'

describe('keys', () => {
  it("decodes table, row and meta keys as PD's MetaOrTable does", () => {
    expect(metaOrTable(T64)).toEqual({table: '64'})
    expect(metaOrTable(T64_R1000)).toEqual({table: '64'})
    expect(metaOrTable(META)).toEqual({meta: true})
    expect(metaOrTable('')).toBeUndefined()
    // Not memcomparable (a raw key): PD's DecodeBytes fails and it records nothing.
    expect(metaOrTable('7480000000000000')).toBeUndefined()
    expect(keyMeaning(T64_R1000)).toEqual({kind: 'table', table: '64', row: '1000'})
    expect(describeKey(T64_R1000)).toBe('t64_r1000')
    expect(describeKey('', true)).toBe('+inf')
  })

  it('lists the tables a range may hold, not the one its end key only starts', () => {
    expect(tablesInRange(T64, '7480000000000000FF4300000000000000F8')).toEqual(['64', '65', '66'])
    expect(tablesInRange(T64_R1000, '')).toEqual(['64'])
    expect(tablesInRange('', T64)).toEqual(['63'])
  })

  it('orders uint64 ids numerically, past 2^53 too', () => {
    expect(['10', '9', '18446744073709551615', '9007199254740993'].sort(compareId)).toEqual([
      '9',
      '10',
      '9007199254740993',
      '18446744073709551615',
    ])
  })
})

describe('show', () => {
  it("idle, running, finished and failed, in any version's case", () => {
    expect(recoveryState(toStageEntries([{info: 'No on-going recovery.'}]))).toBe('idle')
    expect(
      recoveryState(
        toStageEntries([
          {info: 'Unsafe recovery enters collect report stage'},
          {info: 'Collecting reports from alive stores(1/3)'},
        ]),
      ),
    ).toBe('running')
    expect(recoveryState(toStageEntries([{info: 'Unsafe recovery finished'}]))).toBe('finished')
    expect(recoveryState(toStageEntries([{info: 'Unsafe recovery Finished'}]))).toBe('finished')
    expect(recoveryState(toStageEntries([{info: 'Unsafe recovery Failed: Exceeds timeout 2026-01-01'}]))).toBe('failed')
    expect(stageName('Unsafe recovery enters demote failed voter stage')).toBe('demote failed voter')
    expect(stageName('Unsafe recovery enters demote Failed voter stage')).toBe('demote failed voter')
  })

  it("reads one round's actions and digest as sets (Go map order, docs' capitals)", () => {
    const entries = toStageEntries([
      {info: 'Unsafe recovery enters collect report stage', details: ['Failed stores 9']},
      {info: 'Unsafe recovery Failed: earlier round'},
      {
        info: 'Unsafe recovery enters collect report stage',
        time: '2026-01-01 00:00:00.000',
        details: ['Failed stores 5, 4'],
      },
      {
        info: 'Unsafe recovery enters tombstone TiFlash learner stage',
        actions: {'store 6': ['tombstone the peer of region 1003']},
      },
      {
        info: 'Unsafe recovery enters force leader stage',
        actions: {'store 2': ['force leader on regions: 1003, 1002'], 'store 1': ['force leader on regions: 1005']},
      },
      {
        info: 'Unsafe recovery enters demote failed voter stage',
        actions: {
          'store 2': [
            'region 1002 demotes peers { id:10024 store_id:4 }, { id:10025 store_id:5 }',
            'region 1003 demotes peers ',
          ],
        },
      },
      {
        info: 'Unsafe recovery enters create empty region stage',
        actions: {
          'store 3': [
            `create region 2001: { id:2001 start_key:"${T64.toLowerCase()}" end_key:"" region_epoch:{ conf_ver:1 version:1 } peers:{ id:2002 store_id:3 }}`,
          ],
        },
      },
      {info: 'Unsafe recovery enters exit force leader stage'},
      {
        info: 'Unsafe recovery Finished',
        details: ['Affected meta regions: 1001', 'Affected table ids: 65, 64', 'newly created empty regions: 2001'],
      },
    ])
    const round = currentRound(entries)
    expect(round).toHaveLength(7)
    const d = digestRound(round)
    expect(d.failedStores).toEqual(['4', '5'])
    expect(new Map(d.forceLeaders)).toEqual(
      new Map([
        ['1002', '2'],
        ['1003', '2'],
        ['1005', '1'],
      ]),
    )
    expect(d.demotes.get('1002')).toEqual({store: '2', peerStores: ['4', '5']})
    expect(d.demotes.get('1003')).toEqual({store: '2', peerStores: []})
    expect([...d.tombstones]).toEqual(['1003/6'])
    expect(d.created.get('2001')).toEqual({store: '3', start_key: T64, end_key: ''})
    expect(d.affectedTableIds).toEqual(['64', '65'])
    expect(d.affectedMetaRegions).toEqual(['1001'])
    expect(d.newEmptyRegions).toEqual(['2001'])
    expect(
      digestRound(toStageEntries([{info: 'Unsafe recovery Finished', details: ['no newly created empty regions']}]))
        .newEmptyRegions,
    ).toEqual([])
  })
})
