/**
 * The load step: LoadTable of each planned replica on its tablet, then a wait for kTableNormal.
 *
 * Loads are grouped by tablet. Every tablet is worked on at once; on each one up to `concurrency`
 * loads are outstanding, and one GetTableStatus per tablet and poll answers for all of them (a
 * poll per partition would cost the tablet a full status listing for each). kTableLoading and
 * kTableUndefined mean keep waiting, any other state fails the step, as in openmldb_ops.py.
 */
import {setMaxListeners} from 'node:events'

import {LifeboatError} from '../../errors.js'
import type {Finding, Step} from '../../plan/types.js'
import type {StepExecutor, StepResult} from '../types.js'
import {CODE_TABLE_EXISTS, OpenMLDBCallError} from './client.js'
import {tableStatusOf} from './gather.js'
import {partitionKey} from './planner.js'
import type {OpenMLDBContext} from './steps.js'
import {mapLimit} from '../../util/map-limit.js'
import type {LoadLeadersParams, LoadOp, TabletTableStatus} from './types.js'

const NORMAL = 'kTableNormal'
const WAITING = new Set(['kTableLoading', 'kTableUndefined'])

function interrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new LifeboatError('OPENMLDB_INTERRUPTED', 'stopped while loading tables', {
      hints: ['`lifeboat apply --resume` checks what is done and goes on.'],
    })
  }
}

