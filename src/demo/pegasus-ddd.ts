/**
 * The Pegasus "Replica Data Recovery" journey (reference pegasus.md sections 3 and 7), made
 * reviewable: partitions of a healthy lab lose every replica in each of the partition guardian's
 * DDD cases; lifeboat diagnoses them (ddd_diagnose -d), assigns the primary Pegasus's own rule
 * recommends where it recommends one, leaves the others untouched, and then, as a second decision
 * the operator takes knowingly, recovers the last one by the guide's max_last_prepared advice,
 * which the gate refuses until data loss is allowed.
 *
 * The rows the demo expects are computed here from the decrees it sets up: a replica taking the
 * primary role commits what it had prepared, so a recovered partition serves
 * min(1000, that replica's last prepared decree) rows; an untouched DDD partition serves none.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {parse, stringify} from 'yaml'

import {DemoFailed, labUp, verifyRowsUntil, type DemoContext, type Journey, type RowCount} from './journey.js'

const SPEC = 'pegasus-ddd-recovery'
const PLAN = 'plan.json'
const LOSSY_SPEC = 'ddd-max-last-prepared.yaml'
const LOSSY_PLAN = 'plan-max-last-prepared.json'
const ROWS_PER_PARTITION = 1000
const PARTITIONS = 8

/** One partition driven into DDD, and what must become of it. */
interface Case {
  gpid: string
  /** What the guardian sees, for the narration. */
  what: string
  /** `lab fault ddd` arguments after the gpid. */
  args: string[]
  /** The node serving it after the first (safe) apply, or null when it must stay untouched. */
  safe: string | null
  /** The node serving it after the second (lossy) apply. */
  lossy: string
  /** Last prepared decree per node set by --decrees (others hold all rows). */
  lpd: Record<string, number>
}

const CASES: Case[] = [
  {
    gpid: '1.0',
    what: 'both last drops alive and consistent: the guardian assigns the larger ballot itself (never DDD)',
    args: [],
    safe: 'replica1',
    lossy: 'replica1',
    lpd: {},
  },
  {
    gpid: '1.1',
    what: 'the latest drop has the larger ballot but the smaller committed decree: Pegasus recommends the secondary latest',
    args: [
      '--drops',
      'replica2,replica3,replica4',
      '--decrees',
      'replica2=4:700:700',
      '--decrees',
      'replica3=5:900:920',
      '--decrees',
      'replica4=6:800:950',
    ],
    safe: 'replica3',
    lossy: 'replica3',
    lpd: {replica2: 700, replica3: 920, replica4: 950},
  },
  {
    gpid: '1.3',
    what: 'the last two drops hold no replica any more: Pegasus recommends none',
    args: [
      '--drops',
      'replica4,replica5,replica6',
      '--decrees',
      'replica4=4:640:660',
      '--missing',
      'replica5',
      '--missing',
      'replica6',
    ],
    safe: null,
    lossy: 'replica4',
    lpd: {replica4: 660},
  },
  {
    gpid: '1.5',
    what: 'the latest drop is dead: Pegasus recommends the secondary latest',
    args: [
      '--drops',
      'replica6,replica7,replica8',
      '--decrees',
      'replica6=4:600:600',
      '--decrees',
      'replica7=5:850:870',
      '--dead',
      'replica8',
    ],
    safe: 'replica7',
    lossy: 'replica7',
    lpd: {replica6: 600, replica7: 870},
  },
]

/** Rows `lab verify` must find when the DDD partitions are served as `servedBy` says. */
function expectedRows(servedBy: (c: Case) => string | null): number {
  let total = 0
  for (let p = 0; p < PARTITIONS; p++) {
    const c = CASES.find((x) => x.gpid === `1.${p}`)
    const node = c === undefined ? undefined : servedBy(c)
    if (c === undefined) total += ROWS_PER_PARTITION
    else if (node !== null && node !== undefined)
      total += Math.min(ROWS_PER_PARTITION, c.lpd[node] ?? ROWS_PER_PARTITION)
  }
  return total
}

/** What `lab verify` must find: exactly `expected` rows. */
function rows(expected: number): {describe: string; met: (c: RowCount) => boolean} {
  return {describe: `${expected} rows readable`, met: (c) => c.found === expected}
}

/** `lab status` until the meta lists `n` partitions in DDD (it refreshes its list at each partition check). */
async function waitForDdd(ctx: DemoContext, dir: string[], n: number, attempts = 20): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (i > 0) await ctx.pause(500)
    const r = await ctx.lifeboat(['lab', 'status', ...dir])
    const m = /(\d+) in DDD/.exec(r.stdout)
    if (m && Number(m[1]) === n) return
    if (i === 0)
      ctx.say(
        'The meta server refreshes its DDD list at each partition check, and notices a dead node after its beacon grace: waiting.',
      )
  }
  throw new DemoFailed(`the meta does not list ${n} partitions in DDD`, {
    hints: ['Look at `lifeboat lab status` and lab.log in the state directory.'],
  })
}

