// Issue 19 item 1 through the CLI against a Pegasus lab: apply anchors the audit chain in the
// cluster's ZooKeeper (/lifeboat/audit/<cluster>) after each step and at the end of each run, and
// `audit verify --spec` catches every tampering the chain alone cannot: the last record edited with
// its hash recomputed, the tail deleted, the file emptied, an edit re-chained, a forged record
// appended, a whole forged log; duplicate keys are refused by the chain check itself.
import {copyFileSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {parseDocument} from 'yaml'

import {openAuditLog, recordHash, type AuditRecord} from '../../src/audit/log.js'
import {connectZk} from '../../src/zk/index.js'
import {expectExit, labUp, tempDir, writeScenario, type CliResult, type Lab} from './helpers.js'

const zk = inject('zookeeper')
const NAME = `e2e_anchor_${process.pid}_${Date.now() % 100000}`

let lab: Lab
let spec: string
const scratch = tempDir('lifeboat-anchor-')

beforeAll(async () => {
  const cwd = tempDir()
  const scenario = writeScenario(cwd, NAME, {
    engine: 'pegasus',
    name: NAME,
    replica_servers: 3,
    meta: {lb_interval_ms: 600_000},
    tables: [{name: 'temp', app_id: 1, partitions: 4, replicas: 3, rows: 200}],
  })
  lab = await labUp(scenario, {zk, cwd})
  // A meta recovery: apply stops at the manual restart, the lab's operator restarts the meta, resume finishes.
  await lab.lab('fault', 'zk-loss')
  spec = join(cwd, 'spec.yaml')
  copyFileSync(lab.endpoints.specs['pegasus-meta-recovery']!, spec)
  expectExit(await lab.cli(['plan', spec, '--out', 'plan.json']), 0)
  expectExit(await lab.cli(['apply', 'plan.json', '--auto-approve']), 3)
  await lab.lab('fault', 'restart-meta', '--no-recover')
  expectExit(
    await lab.cli(['apply', 'plan.json', '--resume', '--auto-approve', '--confirm', '05-restart-meta-normal-mode']),
    0,
  )
})
afterAll(async () => {
  await lab?.down()
  rmSync(scratch, {recursive: true, force: true})
})

function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter(Boolean)
}

/** The record with its hash recomputed, as one log line. */
function sealed(record: Omit<AuditRecord, 'hash'>): string {
  const {seq, time, run, actor, host, event, data, prev} = record
  const body = {seq, time, run, actor, host, event, data, prev}
  return JSON.stringify({...body, hash: recordHash(body)})
}

/** Re-chains records from index `from`: each gets the previous one's hash as prev and a recomputed hash. */
function rechain(records: AuditRecord[], from: number): string[] {
  const out: string[] = []
  let prev = from === 0 ? '0'.repeat(64) : records[from - 1]!.hash
  for (let i = 0; i < records.length; i++) {
    if (i < from) {
      out.push(JSON.stringify(records[i]))
      continue
    }
    const line = sealed({...records[i]!, prev})
    prev = (JSON.parse(line) as AuditRecord).hash
    out.push(line)
  }
  return out
}

let variant = 0
/** Writes a tampered copy of the lab's log and runs `audit verify --spec` on it. */
async function verifyTampered(text: string): Promise<CliResult> {
  const path = join(scratch, `tampered-${++variant}.jsonl`)
  writeFileSync(path, text)
  return lab.cli(['audit', 'verify', '--audit-log', path, '--spec', spec])
}

