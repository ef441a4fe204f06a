/**
 * The OpenMLDB "failover and recovery" journey, one-click data recovery made reviewable: a healthy
 * OpenMLDB lab has every tablet restarted, so the nameserver keeps its metadata but no tablet has a
 * table loaded and nothing is readable. lifeboat plans what `openmldb_ops.py --cmd=recoverdata` does
 * (turn auto_failover off, load each partition's leader, recover the other replicas, turn
 * auto_failover back on), with the leader of each partition by largest offset, applies it through
 * the nameserver's own operations, and every row is readable again.
 */
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {stringify} from 'yaml'

import {ExitCode} from '../errors.js'

import {
  EVERY_ROW,
  DemoFailed,
  expectRowsLoaded,
  labUp,
  verifyRowsUntil,
  type DemoContext,
  type Journey,
} from './journey.js'

const SCENARIO_FILE = 'openmldb-recoverdata-demo.yaml'
const SPEC = 'openmldb-recoverdata-demo-recover'
const PLAN = 'plan.json'
const TABLETS = ['tablet1', 'tablet2', 'tablet3']

/** A healthy cluster: the incident is staged by the journey itself, step by step. */
const SCENARIO = {
  engine: 'openmldb',
  name: 'openmldb-recoverdata-demo',
  description:
    'three tablets, two nameservers, two tables of three replicas; healthy until the demo restarts every tablet',
  nameservers: 2,
  tablets: TABLETS.length,
  auto_failover: true,
  tables: [
    {name: 'orders', db: 'shop', partitions: 8, replicas: 3, rows: 2000},
    {name: 'users', db: 'shop', partitions: 4, replicas: 3, rows: 600},
  ],
}

/** What `lifeboat status --json` says of an OpenMLDB cluster (the parts the journey waits on). */
interface StatusFacts {
  tablets: {endpoint: string; state: string; reachable: boolean}[]
  running_ops: unknown[]
  last_op_id: string
}

/** A poll's exit code says nothing yet: a cluster in the middle of it may not answer every read. */
const ANY_EXIT: number[] = Object.values(ExitCode)

/** How long the nameserver may take to see what the journey did before the demo gives up. */
const STATUS_DEADLINE_MS = 120_000

/**
 * Polls `lifeboat status SPEC --json` (quietly) until `met` holds on its facts (`prev`: the facts of
 * the poll before), then shows `lifeboat status SPEC` once. A wait on the cluster's own word, not a pause.
 */
async function untilStatus(
  ctx: DemoContext,
  spec: string,
  what: string,
  met: (facts: StatusFacts, prev: StatusFacts | undefined) => boolean,
): Promise<void> {
  const end = Date.now() + STATUS_DEADLINE_MS
  let prev: StatusFacts | undefined
  let last = 'no answer'
  for (;;) {
    const r = await ctx.lifeboat(['status', spec, '--json'], {quiet: true, expect: ANY_EXIT})
    let facts: StatusFacts | undefined
    try {
      facts = (JSON.parse(r.stdout) as {facts?: StatusFacts}).facts
    } catch {
      facts = undefined
    }
    if (facts && Array.isArray(facts.tablets) && facts.tablets.length === TABLETS.length) {
      if (met(facts, prev)) break
      last =
        facts.tablets.map((t) => `${t.endpoint} ${t.state}`).join(', ') + `; ${facts.running_ops.length} op(s) running`
      prev = facts
    } else {
      last = (r.stderr.trim() || r.stdout.trim()).split('\n')[0] || `exit ${r.code}`
      prev = undefined
    }
    if (Date.now() > end)
      throw new DemoFailed(`the nameserver did not reach "${what}" in ${STATUS_DEADLINE_MS / 1000} s; last: ${last}`, {
        hints: ['Look at `lifeboat lab status` and the lab log (lab.log in the state directory).'],
      })
    // Each poll is a CLI start (most of a second of CPU): once a second is enough.
    await ctx.pause(1000)
  }
  await ctx.lifeboat(['status', spec], {expect: [0, 2]})
}

