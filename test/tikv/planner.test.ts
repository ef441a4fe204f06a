// The pure TiKV unsafe-recovery planner on fixtures: golden plan.json / plan.txt / plan.md per case,
// and the facts each case must predict (force leaders, demotions, TiFlash tombstones, empty regions,
// PD's affected-table digest, errors before anything runs).
import {createHash} from 'node:crypto'
import {readdirSync} from 'node:fs'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {loadEngineRegistry} from '../../src/engines/registry.js'
import {planUnsafeRecovery} from '../../src/engines/tikv/planner.js'
import {tikvClusterIdentity} from '../../src/engines/tikv/spec.js'
import type {VerifyParams} from '../../src/engines/tikv/types.js'
import {buildPlan} from '../../src/plan/build.js'
import type {PlanBody} from '../../src/plan/types.js'
import {renderPlanMarkdown} from '../../src/render/markdown.js'
import {renderPlanText} from '../../src/render/text.js'
import {validateSpecText} from '../../src/spec/index.js'
import {FIXTURES, NOW, loadFixture} from './helpers.js'

const scenarios = readdirSync(FIXTURES, {withFileTypes: true})
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort()
const plan = (name: string): PlanBody => {
  const {spec, live} = loadFixture(name)
  return planUnsafeRecovery(spec, live, {now: NOW})
}
const verifyOf = (b: PlanBody): VerifyParams =>
  b.steps.find((s) => s.kind === 'tikv.verify')!.params as unknown as VerifyParams
const codes = (b: PlanBody, severity: string): string[] =>
  b.findings.filter((f) => f.severity === severity).map((f) => `${f.code} ${f.subject}`)
const leaders = (b: PlanBody): string[] =>
  verifyOf(b).force_leaders.map(
    (f) => `${f.region}@${f.store}${f.tied_with.length > 0 ? `~${f.tied_with.join('/')}` : ''}`,
  )

describe('TiKVUnsafeRecovery planner: golden plans', () => {
  it('has every case the issue names', () => {
    expect(scenarios).toEqual(
      expect.arrayContaining([
        'quorum-lost',
        'every-replica-lost',
        'lagging-peer',
        'tiflash-learner',
        'auto-detect',
        'meta-region',
        'errors',
      ]),
    )
  })
  for (const name of scenarios) {
    it(`${name}: a valid spec; plan.json, plan.txt and plan.md; deterministic whatever the list order`, async () => {
      const {spec, live, source, document} = loadFixture(name)
      // The fixture spec passes the real loader: the kind's schema and the engine's checks.
      const loaded = await validateSpecText(source, 'spec.yaml', {engines: (await loadEngineRegistry()).engines})
      expect(loaded.diagnostics).toEqual([])
      const body = planUnsafeRecovery(spec, live, {now: NOW})
      const text = `${JSON.stringify(body, null, 2)}\n`
      const shuffled = loadFixture(name)
      shuffled.live.stores.reverse()
      for (const r of shuffled.live.regions) r.peers.reverse()
      shuffled.live.regions.reverse()
      expect(`${JSON.stringify(planUnsafeRecovery(shuffled.spec, shuffled.live, {now: NOW}), null, 2)}\n`).toBe(text)
      await expect(text).toMatchFileSnapshot(join(FIXTURES, name, 'plan.json'))
      const full = buildPlan({
        spec: {
          kind: spec.kind,
          name: spec.metadata.name,
          ticket: spec.metadata.ticket,
          sha256: createHash('sha256').update(source).digest('hex'),
          source,
          document,
        },
        cluster: tikvClusterIdentity(spec),
        body,
        createdAt: NOW,
        toolVersion: '0.0.0-test',
      })
      await expect(renderPlanText(full, {color: false, width: 100})).toMatchFileSnapshot(
        join(FIXTURES, name, 'plan.txt'),
      )
      await expect(renderPlanMarkdown(full).join('')).toMatchFileSnapshot(join(FIXTURES, name, 'plan.md'))
    })
  }
})

