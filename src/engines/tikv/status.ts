/**
 * `lifeboat status` for TiKV: the engine's own gather from PD (members, stores, regions, schedule,
 * the unsafe recovery's `show`) summarized for an operator. Pure.
 */
import type {ClusterStatus} from '../types.js'
import type {TiKVLiveState} from './types.js'

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** Stores not Up (and not Tombstone), regions without a leader or with down peers, a recovery in progress. */
export function summarizeTiKVStatus(cluster: string, live: TiKVLiveState): ClusterStatus {
  const problems: string[] = []
  const badStores = live.stores.filter((s) => s.state_name !== 'Up' && s.state_name !== 'Tombstone')
  if (badStores.length > 0)
    problems.push(
      `${plural(badStores.length, 'store')} not Up: ${badStores.map((s) => `${s.id} ${s.address} (${s.state_name})`).join(', ')}`,
    )
  const leaderless = live.regions.filter((r) => r.leader_store === null)
  if (leaderless.length > 0) problems.push(`${plural(leaderless.length, 'region')} without a leader`)
  const withDown = live.regions.filter((r) => r.leader_store !== null && r.peers.some((p) => p.down))
  if (withDown.length > 0) problems.push(`${plural(withDown.length, 'region')} with down peers`)
  if (live.recovery.state === 'running') problems.push(`an unsafe recovery is in progress: ${live.recovery.info}`)
  if (live.pd.leader === null) problems.push('PD has no leader')

  const shown = leaderless.slice(0, 20)
  const sections: ClusterStatus['sections'] = [
    {
      title: 'PD',
      rows: [
        ['leader', live.pd.leader ?? 'none'],
        ['members', live.pd.members.join(', ') || '-'],
        ['version', live.pd.version],
        ['halt-scheduling', String(live.schedule.halt_scheduling)],
        ['max-store-down-time', live.schedule.max_store_down_time || '-'],
      ],
    },
    {
      title: 'Stores',
      rows:
        live.stores.length === 0
          ? [['-', 'none']]
          : live.stores.map((s) => [
              `store ${s.id}`,
              `${s.address} ${s.state_name}${s.engine === 'tiflash' ? ' (tiflash)' : ''}`,
            ]),
    },
    {
      title: 'Regions',
      rows: [
        ['total', String(live.regions.length)],
        ['without a leader', String(leaderless.length)],
        ['with down peers', String(withDown.length)],
      ],
    },
  ]
  if (shown.length > 0) {
    const rows: Array<[string, string]> = shown.map((r) => [
      `region ${r.id}`,
      `peers on stores ${r.peers.map((p) => p.store_id).join(', ')}`,
    ])
    if (leaderless.length > shown.length)
      rows.push(['...', `${leaderless.length - shown.length} more (lifeboat status --json lists them all)`])
    sections.push({title: 'Regions without a leader', rows})
  }
  sections.push({
    title: 'Unsafe recovery',
    rows: [
      ['state', live.recovery.state],
      ...(live.recovery.info ? [['last', live.recovery.info] as [string, string]] : []),
    ],
  })
  return {
    healthy: problems.length === 0,
    problems,
    sections,
    facts: {
      store: 'tikv',
      cluster,
      pd: live.pd,
      stores: live.stores,
      regions: live.regions.length,
      leaderless_regions: leaderless.map((r) => r.id),
      down_peer_regions: withDown.map((r) => r.id),
      recovery: live.recovery,
      schedule: live.schedule,
    },
  }
}