export const openmldbRecoverdata: Journey = {
  name: 'openmldb-recoverdata',
  summary:
    'every OpenMLDB tablet restarts; one-click data recovery (openmldb_ops.py --cmd=recoverdata) with the largest-offset leaders, reviewed, gated and audited',
  scenario: SCENARIO.name,
  async run(ctx) {
    const dir = ['--state-dir', ctx.stateDirArg]
    const scenarioPath = join(ctx.workDir, SCENARIO_FILE)
    writeFileSync(scenarioPath, stringify(SCENARIO))
    const spec = join(ctx.stateDirArg, 'specs', `${SPEC}.yaml`)

    ctx.section('1. A healthy OpenMLDB cluster')
    ctx.say(
      'Start a simulated OpenMLDB cluster on loopback: a real ZooKeeper, two nameservers (the leader elected in',
      "ZooKeeper) and three tablets speaking brpc's HTTP+JSON, tables shop.orders (8 partitions) and shop.users",
      '(4 partitions), 3 replicas each, 2,600 rows written through the tablets.',
    )
    await labUp(ctx, SCENARIO_FILE, dir)
    await expectRowsLoaded(ctx, dir)

    ctx.section('2. The incident: every tablet restarts')
    ctx.say(
      "A rack loses power. Every tablet process restarts: the nameserver keeps the tables' metadata in ZooKeeper,",
      'but a restarted tablet holds no table until one is loaded, so nothing is readable.',
    )
    for (const t of TABLETS) await ctx.lifeboat(['lab', 'fault', 'kill-tablet', t, ...dir])
    ctx.say("Wait until the nameserver has seen every tablet go (its ZooKeeper node ends with the tablet's session).")
    await untilStatus(ctx, spec, 'every tablet kOffline in ShowTablet', (f) =>
      f.tablets.every((t) => t.state === 'kOffline'),
    )
    for (const t of TABLETS) await ctx.lifeboat(['lab', 'fault', 'start-tablet', t, ...dir])
    ctx.say(
      'Wait until the nameserver has every tablet back and is quiet: auto_failover is still on, and it reacts to',
      'each restarted tablet with ops of its own (they fail: no partition has a loaded leader).',
    )
    await untilStatus(
      ctx,
      spec,
      'every tablet kHealthy and answering, no op running, no new op since the last look',
      (f, prev) =>
        f.tablets.every((t) => t.state === 'kHealthy' && t.reachable) &&
        f.running_ops.length === 0 &&
        prev !== undefined &&
        prev.last_op_id === f.last_op_id,
    )
    const down = await ctx.lifeboat(['lab', 'verify', ...dir], {expect: [0, 1]})
    if (!/^0 of \d+ found$/m.test(down.stdout))
      throw new DemoFailed('rows are still readable after every tablet restarted', {
        hints: ['Look at `lifeboat lab status`.'],
      })

    ctx.section('3. Plan: recoverdata, reviewable')
    ctx.say('Check the spec offline, as CI would on the pull request that carries it.')
    await ctx.lifeboat(['validate', spec])
    ctx.say(
      "Read the nameserver's tables, tablets, auto_failover and running ops, and every tablet's table status",
      '(read-only). Each partition gets the replica with the largest offset as leader; the plan says where',
      'openmldb_ops.py (which takes the last replica flagged is_leader) would have chosen another.',
    )
    await ctx.lifeboat(['plan', spec, '--out', PLAN])
    ctx.say('The same plan as markdown, for the pull request or the incident ticket:')
    await ctx.lifeboat(['show', PLAN, '--format', 'markdown'])

    ctx.section('4. Apply')
    ctx.say(
      'Approval is given on the command line (--auto-approve): after a review of the plan above, in a real incident.',
      'apply re-checks the cluster, takes the lock, turns auto_failover off, loads every leader and waits for',
      'kTableNormal, recovers the followers through RecoverTable ops (up to 8 at a time, each waited on through',
      'ShowOPStatus), turns auto_failover back on (a step that runs even after a failure or Ctrl-C), and verifies.',
    )
    await ctx.lifeboat(['apply', PLAN, '--auto-approve'])

    ctx.section('5. Verify')
    const line = (await verifyRowsUntil(ctx, dir, EVERY_ROW)).line
    ctx.say("The audit log's hash chain is intact, and tells the whole story:")
    await ctx.lifeboat(['audit', 'verify'])
    await ctx.lifeboat(['audit', 'show'])
    return [
      '',
      `Every partition recovered through the nameserver's own operations; the audit log is in ${join(ctx.workDir, '.lifeboat', 'audit.jsonl')}.`,
      line,
    ]
  },
}

export default openmldbRecoverdata
