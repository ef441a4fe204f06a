// The second toy engine: a ledger of regions kept as files in one shared directory, with its own
// lock (not ZooKeeper) and facts past 2^53. It shows that an engine outside the core brings its
// vocabulary, its lock and its exact integers through the CLI with no core change.
//
// Plain ES module JavaScript, loaded through LIFEBOAT_ENGINE_MODULES like test-kv.js; it imports
// only lifeboat's LifeboatError and lock-block formatter from dist/ (run `tsc -p tsconfig.json` first).
//
// Layout under the spec's cluster.dir (the "store"; think of a shared volume every operator mounts):
//   regions/<id>.json    {"leader": "n1" | null, "peers": {"n1": {"term": "<decimal>", "index": "<decimal>"}}}
//                        terms and indexes are decimal strings: uint64, exact past 2^53
//   scheduling.paused    exists while lifeboat has paused the store's scheduler
//   lock/                the apply lock: a directory created with mkdir (atomic), holding info.json
//
// Spec (kind TestLedger):
//   cluster: {name, dir}
//   recovery: {regions?: [id]}   the regions to recover (default: every region without a leader)
//
// A recovery plan: 01 pause the scheduler; one step per leaderless region, electing the peer with the
// greatest (term, index), compared as bigint; last, marked always, resume the scheduler.
// Test-only knob: LIFEBOAT_TEST_LEDGER_FAIL=<region id> makes that region's step fail before it writes.
import {mkdir, readFile, readdir, rename, rm, writeFile} from 'node:fs/promises'
import {createHash} from 'node:crypto'
import {join} from 'node:path'

import {LifeboatError} from '../../dist/src/errors.js'
import {formatLockBlock} from '../../dist/src/zk/lock.js'

const specSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'cluster'],
  additionalProperties: false,
  properties: {
    apiVersion: {const: 'lifeboat/v1'},
    kind: {const: 'TestLedger'},
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {name: {type: 'string', minLength: 1}, ticket: {type: 'string'}},
    },
    cluster: {
      type: 'object',
      required: ['name', 'dir'],
      additionalProperties: false,
      properties: {name: {type: 'string', pattern: '^[A-Za-z0-9_.-]+$'}, dir: {type: 'string', minLength: 1}},
    },
    recovery: {
      type: 'object',
      additionalProperties: false,
      properties: {regions: {type: 'array', items: {type: 'string', pattern: '^[0-9]+$'}}},
    },
  },
}

const regionsDir = (spec) => join(spec.cluster.dir, 'regions')
const pausedFile = (spec) => join(spec.cluster.dir, 'scheduling.paused')
const lockDir = (spec) => join(spec.cluster.dir, 'lock')

async function exists(path) {
  try {
    await readFile(path)
    return true
  } catch (err) {
    if (err.code === 'ENOENT') return false
    throw err
  }
}

/** A region file, its uint64 facts as bigint. */
async function readRegion(spec, id) {
  const raw = JSON.parse(await readFile(join(regionsDir(spec), `${id}.json`), 'utf8'))
  const peers = {}
  for (const [node, p] of Object.entries(raw.peers)) peers[node] = {term: BigInt(p.term), index: BigInt(p.index)}
  return {id, leader: raw.leader ?? null, peers}
}

async function writeRegion(spec, region) {
  const peers = Object.fromEntries(
    Object.entries(region.peers).map(([n, p]) => [n, {term: p.term.toString(), index: p.index.toString()}]),
  )
  const path = join(regionsDir(spec), `${region.id}.json`)
  await writeFile(`${path}.tmp`, `${JSON.stringify({leader: region.leader, peers})}\n`)
  await rename(`${path}.tmp`, path)
}

/** Greatest (term, index) first, then the node name: compared as bigint, never as a float. */
function byProgress(a, b) {
  if (a.term !== b.term) return a.term > b.term ? -1 : 1
  if (a.index !== b.index) return a.index > b.index ? -1 : 1
  return a.node < b.node ? -1 : a.node > b.node ? 1 : 0
}

const VOCABULARY = {
  nouns: {setting: {one: 'setting', many: 'settings'}},
  leadership: {
    heading: 'Regions to recover',
    item: {one: 'region', many: 'regions'},
    role: {one: 'region', many: 'regions'},
    verb: 'recover',
    candidateFacts: [
      {name: 'term', label: 'term'},
      {name: 'applied_index', label: 'applied index'},
    ],
    changeFacts: [{name: 'gap', label: 'entries behind the best peer'}],
  },
}

