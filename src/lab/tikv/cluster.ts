/**
 * A TiKV lab: one PD (HTTP API + etcd gateway) and the scenario's stores with their regions and
 * rows, faults, status and the specs it writes.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {stringify} from 'yaml'

import {LifeboatError} from '../../errors.js'
import {compareKeys, hexKey, metaKey, metaStartKey, rowKey, tableStartKey} from './keys.js'
import {NodeState, type Peer, type Region, type RegionHeartbeat, Role, StoreState} from './model.js'
import {PdServer} from './pd.js'
import {type RegionStart, type TikvFault, type TikvScenario} from './scenario.js'
import {RaftLog, Replica, type Row, StoreSet, TikvStore} from './store.js'

/** What `lab.json` keeps as `cluster`: the PD endpoint and the rows written. */
export interface TikvLabLayout {
  cluster_name: string
  pd: string
  stores: {id: number; address: string; tiflash: boolean}[]
  tables: {id: number; name: string; rows: number}[]
  meta_rows: number
  failed_stores: number[]
}

const CLUSTER_ID = 7_412_345_678_901_234_567n
const FIRST_REGION_ID = 1001
const TERM = 6
const CAPACITY = 500 * 1024 ** 3

function startKey(s: RegionStart): Buffer {
  if (s === '') return Buffer.alloc(0)
  if (s === 'meta') return metaStartKey()
  return s.handle === undefined ? tableStartKey(s.table) : rowKey(s.table, s.handle)
}

interface Layout {
  start: Buffer
  voters: number[]
  learners: number[]
}

/** The generated layout of a scale scenario: two meta-side regions, then each table split evenly. */
function generateLayout(s: TikvScenario, count: number): Layout[] {
  const starts: Buffer[] = [Buffer.alloc(0), metaStartKey()]
  const perTable = Math.max(1, Math.floor((count - 2) / s.tables.length))
  let extra = Math.max(0, count - 2 - perTable * s.tables.length)
  for (const t of s.tables) {
    const n = perTable + (extra > 0 ? 1 : 0)
    if (extra > 0) extra--
    starts.push(tableStartKey(t.id))
    const step = Math.max(1, Math.floor(Math.max(t.rows, n) / n))
    for (let i = 1; i < n; i++) starts.push(rowKey(t.id, i * step + 1))
  }
  return starts.map((start, i) => ({
    start,
    voters: Array.from({length: s.replicas}, (_, j) => ((i + j) % s.stores) + 1),
    learners: [],
  }))
}

export class TikvLab {
  readonly pd: PdServer
  readonly set: StoreSet
  layout!: TikvLabLayout

  private constructor(
    readonly scenario: TikvScenario,
    private readonly stateDir: string,
    private readonly log: (line: string) => void,
    maxId: number,
  ) {
    this.pd = new PdServer({
      clusterId: CLUSTER_ID,
      storeDisconnectMs: scenario.timing.store_disconnect_seconds * 1000,
      maxId,
      schedule: {'max-store-down-time': scenario.timing.max_store_down_time},
      maxReplicas: scenario.replicas,
      version: 'v8.5.0',
      log,
    })
    this.set = new StoreSet(log)
  }

  static async up(scenario: TikvScenario, stateDir: string, log: (line: string) => void): Promise<TikvLab> {
    const layouts: Layout[] = scenario.regions
      ? scenario.regions.map((r) => ({start: startKey(r.start), voters: r.voters, learners: r.learners ?? []}))
      : generateLayout(scenario, scenario.generate?.regions ?? 1)
    const peerCount = layouts.reduce((n, l) => n + l.voters.length + l.learners.length, 0)
    let nextId = FIRST_REGION_ID + layouts.length
    const lab = new TikvLab(scenario, stateDir, log, nextId + peerCount - 1)
    try {
      await lab.build(layouts, () => nextId++)
    } catch (e) {
      await lab.down()
      throw e
    }
    return lab
  }

