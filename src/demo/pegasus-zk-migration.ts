/**
 * The Pegasus "Zookeeper Migration" journey (reference pegasus.md section 6), made reviewable:
 * a cluster's metadata moves from one real ZooKeeper to another, both ways the guide knows, each
 * on a fresh lab: the copy method (meta level blind, tree copy, repoint the metas: zkcopy's path)
 * and the recovery method (a meta restarted in recovery mode on the target rebuilds the metadata
 * from the replica servers: pegasus_migrate_zookeeper.sh's path). The demo plays the operator at
 * the manual steps with `lab fault restart-meta`, confirms them on the command line, and ends each
 * method with `lab verify` finding every row.
 */
import {copyFileSync, readFileSync} from 'node:fs'
import {join, resolve} from 'node:path'

import {parse} from 'yaml'

import {
  DemoFailed,
  EVERY_ROW,
  expectRowsLoaded,
  labUp,
  verifyRowsUntil,
  type CommandResult,
  type DemoContext,
  type Journey,
} from './journey.js'

const COPY_SPEC = 'pegasus-zk-migration-copy'
const RECOVERY_SPEC = 'pegasus-zk-migration-recovery'

/** Where the spec moves the metadata (its `migration.target`). */
function targetOf(ctx: DemoContext, spec: string): {hosts: string; root: string} {
  const doc = parse(readFileSync(resolve(ctx.workDir, spec), 'utf8')) as {
    migration?: {target?: {hosts?: unknown; root?: unknown}}
  }
  const t = doc.migration?.target
  if (typeof t?.hosts !== 'string' || typeof t.root !== 'string')
    throw new DemoFailed(`${spec} names no migration target`, {hints: ['The lab writes it at `lab up`; see lab.log.']})
  return {hosts: t.hosts, root: t.root}
}

/** The run stopped (exit 3) at `step`, as apply says; anything else fails the journey. */
function expectWaiting(r: CommandResult, step: string): void {
  const waiting = /Waiting for manual step (\S+?):/.exec(r.stdout)?.[1]
  if (r.code !== 3 || waiting !== step) {
    throw new DemoFailed(
      `apply was expected to stop at manual step ${step}, but ${r.code === 3 ? `it waits at ${waiting ?? 'an unnamed step'}` : `it exited ${r.code}`}`,
      {
        hints: ['The output above shows where the run is.'],
      },
    )
  }
}