/** Pure: the plan body. */
function plan(spec, live) {
  const wanted = spec.recovery?.regions
  const targets = live.regions.filter((r) => r.leader === null && (wanted === undefined || wanted.includes(r.id)))
  const primaries = []
  const steps = [
    {
      id: '01-pause-scheduling',
      kind: 'ledger.pause',
      risk: 'safe',
      params: {},
      description: 'Pause the scheduler so that it does not move peers while leaders are elected',
      expect: 'scheduling.paused exists',
    },
  ]
  targets.forEach((r, i) => {
    const candidates = Object.entries(r.peers)
      .map(([node, p]) => ({node, term: p.term, index: p.index}))
      .sort(byProgress)
    const best = candidates[0]
    const least = candidates.reduce((a, b) => (b.index < a.index ? b : a))
    primaries.push({
      partition: `region/${r.id}`,
      before: null,
      after: best.node,
      risk: 'disruptive',
      reason: `greatest (term, applied index) of ${candidates.length} peers`,
      candidates: candidates.map((c) => ({
        node: c.node,
        facts: {term: c.term, applied_index: c.index},
        ...(c === best ? {marks: ['elected']} : {}),
      })),
      facts: {gap: best.index - least.index},
    })
    steps.push({
      id: `${String(i + 2).padStart(2, '0')}-elect-${r.id}`,
      kind: 'ledger.elect',
      risk: 'disruptive',
      riskReason: `region ${r.id} starts serving from ${best.node}`,
      params: {region: r.id, node: best.node, term: best.term, index: best.index},
      description: `Elect ${best.node} leader of region ${r.id} at term ${best.term}, index ${best.index}`,
      expect: `region ${r.id} has leader ${best.node}`,
    })
  })
  steps.push({
    id: `${String(targets.length + 2).padStart(2, '0')}-resume-scheduling`,
    kind: 'ledger.resume',
    risk: 'safe',
    always: true,
    params: {},
    description: 'Resume the scheduler (always: also after a failure, a stop or Ctrl-C)',
    expect: 'scheduling.paused is gone',
  })
  const maxIndex = live.regions
    .flatMap((r) => Object.values(r.peers).map((p) => p.index))
    .reduce((a, b) => (b > a ? b : a), 0n)
  const canonical = JSON.stringify(
    live.regions.map((r) => [
      r.id,
      r.leader,
      Object.entries(r.peers).map(([n, p]) => [n, p.term.toString(), p.index.toString()]),
    ]),
  )
  return {
    vocabulary: VOCABULARY,
    observed: {
      fingerprint: createHash('sha256').update(canonical).digest('hex'),
      summary: {regions: live.regions.length, leaderless: targets.length, max_applied_index: maxIndex.toString()},
    },
    changes:
      targets.length > 0
        ? [
            {
              address: 'scheduling',
              noun: 'setting',
              action: 'no-op',
              before: 'running',
              after: 'running',
              reason: 'paused during the recovery, resumed at the end',
            },
          ]
        : [],
    primaries,
    steps: targets.length > 0 ? steps : [],
    findings: [],
  }
}

/** The lock: a directory created with mkdir, atomic on a shared volume; its info.json names the holder. */
function ledgerLock(spec) {
  const dir = lockDir(spec)
  const infoPath = join(dir, 'info.json')
  const read = async () => {
    let info
    try {
      info = JSON.parse(await readFile(infoPath, 'utf8'))
    } catch (err) {
      if (err.code === 'ENOENT') {
        // mkdir done, info.json not yet written (or a holder cut short): still a lock, with unknown details.
        try {
          await readdir(dir)
        } catch (e) {
          if (e.code === 'ENOENT') return null
          throw e
        }
        info = {id: '(unknown)', operation: '(unknown)', who: '(unknown)', created: '(unknown)'}
      } else {
        throw err
      }
    }
    return {
      info,
      kind: 'ledger-dir',
      where: dir,
      text: formatLockBlock(info, dir, [['Store', spec.cluster.dir]]),
      details: {store: spec.cluster.dir},
    }
  }
  return {
    kind: 'ledger-dir',
    where: dir,
    async acquire(info) {
      await mkdir(spec.cluster.dir, {recursive: true})
      try {
        await mkdir(dir)
      } catch (err) {
        if (err.code !== 'EEXIST') throw err
        const holder = await read()
        throw new LifeboatError('LOCK_HELD', `the ledger is locked by ${holder?.info.who ?? '(unknown)'}`, {
          detail: holder?.text,
          hints: [
            'Wait for that run to finish.',
            `If you are sure no run is active, \`lifeboat lock force-unlock SPEC ${holder?.info.id ?? 'ID'}\` removes it.`,
          ],
        })
      }
      await writeFile(infoPath, JSON.stringify(info))
      let released = false
      return {
        info,
        kind: 'ledger-dir',
        where: dir,
        async assertHeld() {
          const holder = released ? null : await read()
          if (holder === null || holder.info.id !== info.id) {
            throw new LifeboatError('LOCK_LOST', `the ledger lock ${dir} was removed or replaced`, {
              hints: ['Check with `lifeboat lock status SPEC`.'],
            })
          }
        },
        async release() {
          if (released) return
          released = true
          const holder = await read()
          if (holder !== null && holder.info.id === info.id) await rm(dir, {recursive: true, force: true})
        },
      }
    },
    read,
    async forceUnlock(id) {
      const holder = await read()
      if (holder === null)
        throw new LifeboatError('LOCK_NOT_HELD', `no lock is held at ${dir}`, {hints: ['Nothing to unlock.']})
      if (holder.info.id !== id) {
        throw new LifeboatError('LOCK_ID_MISMATCH', `lock id ${id} does not match the holder's id ${holder.info.id}`, {
          detail: holder.text,
          hints: ['Check the ID with `lifeboat lock status SPEC`.'],
        })
      }
      await rm(dir, {recursive: true, force: true})
      return holder
    },
  }
}

