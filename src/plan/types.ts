/**
 * The Plan: the data every renderer, the plan file and `--json` share (DESIGN.md section 4).
 *
 * A plan is pure data computed from a spec and the observed live state. Every list is sorted
 * (changes by address, primaries by partition, findings by severity then code then subject; steps
 * keep their execution order) so that the same inputs give byte-identical plans.
 */

export const PLAN_FORMAT_VERSION = 1

/** How much a step can hurt (DESIGN.md section 4). Ordered from harmless to dangerous. */
export type RiskClass = 'read' | 'safe' | 'disruptive' | 'lossy'
export const RISK_ORDER: readonly RiskClass[] = ['read', 'safe', 'disruptive', 'lossy']

export type ChangeAction = 'create' | 'update' | 'delete' | 'no-op'

/** A metadata change: a ZooKeeper node, a table record, a flag such as auto_failover or the meta level. */
export interface Change {
  /** Stable, human-readable, sortable: `zk:/pegasus/c1/apps/2/0`, `meta-level`, `table:temp`. */
  address: string
  action: ChangeAction
  /** The value now; null for create. JSON documents are kept as parsed JSON so renderers can diff them. */
  before: unknown
  /** The value after apply; null for delete. */
  after: unknown
  /** Display only: why this change exists. Must not drive any decision during apply. */
  reason?: string
}

/** One replica or node that could serve a partition, with the facts a choice rests on. */
export interface Candidate {
  node: string
  alive?: boolean
  collected?: boolean
  ballot?: number
  lastCommittedDecree?: number
  lastPreparedDecree?: number
  offset?: number
  term?: number
  /** Free-form marks such as `the latest`, `the secondary latest`. */
  marks?: string[]
}

/** A primary or leader that the plan assigns. */
export interface PrimaryChange {
  /** `app_id.pidx` for Pegasus, `table/pid` for OpenMLDB, `region/<id>` for TiKV. */
  partition: string
  table?: string
  before: string | null
  after: string | null
  /** Replicas in the order the store considers them; the chosen one has `after` as node. */
  candidates: Candidate[]
  /** Others left as a fallback, e.g. Pegasus `last_drops`. */
  lastDrops?: string[]
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

/** Which cluster a plan is for; a plan is refused against any other. */
export interface ClusterIdentity {
  name: string
  zookeeper?: {hosts: string; root: string}
  endpoints?: string[]
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
}

/** What an engine's planner returns; the core wraps it into a Plan. */
export interface PlanBody {
  observed: Observed
  changes: Change[]
  primaries: PrimaryChange[]
  steps: Step[]
  findings: Finding[]
}

export interface Plan extends PlanBody {
  formatVersion: typeof PLAN_FORMAT_VERSION
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
