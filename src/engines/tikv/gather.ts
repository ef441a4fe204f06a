/**
 * Gathers what the planner needs from PD, read-only: members and leader, version, every store
 * (every state), every region (paged through `/regions/key`, so 100,000 regions never sit in one
 * reply), the schedule config and `show`. Ids stay exact (decimal strings).
 */
import {LifeboatError} from '../../errors.js'
import type {EngineIo} from '../types.js'
import {compareId, compareStart} from './keys.js'
import {PD_API, REGION_PAGE, idText, num, type PdClient} from './pd-client.js'
import {recoveryState, toStageEntries} from './show.js'
import type {PeerFacts, PeerRole, RegionFacts, StoreFacts, TiKVLiveState} from './types.js'

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {})
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])

const ROLES: Record<string, PeerRole> = {
  voter: 'Voter',
  learner: 'Learner',
  incomingvoter: 'IncomingVoter',
  demotingvoter: 'DemotingVoter',
}
const ROLE_NUMBERS: PeerRole[] = ['Voter', 'Learner', 'IncomingVoter', 'DemotingVoter']

function roleOf(p: Json): PeerRole {
  if (typeof p.role_name === 'string' && ROLES[p.role_name.toLowerCase()]) return ROLES[p.role_name.toLowerCase()]
  const n = num(p.role)
  if (p.is_learner === true && n === 0) return 'Learner'
  return ROLE_NUMBERS[n] ?? 'Voter'
}

/** One PD StoreInfo as {@link StoreFacts}. */
export function storeFacts(info: unknown): StoreFacts {
  const store = obj(obj(info).store)
  const status = obj(obj(info).status)
  const labels = list(store.labels).map(obj)
  const label = (k: string): string | undefined => {
    const l = labels.find((x) => x.key === k)
    return typeof l?.value === 'string' ? l.value : undefined
  }
  const stateNames = ['Up', 'Offline', 'Tombstone']
  return {
    id: idText(store.id),
    address: typeof store.address === 'string' ? store.address : '',
    state_name: typeof store.state_name === 'string' ? store.state_name : (stateNames[num(store.state)] ?? 'Unknown'),
    engine: label('engine') === 'tiflash' ? 'tiflash' : 'tikv',
    tiflash_compute: label('engine') === 'tiflash' && label('engine_role') === 'compute',
    physically_destroyed: store.physically_destroyed === true,
    ...(typeof status.last_heartbeat_ts === 'string' ? {last_heartbeat: status.last_heartbeat_ts} : {}),
  }
}

/** One PD RegionInfo as {@link RegionFacts}. */
export function regionFacts(info: unknown): RegionFacts {
  const r = obj(info)
  const pending = new Set(list(r.pending_peers).map((p) => idText(obj(p).id)))
  const down = new Set(list(r.down_peers).map((d) => idText(obj(obj(d).peer).id)))
  const peers: PeerFacts[] = list(r.peers)
    .map((raw) => {
      const p = obj(raw)
      const id = idText(p.id)
      return {id, store_id: idText(p.store_id), role: roleOf(p), pending: pending.has(id), down: down.has(id)}
    })
    .sort((a, b) => compareId(a.store_id, b.store_id) || compareId(a.id, b.id))
  const leader = obj(r.leader)
  const epoch = obj(r.epoch)
  return {
    id: idText(r.id),
    start_key: String(r.start_key ?? '').toUpperCase(),
    end_key: String(r.end_key ?? '').toUpperCase(),
    epoch: {conf_ver: idText(epoch.conf_ver) || '0', version: idText(epoch.version) || '0'},
    peers,
    leader_store: leader.id !== undefined && idText(leader.store_id) !== '' ? idText(leader.store_id) : null,
    approximate_size: num(r.approximate_size),
    approximate_keys: num(r.approximate_keys),
  }
}

/** Every region, page by page from the start of the key space. Falls back to `/regions` where `format=hex` is not understood. */
export async function gatherRegions(pd: PdClient, io?: Pick<EngineIo, 'progress'>): Promise<RegionFacts[]> {
  const out: RegionFacts[] = []
  let key = ''
  for (;;) {
    const body = obj(await pd.getJson(`${PD_API}/regions/key?key=${key}&limit=${REGION_PAGE}&format=hex`))
    const page = list(body.regions).map(regionFacts)
    if (page.length === 0) break
    // The first region must hold the key asked for; an old PD reading the key as raw bytes does not.
    const first = page[0]
    if (compareStart(first.start_key, key) > 0 || (first.end_key !== '' && compareStart(first.end_key, key) <= 0)) {
      if (key === '') break
      return gatherAllRegions(pd)
    }
    for (const r of page) if (out.length === 0 || r.id !== out[out.length - 1].id) out.push(r)
    const last = page[page.length - 1]
    if (last.end_key === '') break
    key = last.end_key
    io?.progress('reading the regions from PD', {done: out.length, unit: 'regions'})
  }
  return out.sort((a, b) => compareStart(a.start_key, b.start_key) || compareId(a.id, b.id))
}

async function gatherAllRegions(pd: PdClient): Promise<RegionFacts[]> {
  const body = obj(await pd.getJson(`${PD_API}/regions`))
  return list(body.regions)
    .map(regionFacts)
    .sort((a, b) => compareStart(a.start_key, b.start_key) || compareId(a.id, b.id))
}

/** Every store in every state, sorted by id. */
export async function gatherStores(pd: PdClient): Promise<StoreFacts[]> {
  const body = obj(await pd.getJson(`${PD_API}/stores?state=0&state=1&state=2`))
  return list(body.stores)
    .map(storeFacts)
    .filter((s) => s.id !== '')
    .sort((a, b) => compareId(a.id, b.id))
}

/** `show`, parsed. */
export async function gatherShow(pd: PdClient, signal?: AbortSignal): Promise<ReturnType<typeof toStageEntries>> {
  return toStageEntries(await pd.getJson(`${PD_API}/admin/unsafe/remove-failed-stores/show`, signal))
}

/** Reads the whole live state. */
export async function gatherTiKV(pd: PdClient, io: Pick<EngineIo, 'progress'>): Promise<TiKVLiveState> {
  io.progress(`reading PD at ${pd.endpoints.join(', ')}`)
  const members = obj(await pd.getJson(`${PD_API}/members`))
  const version = obj(await pd.getJson(`${PD_API}/version`)).version
  if (typeof version !== 'string') {
    throw new LifeboatError('TIKV_PD_ERROR', `PD ${pd.endpoint} sent no version from ${PD_API}/version`, {
      hints: ['Check that cluster.pd names PD client endpoints (port 2379 by default).'],
    })
  }
  const [stores, schedule, show] = [
    await gatherStores(pd),
    obj(await pd.getJson(`${PD_API}/config/schedule`)),
    await gatherShow(pd),
  ]
  const regions = await gatherRegions(pd, io)
  io.progress(`PD ${version}: ${stores.length} stores, ${regions.length} regions`)
  const last = show[show.length - 1]
  const halt = schedule['halt-scheduling']
  return {
    pd: {
      endpoint: pd.endpoint,
      members: list(members.members)
        .map((m) => String(obj(m).name ?? ''))
        .sort(),
      leader: typeof obj(members.leader).name === 'string' ? (obj(members.leader).name as string) : null,
      version: version.replace(/^v/, ''),
    },
    stores,
    regions,
    schedule: {
      halt_scheduling: halt === true || halt === 'true',
      max_store_down_time: String(schedule['max-store-down-time'] ?? ''),
    },
    recovery: {state: recoveryState(show), info: last?.info ?? ''},
  }
}
