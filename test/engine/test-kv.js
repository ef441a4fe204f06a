// The test engine: a small key-value store that lives in a real ZooKeeper, used to drive the
// plan/apply core end to end through the real `lifeboat` binary.
//
// It is plain ES module JavaScript so that `node bin/run.js` loads it through the engine plugin
// hook (LIFEBOAT_ENGINE_MODULES=/abs/path/test/engine/test-kv.js) without a build step. It uses the
// compiled ZooKeeper layer from dist/, so run `tsc -p tsconfig.json` first.
//
// Layout under the spec's cluster.zookeeper.root:
//   <root>/data/<key>          the store: one node per key, its data the value (UTF-8)
//   <root>/effects/<step id>   how many times a step's write really happened (decimal), written
//                              in the same multi as the write, so a test can prove exactly-once
//   <root>/manual/<name>       created by the "operator" of a manual step; its executor checks it
//
// Spec (kind TestKV):
//   cluster: {name, zookeeper: {hosts, root}, lock_file?}   lock_file: use a lock file, not ZooKeeper
//   recovery:
//     set: {key: value | null}        the values the store must end with; null deletes the key
//     risk: {key: safe|disruptive|lossy}   the risk class of that key's step (default safe)
//     manual: [{name, after?, instructions?}]   a manual step, after the step of key `after` (default: first)
//     fail: [key]                     that key's step throws once it has written nothing (failure path)
//     findings: [{code, severity, message}]    extra findings, e.g. an error to make the plan not applyable
//     always: {key: value}            the last steps, marked always: they run after a failure, a stop or Ctrl-C too
//     blind: [key]                    that key's set step writes whatever version is there (kind kv.put), so
//                                     it can be repeated; the others write at the version the plan saw and,
//                                     finished in an earlier run with their effect gone, make resume plan again
//
// Test-only knob: LIFEBOAT_TEST_STEP_DELAY_MS pauses inside run(), before and after the write, and
// at the start of the final verify, so that a test can kill the process at a chosen step boundary.
// Nothing else reads it. The pause before the write ends early when apply's signal is aborted
// (Ctrl-C, SIGTERM): the step then gives up without writing, as a real executor abandons its call.
// LIFEBOAT_TEST_PROGRESS_TICKS=N splits that pause before the write into N ticks reported as a count
// (the task list's rate and ETA); LIFEBOAT_TEST_GATHER_DELAY_MS pauses before each key the gather
// reads, which it reports as a count of keys.
import {createHash} from 'node:crypto'

import {connectZk, isZkError} from '../../dist/src/zk/index.js'
import {LifeboatError} from '../../dist/src/errors.js'
import {hostLocalLock, zookeeperLock} from '../../dist/src/apply/lock.js'

const KEY_PATTERN = '^[a-z0-9][a-z0-9_.-]{0,63}$'

/** JSON Schema of a whole TestKV spec document. */
const specSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'cluster', 'recovery'],
  additionalProperties: false,
  properties: {
    apiVersion: {const: 'lifeboat/v1'},
    kind: {const: 'TestKV'},
    metadata: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {name: {type: 'string', minLength: 1}, ticket: {type: 'string'}},
    },
    cluster: {
      type: 'object',
      required: ['name', 'zookeeper'],
      additionalProperties: false,
      properties: {
        name: {type: 'string', pattern: '^[A-Za-z0-9_.-]+$'},
        zookeeper: {
          type: 'object',
          required: ['hosts', 'root'],
          additionalProperties: false,
          properties: {hosts: {type: 'string', minLength: 1}, root: {type: 'string', pattern: '^/[^/].*[^/]$'}},
        },
        lock_file: {type: 'string', minLength: 1},
      },
    },
    recovery: {
      type: 'object',
      required: ['set'],
      additionalProperties: false,
      properties: {
        set: {type: 'object', propertyNames: {pattern: KEY_PATTERN}, additionalProperties: {type: ['string', 'null']}},
        risk: {
          type: 'object',
          propertyNames: {pattern: KEY_PATTERN},
          additionalProperties: {enum: ['safe', 'disruptive', 'lossy']},
        },
        manual: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name'],
            additionalProperties: false,
            properties: {
              name: {type: 'string', pattern: KEY_PATTERN},
              after: {type: 'string', pattern: KEY_PATTERN},
              instructions: {type: 'array', items: {type: 'string'}},
            },
          },
        },
        fail: {type: 'array', items: {type: 'string', pattern: KEY_PATTERN}},
        blind: {type: 'array', items: {type: 'string', pattern: KEY_PATTERN}},
        always: {type: 'object', propertyNames: {pattern: KEY_PATTERN}, additionalProperties: {type: 'string'}},
        findings: {
          type: 'array',
          items: {
            type: 'object',
            required: ['code', 'severity', 'message'],
            additionalProperties: false,
            properties: {
              code: {type: 'string'},
              severity: {enum: ['error', 'warning', 'info']},
              message: {type: 'string'},
            },
          },
        },
      },
    },
    approval: {
      type: 'object',
      additionalProperties: false,
      properties: {
        approvers: {
          type: 'object',
          additionalProperties: false,
          properties: {
            safe: {type: 'integer', minimum: 0},
            disruptive: {type: 'integer', minimum: 0},
            lossy: {type: 'integer', minimum: 0},
          },
        },
        allowed_signers: {type: 'string', minLength: 1},
      },
    },
  },
}