describe('audit verify against the anchor in the lab cluster', () => {
  it('apply wrote the anchor to /lifeboat/audit/<cluster>; the untouched log matches it', async () => {
    const records = lines(lab.auditLog).map((l) => JSON.parse(l) as AuditRecord)
    const cluster = String(parseDocument(readFileSync(spec, 'utf8')).getIn(['cluster', 'name']))
    const client = await connectZk({hosts: lab.endpoints.zookeeper.hosts})
    let stored: {anchors: Array<{log: string; records: number; head: string; run: string}>}
    try {
      stored = JSON.parse((await client.get(`/lifeboat/audit/${cluster}`)).data.toString('utf8'))
    } finally {
      await client.close()
    }
    // The last record is the resumed run's run.finished: anchored, with the log named by its first record.
    expect(stored.anchors).toHaveLength(1)
    expect(stored.anchors[0]).toMatchObject({
      log: records[0]!.hash,
      records: records.length,
      head: records.at(-1)!.hash,
      run: records.at(-1)!.run,
    })
    expect(records.at(-1)!.event).toBe('run.finished')
    expect(records.filter((r) => r.event === 'run.started').map((r) => r.data.auditAnchor)).toEqual([
      expect.objectContaining({place: `zookeeper /lifeboat/audit/${cluster}`}),
      expect.objectContaining({place: `zookeeper /lifeboat/audit/${cluster}`}),
    ])

    const ok = expectExit(await lab.cli(['audit', 'verify', '--spec', spec]), 0)
    expect(ok.stdout).toContain(`cluster anchor zookeeper /lifeboat/audit/${cluster}: matches ${cluster}'s anchor`)
    const byPlan = JSON.parse(expectExit(await lab.cli(['audit', 'verify', '--plan', 'plan.json', '--json']), 0).stdout)
    expect(byPlan).toMatchObject({ok: true, clusterAnchor: {cluster, reached: true, ok: true}})
    // Without a spec or plan the operator is told the anchor was not checked.
    expect(expectExit(await lab.cli(['audit', 'verify']), 0).stdout).toContain('not checked against a cluster anchor')
  })

  it('the last record edited with its hash recomputed: rewritten', async () => {
    const all = lines(lab.auditLog)
    const last = JSON.parse(all.at(-1)!) as AuditRecord
    const forged = sealed({...last, data: {...last.data, status: 'failed'}})
    const r = expectExit(await verifyTampered([...all.slice(0, -1), forged, ''].join('\n')), 1)
    expect(r.stderr).toMatch(/the log was rewritten: record \d+ has hash/)
  })

  it('the tail deleted: truncated', async () => {
    const all = lines(lab.auditLog)
    const r = expectExit(await verifyTampered([...all.slice(0, -3), ''].join('\n')), 1)
    expect(r.stderr).toContain(
      `the log was truncated: it holds ${all.length - 3} records, the anchor says ${all.length}`,
    )
  })

  it('the file emptied: truncated', async () => {
    const r = expectExit(await verifyTampered(''), 1)
    expect(r.stderr).toMatch(/the log was truncated: it is empty, and \S+'s anchor says \d+ records/)
  })

  it('an edit in the middle, re-chained to the end: rewritten', async () => {
    const records = lines(lab.auditLog).map((l) => JSON.parse(l) as AuditRecord)
    const at = records.findIndex((r) => r.event === 'step.finished')
    records[at] = {...records[at]!, data: {...records[at]!.data, summary: 'nothing happened here'}}
    const r = expectExit(await verifyTampered([...rechain(records, at), ''].join('\n')), 1)
    expect(r.stderr).toMatch(/the log was rewritten/)
  })

  it('a forged record appended after the anchor: reported as appended', async () => {
    const all = lines(lab.auditLog)
    const last = JSON.parse(all.at(-1)!) as AuditRecord
    const forged = sealed({
      ...last,
      seq: last.seq + 1,
      event: 'step.finished',
      data: {step: '99-forged'},
      prev: last.hash,
    })
    const r = expectExit(await verifyTampered([...all, forged, ''].join('\n')), 1)
    expect(r.stderr).toContain(`record ${last.seq + 1} of runs on`)
    expect(r.stderr).toContain('come after its anchor')
  })

  it('a whole forged log, valid chain: matches none of the anchors', async () => {
    const path = join(scratch, 'forged.jsonl')
    const first = JSON.parse(lines(lab.auditLog)[0]!) as AuditRecord
    const log = await openAuditLog(path, {run: first.run, actor: first.actor, host: first.host})
    await log.append('run.started', first.data)
    await log.append('run.finished', {status: 'succeeded', head: log.head()})
    const r = expectExit(await lab.cli(['audit', 'verify', '--audit-log', path, '--spec', spec]), 1)
    expect(r.stderr).toMatch(/the log matches none of \S+'s anchors/)
  })

  it('a duplicate key: refused by the chain check, anchored or not', async () => {
    const all = lines(lab.auditLog)
    const dup = all[1]!.replace('"event":', '"event":"gate.passed","event":')
    const r = expectExit(await verifyTampered([all[0], dup, ...all.slice(2), ''].join('\n')), 1)
    expect(r.stderr).toMatch(/has the key "event" twice/)
  })

  it('an anchor store that cannot be reached is named, and the chain is still checked', async () => {
    const doc = parseDocument(readFileSync(spec, 'utf8'))
    doc.setIn(['cluster', 'zookeeper', 'hosts'], '127.0.0.1:1')
    const away = join(scratch, 'unreachable.yaml')
    writeFileSync(away, doc.toString())
    const r = expectExit(await lab.cli(['audit', 'verify', '--spec', away]), 0)
    expect(r.stdout).toMatch(/^audit log OK: \d+ records/)
    expect(r.stdout).toMatch(
      /cluster anchor zookeeper \/lifeboat\/audit\/\S+ NOT CHECKED \(not reached\): could not read it/,
    )
  })
})
