/**
 * `lifeboat init TiKVUnsafeRecovery --pd HOST:PORT`: the cluster's facts read from PD (its members'
 * client URLs, the cluster id and every store with its state) and an annotated spec written from
 * them. Reading is read-only; writing the text is pure.
 */
import {compareId} from './keys.js'
import {PD_API, PdClient, idText} from './pd-client.js'
import {gatherStores} from './gather.js'
import {pdEndpoint} from './spec.js'
import {TIKV_KIND, DEFAULT_TIMEOUT_SECONDS, type StoreFacts} from './types.js'

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {})
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])

/** Store states of a store PD does not see alive, but has not buried either. */
const NOT_ALIVE = new Set(['Disconnected', 'Down'])

/** What init learnt about a TiKV cluster. */
export interface TiKVInitFacts {
  cluster_name: string
  cluster_id: string
  /** Every PD member's client endpoints, `host:port`, sorted; the endpoints asked when PD lists none. */
  pd: string[]
  stores: Array<Pick<StoreFacts, 'id' | 'address' | 'state_name' | 'engine'>>
  /** Stores PD sees Disconnected or Down: `failed_stores` candidates, sorted by id. */
  not_alive: string[]
}

/** Pure: the facts init keeps from PD's replies. */
export function tikvInitFacts(
  asked: string[],
  members: unknown,
  cluster: unknown,
  stores: StoreFacts[],
  name?: string,
): TiKVInitFacts {
  const urls = new Set<string>()
  for (const m of list(obj(members).members))
    for (const u of list(obj(m).client_urls)) {
      const ep = typeof u === 'string' ? pdEndpoint(u) : undefined
      if (ep) urls.add(ep)
    }
  const id = idText(obj(cluster).id)
  const live = stores.filter((s) => s.state_name !== 'Tombstone')
  return {
    cluster_name: name ?? (id === '' ? 'tikv' : `tikv-${id}`),
    cluster_id: id,
    pd: urls.size > 0 ? [...urls].sort() : [...asked].sort(),
    stores: live.map((s) => ({id: s.id, address: s.address, state_name: s.state_name, engine: s.engine})),
    not_alive: live
      .filter((s) => NOT_ALIVE.has(s.state_name))
      .map((s) => s.id)
      .sort(compareId),
  }
}

/** Reads the facts from PD, read-only. */
export async function gatherTiKVInitFacts(pd: string[], opts: {name?: string} = {}): Promise<TiKVInitFacts> {
  const client = new PdClient(pd)
  const members = await client.getJson(`${PD_API}/members`)
  const cluster = await client.getJson(`${PD_API}/cluster`)
  const stores = await gatherStores(client)
  return tikvInitFacts(pd, members, cluster, stores, opts.name)
}

/** Pure: the annotated TiKVUnsafeRecovery spec for the facts; `schemaRef` is the `$schema` path for editors. */
export function renderTiKVInitSpec(f: TiKVInitFacts, opts: {schemaRef: string}): string {
  const lines = [
    `# yaml-language-server: $schema=${opts.schemaRef}`,
    '# Online Unsafe Recovery of a TiKV cluster that lost stores for good.',
    `# Written by \`lifeboat init\` from PD ${f.pd.join(', ')}${f.cluster_id ? ` (cluster id ${f.cluster_id})` : ''}.`,
    '# Review every value, then: lifeboat validate, lifeboat plan.',
    'apiVersion: lifeboat/v1',
    `kind: ${TIKV_KIND}`,
    'metadata:',
    `  name: ${f.cluster_name}-unsafe-recovery`,
    '  # ticket: INC-1234',
    'cluster:',
    `  name: ${f.cluster_name}`,
    "  # PD client endpoints (every member); the apply lock is a lease-bound key in PD's etcd.",
    `  pd: [${f.pd.join(', ')}]`,
    'recovery:',
    '  # Stores as PD lists them (Tombstone ones left out):',
  ]
  for (const s of f.stores)
    lines.push(`  #   ${s.id}  ${s.address}  ${s.state_name}${s.engine === 'tiflash' ? '  (TiFlash)' : ''}`)
  if (f.stores.length === 0) lines.push('  #   (none)')
  lines.push('  # The stores gone for good: PD buries them Tombstone at once and they can never rejoin.')
  if (f.not_alive.length > 0) {
    lines.push('  # These are the stores PD does not see alive now; keep only those that will not come back.')
  } else {
    lines.push(
      '  # PD sees every store alive: there is nothing to recover. List the failed stores, or use auto_detect.',
    )
  }
  lines.push(`  failed_stores: [${f.not_alive.join(', ')}]`)
  lines.push('  # Or, instead: auto_detect: true (every store PD does not list as alive counts as failed; PD 6.3+).')
  lines.push(`  timeout_seconds: ${DEFAULT_TIMEOUT_SECONDS}`)
  lines.push('  # true accepts that PD recreates regions that lost every replica as EMPTY ones (lossy).')
  lines.push('  skip_lost_partitions: false')
  lines.push('approval:')
  lines.push('  approvers: {disruptive: 1, lossy: 2}')
  return `${lines.join('\n')}\n`
}
