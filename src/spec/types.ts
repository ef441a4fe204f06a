/**
 * Typed recovery specs (DESIGN.md section 2) and the diagnostics of `lifeboat validate`.
 *
 * The interfaces mirror `schemas/spec.schema.json`; the schema is the authority and these types
 * describe a document that has passed it. In `LoadedSpec.spec` every field that has a default in
 * the schema is filled in, which is why such fields are not optional here.
 */

import type {SpecCheck} from './semantic.js'

/** The apiVersion every spec of this release carries. */
export const API_VERSION = 'lifeboat/v1'

/** The five built-in kinds, in the order the schema lists them. */
export const SPEC_KINDS = [
  'PegasusMetaRecovery',
  'PegasusDddRecovery',
  'PegasusZkMigration',
  'OpenMLDBRecovery',
  'TiKVUnsafeRecovery',
] as const
export type SpecKind = (typeof SPEC_KINDS)[number]

/** `metadata`: who and why, copied into the plan and the audit log. */
export interface SpecMetadata {
  name: string
  ticket?: string
}

/** ZooKeeper digest auth; the credentials (`user:password`) are read from the named environment variable. */
export interface ZookeeperAuth {
  scheme: 'digest'
  credentials_env: string
}

/** A ZooKeeper ensemble and the root of a tree in it. */
export interface ZookeeperTarget {
  /** Connect string without a chroot: `host:port[,host:port...]`. */
  hosts: string
  /** Absolute path, no trailing slash (except `/`). */
  root: string
  auth?: ZookeeperAuth
}

/** Distinct approvers needed per risk class (`approval.approvers`). */
export interface ApprovalPolicy {
  approvers?: {safe?: number; disruptive?: number; lossy?: number}
  /** git's allowed-signers file, relative to the spec: whose signed approvals count. */
  allowed_signers?: string
}

interface SpecEnvelope<K extends string> {
  apiVersion: typeof API_VERSION
  kind: K
  metadata: SpecMetadata
  approval?: ApprovalPolicy
}

/** `cluster` of the Pegasus kinds. */
export interface PegasusCluster {
  name: string
  /** Meta servers, `host:port`. */
  meta_servers: string[]
  zookeeper?: ZookeeperTarget
  /** Gather deadlines (`lifeboat plan --zk-timeout/--collect-timeout` override them), and the serving watch of verify. */
  timeouts?: {zk_connect_seconds?: number; collect_seconds?: number; serving_seconds?: number}
}

/** Rebuild lost ZooKeeper metadata from replica servers (`recover`). */
export interface PegasusMetaRecoverySpec extends SpecEnvelope<'PegasusMetaRecovery'> {
  cluster: PegasusCluster & {zookeeper: ZookeeperTarget}
  recovery: {
    /** Exactly one of target_nodes and target_nodes_file is given; `LoadedSpec.targetNodes` holds the resolved list. */
    target_nodes?: string[]
    /** Relative to the spec file's directory. */
    target_nodes_file?: string
    skip_bad_nodes: boolean
    skip_lost_partitions: boolean
    wait_seconds: number
  }
}

/** Which partitions a DDD recovery looks at: every one, one table (by app id), or a list of `app.pidx`. */
export type DddGpids = 'all' | number | string[]

/** Diagnose DDD partitions and assign a safe primary (`ddd_diagnose`, `propose ASSIGN_PRIMARY`). */
export interface PegasusDddRecoverySpec extends SpecEnvelope<'PegasusDddRecovery'> {
  cluster: PegasusCluster
  recovery: {
    gpids: DddGpids
    auto_diagnose: boolean
    /** Per-partition overrides: `"1.3": host:port`. */
    primaries: Record<string, string>
    undecided: 'skip' | 'max_last_prepared'
    wait_seconds: number
  }
}

/** Move Pegasus metadata to another ZooKeeper. The source is `cluster.zookeeper`. */
export interface PegasusZkMigrationSpec extends SpecEnvelope<'PegasusZkMigration'> {
  cluster: PegasusCluster & {zookeeper: ZookeeperTarget}
  migration: {
    method: 'copy' | 'recovery'
    target: ZookeeperTarget
    ignore_ephemeral: boolean
    remove_source_after: boolean
    /** For the recovery method: how long start_recovery may take. */
    wait_seconds: number
  }
}

/** `cluster` of an OpenMLDB spec. */
export interface OpenMLDBCluster {
  name: string
  /** The cluster's ZooKeeper (`zk_cluster`) and `zk_root_path`; the nameserver leader is found there. */
  zookeeper: ZookeeperTarget
  /** Nameserver endpoints to try when ZooKeeper does not name a leader. */
  nameservers?: string[]
  /** Environment variable holding `user:password` for the nameserver's HTTP API. */
  credentials_env?: string
}