  private async build(layouts: Layout[], nextPeerId: () => number): Promise<void> {
    const s = this.scenario
    const total = s.stores + s.tiflash_stores
    for (let id = 1; id <= total; id++) {
      const tiflash = id > s.stores
      const opts = {
        id,
        tiflash,
        heartbeatMs: s.timing.heartbeat_ms,
        peerDownMs: s.timing.peer_down_seconds * 1000,
        capacity: CAPACITY,
        regionSweepTicks: 20,
        log: this.log,
      }
      this.set.stores.set(id, new TikvStore(opts, this.set, () => this.pd))
    }
    // Rows: every table's handles 1..rows, plus a meta key per table, in key order.
    const rows: Buffer[] = []
    rows.push(metaKey('SchemaVersion'))
    for (const t of s.tables) rows.push(metaKey(`Table:${t.id}`))
    const metaRows = rows.length
    for (const t of s.tables) for (let h = 1; h <= t.rows; h++) rows.push(rowKey(t.id, h))
    rows.sort(compareKeys)
    // Regions and peers.
    let r = 0
    const boot: RegionHeartbeat[] = []
    layouts.forEach((l, i) => {
      const id = FIRST_REGION_ID + i
      const end = i + 1 < layouts.length ? layouts[i + 1].start : Buffer.alloc(0)
      const peers: Peer[] = [
        ...l.voters.map((store) => ({id: nextPeerId(), store_id: store, role: Role.Voter})),
        ...l.learners.map((store) => ({id: nextPeerId(), store_id: store, role: Role.Learner})),
      ]
      const region: Region = {
        id,
        start_key: l.start,
        end_key: end,
        epoch: {conf_ver: peers.length, version: 1 + i},
        peers,
      }
      const regionRows: Row[] = []
      while (r < rows.length && (end.length === 0 || compareKeys(rows[r], end) < 0)) {
        regionRows.push({
          key: rows[r],
          value: Buffer.from(`v${hexKey(rows[r]).slice(-8)}`),
          index: TERM + 1 + regionRows.length,
        })
        r++
      }
      const log = new RaftLog(regionRows)
      const last = TERM + regionRows.length
      for (const p of peers) {
        const rep = new Replica(region, TERM, last, last, last, log)
        rep.vote = peers[0].id
        rep.leader = p === peers[0]
        ;(this.set.get(p.store_id) as TikvStore).replicas.set(id, rep)
      }
      boot.push({
        region,
        leader: peers[0],
        down_peers: [],
        pending_peers: [],
        approximate_size: Math.max(1, Math.ceil((regionRows.length * 64) / 1024 ** 2)),
        approximate_keys: regionRows.length,
        written_bytes: 0,
        written_keys: 0,
      })
    })
    await this.pd.listen(0)
    this.pd.loadRegions(boot)
    // Stores: status servers, registration in PD (PutStore), then heartbeats.
    for (const st of this.set.stores.values()) {
      await st.start(false)
      const address = `127.0.0.1:${st.statusPort}`
      this.pd.putStore({
        id: st.id,
        address,
        status_address: address,
        labels: st.opts.tiflash ? [{key: 'engine', value: 'tiflash'}] : [],
        version: st.opts.tiflash ? 'v8.5.0' : '8.5.0',
        git_hash: 'lab',
        deploy_path: `/lab/${st.opts.tiflash ? 'tiflash' : 'tikv'}-${st.id}`,
        state: StoreState.Up,
        node_state: NodeState.Serving,
        physically_destroyed: false,
        start_ms: st.startMs,
        last_heartbeat_ms: 0,
        capacity: CAPACITY,
        available: CAPACITY,
        used_size: 0,
      })
    }
    for (const st of this.set.stores.values()) st.beginHeartbeats()
    for (const f of s.faults) await this.fault(f)
    const killed = s.faults.filter((f) => f.type === 'kill-store').map((f) => (f as {store: number}).store)
    this.layout = {
      cluster_name: s.name,
      pd: `127.0.0.1:${this.pd.port}`,
      stores: [...this.set.stores.values()].map((st) => ({
        id: st.id,
        address: `127.0.0.1:${st.statusPort}`,
        tiflash: st.opts.tiflash,
      })),
      tables: s.tables.map((t) => ({id: t.id, name: t.name, rows: t.rows})),
      meta_rows: metaRows,
      failed_stores: s.failed_stores ?? [...new Set(killed)].sort((a, b) => a - b),
    }
    this.log(
      `tikv: PD ${this.layout.pd}, ${s.stores} TiKV + ${s.tiflash_stores} TiFlash stores, ${layouts.length} regions, ${rows.length} rows`,
    )
  }

  private store(id: number): TikvStore {
    const st = this.set.get(id)
    if (!st)
      throw new LifeboatError('LAB_FAULT_INVALID', `store ${id} is not in this lab`, {
        hints: [`Stores: ${[...this.set.stores.keys()].join(', ')}.`],
      })
    return st
  }

  private replica(regionId: number, storeId: number): Replica {
    const r = this.store(storeId).replicas.get(regionId)
    if (!r)
      throw new LifeboatError('LAB_FAULT_INVALID', `store ${storeId} has no peer of region ${regionId}`, {
        hints: [`curl http://${this.layout?.pd ?? ''}/pd/api/v1/region/id/${regionId} shows the region's peers.`],
      })
    return r
  }

