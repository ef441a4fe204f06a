/**
 * The plan file: written atomically, read back only after every check passes.
 *
 * The one module of plan/ allowed to do I/O. A plan file that is missing, unreadable, truncated,
 * not JSON, of another format version, not a plan, edited after it was made, or for another
 * cluster is refused with a LifeboatError that says which and what to do; it is never repaired.
 */
import {randomBytes} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {open, rename, unlink} from 'node:fs/promises'
import {basename, dirname, join} from 'node:path'

import type {ErrorObject, ValidateFunction} from 'ajv/dist/2020.js'

import {packageRoot} from '../package-root.js'
import {createAjv} from '../util/ajv.js'
import {assertRegularFile, fileProblemHint, readRegularFile} from '../util/files.js'
import {redactInline} from '../util/redact.js'
import {InternalError, LifeboatError, describeError} from '../errors.js'
import {planDigest} from './build.js'
import {compareCodeUnits} from './canonical.js'
import {serializePlan} from './serialize.js'
import {PLAN_FORMAT_VERSION, type Approval, type ClusterIdentity, type Plan} from './types.js'

const validators = new Map<string, ValidateFunction>()

/**
 * A compiled validator for `schemas/<name>` (draft 2020-12, strict, with formats), cached.
 * Shared with the audit log, which validates its records the same way.
 */
export function schemaValidator(name: 'plan.schema.json' | 'audit-record.schema.json'): ValidateFunction {
  const cached = validators.get(name)
  if (cached) return cached
  const schema = JSON.parse(readFileSync(join(packageRoot(), 'schemas', name), 'utf8')) as object
  const v = createAjv({allowUnionTypes: true}).compile(schema)
  validators.set(name, v)
  return v
}

/** ajv errors as short lines: `/steps/0/risk: must be equal to one of the allowed values`. */
export function describeSchemaErrors(errors: ErrorObject[] | null | undefined, max = 5): string {
  const list = (errors ?? []).map((e) => {
    const extra =
      e.keyword === 'additionalProperties'
        ? ` (${String((e.params as {additionalProperty?: string}).additionalProperty)})`
        : ''
    return `${e.instancePath || '/'}: ${e.message ?? e.keyword}${extra}`
  })
  const unique = [...new Set(list)]
  const shown = unique.slice(0, max)
  if (unique.length > max) shown.push(`... and ${unique.length - max} more`)
  return shown.join('\n')
}

/**
 * Writes a plan file atomically: a temporary file in the same directory, fsynced, then renamed
 * over the target, so a crash leaves the old file or the new one, never half of one. The plan is
 * checked against the schema first; an invalid plan is a bug and is never written. The digest is
 * not recomputed here (buildPlan has just set it; at 64,000 partitions that costs seconds):
 * readPlanFile checks it on every read.
 */
export async function writePlanFile(path: string, plan: Plan): Promise<void> {
  const validate = schemaValidator('plan.schema.json')
  if (!validate(plan))
    throw new InternalError(`refusing to write an invalid plan:\n${describeSchemaErrors(validate.errors)}`)
  // Never replace a device, a FIFO or a file under /proc with a plan (the rename would, as root).
  await assertRegularFile(path, 'the plan file', 'PLAN_FILE', {mayBeAbsent: true})
  try {
    await writeFileAtomic(path, serializePlan(plan))
  } catch (err) {
    throw new LifeboatError('PLAN_FILE_WRITE_FAILED', `Could not write the plan file ${path}: ${describeError(err)}`, {
      cause: err,
      detail: 'Nothing was written in its place; an existing file at that path is unchanged.',
      hints: ['Check that the directory exists and is writable, and that the disk is not full.'],
    })
  }
}

/** Characters of the plan text encoded and written at a time. */
const WRITE_CHARS = 4 * 1024 * 1024

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff
}

/**
 * Writes `text` as UTF-8 to `path` atomically (see writePlanFile), `pieceChars` characters at a
 * time. Exported for its test.
 */
