/**
 * The approval policy apply enforces and the approvals that count, settled from outside the plan
 * file (issue 18). A plan's embedded spec and its approvals list can be edited and its plain
 * digest recomputed, so neither is trusted on its own:
 * - the policy is read from the spec file itself (the path the plan names, or --spec), which must
 *   hash to the plan's spec sha256, as must the spec source embedded in the plan;
 * - approvals count only as signatures verified against that policy's allowed signers.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, resolve} from 'node:path'

import {ExitCode, LifeboatError, describeError} from '../errors.js'
import {
  APPROVAL_NAMESPACE,
  keyFingerprint,
  parseAllowedSigners,
  principalsOf,
  verifySshSignature,
  type AllowedSigner,
} from '../sign/sshsig.js'
import type {LockProvider} from '../engines/types.js'
import type {Plan} from '../plan/types.js'
import {approverPolicyOf, type ApproverPolicy} from './gates.js'
import {loadSpecForEngine} from './plan-spec.js'

/** What the gates enforce. */
export interface GatePolicy {
  /** Distinct approvers needed per risk class. */
  approvers: ApproverPolicy
  /** The distinct approvers whose approval of this plan's digest counts, sorted. */
  approvals: string[]
  /** Where the policy was read, for the audit log and messages. */
  source: string
  /** Approvals on the plan that do not count, each with the reason. */
  rejected: string[]
}

interface TargetLike {
  fromSpec: boolean
}

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex')
}

function refused(code: string, message: string, detail: string, hints: string[]): LifeboatError {
  return new LifeboatError(code, message, {detail, hints, exit: ExitCode.APPROVAL})
}

/**
 * The spec a saved plan was made from, read again from disk: its document (with the approval
 * policy) and path. Refuses when the file is missing or differs from the plan's spec.
 */
export async function specFileOfPlan(
  plan: Plan,
  env: Record<string, string | undefined>,
  specFile?: string,
): Promise<{document: Record<string, unknown>; path: string}> {
  if (sha256(Buffer.from(plan.spec.source, 'utf8')) !== plan.spec.sha256) {
    throw refused(
      'PLAN_SPEC_EDITED',
      "The spec embedded in the plan does not hash to the plan's spec sha256",
      'The plan was edited after it was made (its digest is a plain hash anyone can recompute). Nothing was written.',
      ['Make a new plan from the reviewed spec: `lifeboat plan SPEC --out plan.json`.'],
    )
  }
  const path = specFile ?? plan.spec.path
  if (path === undefined || !existsSync(resolve(path))) {
    throw refused(
      'SPEC_FILE_NEEDED',
      path === undefined
        ? 'apply needs the spec file this plan was made from'
        : `the spec file ${path} this plan was made from is not there`,
      'The approval policy is read from the spec file, never from the copy inside the plan. Nothing was written.',
      ['Pass the reviewed spec with --spec FILE (from your repository), or run apply where the plan was made.'],
    )
  }
  const loaded = await loadSpecForEngine(path, env)
  if (loaded.planSpec.sha256 !== plan.spec.sha256) {
    throw refused(
      'SPEC_CHANGED',
      `the spec file ${path} differs from the spec this plan was made from`,
      `The file hashes to ${loaded.planSpec.sha256}; the plan names ${plan.spec.sha256}. The approval policy comes from the file, so the plan must match it. Nothing was written.`,
      [
        'Plan again from the spec as it is now and have it approved: `lifeboat plan SPEC --out plan.json`.',
        'Or pass the spec the plan was made from with --spec FILE.',
      ],
    )
  }
  return {document: loaded.planSpec.document, path}
}

/** Whether a policy asks for any approver. */
export function asksForApprovers(policy: ApproverPolicy): boolean {
  return Object.values(policy).some((n) => typeof n === 'number' && n > 0)
}

/** The allowed-signers file a spec document names, resolved from the spec's directory, or undefined. */
export function allowedSignersPath(document: Record<string, unknown>, specPath: string): string | undefined {
  const approval = document.approval as {allowed_signers?: unknown} | undefined
  const file = approval && typeof approval === 'object' ? approval.allowed_signers : undefined
  return typeof file === 'string' ? resolve(dirname(resolve(specPath)), file) : undefined
}

/** Reads an allowed-signers file, or refuses (exit 4) saying what is wrong with it. */
export async function readAllowedSigners(path: string): Promise<AllowedSigner[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw refused(
      'ALLOWED_SIGNERS_UNREADABLE',
      `could not read the allowed-signers file ${path}: ${describeError(err)}`,
      'Approvals are checked against the keys in this file; without it none can count. Nothing was written.',
      ['Check approval.allowed_signers in the spec: a path relative to the spec file.'],
    )
  }
  try {
    return parseAllowedSigners(text)
  } catch (err) {
    throw refused(
      'ALLOWED_SIGNERS_INVALID',
      `the allowed-signers file ${path} is not valid: ${describeError(err)}`,
      'Each line is `principal[,principal] [options] keytype base64key`, as git and ssh-keygen read it.',
      ['Fix the file; `ssh-keygen -Y find-principals` reads the same format.'],
    )
  }
}