  /** Applies a fault; returns what happened, for the operator. */
  async fault(f: TikvFault): Promise<string> {
    switch (f.type) {
      case 'kill-store': {
        const st = this.store(f.store)
        if (!st.alive) return `store ${f.store} is already stopped`
        await st.stop()
        if (f.down_for_seconds) {
          const since = Date.now() - f.down_for_seconds * 1000
          st.deadSince = since
          const meta = this.pd.stores.get(f.store)
          if (meta) meta.last_heartbeat_ms = since
        }
        // The leaders of its regions report the peer (pending, or down once backdated) on their next
        // heartbeat, not only on their next periodic sweep.
        for (const id of st.replicas.keys()) this.set.touch(id)
        return `store ${f.store} stopped: no heartbeats; PD shows it Disconnected after ${this.scenario.timing.store_disconnect_seconds} s and Down after ${this.scenario.timing.max_store_down_time}`
      }
      case 'start-store': {
        const st = this.store(f.store)
        if (st.alive) return `store ${f.store} is already running`
        if (st.tombstoned || this.pd.stores.get(f.store)?.state === StoreState.Tombstone) {
          throw new LifeboatError('LAB_FAULT_INVALID', `store ${f.store} is Tombstone in PD and cannot start again`, {
            hints: [
              'Unsafe recovery buried it; a real TiKV store exits on "store is tombstone". Bring the lab up again for a fresh cluster.',
            ],
          })
        }
        await st.start(true)
        return `store ${f.store} started; it heartbeats every ${this.scenario.timing.heartbeat_ms} ms`
      }
      case 'lag-peer': {
        const r = this.replica(f.region, f.store)
        if (f.index > r.lastIndex)
          throw new LifeboatError(
            'LAB_FAULT_INVALID',
            `region ${f.region}'s peer on store ${f.store} is at index ${r.lastIndex}; it cannot lag to ${f.index}`,
            {hints: [`Give an index <= ${r.lastIndex}.`]},
          )
        if (r.leader)
          throw new LifeboatError(
            'LAB_FAULT_INVALID',
            `store ${f.store} leads region ${f.region}; only a follower lags`,
            {hints: ["Lag a follower, or kill the leader's store first."]},
          )
        r.lastIndex = f.index
        r.commit = Math.min(r.commit, f.index)
        r.applied = Math.min(r.applied, f.index)
        this.set.touch(f.region)
        return `region ${f.region}'s peer on store ${f.store} now ends at index ${f.index} (last ${r.lastIndex}, commit ${r.commit}, applied ${r.applied})`
      }
      case 'restart-pd':
        await this.pd.restart()
        return `PD restarted on ${this.layout?.pd ?? `127.0.0.1:${this.pd.port}`}: any unsafe recovery in progress is lost (show says "No on-going recovery.")`
      case 'split': {
        const done = this.split(f.region, f.handle === undefined ? tableStartKey(f.table) : rowKey(f.table, f.handle))
        this.set.reportChanges()
        return done
      }
      case 'merge': {
        const done = this.merge(f.source, f.target)
        this.set.reportChanges()
        return done
      }
    }
  }

  private leaderOf(regionId: number): [TikvStore, Replica] {
    const live = this.set.livePeers(regionId)
    const l = live.find(([, r]) => r.leader && !r.forceLeader)
    if (!l || !this.set.hasQuorum(l[1].region)) {
      throw new LifeboatError(
        'LAB_FAULT_INVALID',
        `region ${regionId} has no leader that can commit (its quorum is lost or it does not exist)`,
        {
          hints: ['Split and merge go through the region leader: pick a healthy region.'],
        },
      )
    }
    return l
  }

  /** A split through the leader and AskBatchSplit; peers that lag behind the leader's commit do not apply it (in flight). */
  private split(regionId: number, key: Buffer): string {
    const [, leader] = this.leaderOf(regionId)
    const old = leader.region
    if (Buffer.compare(key, old.start_key) <= 0 || (old.end_key.length > 0 && Buffer.compare(key, old.end_key) >= 0)) {
      throw new LifeboatError(
        'LAB_FAULT_INVALID',
        `key ${hexKey(key)} is not inside region ${regionId} [${hexKey(old.start_key)}, ${hexKey(old.end_key)})`,
        {hints: ['Choose a table/handle inside the region.']},
      )
    }
    const ask = this.pd.askSplit(1)
    if (typeof ask === 'string')
      throw new LifeboatError('LAB_FAULT_REFUSED', `PD refused the split of region ${regionId}: ${ask}`, {
        hints: [
          'PD refuses AskBatchSplit while scheduling is halted (halt-scheduling, or an unsafe recovery running).',
        ],
      })
    const newId = ask.regionIds[0]
    const newPeers: Peer[] = old.peers.map((p) => ({id: this.pd.allocId(), store_id: p.store_id, role: p.role}))
    const version = old.epoch.version + 1
    const left: Region = {
      id: newId,
      start_key: old.start_key,
      end_key: key,
      epoch: {conf_ver: old.epoch.conf_ver, version},
      peers: newPeers,
    }
    const right: Region = {...old, start_key: key, epoch: {conf_ver: old.epoch.conf_ver, version}}
    const leftLog = new RaftLog(leader.log.rows.filter((row) => Buffer.compare(row.key, key) < 0))
    const rightLog = new RaftLog(leader.log.rows.filter((row) => Buffer.compare(row.key, key) >= 0))
    const lagging: number[] = []
    for (const [st, r] of this.set.livePeers(regionId)) {
      if (r.applied < leader.commit) {
        lagging.push(st.id)
        continue
      }
      r.region = right
      r.log = rightLog
      const nl = new Replica(left, r.term, r.lastIndex, r.commit, r.applied, leftLog)
      nl.leader = r.leader
      st.replicas.set(newId, nl)
    }
    this.set.touch(regionId)
    this.set.touch(newId)
    return `region ${regionId} split at ${hexKey(key)}: region ${newId} [${hexKey(left.start_key)}, ${hexKey(key)}) is new${lagging.length ? `; the peers on stores ${lagging.join(', ')} lag and still have the old range (split in flight)` : ''}`
  }