export const pegasusZkMigration: Journey = {
  name: 'pegasus-zk-migration',
  summary:
    'Move Pegasus metadata to another ZooKeeper, both ways: tree copy (zkcopy) and metadata recovery (pegasus_migrate_zookeeper.sh), reviewed and audited',
  scenario: 'pegasus-zk-migration',
  async run(ctx) {
    const dir = ['--state-dir', ctx.stateDirArg]
    // The specs are kept beside the plans, as in a repository: apply re-reads the spec a plan names
    // (its sha256 must match), and the lab rewrites its own copies when the metas move.
    const keep = (name: string): string => {
      copyFileSync(resolve(ctx.workDir, ctx.stateDirArg, 'specs', `${name}.yaml`), resolve(ctx.workDir, `${name}.yaml`))
      return `${name}.yaml`
    }

    // ---- The copy method.
    ctx.section('1. A Pegasus cluster on one ZooKeeper, and an empty one to move to')
    ctx.say(
      'Start a simulated Pegasus cluster on loopback: one meta server and three replica servers speaking',
      'Pegasus\'s wire protocol, a table "temp" of 8 partitions holding 10,000 rows, its metadata in a real',
      'ZooKeeper; and a second, empty ZooKeeper: the target. The lab writes a PegasusZkMigration spec per method.',
    )
    await labUp(ctx, this.scenario, dir)
    const copySpec = keep(COPY_SPEC)
    await expectRowsLoaded(ctx, dir)
    await ctx.lifeboat(['lab', 'status', ...dir])

    ctx.section('2. The copy method: plan')
    ctx.say('Check the spec offline, as CI would on the change request that carries it.')
    await ctx.lifeboat(['validate', copySpec])
    ctx.say(
      'Read both trees and the meta (read-only): the plan shows the tree that will exist on the target, every',
      'gate and manual step in order, and the window in which the meta neither cures nor balances partitions.',
    )
    await ctx.lifeboat(['plan', copySpec, '--out', 'plan-copy.json'])

    ctx.section('3. The copy method: apply')
    ctx.say(
      'Step 01 asks that only the meta leader runs. This cluster has one meta server: there is no follower to',
      'stop, so the operator confirms it on the command line (--confirm); apply checks the leader lock nodes.',
      'Approval is given with --auto-approve, after a review of the plan above in a real change.',
      'apply sets the meta level to blind, copies the tree, compares it node for node, and stops at step 05.',
    )
    const copyTarget = targetOf(ctx, copySpec)
    const copied = await ctx.lifeboat(
      ['apply', 'plan-copy.json', '--auto-approve', '--confirm', '01-stop-follower-metas'],
      {expect: [3]},
    )
    expectWaiting(copied, '05-switch-metas-to-target')
    ctx.say(
      `The operator's part: set [zookeeper] hosts_list = ${copyTarget.hosts} in the meta's config and restart it.`,
      'In the lab, that is:',
    )
    await ctx.lifeboat([
      'lab',
      'fault',
      'restart-meta',
      '--zk',
      copyTarget.hosts,
      '--root',
      copyTarget.root,
      '--no-recover',
      ...dir,
    ])
    ctx.say(
      'Confirm step 05: apply reads /meta/cluster to check the meta runs on the target, restores the meta level,',
      'checks the tables and verifies the whole migration.',
    )
    await ctx.lifeboat([
      'apply',
      'plan-copy.json',
      '--resume',
      '--auto-approve',
      '--confirm',
      '05-switch-metas-to-target',
    ])
    ctx.say('The meta now serves from the second ZooKeeper, and every row is readable:')
    await ctx.lifeboat(['lab', 'status', ...dir])
    const copyLine = (await verifyRowsUntil(ctx, dir, EVERY_ROW)).line

    // ---- The recovery method, on a fresh lab.
    ctx.section('4. The recovery method, on a fresh lab')
    ctx.say('Start again from a cluster on the first ZooKeeper and an empty second one.')
    await ctx.lifeboat(['lab', 'down', ...dir])
    await labUp(ctx, this.scenario, dir)
    const recoverySpec = keep(RECOVERY_SPEC)
    await expectRowsLoaded(ctx, dir)
    await ctx.lifeboat(['validate', recoverySpec])
    ctx.say(
      'The plan records the tables (ls -o) and the alive nodes (nodes -d) and predicts what start_recovery',
      'rebuilds on the target. Every table is unavailable from step 02 until the node list matches again (step 04).',
    )
    await ctx.lifeboat(['plan', recoverySpec, '--out', 'plan-recovery.json'])
    const recTarget = targetOf(ctx, recoverySpec)
    const recorded = await ctx.lifeboat(['apply', 'plan-recovery.json', '--auto-approve'], {expect: [3]})
    expectWaiting(recorded, '02-restart-meta-in-recovery-mode')

    ctx.section("5. The recovery method: the operator's part, twice")
    ctx.say(`Stop the meta; start it with recover_from_replica_server = true and hosts_list = ${recTarget.hosts}:`)
    await ctx.lifeboat([
      'lab',
      'fault',
      'restart-meta',
      '--zk',
      recTarget.hosts,
      '--root',
      recTarget.root,
      '--recover',
      ...dir,
    ])
    ctx.say(
      'Confirm step 02: apply checks the meta answers ERR_UNDER_RECOVERY on the target, sends start_recovery',
      'with the recorded nodes, waits for the node list, and stops at step 05.',
    )
    const recovered = await ctx.lifeboat(
      ['apply', 'plan-recovery.json', '--resume', '--auto-approve', '--confirm', '02-restart-meta-in-recovery-mode'],
      {expect: [3]},
    )
    expectWaiting(recovered, '05-restart-metas-normal-mode')
    ctx.say('Turn recovery mode off and restart the meta:')
    await ctx.lifeboat([
      'lab',
      'fault',
      'restart-meta',
      '--zk',
      recTarget.hosts,
      '--root',
      recTarget.root,
      '--no-recover',
      ...dir,
    ])
    await ctx.lifeboat([
      'apply',
      'plan-recovery.json',
      '--resume',
      '--auto-approve',
      '--confirm',
      '05-restart-metas-normal-mode',
    ])

    ctx.section('6. Verify')
    ctx.say('Every row is readable through the metadata rebuilt on the second ZooKeeper:')
    const recoveryLine = (await verifyRowsUntil(ctx, dir, EVERY_ROW)).line
    ctx.say("The audit log's hash chain is intact; it holds both migrations:")
    await ctx.lifeboat(['audit', 'verify'])
    return [
      '',
      `The metadata moved to the second ZooKeeper twice, by copy and by recovery, each on a fresh lab; the audit log is in ${join(ctx.workDir, '.lifeboat', 'audit.jsonl')}.`,
      `copy method: ${copyLine}`,
      `recovery method: ${recoveryLine}`,
    ]
  },
}

export default pegasusZkMigration
