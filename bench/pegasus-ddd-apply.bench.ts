/**
 * PegasusDddRecovery on the lab at scale (issue 6): the built-in `pegasus-ddd-scale` scenario (100
 * replica servers, 10 tables x 100 partitions, every partition in DDD, one node dead) is brought up,
 * then the operator's journey runs through the real binary: `plan` (undecided: max_last_prepared, so
 * every partition gets a primary) and `apply --auto-approve --allow-data-loss`, then `lab verify`.
 * Prints the wall time of plan and apply, the peak RSS of each process (GNU time, when installed)
 * and of the lab, and the rows found against the rows expected from the scenario's decrees.
 */
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {parse, stringify} from 'yaml'

import {lifeboat, lifeboatOk, mb, secs} from './lifeboat-cli.js'

/**
 * The rows `lab verify` must find, from the scenario's decrees (see its header): per partition p of
 * each table, on nodes a=p, b=p+1, c=p+2 (0-based, mod 100), node 49 (replica50) dead. A replica
 * taking the primary role commits what it had prepared, so the partition serves min(1000, its lpd).
 */
function expectedRows(): number {
  const dead = 49
  let perTable = 0
  for (let p = 0; p < 100; p++) {
    const [a, b, c] = [p % 100, (p + 1) % 100, (p + 2) % 100]
    switch (p % 4) {
      case 0: // secondary latest b (lpd 920); if b is dead, the latest c (lpd 950)
        perTable += b === dead ? 950 : 920
        break
      case 1: // max_last_prepared among alive drops: all hold 1000
        perTable += [a, b, c].some((n) => n !== dead) ? 1000 : 0
        break
      case 2: // the last two hold no replica: max_last_prepared takes a (lpd 620) when alive
        perTable += a === dead ? 0 : 620
        break
      case 3: // the latest c (lpd 910); if c is dead, the secondary latest b (lpd 800)
        perTable += c === dead ? 800 : 910
        break
    }
  }
  return perTable * 10
}

/** Runs the benchmark and prints its figures. */
export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-ddd-'))
  const stateDir = join(dir, 'lab')
  let up = false
  try {
    const t0 = performance.now()
    const started = await lifeboatOk(
      ['lab', 'up', 'pegasus-ddd-scale', '--detach', '--state-dir', stateDir, '--json'],
      dir,
    )
    up = true
    const info = JSON.parse(started.stdout) as {replica_servers: string[]; specs: Record<string, string>}
    // The guardian's checks: every partition listed as DDD, and the dead node noticed.
    let status: {partitions: {ddd: number}; replica_servers: {name: string; alive_in_meta: boolean}[]}
    for (;;) {
      status = JSON.parse(
        (await lifeboatOk(['lab', 'status', '--state-dir', stateDir, '--json'], dir)).stdout,
      ) as typeof status
      if (
        status.partitions.ddd === 1000 &&
        status.replica_servers.find((r) => r.name === 'replica50')?.alive_in_meta === false
      )
        break
      await new Promise((r) => setTimeout(r, 500))
    }
    const upMs = performance.now() - t0

    const spec = parse(readFileSync(info.specs['pegasus-ddd-recovery'], 'utf8')) as {recovery: Record<string, unknown>}
    spec.recovery.undecided = 'max_last_prepared'
    spec.recovery.wait_seconds = 300
    const specPath = join(dir, 'ddd.yaml')
    writeFileSync(specPath, stringify(spec))

    const plan = await lifeboatOk(['plan', specPath, '--out', join(dir, 'plan.json')], dir)
    const body = JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as {
      primaries: {risk: string}[]
      steps: unknown[]
    }
    const lossy = body.primaries.filter((p) => p.risk === 'lossy').length
    const apply = await lifeboatOk(['apply', join(dir, 'plan.json'), '--auto-approve', '--allow-data-loss'], dir)
    const verify = JSON.parse((await lifeboat(['lab', 'verify', '--state-dir', stateDir, '--json'], dir)).stdout) as {
      found: number
      total: number
    }

    const lab = JSON.parse(readFileSync(join(stateDir, 'lab.json'), 'utf8')) as {daemon?: {pid?: number}}
    const pid = lab.daemon?.pid
    const hwm =
      pid !== undefined && existsSync(`/proc/${pid}/status`)
        ? /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
        : undefined

    console.log(
      `pegasus ddd apply: ${info.replica_servers.length} replica servers, ${status.partitions.ddd} DDD partitions (10 tables x 100), replica50 dead`,
    )
    console.log(`  lab up + DDD faults + guardian checks: ${secs(upMs)}`)
    console.log(
      `  plan:  ${secs(plan.wallMs)} wall (process start included), peak RSS ${mb(plan.rssKb)}; ${body.primaries.length} primaries (${lossy} lossy), ${body.steps.length} steps`,
    )
    console.log(
      `  apply: ${secs(apply.wallMs)} wall (re-plan, ${body.primaries.length} proposals, wait, verify), peak RSS ${mb(apply.rssKb)}`,
    )
    console.log(
      `  lab verify: ${verify.found} of ${verify.total} found; expected from the scenario's decrees: ${expectedRows()}${verify.found === expectedRows() ? '' : '  MISMATCH'}`,
    )
    console.log(
      `  peak RSS of the lab process (meta + 100 replica servers): ${mb(hwm === undefined ? undefined : Number(hwm))}`,
    )
  } finally {
    if (up) await lifeboat(['lab', 'down', '--state-dir', stateDir], dir)
    rmSync(dir, {recursive: true, force: true})
  }
}