export const pegasusDdd: Journey = {
  name: 'pegasus-ddd',
  summary:
    'Pegasus partitions lose every replica (DDD); assign the primary Pegasus recommends (ddd_diagnose -d -a), reviewed, gated and audited',
  scenario: 'pegasus-ddd-demo',
  async run(ctx) {
    const dir = ['--state-dir', ctx.stateDirArg]
    const spec = join(ctx.stateDirArg, 'specs', `${SPEC}.yaml`)
    const ddd = CASES.filter((c) => c.args.length > 0)
    const undecided = ddd.filter((c) => c.safe === null)

    ctx.section('1. A healthy Pegasus cluster')
    ctx.say(
      'Start a simulated Pegasus cluster on loopback: a real ZooKeeper, one meta server and eight replica',
      'servers speaking Pegasus\'s wire protocol, a table "temp" of 8 partitions x 3 replicas holding 8,000 rows.',
    )
    await labUp(ctx, this.scenario, dir)
    await verifyRowsUntil(ctx, dir, rows(PARTITIONS * ROWS_PER_PARTITION))

    ctx.section('2. The incident: partitions lose every replica')
    ctx.say(
      'Replica servers restart one after the other while writes go on; some partitions end with no primary',
      'and no secondary (DDD, "dead, dead, dead"). Each fault below leaves one partition in one of the partition',
      "guardian's cases (--decrees sets what a replica holds: NODE=BALLOT:LAST_COMMITTED:LAST_PREPARED).",
    )
    for (const c of CASES) {
      ctx.say(`${c.gpid}: ${c.what}.`)
      await ctx.lifeboat(['lab', 'fault', 'ddd', c.gpid, ...c.args, ...dir])
    }
    await waitForDdd(ctx, dir, ddd.length)
    ctx.say('Clients can read only the partitions that have a primary (1.0 again, once the guardian assigned it):')
    await verifyRowsUntil(ctx, dir, rows(expectedRows((c) => (c.args.length === 0 ? c.safe : null))))

    ctx.section('3. Plan: ddd_diagnose -d, reviewable')
    ctx.say('Check the spec offline, as CI would on the pull request that carries it.')
    await ctx.lifeboat(['validate', spec])
    ctx.say(
      "Read the meta's DDD list and what each replica server holds (read-only), and decide each partition by",
      "Pegasus's own diagnose_recommend rule. undecided: skip leaves the partitions it cannot decide untouched.",
    )
    await ctx.lifeboat(['plan', spec, '--out', PLAN])
    ctx.say('The same plan as markdown, for the pull request or the incident ticket:')
    await ctx.lifeboat(['show', PLAN, '--format', 'markdown'])

    ctx.section('4. Apply the safe part')
    ctx.say(
      'Approval is given on the command line (--auto-approve): after a review of the plan above, in a real incident.',
      'apply re-checks the cluster, takes the lock, proposes each primary (ASSIGN_PRIMARY, not forced), waits',
      'until each partition is served again, verifies, and records every step in the audit log.',
    )
    await ctx.lifeboat(['apply', PLAN, '--auto-approve'])
    const safeRows = expectedRows((c) => c.safe)
    ctx.say(
      `Expected now: every partition but ${undecided.map((c) => c.gpid).join(', ')} (untouched), computed from the decrees above: ${safeRows} rows.`,
    )
    await verifyRowsUntil(ctx, dir, rows(safeRows))

    ctx.section("5. A decision beyond Pegasus's rule: max_last_prepared")
    ctx.say(
      `For ${undecided.map((c) => c.gpid).join(', ')}, Pegasus recommends nothing. The guide's advice is the alive node with the`,
      'largest last_prepared decree; nothing proves it holds every acknowledged write, so the plan marks it lossy.',
    )
    writeFileSync(
      join(ctx.workDir, LOSSY_SPEC),
      stringify({
        apiVersion: 'lifeboat/v1',
        kind: 'PegasusDddRecovery',
        metadata: {name: 'ddd-demo-max-last-prepared', ticket: 'LAB'},
        cluster: (parse(readFileSync(resolve(ctx.workDir, spec), 'utf8')) as {cluster: unknown}).cluster,
        recovery: {
          gpids: undecided.map((c) => c.gpid),
          auto_diagnose: true,
          undecided: 'max_last_prepared',
          wait_seconds: 100,
        },
      }),
    )
    await ctx.lifeboat(['plan', LOSSY_SPEC, '--out', LOSSY_PLAN])
    ctx.say('Without --allow-data-loss the gate refuses (exit 4) and nothing is proposed:')
    await ctx.lifeboat(['apply', LOSSY_PLAN, '--auto-approve'], {expect: [4]})
    ctx.say('With it, knowingly:')
    await ctx.lifeboat(['apply', LOSSY_PLAN, '--auto-approve', '--allow-data-loss'])

    ctx.section('6. Verify')
    const lossyRows = expectedRows((c) => c.lossy)
    ctx.say(
      `Expected, from the decrees: ${lossyRows} rows (each recovered partition serves what its new primary had prepared).`,
    )
    const line = (await verifyRowsUntil(ctx, dir, rows(lossyRows))).line
    ctx.say("The audit log's hash chain is intact, and tells the whole story:")
    await ctx.lifeboat(['audit', 'verify'])
    await ctx.lifeboat(['audit', 'show'])
    return [
      '',
      `${ddd.length} DDD partitions recovered: ${ddd.length - undecided.length} by Pegasus's rule, ${undecided.length} by max_last_prepared with --allow-data-loss; the audit log is in ${join(ctx.workDir, '.lifeboat', 'audit.jsonl')}.`,
      `${line} (expected ${lossyRows} from the decrees set up)`,
    ]
  },
}

export default pegasusDdd
