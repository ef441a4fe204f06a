// Two engines that live outside lifeboat, loaded through LIFEBOAT_ENGINE_MODULES, through the real
// binary: TestKV (ZooKeeper lock, always steps, Ctrl-C) and TestLedger (its own non-ZooKeeper lock,
// its own vocabulary, uint64 facts past 2^53). Neither needed a change in src/apply, src/plan,
// src/render, src/audit or src/commands: they plan, render, apply, resume and audit as they are.
import {existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {
  REPO,
  auditRecords,
  readEffects,
  readStore,
  runCli,
  startCli,
  testStore,
  waitForAudit,
  workspace,
} from '../cli/helpers.js'

const store = testStore()
const LEDGER = join(REPO, 'test', 'engine', 'test-ledger.js')
const KV = join(REPO, 'test', 'engine', 'test-kv.js')
const BOTH = {LIFEBOAT_ENGINE_MODULES: `${KV},${LEDGER}`}

/** A ledger store with two leaderless regions whose best peers differ only past 2^53. */
function ledger(): {
  dir: string
  spec: string
  store: string
  audit: string
  region: (id: string) => {leader: string | null; peers: Record<string, {term: string; index: string}>}
} {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ledger-'))
  const storeDir = join(dir, 'store')
  mkdirSync(join(storeDir, 'regions'), {recursive: true})
  const put = (id: string, leader: string | null, peers: Record<string, [string, string]>) =>
    writeFileSync(
      join(storeDir, 'regions', `${id}.json`),
      JSON.stringify({
        leader,
        peers: Object.fromEntries(Object.entries(peers).map(([n, [term, index]]) => [n, {term, index}])),
      }),
    )
  // As doubles, 18446744073709551610 and ...615 are equal (and so are 9007199254740992 and ...993):
  // a float comparison would pick n1 by name both times.
  put('1', null, {
    n1: ['7', '18446744073709551610'],
    n2: ['7', '18446744073709551615'],
    n3: ['6', '18446744073709551615'],
  })
  put('2', null, {n1: ['3', '9007199254740992'], n2: ['3', '9007199254740993']})
  put('3', 'n1', {n1: ['2', '10'], n2: ['2', '10']})
  const spec = join(dir, 'spec.yaml')
  writeFileSync(
    spec,
    [
      'apiVersion: lifeboat/v1',
      'kind: TestLedger',
      'metadata: {name: ledger-test, ticket: INC-77}',
      'cluster:',
      '  name: ledger-1',
      `  dir: ${storeDir}`,
      '',
    ].join('\n'),
  )
  return {
    dir,
    spec,
    store: storeDir,
    audit: join(dir, '.lifeboat', 'audit.jsonl'),
    region: (id) => JSON.parse(readFileSync(join(storeDir, 'regions', `${id}.json`), 'utf8')),
  }
}

describe('TestLedger: its own lock, vocabulary and exact integers', () => {
  it('plans, renders, fails with the always step run, resumes and audits through the CLI', async () => {
    const l = ledger()
    const cli = (args: string[], env: Record<string, string> = {}) => runCli(args, {cwd: l.dir, env: {...BOTH, ...env}})

    // plan: the engine's heading and nouns, the exact integers, its lock is not host-local (no warning).
    const planned = await cli(['plan', l.spec, '--out', 'plan.json'])
    expect(planned.code, planned.stderr).toBe(0)
    expect(planned.stdout).toContain('Regions to recover (2):')
    expect(planned.stdout).toContain('~ region/1: (none) → n2')
    expect(planned.stdout).toMatch(/\* n2\s+7\s+18446744073709551615/)
    expect(planned.stdout).toContain('entries behind the best peer: 5')
    expect(planned.stdout).toContain('Plan: 2 regions to recover.')
    expect(planned.stdout).not.toContain('LOCK_HOST_LOCAL')
    expect(planned.stdout).not.toMatch(/primar|partition/i)
    const plan = JSON.parse(readFileSync(join(l.dir, 'plan.json'), 'utf8'))
    expect(plan.formatVersion).toBe(2)
    expect(plan.cluster).toEqual({name: 'ledger-1', facts: [{name: 'store', label: 'store', value: l.store}]})
    expect(plan.primaries.map((p: {partition: string; after: string}) => [p.partition, p.after])).toEqual([
      ['region/1', 'n2'],
      ['region/2', 'n2'],
    ])
    expect(plan.primaries[0].candidates[0].facts).toEqual({applied_index: '18446744073709551615', term: '7'})
    expect(plan.primaries[1].facts).toEqual({gap: '1'})
    expect(plan.steps.find((s: {id: string}) => s.id === '02-elect-1').params.index).toBe('18446744073709551615')
    expect(plan.steps.at(-1)).toMatchObject({id: '04-resume-scheduling', always: true})
    expect(plan.observed.summary.max_applied_index).toBe('18446744073709551615')

    const md = await cli(['show', 'plan.json', '--format', 'markdown'])
    expect(md.code, md.stderr).toBe(0)
    expect(md.stdout).toContain('### Regions to recover (2)')
    // The engine's nouns head the columns; a column empty in every row (Table) is left out.
    expect(md.stdout).toContain('| Region | Before → after |')
    expect(md.stdout).toContain('| Chosen | Node | Term | Applied index | Marks |')
    expect(md.stdout).toContain('| 18446744073709551615 |')

    // A held ledger lock stops apply with the holder's details; force-unlock goes through the engine's lock.
    mkdirSync(join(l.store, 'lock'))
    writeFileSync(
      join(l.store, 'lock', 'info.json'),
      JSON.stringify({
        id: 'ghost-1',
        operation: 'apply',
        who: 'ghost@elsewhere',
        created: '2026-01-01T00:00:00.000Z',
      }),
    )
    const held = await cli(['apply', 'plan.json', '--auto-approve'])
    expect(held.code).toBe(1)
    expect(held.stderr).toContain('the ledger is locked by ghost@elsewhere')
    expect(held.stderr).toContain(`Store:`)
    const status = JSON.parse((await cli(['lock', 'status', l.spec, '--json'])).stdout)
    expect(status).toMatchObject({locked: true, lock: {id: 'ghost-1', kind: 'ledger-dir', store: l.store}})
    expect((await cli(['lock', 'force-unlock', l.spec, 'ghost-1', '--force'])).code).toBe(0)
    // The removal is audited.
    expect(auditRecords(l.audit).find((r) => r.event === 'lock.force-unlocked')?.data).toMatchObject({
      cluster: 'ledger-1',
      kind: 'ledger-dir',
      removed: {id: 'ghost-1', who: 'ghost@elsewhere'},
    })

    // Region 2's election fails: the run stops there, and the always step still resumes the scheduler.
    const failed = await cli(['apply', 'plan.json', '--auto-approve'], {LIFEBOAT_TEST_LEDGER_FAIL: '2'})
    expect(failed.code, failed.stdout + failed.stderr).toBe(1)
    expect(failed.stderr).toContain('step 03-elect-2 failed')
    expect(failed.stderr).toContain('04-resume-scheduling: done')
    expect(l.region('1')).toMatchObject({leader: 'n2', peers: {n2: {term: '8', index: '18446744073709551615'}}})
    expect(l.region('2').leader).toBeNull()
    expect(existsSync(join(l.store, 'scheduling.paused'))).toBe(false)
    expect(existsSync(join(l.store, 'lock'))).toBe(false)
    const first = auditRecords(l.audit)
    const run1 = first.find((r) => r.event === 'step.failed')!.run
    const events = first
      .filter((r) => r.run === run1)
      .map((r) => `${r.event}${r.data.step ? ` ${String(r.data.step)}` : ''}${r.data.always ? ' (always)' : ''}`)
    expect(events).toEqual(
      expect.arrayContaining([
        'step.failed 03-elect-2',
        'step.started 04-resume-scheduling (always)',
        'step.finished 04-resume-scheduling (always)',
        'run.finished',
      ]),
    )
    expect(
      first.find((r) => r.run === run1 && r.event === 'step.finished' && r.data.step === '02-elect-1')!.data.result,
    ).toEqual({term: '8', index: '18446744073709551615'})

    // --resume continues at region 2, re-checks the always step, and verifies.
    const resumed = await cli(['apply', 'plan.json', '--resume', '--auto-approve'])
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(resumed.stdout).toContain('Verified: the cluster matches the plan.')
    expect(l.region('2')).toMatchObject({leader: 'n2', peers: {n2: {term: '4', index: '9007199254740993'}}})
    expect(l.region('3').leader).toBe('n1')

    const verified = await cli(['audit', 'verify', '--audit-log', l.audit])
    expect(verified.code, verified.stdout + verified.stderr).toBe(0)
    const shownLog = await cli(['audit', 'show', '--audit-log', l.audit])
    expect(shownLog.stdout).toContain('always step')
  })
})

describe('TestKV: Ctrl-C during apply', () => {
  it('abandons the call in flight, runs the always step, records run.interrupted, releases the lock, exits 3; --resume finishes', async () => {
    const ws = workspace(store.zk, 'set: {a: "1", b: "2"}\nalways: {restored: "yes"}')
    expect((await runCli(['plan', ws.spec, '--out', 'plan.json'], {cwd: ws.dir})).code).toBe(0)
    const proc = startCli(['apply', 'plan.json', '--auto-approve'], {
      cwd: ws.dir,
      env: {LIFEBOAT_TEST_STEP_DELAY_MS: '5000'},
    })
    await waitForAudit(ws.audit, 'step.started', '01-set-a')
    proc.child.kill('SIGINT')
    const ended = await proc.done
    expect(ended.code, ended.stdout + ended.stderr).toBe(3)
    expect(ended.stderr).toContain('SIGINT received')
    expect(ended.stdout).toContain(
      'Apply interrupted: nothing further was written to the cluster after the always steps (03-set-restored (done))',
    )
    expect(ended.stdout).toMatch(/lifeboat apply plan\.json --resume/)

    // Nothing of 01 was written; 02 never started; the always step restored its key.
    expect(await readStore(store.client, ws.root)).toEqual({restored: 'yes'})
    expect(await readEffects(store.client, ws.root)).toEqual({'03-set-restored': 1})
    const records = auditRecords(ws.audit)
    const run = records.find((r) => r.event === 'run.started')!.run
    const events = records
      .filter((r) => r.run === run)
      .map((r) => `${r.event}${r.data.step ? ` ${String(r.data.step)}` : ''}`)
    expect(events.slice(-6)).toEqual([
      'step.started 01-set-a',
      'step.interrupted 01-set-a',
      'step.started 03-set-restored',
      'step.finished 03-set-restored',
      'run.interrupted 01-set-a',
      'run.finished',
    ])
    expect(records.at(-1)!.data.status).toBe('interrupted')
    // The lock went with the run.
    expect(JSON.parse((await runCli(['lock', 'status', ws.spec, '--json'], {cwd: ws.dir})).stdout)).toMatchObject({
      locked: false,
    })

    // A resume passes the gates again (the audit log grants nothing).
    const resumed = await runCli(['apply', 'plan.json', '--resume', '--auto-approve'], {cwd: ws.dir})
    expect(resumed.code, resumed.stdout + resumed.stderr).toBe(0)
    expect(await readStore(store.client, ws.root)).toEqual({a: '1', b: '2', restored: 'yes'})
    // The always step was re-checked, found done, and not written again.
    expect(await readEffects(store.client, ws.root)).toEqual({'01-set-a': 1, '02-set-b': 1, '03-set-restored': 1})
    expect((await runCli(['audit', 'verify', '--audit-log', ws.audit], {cwd: ws.dir})).code).toBe(0)
  })
})