export async function writeFileAtomic(path: string, text: string, pieceChars = WRITE_CHARS): Promise<void> {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`)
  const fh = await open(tmp, 'wx', 0o644)
  let renamed = false
  try {
    // In pieces: writeFile would first encode the whole text (134 MB at 64,000 partitions) into one buffer.
    for (let at = 0; at < text.length;) {
      let end = Math.min(text.length, at + Math.max(2, pieceChars))
      // Never between the two halves of a surrogate pair: each piece is encoded on its own.
      if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end--
      const bytes = Buffer.from(text.slice(at, end), 'utf8')
      for (let done = 0; done < bytes.length;) done += (await fh.write(bytes, done, bytes.length - done)).bytesWritten
      at = end
    }
    await fh.sync()
    await fh.close()
    await rename(tmp, path)
    renamed = true
  } finally {
    if (!renamed) {
      await fh.close().catch(() => undefined)
      await unlink(tmp).catch(() => undefined)
    }
  }
  // The rename itself is durable only once the directory is synced; not every platform allows
  // opening a directory, and the file is already complete either way.
  try {
    const dh = await open(dir, 'r')
    try {
      await dh.sync()
    } finally {
      await dh.close()
    }
  } catch {
    // best effort: see above
  }
}

const REPLAN_HINT = 'Make a new plan with `lifeboat plan SPEC --out FILE`.'

/**
 * Reads and checks a plan file: JSON, format version, schema, digest, and that every approval is
 * for this plan. Every refusal is a LifeboatError with its own code (see the module comment).
 */
export async function readPlanFile(path: string): Promise<Plan> {
  // The file's bytes and text (134 MB each at 64,000 partitions) are let go as soon as they are
  // parsed, before the schema and the digest are checked: apply holds the plan for the whole run.
  const doc = parsePlanText(path, await readPlanText(path))
  return checkPlanDocument(path, doc)
}

/** The plan file's text, or the refusal naming what is wrong with the file. */
async function readPlanText(path: string): Promise<string> {
  const read = await readRegularFile(path, 'the plan file')
  if (!read.ok) {
    const {problem} = read
    if (problem.kind === 'missing') {
      throw new LifeboatError('PLAN_FILE_NOT_FOUND', `No plan file at ${path}`, {
        hints: ['Check the path, or make a plan with `lifeboat plan SPEC --out FILE`.'],
      })
    }
    throw new LifeboatError(
      problem.kind === 'not-regular' ? 'PLAN_FILE_NOT_REGULAR' : 'PLAN_FILE_UNREADABLE',
      `Could not read the plan file ${path}: ${problem.message.replace(`the plan file ${path} `, '')}`,
      {
        cause: problem.kind === 'unreadable' ? problem.cause : undefined,
        hints:
          problem.kind === 'directory'
            ? ['The path is a directory; give the plan file inside it.']
            : [fileProblemHint(problem)],
      },
    )
  }
  return read.bytes.toString('utf8')
}

/** The plan file's JSON, or PLAN_FILE_CORRUPT. */
function parsePlanText(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch (err) {
    const trimmed = text.trimEnd()
    const truncated = trimmed.startsWith('{') && !trimmed.endsWith('}')
    throw new LifeboatError(
      'PLAN_FILE_CORRUPT',
      `The plan file ${path} is not valid JSON${truncated ? ' (it looks truncated)' : ''}`,
      {
        cause: err,
        detail: `${describeError(err)}. A plan file is written whole or not at all, so it was damaged or replaced after it was written.`,
        hints: [REPLAN_HINT],
      },
    )
  }
}

/** The parsed plan file checked: a plan object, its format version, the schema, the digest and the approvals. */
function checkPlanDocument(path: string, doc: unknown): Plan {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new LifeboatError('PLAN_FILE_INVALID', `The file ${path} is not a lifeboat plan`, {
      detail: 'A plan file holds one JSON object.',
      hints: [REPLAN_HINT],
    })
  }
  const version = (doc as {formatVersion?: unknown}).formatVersion
  if (version !== PLAN_FORMAT_VERSION) {
    const older = typeof version === 'number' && Number.isInteger(version) && version < PLAN_FORMAT_VERSION
    throw new LifeboatError(
      'PLAN_FILE_VERSION',
      version === undefined
        ? `The file ${path} is not a lifeboat plan (it has no formatVersion)`
        : older
          ? `The plan file ${path} was made by an older lifeboat (plan format ${version}); this lifeboat reads only format ${PLAN_FORMAT_VERSION}`
          : `The plan file ${path} has format version ${JSON.stringify(version)}; this lifeboat reads only version ${PLAN_FORMAT_VERSION}`,
      {
        detail: older
          ? 'A plan is never converted: the plan that is applied must be the plan that was reviewed.'
          : undefined,
        hints: older
          ? ['Plan again with this lifeboat and review the new plan: `lifeboat plan SPEC --out FILE`.']
          : [
              'Use the lifeboat release that made the plan, or make a new plan with this one: `lifeboat plan SPEC --out FILE`.',
            ],
      },
    )
  }

  const validate = schemaValidator('plan.schema.json')
  if (!validate(doc)) {
    throw new LifeboatError('PLAN_FILE_INVALID', `The plan file ${path} does not match the plan schema`, {
      detail: describeSchemaErrors(validate.errors),
      hints: ['A plan file is made by `lifeboat plan` and never edited by hand.', REPLAN_HINT],
    })
  }
  const plan = doc as Plan

  const digest = planDigest(plan)
  if (digest !== plan.digest) {
    throw new LifeboatError('PLAN_FILE_EDITED', `The plan file ${path} was changed after it was made`, {
      detail: `Its digest says ${plan.digest} but its content hashes to ${digest}. A plan that was edited is not the plan that was reviewed.`,
      hints: [REPLAN_HINT, 'Review and approve the new plan again.'],
    })
  }
  const foreign = plan.approvals.filter((a) => a.digest !== plan.digest)
  if (foreign.length > 0) {
    throw new LifeboatError('PLAN_FILE_EDITED', `The plan file ${path} carries approvals made for another plan`, {
      detail: `Approved by ${foreign.map((a) => a.name).join(', ')} for a different digest; approvals cannot be carried over.`,
      hints: [REPLAN_HINT, 'Ask the approvers to approve the new plan with `lifeboat approve PLAN --as NAME`.'],
    })
  }
  const names = plan.approvals.map((a) => a.name)
  if (new Set(names).size !== names.length) {
    throw new LifeboatError('PLAN_FILE_INVALID', `The plan file ${path} records the same approver twice`, {
      detail: 'Each approver appears once; `lifeboat approve` replaces an earlier approval by the same name.',
      hints: [REPLAN_HINT],
    })
  }
  return plan
}

/** Refuses a plan made for another cluster: its name or any of the engine's identity facts differ. */
export function assertPlanForCluster(plan: Plan, cluster: ClusterIdentity): void {
  const differences = clusterDifferences(plan.cluster, cluster)
  if (differences.length === 0) return
  throw new LifeboatError(
    'PLAN_WRONG_CLUSTER',
    `The plan is for cluster ${plan.cluster.name}, not this one (${cluster.name})`,
    {
      detail: differences.join('\n'),
      hints: ['Apply the plan made for this cluster, or make one: `lifeboat plan SPEC --out FILE`.'],
    },
  )
}

/** The identity facts that differ, compared as a whole by name (values are the engine's normalised strings). */
function clusterDifferences(planned: ClusterIdentity, actual: ClusterIdentity): string[] {
  const out: string[] = []
  if (planned.name !== actual.name) out.push(`name: plan ${planned.name}, cluster ${actual.name}`)
  const a = new Map(planned.facts.map((f) => [f.name, f]))
  const b = new Map(actual.facts.map((f) => [f.name, f]))
  const names = [...new Set([...a.keys(), ...b.keys()])].sort(compareCodeUnits)
  for (const name of names) {
    const pv = a.get(name)?.value
    const cv = b.get(name)?.value === undefined ? undefined : String(b.get(name)!.value)
    if (pv !== cv)
      out.push(`${a.get(name)?.label ?? b.get(name)?.label ?? name}: plan ${pv ?? '(none)'}, cluster ${cv ?? '(none)'}`)
  }
  return out
}

/** An approver's name as an approval records it: trimmed, and never empty (APPROVAL_NAME_EMPTY). */
export function approverName(name: string): string {
  const trimmed = name.trim()
  if (trimmed === '')
    throw new LifeboatError('APPROVAL_NAME_EMPTY', 'An approval needs a name', {hints: ['Pass --as NAME.']})
  return trimmed
}

/** An approval to record: who, when (ISO time, passed in), and an optional comment. */
export interface ApprovalInput {
  name: string
  comment?: string
  at: string
  /** An SSH signature of the plan digest, and its key's fingerprint. */
  signature?: string
  key?: string
}

/**
 * Records an approval on a plan file (atomic rewrite). The plan must pass readPlanFile. One
 * approval per distinct name: approving again replaces the earlier one and never counts twice.
 * Approvals are kept sorted by name. Two approvers writing the same file at the same instant can
 * lose one update (last rename wins); approvals are normally collected one after the other.
 */
export async function addApproval(path: string, approval: ApprovalInput): Promise<Plan> {
  const name = approverName(approval.name)
  if (Number.isNaN(Date.parse(approval.at)))
    throw new InternalError(`approval time ${JSON.stringify(approval.at)} is not an ISO time`)
  const plan = await readPlanFile(path)
  const record: Approval = {
    name,
    ...(approval.comment ? {comment: redactInline(approval.comment)} : {}),
    at: approval.at,
    digest: plan.digest,
    ...(approval.signature ? {signature: approval.signature} : {}),
    ...(approval.key ? {key: approval.key} : {}),
  }
  // One approval per name and per key: signing again replaces the earlier one.
  const approvals = [
    ...plan.approvals.filter((a) => a.name !== name && (record.key === undefined || a.key !== record.key)),
    record,
  ].sort((a, b) => compareCodeUnits(a.name, b.name))
  const updated: Plan = {...plan, approvals}
  await writePlanFile(path, updated)
  return updated
}
