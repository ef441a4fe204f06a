/**
 * The Plan: the data every renderer, the plan file and `--json` share (DESIGN.md section 4).
 *
 * A plan is pure data computed from a spec and the observed live state. Every list is sorted
 * (changes by address, primaries by partition, findings by severity then code then subject; steps
 * keep their execution order) so that the same inputs give byte-identical plans.
 */

/**
 * Version 2: leadership facts, nouns and cluster identity are declared by the engine (Vocabulary,
 * Fact, ClusterIdentity.facts); integers that can pass 2^53 are decimal strings. A version 1 file
 * is refused with a message that says to plan again.
 */
export const PLAN_FORMAT_VERSION = 2

/** How much a step can hurt (DESIGN.md section 4). Ordered from harmless to dangerous. */
export type RiskClass = 'read' | 'safe' | 'disruptive' | 'lossy'
export const RISK_ORDER: readonly RiskClass[] = ['read', 'safe', 'disruptive', 'lossy']

export type ChangeAction = 'create' | 'update' | 'delete' | 'no-op'

/**
 * A fact value. Integers that can pass 2^53 (OpenMLDB offsets and op ids, TiKV ids and indexes,
 * Pegasus decrees) are `bigint` in an engine's code; buildPlan turns every bigint into its decimal
 * string, so a plan (file, `--json`, audit log) holds `string | number | boolean` and stays exact.
 */
export type FactValue = string | number | boolean | bigint

/** A column an engine declares: the key of a fact (`last_committed_decree`) and its label (`committed`). */
export interface FactColumn {
  name: string
  label: string
}

/** One declared fact with its value, e.g. a cluster's `{name: 'pd', label: 'PD', value: '127.0.0.1:2379'}`. */
export interface Fact extends FactColumn {
  value: FactValue
}

/** A noun and its plural, for counts: `{one: 'partition', many: 'partitions'}`. */
export interface Noun {
  one: string
  many: string
}

/**
 * The words of a plan, declared by its engine: renderers draw headings, tables and counts only from
 * these, never from the shape of an address.
 */
export interface Vocabulary {
  /**
   * Nouns for counting changes (`Plan: 1 table, 8 partitions to create`), by key. A change names
   * its noun with `Change.noun`; a change without one counts as a `setting`.
   */
  nouns: Record<string, Noun>
  /**
   * The leadership section (`primaries`), required when the plan has any: the heading
   * (`Primaries to assign`, `Leaders to assign`, `Regions to recover`), what one item is
   * (`partition`, `region`), what is assigned (`primary`, `leader`) and how (`assign`), the candidate table's columns in
   * order, and the columns of facts about the change itself (`last drops`).
   */
  leadership?: {
    heading: string
    item: Noun
    role: Noun
    /** The verb of the summary line, `assign` (default) or `recover`: `8 primaries to assign`. */
    verb?: string
    candidateFacts: FactColumn[]
    changeFacts?: FactColumn[]
  }
}

/** A metadata change: a ZooKeeper node, a table record, a flag such as auto_failover or the meta level. */
export interface Change {
  /** Stable, human-readable, sortable: `zk:/pegasus/c1/apps/2/0`, `meta-level`, `table:temp`. */
  address: string
  /** A key of `Vocabulary.nouns`: what the address names, for counts. Absent: a setting. */
  noun?: string
  action: ChangeAction
  /** The value now; null for create. JSON documents are kept as parsed JSON so renderers can diff them. */
  before: unknown
  /** The value after apply; null for delete. */
  after: unknown
  /** Display only: why this change exists. Must not drive any decision during apply. */
  reason?: string
}

/**
 * One replica or node that could serve a partition, with the facts a choice rests on, keyed by the
 * names the engine declares in `Vocabulary.leadership.candidateFacts` (ballot, decrees, offset,
 * term, alive...). A fact a candidate has no value for is absent.
 */
export interface Candidate {
  node: string
  facts: Record<string, FactValue>
  /** Free-form marks such as `the latest`, `the secondary latest`. */
  marks?: string[]
}