/** The loads of a step by tablet, tablets in endpoint order. */
function byTablet(loads: readonly LoadOp[]): [string, LoadOp[]][] {
  const out = new Map<string, LoadOp[]>()
  for (const l of loads) out.set(l.endpoint, [...(out.get(l.endpoint) ?? []), l])
  return [...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

/** One tablet's whole GetTableStatus, by `tid_pid`. */
async function statusMap(
  ctx: OpenMLDBContext,
  endpoint: string,
  signal?: AbortSignal,
): Promise<Map<string, TabletTableStatus>> {
  const all = tableStatusOf(await ctx.client.tablet(endpoint, 'GetTableStatus', {}, signal))
  return new Map(all.map((s) => [`${s.tid}_${s.pid}`, s]))
}

const slot = (l: LoadOp): string => `${l.tid}_${l.pid}`

/** Each load's state now (undefined: the tablet does not list it, or did not answer). */
async function states(ctx: OpenMLDBContext, p: LoadLeadersParams): Promise<(TabletTableStatus | undefined)[]> {
  const maps = new Map<string, Map<string, TabletTableStatus>>()
  await mapLimit(byTablet(p.loads), 16, async ([ep]) => {
    maps.set(ep, await statusMap(ctx, ep))
  })
  return p.loads.map((l) => maps.get(l.endpoint)?.get(slot(l)))
}

function loadFailed(l: LoadOp, state: string): LifeboatError {
  return new LifeboatError(
    'OPENMLDB_LOAD_FAILED',
    `${l.endpoint} reports ${slot(l)} (${partitionKey(l.db, l.name, l.pid)}) in state ${state} while loading`,
    {
      hints: [
        `Look at the log of tablet ${l.endpoint}; when the partition is kTableNormal, \`lifeboat apply --resume\` goes on.`,
      ],
    },
  )
}

function loadTimeout(l: LoadOp, s: TabletTableStatus | undefined): LifeboatError {
  return new LifeboatError(
    'OPENMLDB_LOAD_TIMEOUT',
    `${l.endpoint} has not loaded ${slot(l)} (${partitionKey(l.db, l.name, l.pid)}) by the deadline: ${s === undefined ? 'the tablet does not list it (a failed load drops it again)' : s.state}`,
    {
      hints: [
        `Look at the log of tablet ${l.endpoint} (LoadTableInternal); \`lifeboat apply --resume\` loads it again (raise recovery.wait_seconds if it is merely slow).`,
      ],
    },
  )
}

async function submitLoad(ctx: OpenMLDBContext, l: LoadOp, signal?: AbortSignal): Promise<void> {
  const tableMeta = {
    name: l.name,
    db: l.db,
    tid: l.tid,
    pid: l.pid,
    ttl: 0,
    seg_cnt: 8,
    storage_mode: l.storage_mode,
    mode: l.mode,
  }
  try {
    await ctx.client.tablet(l.endpoint, 'LoadTable', {table_meta: tableMeta}, signal)
  } catch (err) {
    // Loaded or loading already (an earlier, interrupted run): the wait below sees which.
    if (!(err instanceof OpenMLDBCallError && err.rpcCode === CODE_TABLE_EXISTS)) throw err
  }
}

/**
 * Loads one tablet's replicas, at most `window` outstanding, and waits for each to be kTableNormal.
 * Calls `done(loaded)` for each one as it becomes kTableNormal.
 */
async function loadOnTablet(
  ctx: OpenMLDBContext,
  endpoint: string,
  loads: LoadOp[],
  window: number,
  deadline: number,
  done: (loaded: boolean) => void,
  signal?: AbortSignal,
): Promise<void> {
  let now = await statusMap(ctx, endpoint, signal)
  const queue: LoadOp[] = []
  for (const l of loads) {
    if (now.get(slot(l))?.state === NORMAL) done(false)
    else queue.push(l)
  }
  const waiting = new Set<LoadOp>()
  for (;;) {
    while (waiting.size < window && queue.length > 0) {
      const l = queue.shift() as LoadOp
      interrupted(signal)
      if (now.get(slot(l)) === undefined) await submitLoad(ctx, l, signal)
      waiting.add(l)
    }
    if (waiting.size === 0) return
    interrupted(signal)
    await ctx.sleep(Math.min(ctx.pollMs, Math.max(0, deadline - ctx.now())))
    now = await statusMap(ctx, endpoint, signal)
    for (const l of [...waiting]) {
      const s = now.get(slot(l))
      if (s?.state === NORMAL) {
        waiting.delete(l)
        done(true)
      } else if (s !== undefined && !WAITING.has(s.state)) throw loadFailed(l, s.state)
      else if (ctx.now() >= deadline) throw loadTimeout(l, s)
    }
  }
}

/** What to do when a loaded replica's offset breaks the plan (the finding's hint and the load step's error). */
const OFFSET_HINT =
  'Nothing was re-added: every loaded replica keeps its rows. Run `lifeboat plan` again: the loaded replicas report their real offsets now, and the plan picks the largest.'

/**
 * Where a loaded replica's offset breaks the plan: a leader holding less than the plan counted on
 * (its disk lost what the nameserver still showed, e.g. a binlog deleted by an op), or a follower
 * holding more than the leader loaded beside it (or, when the leader was loaded before, more than
 * the plan saw on it) and more than the plan saw on the follower itself: the leader is not the
 * largest offset after all. Either way the plan's loss prediction is wrong, and re-adding the
 * followers (RecoverTable drops and re-sends a replica that does not match its leader) would
 * destroy rows the plan meant to keep.
 */
export function offsetProblems(loads: readonly LoadOp[], now: readonly (TabletTableStatus | undefined)[]): Finding[] {
  const out: Finding[] = []
  const leaderNow = new Map<string, bigint>()
  loads.forEach((l, i) => {
    const s = now[i]
    if (l.role === 'leader' && s?.state === NORMAL) leaderNow.set(partitionKey(l.db, l.name, l.pid), BigInt(s.offset))
  })
  loads.forEach((l, i) => {
    const s = now[i]
    if (s?.state !== NORMAL || l.role === undefined || l.offset === undefined) return
    const got = BigInt(s.offset)
    const key = partitionKey(l.db, l.name, l.pid)
    const planned = BigInt(l.offset)
    if (l.role === 'leader') {
      if (got < planned)
        out.push({
          code: 'OPENMLDB_LEADER_BELOW_PLAN',
          severity: 'error',
          subject: key,
          message: `${l.endpoint} loaded ${key} as its leader at offset ${got}, not the ${planned} the plan counted on: ${planned - got} offset(s) are not on its disk`,
          hint: OFFSET_HINT,
        })
      return
    }
    const leader = leaderNow.get(key) ?? (l.leader_offset === undefined ? undefined : BigInt(l.leader_offset))
    if (leader === undefined) return
    const bound = leader > planned ? leader : planned
    if (got > bound)
      out.push({
        code: 'OPENMLDB_FOLLOWER_ABOVE_PLAN',
        severity: 'error',
        subject: key,
        message: `${l.endpoint} loaded ${key} at offset ${got}, more than its leader's ${leader}${planned < got && planned !== leader ? ` and the ${planned} the plan saw on it` : ''}: re-adding it to that leader would drop ${got - bound} offset(s) the plan did not count as lost`,
        hint: OFFSET_HINT,
      })
  })
  return out
}

/** The load step's executor. */
export const loadTablesExecutor: StepExecutor<OpenMLDBContext> = {
  async isDone(ctx, step) {
    const p = step.params as unknown as LoadLeadersParams
    const now = await states(ctx, p)
    return now.every((s) => s?.state === NORMAL) && offsetProblems(p.loads, now).length === 0
  },
  async run(ctx, step: Step, progress, signal): Promise<StepResult> {
    const p = step.params as unknown as LoadLeadersParams
    const deadline = ctx.now() + p.wait_seconds * 1000
    let loaded = 0
    let already = 0
    const groups = byTablet(p.loads)
    // The first tablet that fails stops the others: the step ends with its error, nothing left running.
    const stop = new AbortController()
    // One listener per request in flight, one request at a time per tablet.
    setMaxListeners(groups.length + 10, stop.signal)
    const onAbort = (): void => stop.abort()
    signal?.addEventListener('abort', onAbort)
    let first: unknown
    try {
      await Promise.all(
        groups.map(([ep, loads]) =>
          loadOnTablet(
            ctx,
            ep,
            loads,
            p.concurrency,
            deadline,
            (fresh) => {
              if (fresh) loaded++
              else already++
              progress(`load table ${loaded + already}/${p.loads.length} kTableNormal`, {
                done: loaded + already,
                total: p.loads.length,
                unit: 'partitions',
              })
            },
            stop.signal,
          ).catch((err: unknown) => {
            first ??= err
            stop.abort()
          }),
        ),
      )
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
    if (first !== undefined) throw first
    // Before anything is re-added: every replica is loaded from its own disk, so its offset is real now.
    const problems = offsetProblems(p.loads, await states(ctx, p))
    if (problems.length > 0) {
      throw new LifeboatError(
        'OPENMLDB_OFFSET_NOT_AS_PLANNED',
        `${problems.length} loaded replica(s) do not hold the offsets the plan counted on; its loss prediction no longer holds`,
        {
          detail: problems.map((f) => `${f.subject}: ${f.message}`).join('\n'),
          hints: [OFFSET_HINT],
        },
      )
    }
    return {
      summary: `${loaded} partition(s) loaded on ${groups.length} tablet(s), ${already} already kTableNormal`,
      data: {loaded, already, tablets: groups.length},
    }
  },
  async verify(ctx, step): Promise<Finding[]> {
    const p = step.params as unknown as LoadLeadersParams
    const now = await states(ctx, p)
    const notLoaded = p.loads.flatMap((l, i) =>
      now[i]?.state === NORMAL
        ? []
        : [
            {
              code: 'OPENMLDB_NOT_LOADED',
              severity: 'error' as const,
              subject: partitionKey(l.db, l.name, l.pid),
              message: `${l.endpoint}: ${slot(l)} is ${now[i]?.state ?? 'not loaded'}`,
            },
          ],
    )
    return [...notLoaded, ...offsetProblems(p.loads, now)]
  },
}
