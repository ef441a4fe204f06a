/**
 * The Pegasus "Metadata Recovery" journey (reference pegasus.md sections 1 and 2), made
 * reviewable: a lab with 10,000 rows loses its ZooKeeper metadata; lifeboat plans the rebuild
 * from the replica servers, applies it with approval given on the command line, the operator
 * restarts the meta with recovery off at the manual step, and every row is readable again.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {DemoFailed, EVERY_ROW, expectRowsLoaded, labUp, verifyRowsUntil, type Journey} from './journey.js'

const SPEC = 'pegasus-meta-recovery'
const PLAN = 'plan.json'

/** The manual steps of the saved plan, by id. */
function manualSteps(workDir: string): string[] {
  const plan = JSON.parse(readFileSync(join(workDir, PLAN), 'utf8')) as {steps?: {id: string; manual?: unknown}[]}
  return (plan.steps ?? []).filter((s) => s.manual).map((s) => s.id)
}

export const pegasusMetaRecovery: Journey = {
  name: 'pegasus-meta-recovery',
  summary:
    'Pegasus loses its ZooKeeper metadata; rebuild it from the replica servers (recover -f nodes), reviewed and audited',
  scenario: 'pegasus-meta-recovery',
  async run(ctx) {
    const dir = ['--state-dir', ctx.stateDirArg]
    const spec = join(ctx.stateDirArg, 'specs', `${SPEC}.yaml`)

    ctx.section('1. A healthy Pegasus cluster')
    ctx.say(
      'Start a simulated Pegasus cluster on loopback: a real ZooKeeper, one meta server and three replica',
      'servers speaking Pegasus\'s wire protocol, a table "temp" of 8 partitions holding 10,000 rows, and a',
      'soft-deleted table that was also called "temp".',
    )
    await labUp(ctx, this.scenario, dir)
    ctx.say('Every row is readable through the primaries the meta server assigns.')
    await expectRowsLoaded(ctx, dir)

    ctx.section('2. The incident: the metadata is lost')
    ctx.say(
      'The ZooKeeper tree of the cluster is lost. As in the Pegasus guide, the meta server is restarted with',
      '[meta_server] recover_from_replica_server = true on a fresh cluster_root, and waits for a recovery.',
      'The lab rewrites the recovery spec for the new root.',
    )
    await ctx.lifeboat(['lab', 'fault', 'zk-loss', ...dir])
    ctx.say('Clients can no longer find any table:')
    await ctx.lifeboat(['lab', 'verify', ...dir], {expect: [1]})

    ctx.section('3. Plan the recovery')
    ctx.say('Check the spec offline, as CI would on the pull request that carries it.')
    await ctx.lifeboat(['validate', spec])
    ctx.say(
      'Ask every replica server what it holds (read-only) and predict exactly what start_recovery will',
      "write: every table and partition node, each partition's primary, and Pegasus's own warnings.",
    )
    await ctx.lifeboat(['plan', spec, '--out', PLAN])

    ctx.section('4. Apply it')
    ctx.say(
      'Approval is given on the command line (--auto-approve): after a review of the plan above, in a real incident.',
      'apply re-checks the cluster, takes the lock, runs the steps and records each one in the audit log.',
      "It stops at the manual step: restarting the meta servers is the operator's job.",
    )
    const applied = await ctx.lifeboat(['apply', PLAN, '--auto-approve'], {expect: [0, 3]})
    if (applied.code === 3) {
      const manual = manualSteps(ctx.workDir)
      if (manual.length === 0) throw new DemoFailed('apply stopped (exit 3) but the plan has no manual step')
      ctx.section("5. The operator's part")
      ctx.say(
        'On every meta server: set recover_from_replica_server = false in config.ini and restart it.',
        'In the lab, that is:',
      )
      await ctx.lifeboat(['lab', 'fault', 'restart-meta', '--no-recover', ...dir])
      ctx.say('Confirm the manual step; apply checks the restarted meta server and verifies the whole recovery.')
      await ctx.lifeboat(['apply', PLAN, '--resume', '--auto-approve', ...manual.flatMap((id) => ['--confirm', id])])
    }

    ctx.section('6. Verify')
    ctx.say('Every row is readable again:')
    const after = await verifyRowsUntil(ctx, dir, EVERY_ROW)
    ctx.say("The audit log's hash chain is intact:")
    await ctx.lifeboat(['audit', 'verify'])
    return [
      '',
      `The metadata was rebuilt from the replica servers and verified; the audit log is in ${join(ctx.workDir, '.lifeboat', 'audit.jsonl')}.`,
      after.line,
    ]
  },
}

export default pegasusMetaRecovery