/** A primary, leader or region that the plan assigns or recovers (the leadership section). */
export interface PrimaryChange {
  /** `app_id.pidx` for Pegasus, `table/pid` for OpenMLDB, `region/<id>` for TiKV. */
  partition: string
  table?: string
  before: string | null
  after: string | null
  /** Replicas in the order the store considers them; the chosen one has `after` as node. */
  candidates: Candidate[]
  /** Facts about the change itself (Pegasus `last_drops`), keyed by `Vocabulary.leadership.changeFacts`. */
  facts?: Record<string, FactValue>
  risk: RiskClass
  /** Why this node: the rule that picked it, in the store's terms. */
  reason: string
  /** When lossy: what may be lost (decrees, rows, offsets). */
  atStake?: string
}

export type StepKind = string

/** A step of apply, run in order. */
export interface Step {
  /** Stable within the plan: `01-check-recovery-mode`. */
  id: string
  kind: StepKind
  params: Record<string, unknown>
  risk: RiskClass
  /** One line for the operator. */
  description: string
  /** What must hold after the step, in words. */
  expect: string
  /** Required for disruptive and lossy steps: why, and what may be lost. */
  riskReason?: string
  /** A step the operator performs by hand: apply shows these instructions and waits for a confirmation. */
  manual?: {instructions: string[]}
  /**
   * A step that always runs (restore OpenMLDB's auto_failover, release a PD pause): after a failed
   * step, a stop at a manual step, or Ctrl-C, apply still runs every `always` step after the point
   * where it stopped, audited like any step; `--resume` runs those still owed. Its executor must be
   * idempotent, and an always step recorded done in an earlier run is re-checked (`isDone`), never
   * trusted, because the steps before it may have run again since. Never `manual`.
   */
  always?: boolean
}

export type Severity = 'error' | 'warning' | 'info'

export interface Finding {
  /** Stable code, e.g. `PEGASUS_PARTITION_LOST`. */
  code: string
  severity: Severity
  /** The store's own wording where it has one. */
  message: string
  /** What it is about: a node, a partition, a table. */
  subject?: string
  hint?: string
}

/** The spec a plan was computed from, embedded so the plan is reviewable on its own. */
export interface PlanSpec {
  kind: string
  name: string
  ticket?: string
  /** sha256 of the spec file's bytes. */
  sha256: string
  /** The spec file as written. */
  source: string
  /** Where it was read from, as given on the command line. */
  path?: string
  /** The parsed document. */
  document: Record<string, unknown>
}

/**
 * Which cluster a plan is for; a plan is refused against any other. The facts are the engine's
 * (`ZooKeeper` hosts and root, `meta servers`; `PD` endpoints and the cluster id) and are compared
 * as a whole, by name: the engine normalises each value (sorted host lists, say) so that equal
 * clusters give equal strings. Rendered in order as `label value`.
 */
export interface ClusterIdentity {
  name: string
  facts: Array<{name: string; label: string; value: string}>
}

export interface Observed {
  /** sha256 of the canonical, decision-relevant live state (no heartbeat times). */
  fingerprint: string
  /** Counts for a human: nodes reached, tables, partitions, health. */
  summary: Record<string, number | string>
}

/** A recorded approval (`lifeboat approve PLAN --as NAME`). */
export interface Approval {
  name: string
  comment?: string
  at: string
  /** The plan digest this approval is for. */
  digest: string
  /** An SSH signature (`ssh-keygen -Y sign -n lifeboat`) of the digest; required where the policy asks for approvers. */
  signature?: string
  /** The SHA256 fingerprint of the signing key. */
  key?: string
}

/** What an engine's planner returns; the core wraps it into a Plan. */
export interface PlanBody {
  /** The engine's words for this plan; required when `primaries` is not empty. */
  vocabulary?: Vocabulary
  observed: Observed
  changes: Change[]
  primaries: PrimaryChange[]
  steps: Step[]
  findings: Finding[]
}

export interface Plan extends PlanBody {
  formatVersion: typeof PLAN_FORMAT_VERSION
  vocabulary: Vocabulary
  tool: {name: 'lifeboat'; version: string}
  createdAt: string
  spec: PlanSpec
  cluster: ClusterIdentity
  /** False while any error finding stands. */
  applyable: boolean
  /** sha256 of the canonical plan without `digest` and `approvals`: editing the plan breaks it. */
  digest: string
  approvals: Approval[]
}
