/**
 * The TiKV "Online Unsafe Recovery" journey (reference tikv.md sections 6-8), made reviewable: two
 * stores of a healthy lab die for good; with pd-ctl, `unsafe remove-failed-stores 4,5` would bury
 * them at once and the operator would learn what happened only from `show`. lifeboat first shows
 * which regions lose their quorum, which peer PD will force to lead, and which key ranges PD will
 * recreate empty (with the tables and keys they held); the lossy plan is refused until data loss is
 * allowed; then it runs, prints each stage as PD enters it, and checks PD's own account.
 *
 * The rows the demo expects afterwards are read from the plan itself: every row but the keys of the
 * regions it says lose every replica.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {parse, stringify} from 'yaml'

import {DemoFailed, EVERY_ROW, labUp, verifyRowsUntil, type Journey} from './journey.js'

const SCENARIO = 'tikv-demo.yaml'
const SPEC = 'tikv-unsafe-recovery.yaml'
const PLAN = 'plan.json'

/**
 * The cluster: five TiKV stores and a TiFlash store, three replicas, four tables. Stores 4 and 5
 * will fail. Regions (ids from 1001): 1001 ["", m) on 1,2,3; 1002 [m, t64) on 1,4,5 (TiDB's meta
 * keys); 1003 [t64, t64_r501) on 1,2,4; 1004 [t64_r501, t65) on 2,4,5; 1005 [t65, t66) on 3,4,5 with
 * a TiFlash learner; 1006 [t66, t67) on 4,5 with a TiFlash learner; 1007 [t67, t67_r251) on 4,5;
 * 1008 [t67_r251, "") on 1,2,3.
 */
const CLUSTER = {
  engine: 'tikv',
  name: 'tikv-demo',
  description: 'lifeboat demo tikv-unsafe-recovery: 5 TiKV stores + 1 TiFlash, 3 replicas',
  stores: 5,
  tiflash_stores: 1,
  replicas: 3,
  tables: [
    {id: 64, name: 'users', rows: 1000},
    {id: 65, name: 'orders', rows: 1000},
    {id: 66, name: 'items', rows: 500},
    {id: 67, name: 'events', rows: 500},
  ],
  regions: [
    {start: '', voters: [1, 2, 3]},
    {start: 'meta', voters: [1, 4, 5]},
    {start: {table: 64}, voters: [1, 2, 4]},
    {start: {table: 64, handle: 501}, voters: [2, 4, 5]},
    {start: {table: 65}, voters: [3, 4, 5], learners: [6]},
    {start: {table: 66}, voters: [4, 5], learners: [6]},
    {start: {table: 67}, voters: [4, 5]},
    {start: {table: 67, handle: 251}, voters: [1, 2, 3]},
  ],
  faults: [],
  failed_stores: [4, 5],
  timing: {heartbeat_ms: 1000, store_disconnect_seconds: 20, max_store_down_time: '30m0s', peer_down_seconds: 600},
}

interface PlanDoc {
  changes: Array<{address: string; action: string; before: {approximate_keys?: number; range?: string} | null}>
  primaries: Array<{partition: string; after: string | null}>
}

