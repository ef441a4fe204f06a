/**
 * Types of the TiKVUnsafeRecovery engine: the spec it reads, the live state it gathers from PD
 * (saved as `live.json` in fixtures, so plain JSON: every uint64 id is a decimal string) and the
 * parameters of the steps it plans.
 *
 * Field names follow PD's HTTP API (`state_name`, `start_key`, `role_name`, `approximate_keys`) so
 * that a fixture can be checked against `pd-ctl store` / `pd-ctl region` output by eye.
 */

/** The spec kind this engine handles. */
export const TIKV_KIND = 'TiKVUnsafeRecovery'

/** PD's own default for `timeout` when none is sent; lifeboat always sends one. */
export const PD_DEFAULT_TIMEOUT_SECONDS = 600
/** lifeboat's default `timeout_seconds`: pd-ctl's flag default, sent explicitly. */
export const DEFAULT_TIMEOUT_SECONDS = 300

/** The TiKVUnsafeRecovery spec, normalised by {@link toTiKVSpec}: defaults filled in, ids as decimal strings. */
export interface TiKVSpec {
  apiVersion: string
  kind: typeof TIKV_KIND
  metadata: {name: string; ticket?: string}
  cluster: {
    name: string
    /** PD client endpoints as `host:port` (a scheme, if given, is dropped). Any member works. */
    pd: string[]
  }
  recovery: {
    /** Store ids as decimal strings, sorted numerically; empty with auto_detect. */
    failed_stores: string[]
    /** `"auto-detect": true`: PD treats every store it does not list as alive as failed (PD 6.3+). */
    auto_detect: boolean
    /** The recovery's overall deadline, sent explicitly as `timeout`. */
    timeout_seconds: number
    /** Regions that lose every replica: false refuses the plan, true accepts a lossy empty region. */
    skip_lost_partitions: boolean
    /** `plan-execution-timeout`, sent only where PD accepts it (8.5.7+). */
    plan_execution_timeout_seconds?: number
  }
  approval?: {approvers?: {safe?: number; disruptive?: number; lossy?: number}}
}

/** A peer's role as PD names it (`role_name`). */
export type PeerRole = 'Voter' | 'Learner' | 'IncomingVoter' | 'DemotingVoter'

/** One peer of a region as PD last saw it. */
export interface PeerFacts {
  id: string
  store_id: string
  role: PeerRole
  /** Listed in the region's `pending_peers`: its raft log is behind the leader's. */
  pending: boolean
  /** Listed in the region's `down_peers`. */
  down: boolean
}

/** One region as PD's `/regions` lists it (the fields the planner reads). */
export interface RegionFacts {
  id: string
  /** Upper-case hex of the raw (memcomparable-encoded) key; `""` is -inf / +inf. */
  start_key: string
  end_key: string
  epoch: {conf_ver: string; version: string}
  /** Sorted by store id. */
  peers: PeerFacts[]
  /** The store of the leader PD knows, or null when PD knows none. */
  leader_store: string | null
  /** MiB, PD's estimate. */
  approximate_size: number
  approximate_keys: number
}

/** One store as PD's `/stores?state=0&state=1&state=2` lists it. */
export interface StoreFacts {
  id: string
  address: string
  /** `Up`, `Disconnected`, `Down`, `Offline`, `Tombstone`. */
  state_name: string
  /** `tikv` or `tiflash` (the `engine` label). */
  engine: 'tikv' | 'tiflash'
  /** A TiFlash compute node (`engine_role: compute`) holds no peers and is never a TiFlash write store. */
  tiflash_compute: boolean
  physically_destroyed: boolean
  /** Display only: PD's `last_heartbeat_ts`; never part of the fingerprint. */
  last_heartbeat?: string
}

/** What `show` said about the recovery when the state was gathered. */
export interface RecoveryFacts {
  /** idle: `No on-going recovery.`; running; finished / failed: the last round's outcome, still shown. */
  state: 'idle' | 'running' | 'finished' | 'failed'
  /** The last stage entry's info, e.g. `Unsafe recovery enters force leader stage`. */
  info: string
}

/** Everything the planner needs, gathered read-only from PD. Plain JSON. */
export interface TiKVLiveState {
  pd: {
    /** The endpoint that answered. */
    endpoint: string
    /** Member names, sorted, and the leader's name (null when PD has none). */
    members: string[]
    leader: string | null
    /** `/pd/api/v1/version`, e.g. `8.5.0`. */
    version: string
  }
  /** Every store in every state, sorted by id. */
  stores: StoreFacts[]
  /** Every region, sorted by start key. */
  regions: RegionFacts[]
  /** From `/config/schedule`: whether scheduling is halted by hand, and max-store-down-time. */
  schedule: {halt_scheduling: boolean; max_store_down_time: string}
  recovery: RecoveryFacts
}

/** Step kinds of this engine. */
export const STEP_REMOVE = 'tikv.remove-failed-stores'
export const STEP_FOLLOW = 'tikv.follow-recovery'
export const STEP_VERIFY = 'tikv.verify'

/** Params of the POST step: the body fields PD receives. */
export interface RemoveParams {
  /** The failed stores (empty with auto_detect). */
  stores: string[]
  auto_detect: boolean
  timeout_seconds: number
  /** Present only when PD accepts `plan-execution-timeout`. */
  plan_execution_timeout_seconds?: number
}

/** Params of the follow step. */
export interface FollowParams {
  /** How long to follow `show` before giving up: the recovery's timeout plus a margin. */
  deadline_seconds: number
}

/** A region the plan predicts PD will force a leader for. */
export interface PredictedForceLeader {
  region: string
  store: string
  /** Other stores whose peers tie with the chosen one on everything PD's view shows. */
  tied_with: string[]
  /** PD's approximate keys of the region when planned: verify compares them with PD's view afterwards. */
  keys_before: number
}

/** A demotion the plan predicts: on the force leader's store, the region's failed peers become learners. */
export interface PredictedDemote {
  region: string
  store: string
  /** Store ids of the peers demoted (sorted). */
  peer_stores: string[]
  /** Peers demoted too if PD tombstones a possible TiFlash learner first (it is then an orphan). */
  maybe_peer_stores: string[]
}

/** A range the plan predicts PD will fill with a new empty region. */
export interface PredictedEmptyRegion {
  start_key: string
  end_key: string
  /** Stores PD may put the single peer on. */
  stores: string[]
}

/** Params of the verify step: everything the plan predicted, checked against PD afterwards. */
export interface VerifyParams {
  failed_stores: string[]
  auto_detect: boolean
  force_leaders: PredictedForceLeader[]
  demotes: PredictedDemote[]
  tiflash_tombstones: Array<{region: string; store: string}>
  /**
   * TiFlash learners PD tombstones only if their log is ahead of every surviving TiKV peer, which
   * only the stores' reports tell: accepted either way.
   */
  possible_tiflash_tombstones: Array<{region: string; store: string}>
  empty_regions: PredictedEmptyRegion[]
  /** Table ids PD's digest will list (decoded from the affected regions' start keys), sorted. */
  affected_table_ids: string[]
  /** Existing regions in meta keys that PD's digest will list, sorted. */
  affected_meta_regions: string[]
  /** How many of the new empty regions start in meta keys (their ids are PD's to allocate). */
  new_meta_regions: number
}