const dataDir = (spec) => `${spec.cluster.zookeeper.root}/data`
const effectsDir = (spec) => `${spec.cluster.zookeeper.root}/effects`
const manualDir = (spec) => `${spec.cluster.zookeeper.root}/manual`

function connect(spec) {
  return connectZk({hosts: spec.cluster.zookeeper.hosts, root: spec.cluster.zookeeper.root, deadlineMs: 10_000})
}

async function sleep(ms) {
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
}

/** Sleeps, or throws INTERRUPTED as soon as the signal is aborted. */
async function abortableSleep(ms, signal) {
  if (signal?.aborted) throw new LifeboatError('INTERRUPTED', 'interrupted before the write')
  if (ms <= 0) return
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new LifeboatError('INTERRUPTED', 'interrupted before the write'))
    }
    signal?.addEventListener('abort', onAbort, {once: true})
  })
}

function stepDelay() {
  const ms = Number(process.env.LIFEBOAT_TEST_STEP_DELAY_MS ?? '0')
  return Number.isFinite(ms) && ms > 0 ? ms : 0
}

/** The value of a node, or undefined when it does not exist. */
async function readValue(client, path) {
  try {
    const {data, stat} = await client.get(path)
    return {value: data.toString('utf8'), version: stat.version}
  } catch (err) {
    if (isZkError(err, 'ZK_NO_NODE')) return undefined
    throw err
  }
}

/** The multi operation that counts one more effect of a step. */
async function effectOp(client, spec, stepId) {
  await client.mkdirp(effectsDir(spec))
  const path = `${effectsDir(spec)}/${stepId}`
  const current = await readValue(client, path)
  if (current === undefined) return {op: 'create', path, data: Buffer.from('1')}
  return {op: 'setData', path, data: Buffer.from(String(Number(current.value) + 1)), version: current.version}
}

function conflict(step, err) {
  if (isZkError(err, 'ZK_BAD_VERSION', 'ZK_NODE_EXISTS', 'ZK_NO_NODE')) {
    return new LifeboatError('TESTKV_CONFLICT', `key ${step.params.key} changed since the plan was made`, {
      detail: err.message,
      hints: ['Run `lifeboat plan` again to see the current state.'],
      cause: err,
    })
  }
  return err
}

/** Runs one write of a step, atomically with its effect counter. */
async function writeWithEffect(client, spec, step, op, signal, progress) {
  const delay = stepDelay()
  const ticks = Math.max(1, Number(process.env.LIFEBOAT_TEST_PROGRESS_TICKS ?? '1') || 1)
  for (let i = 1; i <= ticks; i++) {
    await abortableSleep(delay / ticks, signal)
    if (ticks > 1) progress?.(`writing ${step.params.path}`, {done: i, total: ticks, unit: 'ticks'})
  }
  if ((spec.recovery.fail ?? []).includes(step.params.key)) {
    throw new LifeboatError(
      'TESTKV_INJECTED_FAILURE',
      `step ${step.id} failed on purpose (recovery.fail names ${step.params.key})`,
    )
  }
  try {
    await client.multi([op, await effectOp(client, spec, step.id)])
  } catch (err) {
    throw conflict(step, err)
  }
  await sleep(delay)
}

