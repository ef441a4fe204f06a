/**
 * Step executors of the TiKVUnsafeRecovery engine:
 * - `tikv.remove-failed-stores`: POST the failed stores (or auto-detect) with an explicit timeout;
 * - `tikv.follow-recovery`: follow `show`, printing each stage as PD enters it (stage, actions,
 *   elapsed); Failed is reported with PD's error and details; Ctrl-C asks PD to abort where it can;
 * - `tikv.verify`: PD's own account of the round (stage actions, affected-table digest) against the
 *   plan's predictions, every region with a leader, the failed stores Tombstone.
 */
import {LifeboatError} from '../../errors.js'
import type {Finding, Step} from '../../plan/types.js'
import type {StepExecutor, StepProgress, StepResult} from '../types.js'
import {gatherRegions, gatherShow, gatherStores} from './gather.js'
import {compareId, describeKey} from './keys.js'
import {PD_API, replyMessage, type PdClient} from './pd-client.js'
import {
  currentRound,
  describeEntry,
  digestRound,
  recoveryState,
  stageName,
  type RoundDigest,
  type StageEntry,
} from './show.js'
import {
  STEP_FOLLOW,
  STEP_REMOVE,
  STEP_VERIFY,
  type FollowParams,
  type RemoveParams,
  type VerifyParams,
} from './types.js'