export interface OpenMLDBChangeLeader {
  db: string
  table: string
  pid: number
  /** `host:port` of a follower, or `auto` to let the nameserver pick. */
  candidate: string
}

export interface OpenMLDBRecoverTable {
  db: string
  table: string
  pid: number
  endpoint: string
}

/** OpenMLDB nameserver operations and one-click data recovery. */
export interface OpenMLDBRecoverySpec extends SpecEnvelope<'OpenMLDBRecovery'> {
  cluster: OpenMLDBCluster
  recovery: {
    /** The value auto_failover must have when the recovery ends. */
    auto_failover: boolean
    concurrency: number
    offline_endpoints: string[]
    recover_endpoints: string[]
    need_restore: boolean
    change_leaders: OpenMLDBChangeLeader[]
    recover_tables: OpenMLDBRecoverTable[]
    /** One-click recovery of every unhealthy partition of the listed tables (`db.table`) or of all. */
    recover_data?: {tables: 'all' | string[]}
  }
}

/** `cluster` of a TiKV spec. */
export interface TiKVCluster {
  name: string
  /** PD endpoints: `host:port` or `http(s)://host:port`. */
  pd_endpoints: string[]
}

/** PD online unsafe recovery (`pd-ctl unsafe remove-failed-stores`). */
export interface TiKVUnsafeRecoverySpec extends SpecEnvelope<'TiKVUnsafeRecovery'> {
  cluster: TiKVCluster
  recovery: {
    /** Store ids as decimal strings (they can exceed 2^53). Empty with auto_detect. */
    failed_stores: string[]
    auto_detect: boolean
    timeout_seconds: number
    plan_execution_timeout_seconds?: number
    disable_paranoid_check: boolean
  }
}

/** Any built-in spec. */
export type Spec =
  | PegasusMetaRecoverySpec
  | PegasusDddRecoverySpec
  | PegasusZkMigrationSpec
  | OpenMLDBRecoverySpec
  | TiKVUnsafeRecoverySpec

/** One problem found in a spec (or in a file it names), at a 1-based line and column. */
export interface Diagnostic {
  /** Stable code, e.g. `SCHEMA_UNKNOWN_KEY`; tests and scripts rely on it. */
  code: string
  severity: 'error' | 'warning'
  message: string
  /** What to do about it, e.g. a did-you-mean. */
  hint?: string
  /** The file the position is in: the spec, or a node-list file it names. */
  file: string
  line: number
  col: number
  /** JSON pointer into the spec document (`/recovery/target_nodes/1`); `` for the whole file. */
  path: string
}

/** A spec that passed validation. */
export interface LoadedSpec {
  /** As given by the caller. */
  path: string
  /** Absolute directory of the spec, for relative paths such as target_nodes_file. */
  dir: string
  /** The file's text as read. */
  source: string
  /** sha256 (hex) of the file's bytes. */
  sha256: string
  /** The parsed document, exactly as written (no defaults added). */
  document: Record<string, unknown>
  /**
   * The document with the schema's defaults filled in; narrow it on `kind`. For a kind from an
   * engine plugin (`extraKinds`) it is that kind's document, which the plugin casts to its own type.
   */
  spec: Spec
  kind: string
  name: string
  ticket?: string
  /** PegasusMetaRecovery: target_nodes, or the nodes read from target_nodes_file. */
  targetNodes?: string[]
}

export interface LoadOptions {
  /** Kinds from engine plugins: kind name → JSON Schema (draft 2020-12) of a whole document of that kind. */
  extraKinds?: Record<string, object>
  /** Directory for relative paths when validating text that has no file (defaults to the file name's directory). */
  baseDir?: string
  /**
   * The engines by kind (the engine registry's `engines`): a kind's semantic checks are its
   * engine's `checkSpec` (the engine is loaded for it). Without it only the schema is checked.
   */
  engines?: ReadonlyMap<string, {load(): Promise<{checkSpec?: SpecCheck}>}>
  /**
   * Refuse files a spec names (a node list) outside the spec's directory: `validate` runs on pull
   * requests, where a spec must not be able to make it read /etc/shadow. `validate --allow-outside-paths` lifts it.
   */
  restrictPaths?: boolean
}

export interface LoadResult {
  /** True when there is no error (warnings allowed). */
  ok: boolean
  spec?: LoadedSpec
  /** Sorted by file, line, col. */
  diagnostics: Diagnostic[]
}