export const tikvUnsafeRecovery: Journey = {
  name: 'tikv-unsafe-recovery',
  summary:
    'TiKV loses two stores for good; see which regions lose quorum and what data is lost before PD acts (pd-ctl unsafe remove-failed-stores), then apply, gated and audited',
  scenario: 'tikv-unsafe-recovery',
  async run(ctx) {
    const dir = ['--state-dir', ctx.stateDirArg]
    const scenario = join(ctx.workDir, SCENARIO)
    writeFileSync(scenario, stringify(CLUSTER))

    ctx.section('1. A healthy TiKV cluster')
    ctx.say(
      "Start a simulated TiKV cluster on loopback: a PD speaking PD's HTTP API (with the etcd v3 gateway that",
      "holds lifeboat's lock), five TiKV stores and a TiFlash store sending heartbeats, 8 regions x 3 replicas holding",
      "four tables and TiDB's meta keys. Clients read every row through the region leaders.",
    )
    await labUp(ctx, scenario, dir)
    const {total} = await verifyRowsUntil(ctx, dir, EVERY_ROW)

    ctx.section('2. The incident: stores 4 and 5 are gone for good')
    ctx.say(
      'Two machines die with their disks (their last heartbeat an hour ago). Regions with two of their three',
      'replicas on them cannot elect a leader; regions with every replica on them are gone.',
    )
    await ctx.lifeboat(['lab', 'fault', 'kill-store', '4', '--down-for', '3600', ...dir])
    await ctx.lifeboat(['lab', 'fault', 'kill-store', '5', '--down-for', '3600', ...dir])
    await ctx.lifeboat(['lab', 'verify', ...dir], {expect: [1]})

    ctx.section('3. Plan: what remove-failed-stores would do, before it does it')
    const written = join(ctx.stateDirArg, 'specs', SPEC)
    ctx.say(
      'The lab wrote a ready spec naming the failed stores. Check it offline, as CI would on its pull request,',
      "then plan: lifeboat reads PD only (members, every store, every region, show) and applies PD's own unsafe",
      'recovery rules to what it sees.',
    )
    await ctx.lifeboat(['validate', written])
    await ctx.lifeboat(['plan', written], {expect: [1]})
    ctx.say(
      'Refused: two regions lose every replica, and this spec does not accept that (skip_lost_partitions: false).',
      'The operator decides, knowingly, to let PD recreate those key ranges empty:',
    )
    const doc = parse(readFileSync(resolve(ctx.workDir, written), 'utf8')) as {recovery: Record<string, unknown>}
    writeFileSync(join(ctx.workDir, SPEC), stringify({...doc, recovery: {...doc.recovery, skip_lost_partitions: true}}))
    await ctx.lifeboat(['plan', SPEC, '--out', PLAN])
    ctx.say('The same plan as markdown, for the incident ticket or the pull request:')
    await ctx.lifeboat(['show', PLAN, '--format', 'markdown'])

    const plan = JSON.parse(readFileSync(join(ctx.workDir, PLAN), 'utf8')) as PlanDoc
    const lost = plan.changes.filter((c) => /^region\/\d+$/.test(c.address) && c.action === 'delete')
    const lostKeys = lost.reduce((n, c) => n + (c.before?.approximate_keys ?? 0), 0)
    if (lost.length === 0)
      throw new DemoFailed('the plan predicts no lost region, but stores 4 and 5 held every replica of two regions')

    ctx.section('4. Apply')
    ctx.say('Without --allow-data-loss the gate refuses (exit 4) and PD is not even asked:')
    await ctx.lifeboat(['apply', PLAN, '--auto-approve'], {expect: [4]})
    ctx.say(
      "With it: apply takes the lock (a lease-bound key in PD's etcd), re-plans and refuses if anything moved,",
      "POSTs the failed stores with an explicit timeout, prints each stage as PD enters it, and compares PD's own",
      'account (force leaders, demotions, empty regions, affected table ids) with the plan.',
    )
    await ctx.lifeboat(['apply', PLAN, '--auto-approve', '--allow-data-loss'])

    ctx.section('5. Verify')
    ctx.say(
      `The plan said ${lost.length} region(s) lose every replica: ${lost.map((c) => `${c.address} ${c.before?.range ?? ''}`).join(', ')},`,
      `about ${lostKeys} keys. Every other row must be readable again.`,
    )
    const expected = total - lostKeys
    const line = (
      await verifyRowsUntil(ctx, dir, {describe: `${expected} rows readable`, met: (c) => c.found === expected})
    ).line
    ctx.say("The audit log's hash chain is intact, and tells the whole story:")
    await ctx.lifeboat(['audit', 'verify'])
    await ctx.lifeboat(['audit', 'show'])
    return [
      '',
      `Stores 4 and 5 buried; ${plan.primaries.length} regions got a force leader; ${lost.length} lost regions recreated empty, as planned. The audit log is in ${join(ctx.workDir, '.lifeboat', 'audit.jsonl')}.`,
      `${line} (the plan predicted ${lostKeys} keys lost)`,
    ]
  },
}

export default tikvUnsafeRecovery