/** What the executors share during one apply. */
export interface TiKVContext {
  pd: PdClient
  /** Pause between two reads of `show` (default 1000 ms). */
  pollMs: number
  /** How long verify waits for every region to show a leader (default 60 s). */
  leaderWaitMs: number
  now(): number
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

const REMOVE_PATH = `${PD_API}/admin/unsafe/remove-failed-stores`

/** The POST body PD receives: ids as exact integers, the timeout always explicit. */
export function removeBody(p: RemoveParams): Record<string, unknown> {
  const body: Record<string, unknown> = p.auto_detect ? {'auto-detect': true} : {stores: p.stores.map((s) => BigInt(s))}
  body.timeout = p.timeout_seconds
  if (p.plan_execution_timeout_seconds !== undefined) body['plan-execution-timeout'] = p.plan_execution_timeout_seconds
  return body
}

/** Does this round belong to these params (same failed stores, or auto-detect)? */
function roundMatches(d: RoundDigest, p: RemoveParams): boolean {
  if (p.auto_detect) return d.autoDetect
  return (
    d.failedStores.length === p.stores.length && d.failedStores.every((s, i) => s === [...p.stores].sort(compareId)[i])
  )
}

const removeStep: StepExecutor<TiKVContext> = {
  // Done when PD runs or finished a round for exactly these stores; a Failed round is retried by a new POST.
  async isDone(ctx, step) {
    const entries = await gatherShow(ctx.pd)
    const state = recoveryState(entries)
    if (state === 'idle' || state === 'failed') return false
    return roundMatches(digestRound(currentRound(entries)), step.params as unknown as RemoveParams)
  },

  async run(ctx, step, progress) {
    const params = step.params as unknown as RemoveParams
    const body = removeBody(params)
    const reply = await ctx.pd.request('POST', REMOVE_PATH, body)
    const message = replyMessage(reply)
    if (reply.status === 200) {
      progress(`PD: ${message}`)
      return {summary: `PD accepted the recovery: ${message}`, data: {status: reply.status, message}}
    }
    const running = /UnsafeRecoveryIsRunning|unsafe recovery is running/i.test(message)
    throw new LifeboatError(
      running ? 'TIKV_RECOVERY_RUNNING' : 'TIKV_REMOVE_REFUSED',
      `PD refused remove-failed-stores (HTTP ${reply.status}): ${message}`,
      {
        hints: running
          ? ['Another unsafe recovery runs; follow it with `pd-ctl unsafe remove-failed-stores show`, then plan again.']
          : [
              'Nothing was changed by this request. Plan again (`lifeboat plan SPEC`): the cluster moved since the plan, or the spec names a wrong store.',
            ],
      },
    )
  },

  async verify(ctx, step) {
    const params = step.params as unknown as RemoveParams
    if (params.auto_detect) return []
    const stores = await gatherStores(ctx.pd)
    return params.stores
      .filter((id) => stores.find((s) => s.id === id)?.state_name !== 'Tombstone')
      .map((id) => ({
        code: 'TIKV_STORE_NOT_BURIED',
        severity: 'error' as const,
        subject: `store ${id}`,
        message: `store ${id} is not Tombstone after remove-failed-stores`,
      }))
  },
}

function elapsed(ms: number): string {
  const s = Math.round(ms / 1000)
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/** Asks PD to abort the running recovery; says what came of it. */
async function abortRecovery(ctx: TiKVContext): Promise<string> {
  try {
    const reply = await ctx.pd.request('POST', `${REMOVE_PATH}/abort`, undefined)
    const message = replyMessage(reply)
    if (reply.status === 200)
      return `PD accepted the abort (${message}); it exits force leader and ends the round as Failed`
    if (reply.status === 404 || reply.status === 405)
      return 'this PD has no abort (only PD master offers it); the recovery goes on in PD, follow it with `pd-ctl unsafe remove-failed-stores show`'
    return `PD refused the abort (HTTP ${reply.status}): ${message}`
  } catch (err) {
    return `the abort request failed: ${err instanceof Error ? err.message : String(err)}`
  }
}

const followStep: StepExecutor<TiKVContext> = {
  async isDone(ctx) {
    return recoveryState(await gatherShow(ctx.pd)) === 'finished'
  },

  async run(ctx, step, progress: StepProgress, signal?: AbortSignal): Promise<StepResult> {
    const {deadline_seconds: deadline} = step.params as unknown as FollowParams
    const start = ctx.now()
    let printed = 0
    let round: StageEntry[] = []
    for (;;) {
      if (signal?.aborted) {
        const outcome = await abortRecovery(ctx)
        progress(`Ctrl-C: ${outcome}`)
        throw new LifeboatError('TIKV_RECOVERY_INTERRUPTED', `stopped following the unsafe recovery: ${outcome}`, {
          hints: ['Check `pd-ctl unsafe remove-failed-stores show`; `lifeboat apply PLAN --resume` follows it again.'],
        })
      }
      const entries = await gatherShow(ctx.pd, signal).catch((err: unknown) => {
        if (signal?.aborted) return null
        throw err
      })
      if (entries === null) continue
      const state = recoveryState(entries)
      if (state === 'idle') {
        throw new LifeboatError(
          'TIKV_RECOVERY_LOST',
          'PD shows no on-going recovery: PD restarted or its leader changed, and the controller lives in memory only',
          {
            hints: [
              'The recovery must be started again: `lifeboat apply PLAN --resume` sends it again (plan anew if the cluster changed).',
            ],
          },
        )
      }
      round = currentRound(entries)
      // Print each stage entry once, as it arrives (the trailing status line is printed when it changes).
      const stages = round.filter((e) => stageName(e.info) !== undefined)
      for (const e of stages.slice(printed)) progress(`${elapsed(ctx.now() - start)} ${describeEntry(e)}`)
      printed = stages.length
      if (state === 'finished') {
        const d = digestRound(round)
        return {
          summary: `Unsafe recovery Finished in ${elapsed(ctx.now() - start)}: ${d.newEmptyRegions.length} new empty region(s), affected table ids {${d.affectedTableIds.join(', ')}}`,
          data: {
            stages: stages.map((e) => e.info),
            affected_table_ids: d.affectedTableIds,
            new_empty_regions: d.newEmptyRegions,
            affected_meta_regions: d.affectedMetaRegions,
          },
        }
      }
      if (state === 'failed') {
        const last = round[round.length - 1]
        throw new LifeboatError('TIKV_RECOVERY_FAILED', `PD: ${last.info}`, {
          detail: last.details.join('\n'),
          hints: [
            'PD exited force leader and stopped; nothing is retried. Read the details, fix the cause (a store that never reported, a timeout), then plan and apply again.',
          ],
        })
      }
      if (ctx.now() - start > deadline * 1000) {
        throw new LifeboatError(
          'TIKV_RECOVERY_TIMEOUT',
          `the unsafe recovery did not finish within ${deadline} s; PD's last entry: ${round[round.length - 1]?.info ?? ''}`,
          {
            hints: [
              'Follow it with `pd-ctl unsafe remove-failed-stores show`; `lifeboat apply PLAN --resume` follows it again.',
            ],
          },
        )
      }
      await ctx.sleep(ctx.pollMs, signal).catch(() => undefined)
    }
  },

  async verify() {
    return []
  },
}

const sameSet = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && [...a].sort(compareId).every((x, i) => x === [...b].sort(compareId)[i])
const listText = (a: readonly string[]): string => `{${[...a].sort(compareId).join(', ')}}`

/** PD's account of the finished round against the plan's predictions. */
export async function verifyRecovery(ctx: TiKVContext, p: VerifyParams): Promise<Finding[]> {
  const out: Finding[] = []
  const err = errorsInto(out)
  const entries = await gatherShow(ctx.pd)
  const state = recoveryState(entries)
  if (state !== 'finished') {
    err(
      'TIKV_VERIFY_NOT_FINISHED',
      'pd',
      `PD's recovery is ${state}, not Finished: ${entries[entries.length - 1]?.info ?? ''}`,
    )
    return out
  }
  const d = digestRound(currentRound(entries))
  if (roundDidNothing(p, d)) {
    // A resume sent remove-failed-stores again after PD lost the round that did the work (PD
    // restarted or its leader changed: the controller lives in memory only), and the new round
    // found nothing left to do. Its account cannot be compared with the plan; the cluster can.
    out.push({
      code: 'TIKV_VERIFY_ROUND_LOST',
      severity: 'warning',
      subject: 'pd',
      message:
        "PD's last round forced no leader, demoted, tombstoned and created nothing, where the plan predicted work: an earlier round did it and PD no longer has its record, so its stages are not compared with the plan; the stores and regions are checked",
    })
  } else await compareRound(ctx, p, d, out)
  await checkStoresAndRegions(ctx, p, out)
  return out
}

/** Adds error findings to `out`. */
function errorsInto(out: Finding[]): (code: string, subject: string, message: string, hint?: string) => void {
  return (code, subject, message, hint) =>
    out.push({code, severity: 'error', subject, message, ...(hint ? {hint} : {})})
}

/** The plan predicted work and PD's round shows none of it (no force leader, demotion, tombstone or new region). */
function roundDidNothing(p: VerifyParams, d: ReturnType<typeof digestRound>): boolean {
  const predicted = p.force_leaders.length + p.demotes.length + p.tiflash_tombstones.length + p.empty_regions.length
  const done = d.forceLeaders.size + d.demotes.size + d.tombstones.size + d.newEmptyRegions.length
  return predicted > 0 && done === 0
}

/** PD's account of the round (force leaders, demotions, tombstones, its digest) against the plan's predictions. */
async function compareRound(
  ctx: TiKVContext,
  p: VerifyParams,
  d: ReturnType<typeof digestRound>,
  out: Finding[],
): Promise<void> {
  const err = errorsInto(out)
  // Force leaders: same regions; the store is the predicted one or one it was tied with.
  const predicted = new Map(p.force_leaders.map((f) => [f.region, f]))
  for (const [region, store] of d.forceLeaders) {
    const f = predicted.get(region)
    if (!f)
      err(
        'TIKV_VERIFY_FORCE_LEADER',
        `region ${region}`,
        `PD forced a leader on region ${region} (store ${store}), which the plan did not predict`,
      )
    else if (f.store !== store && !f.tied_with.includes(store)) {
      err(
        'TIKV_VERIFY_FORCE_LEADER',
        `region ${region}`,
        `PD chose store ${store} as force leader of region ${region}; the plan assumed store ${f.store} from PD's view`,
        "The stores' raft reports differed from what PD's region view showed (a lagging peer PD did not list as pending).",
      )
    }
  }
  for (const f of p.force_leaders)
    if (!d.forceLeaders.has(f.region))
      err(
        'TIKV_VERIFY_FORCE_LEADER',
        `region ${f.region}`,
        `the plan predicted a force leader on region ${f.region}; PD forced none`,
      )

  // Demotions: same regions, same peers.
  for (const dm of p.demotes) {
    const got = d.demotes.get(dm.region)
    if (!got)
      err(
        'TIKV_VERIFY_DEMOTE',
        `region ${dm.region}`,
        `the plan predicted region ${dm.region} demoting stores ${listText(dm.peer_stores)}; PD sent no demotion`,
      )
    else {
      const extra = got.peerStores.filter((s) => !dm.peer_stores.includes(s))
      const missing = dm.peer_stores.filter((s) => !got.peerStores.includes(s))
      if (missing.length > 0 || !extra.every((s) => (dm.maybe_peer_stores ?? []).includes(s))) {
        err(
          'TIKV_VERIFY_DEMOTE',
          `region ${dm.region}`,
          `region ${dm.region} demoted the peers on stores ${listText(got.peerStores)}; the plan predicted ${listText(dm.peer_stores)}${dm.maybe_peer_stores?.length ? ` (or with ${listText(dm.maybe_peer_stores)})` : ''}`,
        )
      }
    }
  }
  for (const region of d.demotes.keys())
    if (!p.demotes.some((x) => x.region === region))
      err(
        'TIKV_VERIFY_DEMOTE',
        `region ${region}`,
        `PD demoted peers of region ${region}, which the plan did not predict`,
      )

  // TiFlash learners tombstoned.
  for (const t of p.tiflash_tombstones) {
    if (!d.tombstones.has(`${t.region}/${t.store}`))
      err(
        'TIKV_VERIFY_TOMBSTONE',
        `region ${t.region}`,
        `the plan predicted the TiFlash learner of region ${t.region} on store ${t.store} tombstoned; PD did not`,
      )
  }

  const expectedTombstones = new Set(
    [...p.tiflash_tombstones, ...(p.possible_tiflash_tombstones ?? [])].map((t) => `${t.region}/${t.store}`),
  )
  for (const t of d.tombstones) {
    if (!expectedTombstones.has(t)) {
      const [region, store] = t.split('/')
      out.push({
        code: 'TIKV_VERIFY_TOMBSTONE',
        severity: 'warning',
        subject: `region ${region}`,
        message: `PD tombstoned the peer of region ${region} on store ${store}, which the plan did not predict`,
      })
    }
  }

  // PD's digest: table ids, meta regions, new empty regions.
  if (!sameSet(d.affectedTableIds, p.affected_table_ids)) {
    err(
      'TIKV_VERIFY_TABLES',
      'pd',
      `PD lists affected table ids ${listText(d.affectedTableIds)}; the plan predicted ${listText(p.affected_table_ids)}`,
    )
  }
  const newMeta = d.affectedMetaRegions.filter((r) => !p.affected_meta_regions.includes(r))
  const missingMeta = p.affected_meta_regions.filter((r) => !d.affectedMetaRegions.includes(r))
  if (
    missingMeta.length > 0 ||
    newMeta.length !== p.new_meta_regions ||
    !newMeta.every((r) => d.newEmptyRegions.includes(r))
  ) {
    err(
      'TIKV_VERIFY_META',
      'pd',
      `PD lists affected meta regions ${listText(d.affectedMetaRegions)}; the plan predicted ${listText(p.affected_meta_regions)} plus ${p.new_meta_regions} new one(s)`,
    )
  }
  if (d.newEmptyRegions.length !== p.empty_regions.length) {
    err(
      'TIKV_VERIFY_EMPTY_REGIONS',
      'pd',
      `PD created ${d.newEmptyRegions.length} empty region(s) ${listText(d.newEmptyRegions)}; the plan predicted ${p.empty_regions.length}`,
    )
  } else {
    const ranges = await Promise.all(
      d.newEmptyRegions.map(async (id) => {
        const c = d.created.get(id)
        if (c?.start_key !== undefined && c.end_key !== undefined) return {id, start: c.start_key, end: c.end_key}
        const r = await ctx.pd.getJson(`${PD_API}/region/id/${id}`).catch(() => null)
        const o = (r ?? {}) as Record<string, unknown>
        return {id, start: String(o.start_key ?? '?').toUpperCase(), end: String(o.end_key ?? '?').toUpperCase()}
      }),
    )
    for (const h of p.empty_regions) {
      if (!ranges.some((r) => r.start === h.start_key && r.end === h.end_key)) {
        err(
          'TIKV_VERIFY_EMPTY_REGIONS',
          'pd',
          `no new empty region covers [${describeKey(h.start_key)}, ${describeKey(h.end_key, true)}) as the plan predicted; PD created ${ranges.map((r) => `${r.id} [${describeKey(r.start)}, ${describeKey(r.end, true)})`).join(', ')}`,
        )
      }
    }
  }
}

/** The failed stores Tombstone; every region led from a live store, and the key space covered again. */
async function checkStoresAndRegions(ctx: TiKVContext, p: VerifyParams, out: Finding[]): Promise<void> {
  const err = errorsInto(out)
  // The failed stores are Tombstone.
  const stores = await gatherStores(ctx.pd)
  for (const id of p.failed_stores) {
    const s = stores.find((x) => x.id === id)
    if (s?.state_name !== 'Tombstone')
      err('TIKV_VERIFY_STORE', `store ${id}`, `store ${id} is ${s?.state_name ?? 'gone from PD'}, not Tombstone`)
  }

  // Every region has a leader on a live store, and PD's regions cover the key space again: PD resets
  // its region cache when the recovery finishes and relearns regions from heartbeats, so wait for them.
  const dead = new Set(
    stores.filter((s) => s.state_name === 'Tombstone' || p.failed_stores.includes(s.id)).map((s) => s.id),
  )
  const until = ctx.now() + ctx.leaderWaitMs
  for (;;) {
    const regions = await gatherRegions(ctx.pd)
    const leaderless = regions.filter((r) => r.leader_store === null || dead.has(r.leader_store))
    const gaps = coverageGaps(regions)
    if (leaderless.length === 0 && gaps.length === 0) {
      keysDropped(regions, p, out)
      break
    }
    if (ctx.now() >= until) {
      if (leaderless.length > 0) {
        err(
          'TIKV_VERIFY_NO_LEADER',
          'pd',
          `${leaderless.length} region(s) have no leader on a live store in PD's view: ${leaderless
            .slice(0, 10)
            .map((r) => r.id)
            .join(', ')}${leaderless.length > 10 ? ', ...' : ''}`,
          "PD learns leaders from region heartbeats; check `pd-ctl region check miss-peer` and the stores' logs.",
        )
      }
      if (gaps.length > 0) {
        err(
          'TIKV_VERIFY_GAPS',
          'pd',
          `PD knows no region for ${gaps.length} key range(s): ${gaps.slice(0, 5).join(', ')}${gaps.length > 5 ? ', ...' : ''}`,
          'PD relearns regions from heartbeats after the recovery; a range still missing has no live replica.',
        )
      }
      break
    }
    await ctx.sleep(ctx.pollMs)
  }
}

/** Findings of the verify step's run, handed to its verify() so PD is read once. */
const lastVerify = new WeakMap<TiKVContext, Finding[]>()

/** Key ranges no region covers, from the start of the key space to its end; `[]` when covered. */
export function coverageGaps(regions: Array<{start_key: string; end_key: string}>): string[] {
  const gaps: string[] = []
  let at = ''
  let first = true
  for (const r of regions) {
    if (r.start_key > at || (first && r.start_key !== ''))
      gaps.push(`[${describeKey(at)}, ${describeKey(r.start_key, true)})`)
    first = false
    if (r.end_key === '') return gaps
    if (r.end_key > at) at = r.end_key
  }
  gaps.push(`[${describeKey(at)}, +inf)`)
  return gaps
}

/**
 * Force-led regions that hold fewer keys than when planned: the force leader's log was behind the
 * failed peers' (which PD's view could not show), and the difference is lost. PD's key counts are
 * approximate, so this is a warning with the figures.
 */
function keysDropped(regions: Array<{id: string; approximate_keys: number}>, p: VerifyParams, out: Finding[]): void {
  const byId = new Map(regions.map((r) => [r.id, r.approximate_keys]))
  for (const f of p.force_leaders) {
    const now = byId.get(f.region)
    if (now === undefined || f.keys_before === undefined || now >= f.keys_before) continue
    out.push({
      code: 'TIKV_VERIFY_KEYS_DROPPED',
      severity: 'warning',
      subject: `region ${f.region}`,
      message: `region ${f.region} holds about ${now} keys after the recovery, ${f.keys_before} when planned: its force leader on store ${f.store} lacked about ${f.keys_before - now} keys that only the failed stores had`,
    })
  }
}

const verifyStep: StepExecutor<TiKVContext> = {
  // Read-only: apply's final verify checks the same again.
  onResume: 'trust',
  async isDone() {
    return false
  },
  async run(ctx, step, progress) {
    const findings = await verifyRecovery(ctx, step.params as unknown as VerifyParams)
    lastVerify.set(ctx, findings)
    const errors = findings.filter((f) => f.severity === 'error')
    progress(errors.length === 0 ? "PD's account matches the plan" : `${errors.length} difference(s) from the plan`)
    return {
      summary:
        errors.length === 0
          ? 'force leaders, demotions, empty regions and affected tables as planned; every region has a leader'
          : `${errors.length} difference(s) from the plan`,
      data: {differences: errors.map((f) => f.message)},
    }
  },
  async verify(ctx, step: Step) {
    const cached = lastVerify.get(ctx)
    lastVerify.delete(ctx)
    return cached ?? verifyRecovery(ctx, step.params as unknown as VerifyParams)
  },
}

export const tikvSteps: Record<string, StepExecutor<TiKVContext>> = {
  [STEP_REMOVE]: removeStep,
  [STEP_FOLLOW]: followStep,
  [STEP_VERIFY]: verifyStep,
}