describe('TiKVUnsafeRecovery planner: what each case predicts', () => {
  it('quorum lost: a force leader on the only survivor, failed voters demoted, no empty region, stores buried', () => {
    const b = plan('quorum-lost')
    expect(codes(b, 'error')).toEqual([])
    expect(leaders(b)).toEqual(['1002@1', '1003@2', '1005@3'])
    expect(verifyOf(b).demotes).toEqual([
      {region: '1002', store: '1', peer_stores: ['4', '5'], maybe_peer_stores: []},
      {region: '1003', store: '2', peer_stores: ['4', '5'], maybe_peer_stores: []},
      {region: '1005', store: '3', peer_stores: ['4', '5'], maybe_peer_stores: []},
    ])
    expect(verifyOf(b).empty_regions).toEqual([])
    expect(verifyOf(b).affected_table_ids).toEqual(['64', '65'])
    expect(verifyOf(b).affected_meta_regions).toEqual(['1002'])
    expect(b.steps.map((s) => [s.id, s.risk])).toEqual([
      ['01-remove-failed-stores', 'disruptive'],
      ['02-follow-recovery', 'read'],
      ['03-verify', 'read'],
    ])
    expect(b.steps[0].params).toEqual({stores: ['4', '5'], auto_detect: false, timeout_seconds: 300})
    expect(
      b.changes.filter((c) => c.noun === 'store').map((c) => [c.address, (c.after as {state_name: string}).state_name]),
    ).toEqual([
      ['store/4', 'Tombstone'],
      ['store/5', 'Tombstone'],
    ])
    expect(b.steps[0].riskReason).toMatch(/stores 4, 5 become Tombstone at once and can never rejoin/)
    // 1004 keeps a quorum (stores 1 and 2) although its leader was on store 4.
    expect(codes(b, 'info')).toContain('TIKV_LEADERS_MOVE pd')
  })

  it('every replica lost: adjacent lost regions become one empty region, with the keys and tables lost; lossy', () => {
    const b = plan('every-replica-lost')
    expect(codes(b, 'error')).toEqual([])
    expect(codes(b, 'warning')).toEqual([
      'TIKV_REGION_LOST region 1004',
      'TIKV_REGION_LOST region 1005',
      'TIKV_REGION_LOST region 1008',
    ])
    const v = verifyOf(b)
    expect(v.empty_regions.map((h) => [h.start_key.slice(0, 20), h.end_key.slice(0, 20), h.stores])).toEqual([
      [
        b.changes.find((c) => c.address === 'region/1004')!.before &&
          (b.changes.find((c) => c.address === 'region/1004')!.before as {start_key: string}).start_key.slice(0, 20),
        (b.changes.find((c) => c.address === 'region/1005')!.before as {end_key: string}).end_key.slice(0, 20),
        ['1', '2'],
      ],
      [
        (b.changes.find((c) => c.address === 'region/1008')!.before as {start_key: string}).start_key.slice(0, 20),
        '',
        ['1', '3'],
      ],
    ])
    expect(b.steps[0].risk).toBe('lossy')
    expect(b.steps[0].riskReason).toMatch(
      /2 key range\(s\) are recreated empty, losing about 4200 keys of table 64, 65, 67/,
    )
    // PD's digest: force leader on 1003 (t64) and holes starting at t64_r1000 and t67_r5000.
    expect(v.affected_table_ids).toEqual(['64', '67'])
    expect(b.changes.filter((c) => c.action === 'create').map((c) => (c.after as {range: string}).range)).toEqual([
      '[t64_r1000, t66)',
      '[t67_r5000, +inf)',
    ])
  })

  it('every replica lost without skip_lost_partitions: refused before anything runs', () => {
    const b = plan('lost-refused')
    expect(codes(b, 'error')).toEqual(['TIKV_REGION_LOST region 1002'])
    expect(b.findings.find((f) => f.code === 'TIKV_REGION_LOST')!.message).toMatch(
      /about 4000 keys, 256 MiB of table 64; PD recreates the range empty/,
    )
  })

  it('a lagging (pending) peer does not become force leader; a lagging survivor alone still does', () => {
    const b = plan('lagging-peer')
    expect(leaders(b)).toEqual(['1002@1'])
    const p = b.primaries.find((x) => x.partition === 'region/1002')!
    expect(p.reason).toMatch(/store 2 is a pending peer \(its log is behind\), so not chosen/)
    // 1003: stores 1 (pending) and 3 alive out of 3 voters: it keeps a quorum and is left alone.
    expect(b.primaries.map((x) => x.partition)).toEqual(['region/1002'])
  })

  it('among equal survivors, the one PD last saw lead wins (its log is the longest); without one, every tie is named', () => {
    const {spec, live} = loadFixture('lagging-peer')
    const r = live.regions.find((x) => x.id === '1002')!
    for (const p of r.peers) p.pending = false
    r.leader_store = '2'
    const led = planUnsafeRecovery(spec, live, {now: NOW})
    expect(leaders(led)).toEqual(['1002@2'])
    expect(led.primaries[0].reason).toMatch(/PD last saw it lead the region/)
    r.leader_store = '4'
    expect(leaders(planUnsafeRecovery(spec, live, {now: NOW}))).toEqual(['1002@1~2'])
  })

  it('a TiFlash learner: never force leader; tombstoned where it is the only survivor, and that range recreated empty', () => {
    const b = plan('tiflash-learner')
    const v = verifyOf(b)
    expect(leaders(b)).toEqual(['1002@2'])
    expect(v.tiflash_tombstones).toEqual([{region: '1003', store: '6'}])
    // The region to the right has a TiFlash peer too: PD may have kept its report, and then picks any TiKV store.
    expect(v.empty_regions.map((h) => h.stores)).toEqual([['1', '2', '3']])
    expect(b.changes.filter((c) => c.noun === 'peer' && c.action === 'delete').map((c) => c.address)).toEqual([
      'region/1003/peer/10036',
    ])
    // 1002's TiFlash learner is not a failed voter: only the peers on stores 4 and 5 are demoted.
    // ...unless its log is ahead of store 2's: then PD tombstones it first and demotes it as an orphan.
    expect(v.demotes).toEqual([{region: '1002', store: '2', peer_stores: ['4', '5'], maybe_peer_stores: ['6']}])
    expect(v.possible_tiflash_tombstones).toEqual([{region: '1002', store: '6'}])
    expect(v.affected_table_ids).toEqual(['64', '65'])
  })

  it('auto-detect: Tombstone stores count as failed, nothing is buried, the same regions recover', () => {
    const b = plan('auto-detect')
    expect(codes(b, 'error')).toEqual([])
    expect(leaders(b)).toEqual(['1002@1', '1003@2', '1005@3'])
    expect(b.changes.filter((c) => c.noun === 'store')).toEqual([])
    expect(b.steps[0].params).toEqual({stores: [], auto_detect: true, timeout_seconds: 300})
    expect(b.steps[0].description).toContain('{"auto-detect": true, "timeout": 300}')
  })

  it('meta region: a force leader on a region starting at -inf is not in the digest; a lost meta range is a new meta region', () => {
    const b = plan('meta-region')
    const v = verifyOf(b)
    expect(leaders(b)).toEqual(['1001@3'])
    expect(v.affected_meta_regions).toEqual([])
    expect(v.new_meta_regions).toBe(1)
    expect(b.changes.filter((c) => c.action === 'create').map((c) => (c.after as {range: string}).range)).toEqual([
      '[meta(6D00000000000000F8), t64)',
    ])
  })

  it('errors: an Up store, an unknown store, PD too old, a recovery already running', () => {
    const b = plan('errors')
    expect(codes(b, 'error')).toEqual([
      'TIKV_PD_TOO_OLD pd',
      'TIKV_RECOVERY_RUNNING pd',
      'TIKV_STORE_UNKNOWN store 9',
      'TIKV_STORE_UP store 2',
      'TIKV_STORE_WILL_NOT_REPORT store 5',
    ])
    expect(b.findings.find((f) => f.code === 'TIKV_STORE_UP')!.message).toBe(
      '[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store 2 is up and connected',
    )
    expect(b.findings.find((f) => f.code === 'TIKV_STORE_UNKNOWN')!.message).toBe(
      "[PD:unsaferecovery:ErrUnsafeRecoveryInvalidInput]invalid input store 9 doesn't exist",
    )
  })

  it('a Down store outside failed_stores would never report: refused; plan-execution-timeout sent on 8.5.7', () => {
    const b = plan('store-will-not-report')
    expect(codes(b, 'error')).toEqual(['TIKV_STORE_WILL_NOT_REPORT store 4'])
    expect(b.steps[0].params).toEqual({
      stores: ['5'],
      auto_detect: false,
      timeout_seconds: 300,
      plan_execution_timeout_seconds: 90,
    })
  })
})
