/**
 * The records TiKV and PD exchange (kvproto `metapb`, `raft_serverpb`, `pdpb`), as plain objects.
 * Region metas are never mutated in place: a change makes a new object, so a report can hold one
 * without copying it.
 */

/** `metapb.PeerRole`. */
export const Role = {Voter: 0, Learner: 1, IncomingVoter: 2, DemotingVoter: 3} as const
export type PeerRole = (typeof Role)[keyof typeof Role]
export const ROLE_NAMES = ['Voter', 'Learner', 'IncomingVoter', 'DemotingVoter'] as const

/** `metapb.Peer`. */
export interface Peer {
  readonly id: number
  readonly store_id: number
  readonly role: PeerRole
}

/** `metapb.RegionEpoch`. */
export interface Epoch {
  readonly conf_ver: number
  readonly version: number
}

/** `metapb.Region`; keys are raw (memcomparable-encoded) bytes, empty = unbounded. */
export interface Region {
  readonly id: number
  readonly start_key: Buffer
  readonly end_key: Buffer
  readonly epoch: Epoch
  readonly peers: readonly Peer[]
}

/** `metapb.StoreState`. */
export const StoreState = {Up: 0, Offline: 1, Tombstone: 2} as const
export type StoreStateValue = (typeof StoreState)[keyof typeof StoreState]
export const STORE_STATE_NAMES = ['Up', 'Offline', 'Tombstone'] as const

/** `metapb.NodeState`. */
export const NodeState = {Preparing: 0, Serving: 1, Removing: 2, Removed: 3} as const
export type NodeStateValue = (typeof NodeState)[keyof typeof NodeState]

/** `raft_serverpb.PeerState`. */
export type PeerState = 'Normal' | 'Applying' | 'Tombstone' | 'Merging'

/** `pdpb.PeerReport`. */
export interface PeerReport {
  raft_state: {hard_state: {term: number; vote: number; commit: number}; last_index: number}
  region_state: {state: PeerState; region: Region}
  is_force_leader: boolean
  has_commit_merge: boolean
  applied_index: number
}

/** `pdpb.StoreReport`. */
export interface StoreReport {
  peer_reports: PeerReport[]
  step: number
}

/** `pdpb.ForceLeader`. */
export interface ForceLeaderPlan {
  failed_stores: number[]
  enter_force_leaders: number[]
}

/** `pdpb.DemoteFailedVoters`. */
export interface DemotePlan {
  region_id: number
  failed_voters: Peer[]
}

/** `pdpb.RecoveryPlan` (`updates` is deprecated and never sent). */
export interface RecoveryPlan {
  creates: Region[]
  tombstones: number[]
  demotes: DemotePlan[]
  force_leader?: ForceLeaderPlan
  step: number
}

/** `pdpb.StoreHeartbeatRequest`, the parts the lab uses. */
export interface StoreHeartbeat {
  store_id: number
  capacity: number
  available: number
  used_size: number
  start_time_ms: number
  store_report?: StoreReport
}

/** `pdpb.StoreHeartbeatResponse`, the parts the lab uses. */
export interface StoreHeartbeatResponse {
  /** `pdpb.Error` type and message, e.g. STORE_TOMBSTONE. */
  error?: {type: string; message: string}
  recovery_plan?: RecoveryPlan
}

/** A region heartbeat (`pdpb.RegionHeartbeatRequest`). */
export interface RegionHeartbeat {
  region: Region
  leader: Peer
  down_peers: {peer: Peer; down_seconds: number}[]
  pending_peers: Peer[]
  approximate_size: number
  approximate_keys: number
  written_bytes: number
  written_keys: number
}

/** Whether `a`'s epoch is older than `b`'s (version first, then conf_ver). */
export function epochStale(a: Epoch, b: Epoch): boolean {
  return a.version < b.version || (a.version === b.version && a.conf_ver < b.conf_ver)
}

/** Go's `%v` of a `*metapb.Peer` (gogoproto compact text, trailing space included). */
export function peerText(p: Peer): string {
  return `id:${p.id} store_id:${p.store_id} ${p.role === 0 ? '' : `role:${ROLE_NAMES[p.role]} `}`
}

/** PD's `core.RegionToHexMeta(region).String()`: compact text with hex keys. */
export function regionHexMeta(r: Region): string {
  const parts = [`id:${r.id}`]
  if (r.start_key.length > 0) parts.push(`start_key:"${r.start_key.toString('hex').toUpperCase()}"`)
  if (r.end_key.length > 0) parts.push(`end_key:"${r.end_key.toString('hex').toUpperCase()}"`)
  const epoch = [
    r.epoch.conf_ver ? `conf_ver:${r.epoch.conf_ver} ` : '',
    r.epoch.version ? `version:${r.epoch.version} ` : '',
  ].join('')
  parts.push(`region_epoch:<${epoch}>`)
  for (const p of r.peers) parts.push(`peers:<${peerText(p)}>`)
  return parts.join(' ')
}