  /** A merge: PrepareMerge on the source, CommitMerge on the target; left in flight when the target cannot commit. */
  private merge(sourceId: number, targetId: number): string {
    if (this.pd.schedulingHalted())
      throw new LifeboatError('LAB_FAULT_REFUSED', 'PD refused the merge: scheduling is halted', {
        hints: ['The merge checker does not run while scheduling is halted.'],
      })
    const [, src] = this.leaderOf(sourceId)
    const target = this.set.livePeers(targetId)
    if (target.length === 0)
      throw new LifeboatError('LAB_FAULT_INVALID', `region ${targetId} has no peer on a live store`, {
        hints: ['Merge into a region with live peers.'],
      })
    const t = target[0][1].region
    const s = src.region
    if (!s.end_key.equals(t.start_key) && !t.end_key.equals(s.start_key))
      throw new LifeboatError('LAB_FAULT_INVALID', `regions ${sourceId} and ${targetId} are not adjacent`, {
        hints: ['Only adjacent regions merge.'],
      })
    const merging: Region = {...s, epoch: {conf_ver: s.epoch.conf_ver + 1, version: s.epoch.version + 1}}
    for (const [, r] of this.set.livePeers(sourceId)) {
      r.region = merging
      r.state = 'Merging'
      r.lastIndex += 1
      r.commit = r.lastIndex
      r.applied = r.commit
    }
    for (const [, r] of target) {
      r.pendingMergeSource = sourceId
      r.lastIndex += 1
    }
    const tl = target.find(([, r]) => r.leader)
    if (tl && this.set.hasQuorum(t)) {
      for (const [, r] of target) {
        r.commit = r.lastIndex
        r.applied = r.commit
      }
      this.set.commitMerge(tl[0], tl[1])
      return `region ${sourceId} merged into region ${targetId}`
    }
    for (const [, r] of target) r.hasCommitMerge = true
    return `region ${sourceId} prepared to merge; region ${targetId} has lost quorum, so its CommitMerge is in flight (has_commit_merge)`
  }

  status(): Record<string, unknown> {
    return {
      pd: this.layout.pd,
      stores: [...this.set.stores.values()].map((st) => {
        const meta = this.pd.stores.get(st.id)
        return {
          id: st.id,
          address: `127.0.0.1:${st.statusPort}`,
          tiflash: st.opts.tiflash,
          running: st.alive,
          state_name: meta ? this.pd.stateName(meta) : 'Removed',
          peers: st.replicas.size,
          leaders: [...st.replicas.values()].filter((r) => r.leader).length,
        }
      }),
      regions: this.pd.regionCount(),
      scheduling_halted: this.pd.schedulingHalted(),
      recovery: {...this.pd.controller.summary(), history: [...this.pd.controller.history]},
    }
  }

  writeSpecs(): Record<string, string> {
    const dir = join(this.stateDir, 'specs')
    mkdirSync(dir, {recursive: true})
    const spec = {
      apiVersion: 'lifeboat/v1',
      kind: 'TiKVUnsafeRecovery',
      metadata: {name: `${this.layout.cluster_name}-unsafe-recovery`, ticket: 'LAB'},
      cluster: {name: 'lab', pd: [this.layout.pd]},
      recovery: {failed_stores: this.layout.failed_stores, timeout_seconds: 300},
    }
    const path = join(dir, 'tikv-unsafe-recovery.yaml')
    writeFileSync(path, `# Written by lifeboat lab for the lab's current PD.\n${stringify(spec)}`)
    return {'tikv-unsafe-recovery': path}
  }

  async down(): Promise<void> {
    for (const st of this.set.stores.values()) await st.stop(true)
    await this.pd.shutdown()
  }
}
