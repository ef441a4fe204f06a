// The gate decisions are pure: every combination of flags, terminal and approvals, checked
// without any cluster.
import {describe, expect, it} from 'vitest'

import {
  approvalPrompt,
  approverPolicyOf,
  approverRequirement,
  decideGate,
  type GateInput,
} from '../../src/apply/gates.js'
import type {Approval, RiskClass, Step} from '../../src/plan/types.js'

const DIGEST = 'd'.repeat(64)

function step(id: string, risk: RiskClass): Step {
  return {
    id,
    kind: 'kv.set',
    params: {},
    risk,
    description: id,
    expect: '',
    ...(risk === 'lossy' || risk === 'disruptive' ? {riskReason: 'why'} : {}),
  }
}

function approval(name: string, digest = DIGEST): Approval {
  return {name, at: '2026-01-01T00:00:00Z', digest}
}

function input(steps: Step[], over: Partial<GateInput> = {}): GateInput {
  return {
    plan: {steps, approvals: [], digest: DIGEST, cluster: {name: 'c1', facts: []}},
    policy: {},
    autoApprove: false,
    allowDataLoss: false,
    interactive: false,
    savedPlan: true,
    planRef: 'plan.json',
    ...over,
  }
}

describe('decideGate', () => {
  it('needs nothing for a plan that only reads', () => {
    expect(decideGate(input([step('01', 'read')])).kind).toBe('none')
  })

  it('refuses without a terminal and without --auto-approve (exit 4)', () => {
    const d = decideGate(input([step('01', 'safe')]))
    expect(d).toMatchObject({kind: 'refuse', code: 'APPROVAL_REQUIRED', exit: 4})
  })

  it('asks for yes at a terminal, and for the cluster name when a step is lossy', () => {
    expect(decideGate(input([step('01', 'safe')], {interactive: true}))).toEqual({
      kind: 'prompt',
      expect: 'yes',
      lossy: [],
    })
    const lossy = decideGate(input([step('01', 'safe'), step('02', 'lossy')], {interactive: true}))
    expect(lossy).toEqual({kind: 'prompt', expect: 'c1', lossy: ['02']})
    if (lossy.kind === 'prompt')
      expect(approvalPrompt(lossy)).toContain("Only the cluster name 'c1' will be accepted to approve.")
  })

  it('--auto-approve needs --allow-data-loss for lossy steps', () => {
    expect(decideGate(input([step('01', 'lossy')], {autoApprove: true}))).toMatchObject({
      kind: 'refuse',
      code: 'DATA_LOSS_NOT_ALLOWED',
      exit: 4,
    })
    expect(decideGate(input([step('01', 'lossy')], {autoApprove: true, allowDataLoss: true}))).toEqual({
      kind: 'auto',
      how: '--auto-approve --allow-data-loss',
    })
    expect(decideGate(input([step('01', 'disruptive')], {autoApprove: true}))).toEqual({
      kind: 'auto',
      how: '--auto-approve',
    })
  })

  it('counts distinct approvals for this digest only, and refuses before any prompt when short', () => {
    const steps = [step('01', 'lossy')]
    const policy = {lossy: 2}
    const one = decideGate(
      input(steps, {
        policy,
        autoApprove: true,
        allowDataLoss: true,
        plan: {
          steps,
          digest: DIGEST,
          cluster: {name: 'c1', facts: []},
          approvals: [approval('alice'), approval('bob', 'e'.repeat(64))],
        },
      }),
    )
    expect(one).toMatchObject({
      kind: 'refuse',
      code: 'APPROVALS_MISSING',
      message: expect.stringContaining('1 is recorded (alice)'),
    })
    const two = decideGate(
      input(steps, {
        policy,
        interactive: true,
        plan: {
          steps,
          digest: DIGEST,
          cluster: {name: 'c1', facts: []},
          approvals: [approval('alice'), approval('bob')],
        },
      }),
    )
    expect(two.kind).toBe('prompt')
  })
})

describe('approverRequirement', () => {
  it('applies a rule to its class and to more dangerous ones; the strictest wins', () => {
    const plan = {steps: [step('01', 'safe'), step('02', 'lossy')], approvals: [], digest: DIGEST}
    expect(approverRequirement(plan, {disruptive: 1})).toMatchObject({risk: 'disruptive', needed: 1, steps: ['02']})
    expect(approverRequirement(plan, {disruptive: 1, lossy: 2})).toMatchObject({risk: 'lossy', needed: 2})
    expect(approverRequirement({...plan, steps: [step('01', 'safe')]}, {disruptive: 1})).toBeUndefined()
  })

  it('reads the policy from a spec document and ignores junk', () => {
    expect(approverPolicyOf({approval: {approvers: {lossy: 2, disruptive: 'x', safe: 0}}})).toEqual({lossy: 2})
    expect(approverPolicyOf({})).toEqual({})
  })
})