const pauseExecutor = {
  isDone: async (ctx) => exists(pausedFile(ctx.spec)),
  async run(ctx) {
    await writeFile(pausedFile(ctx.spec), 'paused by lifeboat\n')
    return {summary: 'scheduler paused'}
  },
  verify: async (ctx) =>
    (await exists(pausedFile(ctx.spec)))
      ? []
      : [{code: 'LEDGER_NOT_PAUSED', severity: 'error', message: 'the scheduler is not paused'}],
}

const resumeExecutor = {
  isDone: async (ctx) => !(await exists(pausedFile(ctx.spec))),
  async run(ctx) {
    await rm(pausedFile(ctx.spec), {force: true})
    return {summary: 'scheduler resumed'}
  },
  verify: async (ctx) =>
    (await exists(pausedFile(ctx.spec)))
      ? [{code: 'LEDGER_STILL_PAUSED', severity: 'error', message: 'the scheduler is still paused'}]
      : [],
}

const electExecutor = {
  async isDone(ctx, step) {
    return (await readRegion(ctx.spec, step.params.region)).leader === step.params.node
  },
  async run(ctx, step) {
    if (process.env.LIFEBOAT_TEST_LEDGER_FAIL === step.params.region) {
      throw new LifeboatError(
        'LEDGER_ELECTION_FAILED',
        `region ${step.params.region} refused the election (LIFEBOAT_TEST_LEDGER_FAIL)`,
      )
    }
    const region = await readRegion(ctx.spec, step.params.region)
    // The plan carries the index as a decimal string: compared exactly with what the peer holds now.
    const peer = region.peers[step.params.node]
    if (peer === undefined || peer.index !== BigInt(step.params.index) || peer.term !== BigInt(step.params.term)) {
      throw new LifeboatError(
        'LEDGER_PEER_MOVED',
        `peer ${step.params.node} of region ${step.params.region} is no longer at term ${step.params.term}, index ${step.params.index}`,
      )
    }
    region.leader = step.params.node
    region.peers[step.params.node] = {term: peer.term + 1n, index: peer.index}
    await writeRegion(ctx.spec, region)
    return {
      summary: `${step.params.node} leads region ${step.params.region}`,
      data: {term: (peer.term + 1n).toString(), index: peer.index},
    }
  },
  async verify(ctx, step) {
    const region = await readRegion(ctx.spec, step.params.region)
    return region.leader === step.params.node
      ? []
      : [
          {
            code: 'LEDGER_NO_LEADER',
            severity: 'error',
            subject: `region/${step.params.region}`,
            message: `region ${step.params.region} has leader ${region.leader}`,
          },
        ]
  },
}

const testLedgerEngine = {
  kind: 'TestLedger',
  specSchema,
  cluster: (spec) => ({name: spec.cluster.name, facts: [{name: 'store', label: 'store', value: spec.cluster.dir}]}),
  lock: (spec) => ledgerLock(spec),
  async gather(spec) {
    let files = []
    try {
      files = await readdir(regionsDir(spec))
    } catch (err) {
      if (err.code !== 'ENOENT') throw err
    }
    const ids = files
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -5))
      .sort((a, b) => Number(a) - Number(b))
    return {regions: await Promise.all(ids.map((id) => readRegion(spec, id)))}
  },
  plan,
  connect: async (spec) => ({spec}),
  close: async () => {},
  steps: {'ledger.pause': pauseExecutor, 'ledger.elect': electExecutor, 'ledger.resume': resumeExecutor},
  async verify(ctx, body) {
    const findings = []
    for (const p of body.primaries) {
      const region = await readRegion(ctx.spec, p.partition.slice('region/'.length))
      if (region.leader !== p.after)
        findings.push({
          code: 'LEDGER_NO_LEADER',
          severity: 'error',
          subject: p.partition,
          message: `${p.partition} has leader ${region.leader}`,
        })
    }
    return findings
  },
}

export default testLedgerEngine