function valueFinding(step, actual) {
  const want = step.params.value === null ? 'absent' : JSON.stringify(step.params.value)
  const got = actual === undefined ? 'absent' : JSON.stringify(actual.value)
  return {
    code: 'TESTKV_MISMATCH',
    severity: 'error',
    subject: `kv:${step.params.key}`,
    message: `key ${step.params.key} is ${got}, expected ${want}`,
  }
}

const setExecutor = {
  // It writes at the version the plan saw (or creates a key the plan saw absent): once done and
  // undone by someone else, running it again would only conflict. Resume stops and says to plan again.
  onResume: 'plan-again',
  async isDone(ctx, step) {
    const current = await readValue(ctx.client, step.params.path)
    return current !== undefined && current.value === step.params.value
  },
  async run(ctx, step, progress, signal) {
    progress(`writing ${step.params.path}`)
    // An always step writes whatever is there now (it restores a value); the others carry the version the plan saw.
    const version = step.always ? (await readValue(ctx.client, step.params.path))?.version : step.params.version
    const op =
      version === undefined
        ? {op: 'create', path: step.params.path, data: Buffer.from(step.params.value)}
        : {op: 'setData', path: step.params.path, data: Buffer.from(step.params.value), version}
    if (op.op === 'create') await ctx.client.mkdirp(dataDir(ctx.spec))
    await writeWithEffect(ctx.client, ctx.spec, step, op, step.always ? undefined : signal, progress)
    return {summary: `${step.params.key} = ${JSON.stringify(step.params.value)}`, data: {key: step.params.key}}
  },
  async verify(ctx, step) {
    const current = await readValue(ctx.client, step.params.path)
    return current !== undefined && current.value === step.params.value ? [] : [valueFinding(step, current)]
  },
}

/** kv.put: a set that writes whatever version is there, so it is safe to repeat; resume re-checks it. */
const putExecutor = {
  isDone: (ctx, step) => setExecutor.isDone(ctx, step),
  async run(ctx, step, progress, signal) {
    progress(`writing ${step.params.path} (any version)`)
    const current = await readValue(ctx.client, step.params.path)
    const data = Buffer.from(step.params.value)
    const op =
      current === undefined
        ? {op: 'create', path: step.params.path, data}
        : {op: 'setData', path: step.params.path, data, version: current.version}
    if (op.op === 'create') await ctx.client.mkdirp(dataDir(ctx.spec))
    await writeWithEffect(ctx.client, ctx.spec, step, op, signal)
    return {summary: `${step.params.key} = ${JSON.stringify(step.params.value)}`, data: {key: step.params.key}}
  },
  verify: (ctx, step) => setExecutor.verify(ctx, step),
}

const deleteExecutor = {
  onResume: 'plan-again',
  async isDone(ctx, step) {
    return (await readValue(ctx.client, step.params.path)) === undefined
  },
  async run(ctx, step, progress, signal) {
    progress(`removing ${step.params.path}`)
    await writeWithEffect(
      ctx.client,
      ctx.spec,
      step,
      {op: 'remove', path: step.params.path, version: step.params.version},
      signal,
    )
    return {summary: `${step.params.key} deleted`, data: {key: step.params.key}}
  },
  async verify(ctx, step) {
    const current = await readValue(ctx.client, step.params.path)
    return current === undefined ? [] : [valueFinding(step, current)]
  },
}

/** A manual step: the operator creates the marker node; this executor confirms it is there. */
const manualExecutor = {
  async isDone(ctx, step) {
    return (await readValue(ctx.client, step.params.marker)) !== undefined
  },
  async run() {
    throw new Error('a manual step is performed by the operator, not by the engine')
  },
  async verify(ctx, step) {
    if ((await readValue(ctx.client, step.params.marker)) !== undefined) return []
    return [
      {
        code: 'TESTKV_MANUAL_NOT_DONE',
        severity: 'error',
        subject: step.params.marker,
        message: `the operator's work is not there: ${step.params.marker} does not exist`,
      },
    ]
  },
}

