/**
 * The OpenMLDBRecovery spec: defaults and the checks a schema cannot express. Pure.
 */
import {LifeboatError} from '../../errors.js'
import type {OpenMLDBRecoverySettings, OpenMLDBRecoverySpec} from './types.js'

/** The nameserver's `name_server_task_max_concurrency`: a larger request concurrency is refused (code 307). */
export const MAX_CONCURRENCY = 8
export const DEFAULT_WAIT_SECONDS = 600
/** Deadline of one request, in seconds. */
export const DEFAULT_RPC_TIMEOUT_SECONDS = 5

/** `db.table/pid`. */
export const LEADER_KEY = /^([^./]+)\.([^/]+)\/(\d+)$/
/** `db.table`. */
export const TABLE_NAME = /^([^./]+)\.(.+)$/

/** The recovery section with every default filled in. */
export function normalizeRecovery(raw: Partial<OpenMLDBRecoverySettings> | undefined): OpenMLDBRecoverySettings {
  const r = raw ?? {}
  return {
    auto_failover: r.auto_failover ?? true,
    tables: r.tables ?? 'all',
    offline_endpoints: [...(r.offline_endpoints ?? [])],
    recover_endpoints: [...(r.recover_endpoints ?? [])],
    leaders: {...(r.leaders ?? {})},
    skip_bad_nodes: r.skip_bad_nodes ?? false,
    skip_lost_partitions: r.skip_lost_partitions ?? false,
    concurrency: r.concurrency ?? MAX_CONCURRENCY,
    wait_seconds: r.wait_seconds ?? DEFAULT_WAIT_SECONDS,
    rpc_timeout_seconds: r.rpc_timeout_seconds ?? DEFAULT_RPC_TIMEOUT_SECONDS,
  }
}

/** The spec as the engine uses it: defaults filled in, whatever the loader did. */
export function normalizeSpec(spec: OpenMLDBRecoverySpec): OpenMLDBRecoverySpec {
  return {...spec, recovery: normalizeRecovery(spec.recovery)}
}

/** One problem the schema cannot see, with the JSON path of the value. */
export interface SpecProblem {
  path: string
  message: string
  hint: string
}

/** Checks across fields: the same endpoint offlined and recovered, malformed keys, a concurrency above the nameserver's cap. */
export function checkRecovery(r: OpenMLDBRecoverySettings): SpecProblem[] {
  const problems: SpecProblem[] = []
  for (const ep of r.offline_endpoints) {
    if (r.recover_endpoints.includes(ep)) {
      problems.push({
        path: `/recovery/recover_endpoints/${r.recover_endpoints.indexOf(ep)}`,
        message: `${ep} is both in offline_endpoints and in recover_endpoints`,
        hint: 'A tablet is either taken out (offline_endpoints) or brought back (recover_endpoints) in one run; run the other in a second spec.',
      })
    }
  }
  for (const key of Object.keys(r.leaders).sort()) {
    if (!LEADER_KEY.test(key)) {
      problems.push({
        path: `/recovery/leaders/${key}`,
        message: `leader key "${key}" is not db.table/pid`,
        hint: 'Write it as db.table/pid, e.g. demo_db.t1/0: endpoint (or auto).',
      })
    }
  }
  if (Array.isArray(r.tables)) {
    r.tables.forEach((t, i) => {
      if (!TABLE_NAME.test(t))
        problems.push({
          path: `/recovery/tables/${i}`,
          message: `table "${t}" is not db.table`,
          hint: 'Name each table with its database: demo_db.t1.',
        })
    })
  }
  if (!Number.isInteger(r.concurrency) || r.concurrency < 1 || r.concurrency > MAX_CONCURRENCY) {
    problems.push({
      path: '/recovery/concurrency',
      message: `concurrency ${r.concurrency} is outside 1..${MAX_CONCURRENCY}`,
      hint: `The nameserver refuses more than name_server_task_max_concurrency (${MAX_CONCURRENCY}) with code 307 "invalid parameter".`,
    })
  }
  return problems
}

/** Throws the first problem as a LifeboatError (for specs that reach the engine without the loader's checks). */
export function assertRecovery(r: OpenMLDBRecoverySettings): void {
  const problems = checkRecovery(r)
  if (problems.length === 0) return
  const p = problems[0]
  throw new LifeboatError(
    'OPENMLDB_SPEC_INVALID',
    `recovery${p.path.slice('/recovery'.length).replace(/\//g, '.')}: ${p.message}`,
    {
      detail: problems.length > 1 ? problems.map((x) => `${x.path}: ${x.message}`).join('\n') : undefined,
      hints: [p.hint],
    },
  )
}