/**
 * The approvals that count: each carries an SSH signature of this plan's digest in namespace
 * `lifeboat` by a key the allowed signers list; each key counts once, under its approval's name
 * when that is one of the key's principals, else under the key's first principal. Approvals
 * that fail are listed in `rejected` with the reason.
 */
export function countedApprovals(
  plan: Plan,
  signers: readonly AllowedSigner[],
): {approvals: string[]; rejected: string[]} {
  const byKey = new Map<string, string>()
  const rejected: string[] = []
  for (const a of plan.approvals) {
    if (a.digest !== plan.digest) continue
    if (a.signature === undefined) {
      rejected.push(`${a.name}: not signed`)
      continue
    }
    let result: ReturnType<typeof verifySshSignature>
    try {
      result = verifySshSignature(a.signature, plan.digest, APPROVAL_NAMESPACE)
    } catch (err) {
      rejected.push(`${a.name}: ${describeError(err)}`)
      continue
    }
    if (!result.ok) {
      rejected.push(`${a.name}: ${result.reason ?? 'the signature does not verify'}`)
      continue
    }
    const principals = principalsOf(signers, result.publicKey, APPROVAL_NAMESPACE)
    if (principals.length === 0) {
      rejected.push(`${a.name}: key ${keyFingerprint(result.publicKey)} is not in the allowed signers`)
      continue
    }
    const fp = keyFingerprint(result.publicKey)
    if (!byKey.has(fp)) byKey.set(fp, principals.includes(a.name) ? a.name : principals[0]!)
  }
  return {approvals: [...new Set(byKey.values())].sort(), rejected}
}

/** Where the cluster's minimum policy is kept (LockProvider.readValue/writeValue). */
export const CLUSTER_POLICY_VALUE = 'policy'

/** The cluster's minimum approver policy (`lifeboat policy set`), or {} when none is set or the store cannot keep one. */
export async function clusterPolicy(provider: LockProvider | undefined): Promise<ApproverPolicy> {
  if (!provider?.readValue) return {}
  const text = await provider.readValue(CLUSTER_POLICY_VALUE)
  if (text === null) return {}
  try {
    return approverPolicyOf({approval: {approvers: (JSON.parse(text) as {approvers?: unknown}).approvers}})
  } catch {
    throw refused(
      'CLUSTER_POLICY_INVALID',
      `the cluster's approval policy at ${provider.where} cannot be read`,
      'It is not the JSON `lifeboat policy set` writes. Nothing was written.',
      ['Set it again: `lifeboat policy set SPEC --lossy N ...`.'],
    )
  }
}

/** The stricter of two policies, class by class: a spec can raise the cluster's minimum, never lower it. */
export function stricterPolicy(a: ApproverPolicy, b: ApproverPolicy): ApproverPolicy {
  const out: ApproverPolicy = {}
  for (const risk of ['safe', 'disruptive', 'lossy'] as const) {
    const n = Math.max(a[risk] ?? 0, b[risk] ?? 0)
    if (n > 0) out[risk] = n
  }
  return out
}

/** The policy and the counted approvals for a plan about to be applied. */
export async function gatePolicyFor(
  plan: Plan,
  target: TargetLike,
  env: Record<string, string | undefined>,
  specFile?: string,
  provider?: LockProvider,
): Promise<GatePolicy> {
  const spec = target.fromSpec
    ? {document: plan.spec.document, path: plan.spec.path ?? '.'}
    : await specFileOfPlan(plan, env, specFile)
  const approvers = stricterPolicy(approverPolicyOf(spec.document), await clusterPolicy(provider))
  if (!asksForApprovers(approvers)) {
    // Approvals are only notes here: nothing is counted, so nothing needs to verify.
    return {
      approvers,
      approvals: [...new Set(plan.approvals.map((a) => a.name))].sort(),
      source: spec.path,
      rejected: [],
    }
  }
  // A spec applied straight away carries no approvals: the gate refuses and says how to collect them.
  if (target.fromSpec) return {approvers, approvals: [], source: spec.path, rejected: []}
  const signersFile = allowedSignersPath(spec.document, spec.path)
  if (signersFile === undefined) {
    throw refused(
      'ALLOWED_SIGNERS_MISSING',
      'the spec asks for approvers but names no allowed-signers file',
      'Only approvals signed with a known SSH key count (`lifeboat approve PLAN --key KEY`): the spec must say whose keys those are. Nothing was written.',
      ["Add `approval.allowed_signers: FILE` to the spec (git's allowed-signers format), then plan and approve again."],
    )
  }
  const counted = countedApprovals(plan, await readAllowedSigners(signersFile))
  return {approvers, approvals: counted.approvals, source: spec.path, rejected: counted.rejected}
}
