/**
 * Types of the PegasusDddRecovery engine: the spec it reads, the live state it gathers (saved as
 * `live.json` in fixtures, so plain JSON only) and the parameters of the steps it plans.
 *
 * Live facts keep the Pegasus IDL's snake_case names (`ddd_node_info`, `partition_configuration`,
 * `replica_info`) so that a fixture can be checked against the shell's `ddd_diagnose` output by eye.
 */

import type {PegasusDddRecoverySpec} from '../../../spec/types.js'
import type {MetaLevelIdlName} from '../wire/meta-level.js'
import {MetaFunctionLevel} from '../wire/types.js'

/** The spec kind this engine handles. */
export const DDD_KIND = 'PegasusDddRecovery'

/** The PegasusDddRecovery spec as the spec module types it (defaults filled in by the loader). */
export type DddRecoverySpec = PegasusDddRecoverySpec

/** Meta function levels (`idl/meta_admin.thrift` meta_function_level), by name. */
export const META_LEVELS = MetaFunctionLevel
export type MetaLevelName = MetaLevelIdlName

/** One entry of `ddd_partition_info.dropped` (`ddd_node_info`). Ballot and decrees are -1 when unknown. */
export interface DddNodeFacts {
  /** `host:port` (the `hp_node` when the meta sends one, else the rpc address). */
  node: string
  /** Display only; never part of the fingerprint or the plan. */
  drop_time_ms: number
  is_alive: boolean
  is_collected: boolean
  ballot: number
  last_committed_decree: number
  last_prepared_decree: number
}

/** The partition configuration as the meta reports it (the fields this engine reads). */
export interface PartitionConfigFacts {
  /** `app_id.pidx`. */
  pid: string
  ballot: number
  max_replica_count: number
  /** `host:port`, or null when the partition has no primary. */
  primary: string | null
  secondaries: string[]
  /** Oldest first: the last element is the latest drop. */
  last_drops: string[]
  last_committed_decree: number
}

/** One `ddd_partition_info`: the meta's view of a partition that lost all its replicas. */
export interface DddPartitionFacts {
  config: PartitionConfigFacts
  /** In the meta's order (`config_context.dropped`, ascending by drop time, ballot, decrees). */
  dropped: DddNodeFacts[]
  /** The guardian's reason; `""` when it left it unassigned (a known Pegasus quirk). */
  reason: string
}

/** A replica as its replica server reports it (`replica_info`), restricted to the partitions of interest. */
export interface ReplicaFacts {
  pid: string
  ballot: number
  /** `partition_status` name, e.g. `PS_INACTIVE`, `PS_ERROR`. */
  status: string
  last_committed_decree: number
  last_prepared_decree: number
  last_durable_decree: number
}

/** What `query_replica_info` returned from one node, or why it could not be asked. */
export interface NodeReplicas {
  node: string
  reachable: boolean
  /** The error name or message when unreachable (`ERR_TIMEOUT`, `ERR_NETWORK_FAILURE`, ...). */
  error?: string
  /** Only replicas of the partitions this plan is about, sorted by gpid. */
  replicas: ReplicaFacts[]
}

/** Everything the planner needs, gathered read-only. Plain JSON. */
export interface DddLiveState {
  /** The meta server that answered (the leader). */
  meta_server: string
  /**
   * The meta function level by name, e.g. `fl_steady`: the freeze-adjusted one cluster_info
   * reports (`fl_freezed` while too few replica servers are alive), not control_meta's raw level.
   */
  meta_level: MetaLevelName
  /** The stored level control_meta reports, when it differs from `meta_level` (a frozen meta). */
  stored_meta_level?: MetaLevelName
  /** What was asked of ddd_diagnose: `-1.-1`, `<app>.-1`, or each listed gpid. */
  queries: string[]
  /** False when ddd_diagnose was not asked (meta level below steady: its cache is meaningless). */
  diagnosed: boolean
  /** The DDD partitions, sorted by gpid. */
  ddd: DddPartitionFacts[]
  /** Current configs of the DDD partitions and of every listed gpid, sorted by gpid. */
  configs: PartitionConfigFacts[]
  /** Tables involved, for names: `{app_id, app_name, status}`, sorted by id. */
  apps: {app_id: number; app_name: string; status: string}[]
  /** Every replica server the meta knows, with its status, sorted by node. */
  nodes: {node: string; alive: boolean}[]
  /** Replica info of every node in a dropped list and of every override node, sorted by node. */
  replicas: NodeReplicas[]
}

/** Step kinds of this engine. */
export const STEP_PROPOSE = 'pegasus.ddd.propose-primary'
export const STEP_WAIT = 'pegasus.ddd.wait-primaries'
export const STEP_VERIFY = 'pegasus.ddd.verify'

/** Params of a proposal step: `propose -g <gpid> -p ASSIGN_PRIMARY -t <node> -n <node>` (not forced). */
export interface ProposeParams {
  gpid: string
  node: string
  /** `CT_ASSIGN_PRIMARY`. */
  type: 'CT_ASSIGN_PRIMARY'
  force: false
  /** 1-based position among the proposals, for `Proposed count: k/N`. */
  index: number
  total: number
}

/** One decided partition and the primary it must end with. */
export interface Assignment {
  gpid: string
  node: string
}

/** Params of the wait step. */
export interface WaitParams {
  partitions: Assignment[]
  wait_seconds: number
}

/** Params of the final verification step. */
export interface VerifyParams {
  partitions: Assignment[]
  /** DDD partitions left undecided: the plan must not touch them. */
  untouched: string[]
}