function sha256(text) {
  return createHash('sha256').update(text).digest('hex')
}

/** JSON with sorted keys, for the fingerprint. */
function sorted(value) {
  if (Array.isArray(value)) return value.map(sorted)
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sorted(value[k])]),
    )
  return value
}

function riskReason(risk, key, before) {
  if (risk === 'lossy')
    return before === undefined
      ? `key ${key} is written blind`
      : `the current value of ${key} (${JSON.stringify(before)}) is discarded`
  if (risk === 'disruptive') return `readers of ${key} see the new value at once`
  return undefined
}

/** Pure: the plan body from the spec and the live keys. */
function plan(spec, live) {
  const set = spec.recovery.set ?? {}
  const risks = spec.recovery.risk ?? {}
  const blind = new Set(spec.recovery.blind ?? [])
  const changes = []
  const keySteps = []
  for (const key of Object.keys(set).sort()) {
    const want = set[key]
    const have = live.keys[key]
    const path = `${dataDir(spec)}/${key}`
    const risk = risks[key] ?? 'safe'
    const reason = riskReason(risk, key, have?.value)
    const base = {risk, ...(reason ? {riskReason: reason} : {})}
    if (want === null) {
      if (have === undefined) continue
      changes.push({address: `kv:${key}`, noun: 'key', action: 'delete', before: have.value, after: null})
      keySteps.push({
        key,
        step: {
          ...base,
          kind: 'kv.delete',
          params: {key, path, value: null, version: have.version},
          description: `Delete ${key}`,
          expect: `${key} does not exist`,
        },
      })
    } else if (have === undefined) {
      changes.push({address: `kv:${key}`, noun: 'key', action: 'create', before: null, after: want})
      keySteps.push({
        key,
        step: {
          ...base,
          kind: blind.has(key) ? 'kv.put' : 'kv.set',
          params: {key, path, value: want},
          description: `Create ${key} = ${JSON.stringify(want)}`,
          expect: `${key} is ${JSON.stringify(want)}`,
        },
      })
    } else if (have.value !== want) {
      changes.push({address: `kv:${key}`, noun: 'key', action: 'update', before: have.value, after: want})
      keySteps.push({
        key,
        step: {
          ...base,
          kind: blind.has(key) ? 'kv.put' : 'kv.set',
          params: {key, path, value: want, ...(blind.has(key) ? {} : {version: have.version})},
          description: `Set ${key} to ${JSON.stringify(want)}`,
          expect: `${key} is ${JSON.stringify(want)}`,
        },
      })
    }
  }
  const ordered = []
  const manual = spec.recovery.manual ?? []
  const manualStep = (m) => ({
    kind: 'manual.confirm',
    risk: 'disruptive',
    riskReason: 'an operator acts on the cluster by hand',
    params: {marker: `${manualDir(spec)}/${m.name}`},
    description: `By hand: ${m.name}`,
    expect: `${manualDir(spec)}/${m.name} exists`,
    manual: {
      instructions: [...(m.instructions ?? [`Do ${m.name}.`]), `Then create the node ${manualDir(spec)}/${m.name}.`],
    },
  })
  for (const m of manual.filter((m) => m.after === undefined)) ordered.push({name: m.name, step: manualStep(m)})
  for (const ks of keySteps) {
    ordered.push({name: ks.key, step: ks.step})
    for (const m of manual.filter((m) => m.after === ks.key)) ordered.push({name: m.name, step: manualStep(m)})
  }
  // The always steps come last: a value the store must end with whatever happened (a setting restored).
  const always = spec.recovery.always ?? {}
  for (const key of Object.keys(always).sort()) {
    const path = `${dataDir(spec)}/${key}`
    ordered.push({
      name: key,
      step: {
        kind: 'kv.set',
        risk: 'safe',
        always: true,
        params: {key, path, value: always[key]},
        description: `Always: set ${key} to ${JSON.stringify(always[key])}`,
        expect: `${key} is ${JSON.stringify(always[key])}`,
      },
    })
  }
  const steps = ordered.map(({name, step}, i) => ({
    ...step,
    id: `${String(i + 1).padStart(2, '0')}-${step.kind === 'manual.confirm' ? 'manual' : step.kind === 'kv.delete' ? 'delete' : 'set'}-${name}`,
  }))
  const findings = (spec.recovery.findings ?? []).map((f) => ({...f}))
  const fingerprint = sha256(JSON.stringify(sorted(live)))
  return {
    vocabulary: {nouns: {key: {one: 'key', many: 'keys'}}},
    observed: {fingerprint, summary: {keys: Object.keys(live.keys).length, root: spec.cluster.zookeeper.root}},
    changes,
    primaries: [],
    steps,
    findings,
  }
}

