// Golden files of an engine fixture, made by the real encoders: the body wrapped by buildPlan,
// written as the plan file (serializePlan), the terminal text and the markdown.
// Update them with `npx vitest run <test> -u` and review the diff by eye.
import {createHash} from 'node:crypto'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {expect} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {describeSchemaErrors, schemaValidator} from '../../src/plan/file.js'
import {serializePlan} from '../../src/plan/serialize.js'
import type {ClusterIdentity, Plan, PlanBody} from '../../src/plan/types.js'
import {renderPlanMarkdown} from '../../src/render/markdown.js'
import {renderPlanText} from '../../src/render/text.js'
import {validateSpecText} from '../../src/spec/index.js'

/** The time and tool version every fixture plan is made with. */
export const GOLDEN_NOW = '2026-01-01T00:00:00.000Z'
export const GOLDEN_TOOL_VERSION = '0.0.0-test'

/**
 * The full plan of a fixture folder (its spec.yaml and a planner's body), checked against the plan
 * schema, and compared with the folder's plan.json, plan.txt (no colour, 100 columns) and plan.md.
 */
export async function expectGoldens(dir: string, cluster: ClusterIdentity, body: PlanBody): Promise<Plan> {
  const source = readFileSync(join(dir, 'spec.yaml'), 'utf8')
  const loaded = await validateSpecText(source, 'spec.yaml')
  expect(loaded.spec, JSON.stringify(loaded.diagnostics)).toBeDefined()
  const document = loaded.spec!.document
  const meta = (document.metadata ?? {}) as {name?: string; ticket?: string}
  const plan = buildPlan({
    spec: {
      kind: String(document.kind),
      name: String(meta.name),
      ticket: meta.ticket,
      sha256: createHash('sha256').update(source).digest('hex'),
      source,
      document,
    },
    cluster,
    body,
    createdAt: GOLDEN_NOW,
    toolVersion: GOLDEN_TOOL_VERSION,
  })
  const json = serializePlan(plan)
  const validate = schemaValidator('plan.schema.json')
  expect(validate(JSON.parse(json)), describeSchemaErrors(validate.errors)).toBe(true)
  await expect(json).toMatchFileSnapshot(join(dir, 'plan.json'))
  await expect(renderPlanText(plan, {color: false, width: 100})).toMatchFileSnapshot(join(dir, 'plan.txt'))
  await expect(renderPlanMarkdown(plan).join('')).toMatchFileSnapshot(join(dir, 'plan.md'))
  return plan
}
