/**
 * "Verified means serving" (issue 19 item 9): after the metas move to another ZooKeeper tree (a
 * migration) or rebuild it (a meta recovery), one good answer is not enough. A meta given a tree it
 * cannot live with answers at first and CHECK-fails a moment later, when a replica server's config
 * sync reports a partition the tree does not have (server_state.cpp `on_config_sync`). Replica
 * servers sync right after their beacon reaches a new meta (replica_stub's
 * `on_meta_server_connected`), so a grace period of a few beacon intervals (3 s by default in
 * Pegasus) covers it.
 *
 * During the grace period the meta must answer every poll and list every expected table as
 * available; at its end every expected replica server must be alive and (where the count before
 * the change is known) as many partitions must have a primary as before. The Pegasus engine has no data-path client, so rows are not read back
 * here: a partition with a primary is the closest it can see (`lab verify` reads the rows in tests).
 */
import {describeError} from '../../../errors.js'
import type {Finding} from '../../../plan/types.js'
import type {MetaClient} from '../client/meta-client.js'
import {listNodeRows, listTables} from './gather.js'

/** How long the cluster must keep serving before it is called verified, unless the spec says (`cluster.timeouts.serving_seconds`). */
export const SERVING_GRACE_MS = 10_000

/** The grace period a spec's cluster section asks for. */
export function servingGraceMs(cluster: {timeouts?: {serving_seconds?: number}}): number {
  const s = cluster.timeouts?.serving_seconds
  return s === undefined ? SERVING_GRACE_MS : s * 1000
}
const POLL_MS = 500

/** The finding code of a cluster that did not serve steadily. */
export const NOT_SERVING_STEADILY = 'PEGASUS_NOT_SERVING_STEADILY'

/** What must hold for the whole grace period, and at its end. */
export interface ServingExpectation {
  /** Tables that must stay listed as available (by id and name). */
  tables: ReadonlyArray<{app_id: number; app_name: string}>
  /** Replica servers (host:port) that must be alive at the end; empty: none checked. */
  nodes: readonly string[]
  /** Meta servers, for the finding's subject. */
  meta_servers: readonly string[]
  /** Partitions of those tables that must have a primary at the end (as many as before the change); undefined: not checked. */
  minPrimaries?: number
}

export interface ServingWatch {
  meta: MetaClient
  /** Waits between polls (the context's sleep: tests inject one that returns at once). */
  sleep(ms: number): Promise<void>
  graceMs?: number
}

/** One look: why the cluster does not serve now, or undefined. */
async function tablesProblem(meta: MetaClient, expect: ServingExpectation): Promise<string | undefined> {
  let listed
  try {
    listed = await listTables(meta)
  } catch (err) {
    return `the meta server stopped answering (${describeError(err)})`
  }
  const available = new Set(listed.filter((t) => t.status === 'AVAILABLE').map((t) => `${t.app_id}:${t.app_name}`))
  const gone = expect.tables.filter((t) => !available.has(`${t.app_id}:${t.app_name}`))
  if (gone.length > 0)
    return `table(s) ${gone.map((t) => `${t.app_name} (id ${t.app_id})`).join(', ')} no longer listed as available`
  return undefined
}

/** At the end: expected nodes alive, and as many partitions with a primary as before. */
async function endProblem(meta: MetaClient, expect: ServingExpectation): Promise<string | undefined> {
  try {
    const nodes = await listNodeRows(meta)
    const alive = new Set(nodes.filter((n) => n.status === 'ALIVE').map((n) => n.address))
    const dead = expect.nodes.filter((n) => !alive.has(n)).sort()
    if (dead.length > 0) return `replica server(s) ${dead.join(', ')} not alive`
    if (expect.minPrimaries === undefined) return undefined
    const headless: string[] = []
    let primaries = 0
    for (const t of expect.tables) {
      const cfg = await meta.queryPartitionConfigByIndex(t.app_name)
      if (cfg.err !== 'ERR_OK') return `query_config of ${t.app_name} answered ${cfg.err}`
      for (const pc of cfg.partitions) {
        if (pc.hp_primary || pc.primary) primaries++
        else headless.push(pc.pid)
      }
    }
    if (primaries < expect.minPrimaries)
      return `${primaries} partition(s) have a primary, ${expect.minPrimaries} did before; without one: ${headless.slice(0, 5).join(', ')}${headless.length > 5 ? ', ...' : ''}`
  } catch (err) {
    return `the meta server stopped answering (${describeError(err)})`
  }
  return undefined
}

/**
 * Watches the cluster for the grace period. Returns no finding when it served throughout, else one
 * error finding saying what broke and when. Stops at the first failure of the meta or a table.
 */
export async function watchServing(watch: ServingWatch, expect: ServingExpectation): Promise<Finding[]> {
  const grace = watch.graceMs ?? SERVING_GRACE_MS
  // Time is counted in polls, POLL_MS apart: the same number of looks whatever the sleep does.
  const polls = Math.max(1, Math.ceil(grace / POLL_MS))
  const fail = (problem: string, poll: number): Finding[] => [
    {
      code: NOT_SERVING_STEADILY,
      severity: 'error',
      subject: expect.meta_servers.join(','),
      message: `the cluster did not keep serving for ${grace / 1000} s after the change: ${problem}, ${((poll * POLL_MS) / 1000).toFixed(1)} s into it`,
    },
  ]
  for (let poll = 0; poll < polls; poll++) {
    if (poll > 0) await watch.sleep(POLL_MS)
    const problem = await tablesProblem(watch.meta, expect)
    if (problem) return fail(problem, poll)
  }
  const problem = await endProblem(watch.meta, expect)
  return problem ? fail(problem, polls) : []
}

/**
 * Steps whose watch passed in this process. Apply's final verify opens a context of its own but
 * is given the same plan object, so keying on the step (not the context) is what lets the final
 * verify, right after the step's own verify passed, skip a second grace period. A resume reads
 * the plan again, so its steps are new objects and are watched again.
 */
const watched = new WeakSet<object>()

/** watchServing, once per step object: the last step's verify and the engine's final verify share it. */
export async function watchServingOnce(
  step: object,
  watch: ServingWatch,
  expect: ServingExpectation,
): Promise<Finding[]> {
  if (watched.has(step)) return []
  const findings = await watchServing(watch, expect)
  if (findings.length === 0) watched.add(step)
  return findings
}
