// Item 11 of issue 16 through the real binary: force-unlock writes who removed which lock and why;
// audit verify and audit show name the run that holds the chain's head.
import {readFileSync, writeFileSync} from 'node:fs'
import {hostname} from 'node:os'
import {join} from 'node:path'

import {describe, expect, it} from 'vitest'

import {auditRecords, runCli, startCli, testStore, workspace} from './helpers.js'

const store = testStore()

describe('lock force-unlock in the audit log', () => {
  it('records the lock, its holder and the reason; verify and show name the head run', async () => {
    const ws = workspace(store.zk, 'set: {a: "1"}')
    const lockFile = join(ws.dir, 'cluster.lock')
    writeFileSync(
      ws.spec,
      readFileSync(ws.spec, 'utf8').replace('  zookeeper:', `  lock_file: ${lockFile}\n  zookeeper:`),
    )
    // A lock left by a process that has exited.
    const dead = startCli(['--version'], {cwd: ws.dir})
    await dead.done
    const id = 'c0ffee00-0000-4000-8000-00000000a11d'
    writeFileSync(
      lockFile,
      JSON.stringify({
        id,
        operation: 'apply',
        who: 'ghost@nowhere',
        created: '2026-01-01T00:00:00.000Z',
        pid: dead.child.pid,
        host: hostname(),
      }),
    )

    const r = await runCli(
      ['lock', 'force-unlock', ws.spec, id, '--force', '--reason', 'apply on host-7 was OOM-killed, INC-42'],
      {cwd: ws.dir},
    )
    expect(r.code, r.stderr).toBe(0)
    const records = auditRecords(ws.audit)
    expect(records).toHaveLength(1)
    const rec = records[0]
    expect(rec.event).toBe('lock.force-unlocked')
    expect(rec.data).toMatchObject({
      cluster: ws.cluster,
      reason: 'apply on host-7 was OOM-killed, INC-42',
      removed: {id, who: 'ghost@nowhere', operation: 'apply'},
    })
    expect((rec as unknown as {actor: string}).actor).not.toBe('')

    const verify = await runCli(['audit', 'verify'], {cwd: ws.dir})
    expect(verify.code, verify.stderr).toBe(0)
    expect(verify.stdout).toContain(`lock.force-unlocked of run ${rec.run}`)
    const verifyJson = JSON.parse((await runCli(['audit', 'verify', '--json'], {cwd: ws.dir})).stdout) as {
      headRecord: {run: string; seq: number}
    }
    expect(verifyJson.headRecord).toMatchObject({run: rec.run, seq: 1})

    // A later apply moves the head to its own run.
    const applied = await runCli(['apply', ws.spec, '--auto-approve'], {cwd: ws.dir})
    expect(applied.code, applied.stderr).toBe(0)
    const last = auditRecords(ws.audit).at(-1)!
    expect(last.run).not.toBe(rec.run)
    const show = await runCli(['audit', 'show'], {cwd: ws.dir})
    expect(show.code, show.stderr).toBe(0)
    expect(show.stdout).toContain(`Chain head: `)
    expect(show.stdout).toContain(`of run ${last.run})`)
  })
})