/**
 * Pure: what changed in the keys the steps still to run depend on. A key step planned on a version
 * (or on the key being absent) is drift when the key moved since, unless it already holds the
 * step's value (its effect is there). Always and manual steps depend on nothing.
 */
function driftOf(spec, live, body, steps) {
  const lines = []
  for (const step of steps) {
    if (step.always || (step.kind !== 'kv.set' && step.kind !== 'kv.delete')) continue
    const {key, value, version} = step.params
    const have = live.keys[key]
    if (step.kind === 'kv.set' ? have?.value === value : have === undefined) continue
    if (version === undefined && have !== undefined)
      lines.push(`key ${key} was created since the plan was made (now ${JSON.stringify(have.value)})`)
    else if (version !== undefined && have === undefined) lines.push(`key ${key} was deleted since the plan was made`)
    else if (version !== undefined && have.version !== version)
      lines.push(
        `key ${key} changed since the plan was made: now ${JSON.stringify(have.value)} (version ${version} → ${have.version})`,
      )
  }
  return lines
}

/** The engine, as the plugin hook expects it: default export, with the schema of its spec kind. */
const testKvEngine = {
  kind: 'TestKV',
  specSchema,
  cluster(spec) {
    return {
      name: spec.cluster.name,
      facts: [
        {name: 'zookeeper', label: 'ZooKeeper', value: `${spec.cluster.zookeeper.hosts}${spec.cluster.zookeeper.root}`},
      ],
    }
  },
  lock(spec, io) {
    if (spec.cluster.lock_file) return hostLocalLock(spec.cluster.lock_file)
    return zookeeperLock(
      {hosts: spec.cluster.zookeeper.hosts, root: spec.cluster.zookeeper.root},
      spec.cluster.name,
      io,
    )
  },
  async gather(spec, io) {
    const client = await connect(spec)
    try {
      io.progress(`reading ${dataDir(spec)}`)
      const keys = {}
      let names = []
      try {
        names = await client.getChildren(dataDir(spec))
      } catch (err) {
        if (!isZkError(err, 'ZK_NO_NODE')) throw err
      }
      const pause = Number(process.env.LIFEBOAT_TEST_GATHER_DELAY_MS ?? '0') || 0
      for (const [i, name] of names.sort().entries()) {
        await sleep(pause)
        const v = await readValue(client, `${dataDir(spec)}/${name}`)
        if (v !== undefined) keys[name] = v
        if (pause > 0) io.progress(`reading ${dataDir(spec)}`, {done: i + 1, total: names.length, unit: 'keys'})
      }
      return {keys}
    } finally {
      await client.close()
    }
  },
  plan,
  // Its whole gather is cheap: the check before each later disruptive step reads every key.
  gatherFor(spec, io) {
    return testKvEngine.gather(spec, io)
  },
  async connect(spec) {
    return {spec, client: await connect(spec)}
  },
  async close(ctx) {
    await ctx.client.close()
  },
  steps: {'kv.set': setExecutor, 'kv.put': putExecutor, 'kv.delete': deleteExecutor, 'manual.confirm': manualExecutor},
  driftOf,
  async verify(ctx, body) {
    // The same test-only pause, so that a test can kill apply while it verifies.
    await sleep(stepDelay())
    const findings = []
    for (const change of body.changes) {
      const key = change.address.slice('kv:'.length)
      const current = await readValue(ctx.client, `${dataDir(ctx.spec)}/${key}`)
      const want = change.after
      const ok = want === null ? current === undefined : current !== undefined && current.value === want
      if (!ok) findings.push(valueFinding({params: {key, value: want}}, current))
    }
    return findings
  },
}

export default testKvEngine
