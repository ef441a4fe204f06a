/**
 * What a store's lab provides, so that `lab up/status/verify/fault/down` and the daemon dispatch on
 * the scenario's `engine:` and know nothing of any one store.
 *
 * Two halves:
 * - the daemon half (`up` → RunningLab) runs in the lab process and hosts the simulated servers;
 * - the client half (`parseFault`, `verify`, `formatStatus`) runs in the CLI process. `verify` reads
 *   rows back through the store's own read path over the wire, as a client would, so its count is
 *   a client's answer and not the lab's bookkeeping.
 *
 * A lab never imports an engine's planners or gatherers (DESIGN.md section 3); it may share wire codecs.
 */

/** One fault as `lab fault --help` lists it. */
export interface LabFaultHelp {
  /** The fault's name on the command line, e.g. `kill-tablet`. */
  name: string
  /** Usage after `lifeboat `, e.g. `lab fault kill-tablet ENDPOINT`. */
  usage: string
  /** One line: what it does. */
  summary: string
}

/** Rows read back by `lab verify`. */
export interface LabVerifyResult {
  found: number
  total: number
  /** Per table (or table id), those with missing rows first is not required: the command sorts. */
  tables: {name: string; found: number; total: number; note?: string}[]
  /** A line for the operator, e.g. why some tables are not counted. */
  note?: string
}

/** What the daemon gives a lab when bringing it up. */
export interface LabUpContext<S> {
  scenario: S
  /** The lab's state directory (absolute); the lab may keep files under it. */
  stateDir: string
  /** `host:port` of the ZooKeeper the lab uses, when the engine needs one (`needsZooKeeper`). */
  zkHosts?: string
  /** The process id of that ZooKeeper when the daemon started it (absent when given with `--zk`). */
  zkPid?: number
  /** Appends a line to the lab's log. */
  log(line: string): void
}

/** A lab running in the daemon process. */
export interface RunningLab {
  /** The endpoints a client needs (stored as `cluster` in lab.json; `verify` and `formatStatus` read it). */
  layout(): Record<string, unknown>
  /** Live state for `lab status` (JSON; `formatStatus` turns it into lines). */
  status(): Promise<Record<string, unknown>> | Record<string, unknown>
  /** Applies a fault built by the engine's `parseFault`; returns the message printed to the operator. */
  fault(payload: unknown): Promise<string>
  /** Writes ready specs for this lab under `<stateDir>/specs/`; returns name → path. */
  writeSpecs(): Record<string, string>
  /** Stops every simulated server (not the ZooKeeper the daemon started). */
  down(): Promise<void>
  /**
   * Other processes the lab started (e.g. a second ZooKeeper), stored in lab.json so that
   * `lab down` can stop them by pid when the daemon itself is gone.
   */
  processes?(): {pid: number; what: string}[]
}

/** What `lab up` shows of a lab: its JSON (`--json`) and lines for the operator. */
export interface LabDescription {
  json: Record<string, unknown>
  lines: string[]
}

/** A store's lab. */
export interface LabEngine<S extends {engine: string; name: string} = {engine: string; name: string}> {
  /** The `engine:` of its scenarios: `pegasus`, `openmldb`, `tikv`. */
  engine: string
  /** Whether the daemon must start (or be given) a ZooKeeper for it. */
  needsZooKeeper: boolean
  /**
   * Validates a scenario document whose `engine:` is this engine. Throws a LifeboatError
   * `LAB_SCENARIO_INVALID` naming the file and the problem.
   */
  parseScenario(doc: unknown, path: string): S
  /** Daemon side: brings the scenario up (servers, rows, the scenario's faults). */
  up(ctx: LabUpContext<S>): Promise<RunningLab>
  /** The faults this lab knows, for `lab fault --help`. */
  faults: readonly LabFaultHelp[]
  /** CLI side: the arguments after the fault name → the payload `RunningLab.fault` takes. Throws `USAGE` errors. */
  parseFault(name: string, argv: string[]): unknown
  /**
   * CLI side: reads every row back through the store's own read path; `layout` is what
   * `RunningLab.layout()` gave, `status` what `RunningLab.status()` answers now.
   */
  verify(layout: Record<string, unknown>, status: Record<string, unknown>): Promise<LabVerifyResult>
  /** CLI side: lines for `lab status` from `RunningLab.status()`. */
  formatStatus(status: Record<string, unknown>): string[]
  /**
   * CLI side: what `lab up` prints about the layout (endpoints, tables) before the specs. Without
   * it, `--json` gives the layout as `cluster` and the text only the specs.
   */
  describe?(layout: Record<string, unknown>): LabDescription
}
