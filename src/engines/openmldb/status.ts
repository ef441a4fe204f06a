/**
 * `lifeboat status` for OpenMLDB: the engine's own gather (ShowTablet, ShowTable, ConfGet,
 * ShowOPStatus, GetTableStatus) summarized for an operator. Pure.
 */
import type {ClusterStatus} from '../types.js'
import type {OpenMLDBLiveState} from './types.js'

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/** A partition needs recovery when no alive replica leads it, or when one of its replicas is not alive. */
export function summarizeOpenMLDBStatus(cluster: string, live: OpenMLDBLiveState): ClusterStatus {
  const problems: string[] = []
  const unhealthyTablets = live.tablets.filter((t) => t.state !== 'kHealthy')
  if (unhealthyTablets.length > 0)
    problems.push(
      `${plural(unhealthyTablets.length, 'tablet')} not healthy: ${unhealthyTablets.map((t) => `${t.endpoint} (${t.state})`).join(', ')}`,
    )
  const unreachable = live.tablets.filter((t) => t.state === 'kHealthy' && !t.reachable)
  if (unreachable.length > 0)
    problems.push(
      `${plural(unreachable.length, 'tablet')} listed healthy but not answering: ${unreachable.map((t) => t.endpoint).join(', ')}`,
    )

  const tableRows: Array<[string, string]> = []
  const partitions: Array<{db: string; table: string; pid: number; problem: string}> = []
  for (const t of live.tables) {
    let bad = 0
    for (const p of t.partitions) {
      const leader = p.replicas.find((r) => r.is_leader && r.is_alive)
      const down = p.replicas.filter((r) => !r.is_alive).map((r) => r.endpoint)
      if (!leader || down.length > 0) {
        bad++
        partitions.push({
          db: t.db,
          table: t.name,
          pid: p.pid,
          problem: [!leader ? 'no alive leader' : '', down.length > 0 ? `replicas down: ${down.join(', ')}` : '']
            .filter((x) => x !== '')
            .join('; '),
        })
      }
    }
    tableRows.push([
      `${t.db}.${t.name} (tid ${t.tid})`,
      `${plural(t.partitions.length, 'partition')}${bad > 0 ? `, ${bad} unhealthy` : ', healthy'}`,
    ])
  }
  if (partitions.length > 0) problems.push(`${plural(partitions.length, 'partition')} unhealthy`)
  if (live.running_ops.length > 0)
    problems.push(`${plural(live.running_ops.length, 'op')} still running on the nameserver`)

  const sections: ClusterStatus['sections'] = [
    {
      title: 'Nameserver',
      rows: [
        ['leader', live.nameserver || '-'],
        ['auto_failover', String(live.auto_failover)],
        ['last op id', live.last_op_id],
      ],
    },
    {
      title: 'Tablets',
      rows:
        live.tablets.length === 0
          ? [['-', 'none listed']]
          : live.tablets.map((t) => [
              t.endpoint,
              `${t.state}${t.reachable ? '' : t.state === 'kHealthy' ? `, not answering (${t.error ?? 'no reply'})` : ''}`,
            ]),
    },
    {title: 'Tables', rows: tableRows.length > 0 ? tableRows : [['-', 'no table']]},
  ]
  if (partitions.length > 0)
    sections.push({
      title: 'Unhealthy partitions',
      rows: partitions.map((p) => [`${p.db}.${p.table} pid ${p.pid}`, p.problem]),
    })
  sections.push({
    title: 'Running ops',
    rows:
      live.running_ops.length === 0
        ? [['-', 'none']]
        : live.running_ops.map((o) => [`op ${o.op_id}`, `${o.op_type} ${o.status} on ${o.db}.${o.name} pid ${o.pid}`]),
  })
  return {
    healthy: problems.length === 0,
    problems,
    sections,
    facts: {
      store: 'openmldb',
      cluster,
      nameserver: live.nameserver,
      auto_failover: live.auto_failover,
      tablets: live.tablets.map((t) => ({endpoint: t.endpoint, state: t.state, reachable: t.reachable})),
      unhealthy_partitions: partitions,
      running_ops: live.running_ops,
      last_op_id: live.last_op_id,
    },
  }
}
