// Issue 19 item 2 through the real binary: the audit log sits on a real, tiny tmpfs that fills up
// while step 01 runs. The record after it (step 01's step.finished, larger than any page left)
// cannot be written whole: apply stops there, fail closed, and step 02 never touches the cluster.
// `audit repair` cuts the partial line it left, and `apply --resume` is accepted and converges,
// without running step 01 again; the log then still matches its anchor in the cluster.
import {spawnSync} from 'node:child_process'
import {appendFileSync, mkdtempSync, rmSync, statSync, truncateSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, describe, expect, it} from 'vitest'

import {auditRecords, readEffects, readStore, runCli, startCli, testStore, waitFor, workspace} from '../cli/helpers.js'

const store = testStore()
const PAGE = 4096
const mounts: string[] = []
afterAll(() => {
  for (const m of mounts) {
    spawnSync('umount', [m])
    rmSync(m, {recursive: true, force: true})
  }
})

/** A 64 KiB tmpfs, or undefined where mounting is not allowed. */
function tinyDisk(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-full-cli-'))
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status !== 0) {
    rmSync(dir, {recursive: true, force: true})
    return undefined
  }
  mounts.push(dir)
  return dir
}

/** Appends to `file` until the file system refuses another byte. */
function fillUp(file: string): void {
  for (const size of [PAGE, 1]) {
    try {
      for (;;) appendFileSync(file, Buffer.alloc(size, 120))
    } catch {
      // full at this granularity
    }
  }
}

describe('a full disk under apply, through the CLI', () => {
  it('stops before the next cluster write; audit repair, then apply --resume converges', async (ctx) => {
    const disk = tinyDisk()
    if (disk === undefined) ctx.skip()
    const big = 'x'.repeat(2 * PAGE)
    const ws = workspace(store.zk, `set: {a: "${big}", b: "2"}`)
    const log = join(disk!, 'audit.jsonl')
    const filler = join(disk!, 'filler')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    // Most of the disk is taken before the run; the rest while step 01 pauses after its write.
    appendFileSync(filler, Buffer.alloc(8 * PAGE, 120))
    const proc = startCli(['apply', 'plan.json', '--auto-approve', '--audit-log', log], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '5000'},
    })
    await waitFor(
      "step 01's write",
      async () => ((await readEffects(store.client, ws.root))['01-set-a'] === 1 ? true : undefined),
      60_000,
    )
    fillUp(filler)
    // One page stays free for the log's lock file: the record itself then meets the full disk.
    truncateSync(filler, statSync(filler).size - PAGE)
    const sizeBefore = statSync(log).size
    const r = await proc.done
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('Could not write to the audit log')
    expect(r.stderr).toContain('fail closed')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    // Step 01 wrote once, under its whole step.started; step 02 never touched the cluster.
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1})
    const events = auditRecords(log).map((x) => `${x.event}${x.data.step ? ` ${String(x.data.step)}` : ''}`)
    expect(events).toContain('step.started 01-set-a')
    expect(events.filter((e) => e.includes('02-set-b'))).toEqual([])
    expect(events).not.toContain('step.finished 01-set-a')
    const lock = JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)
    expect(lock.locked).toBe(false)

    // Space again. A partial line (a short write) is what repair cuts; a refused write left none.
    rmSync(filler)
    const partial = statSync(log).size > sizeBefore
    const verify = await runCli(['audit', 'verify', '--audit-log', log], {cwd: ws.dir})
    expect(verify.code).toBe(partial ? 1 : 0)
    if (partial) {
      expect(verify.stderr).toContain('incomplete')
      const refused = await runCli(['apply', 'plan.json', '--resume', '--auto-approve', '--audit-log', log], {
        cwd: ws.dir,
      })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('audit repair')
      expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1})
    }
    const repaired = await runCli(['audit', 'repair', '--audit-log', log, '--json'], {cwd: ws.dir})
    expect(repaired.code).toBe(0)
    expect(JSON.parse(repaired.stdout).repaired).toBe(partial)

    const resumed = await runCli(['apply', 'plan.json', '--resume', '--auto-approve', '--audit-log', log], {
      cwd: ws.dir,
    })
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: big, b: '2'})
    // Exactly once: step 01 was found done, not run again.
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1, '02-set-b': 1})
    const checked = await runCli(['audit', 'verify', '--audit-log', log, '--spec', ws.spec], {cwd: ws.dir})
    expect(checked.code, checked.stderr).toBe(0)
    expect(checked.stdout).toContain(`matches ${ws.cluster}'s anchor`)
    rmSync(ws.dir, {recursive: true, force: true})
  })
})
