// `lifeboat show` through the real binary (build first: `npx tsc -p tsconfig.json`; npm test does).
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {buildPlan} from '../../src/plan/build.js'
import {writePlanFile} from '../../src/plan/file.js'
import {renderPlanText} from '../../src/render/text.js'
import {REPO, runCli} from '../cli/helpers.js'
import {fixtureInput} from './helpers.js'

async function lifeboat(args: string[]): Promise<{code: number; stdout: string; stderr: string}> {
  const r = await runCli(args, {cwd: REPO, env: {NO_COLOR: '', COLUMNS: '100'}})
  return {code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr}
}

let dir: string
let planPath: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-show-'))
  planPath = join(dir, 'plan.json')
  await writePlanFile(planPath, buildPlan(fixtureInput('ddd')))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

describe('lifeboat show', () => {
  test('prints the plan as text, markdown and JSON', async () => {
    const text = await lifeboat(['show', planPath])
    expect(text.code).toBe(0)
    expect(text.stdout).toBe(renderPlanText(buildPlan(fixtureInput('ddd')), {color: false, width: 100}))
    const md = await lifeboat(['show', planPath, '--format', 'markdown'])
    expect(md.stdout).toMatch(/^## lifeboat plan: PegasusDddRecovery `onebox-ddd`/)
    const json = await lifeboat(['show', planPath, '--json'])
    expect(JSON.parse(json.stdout)).toEqual(JSON.parse(await readFile(planPath, 'utf8')))
  })

  test('refuses an edited plan with a clear message, no stack trace, exit 1', async () => {
    const edited = join(dir, 'edited.json')
    await writeFile(
      edited,
      (await readFile(planPath, 'utf8')).replace('"node": "127.0.0.1:34803"', '"node": "127.0.0.1:34801"'),
    )
    const r = await lifeboat(['show', edited])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Error: The plan file .* was changed after it was made/)
    expect(r.stderr).not.toMatch(/\n\s+at /)
    const j = await lifeboat(['show', join(dir, 'missing.json'), '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout)).toMatchObject({error: {code: 'PLAN_FILE_NOT_FOUND'}})
  })
})
