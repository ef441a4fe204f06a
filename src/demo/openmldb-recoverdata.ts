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

import {EVERY_ROW, DemoFailed, expectRowsLoaded, labUp, verifyRowsUntil, type Journey} from './journey.js'

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
    // The nameserver sees each tablet go (its ZooKeeper node ends with the session) before it comes back.
    await ctx.pause(1500)
    for (const t of TABLETS) await ctx.lifeboat(['lab', 'fault', 'start-tablet', t, ...dir])
    await ctx.pause(1500)
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
