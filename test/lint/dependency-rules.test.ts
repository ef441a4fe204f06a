// The dependency rules of DESIGN.md section 3 are enforced by eslint.config.js; these tests prove each rule fires.
import {ESLint} from 'eslint'
import {describe, expect, it} from 'vitest'

const eslint = new ESLint({cwd: process.cwd()})

async function ruleIds(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, {filePath})
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`)
}

describe('dependency rules', () => {
  it('keeps plan/ and render/ pure: no I/O, clock or randomness', async () => {
    expect(
      (await ruleIds('src/plan/x.ts', "import {readFileSync} from 'node:fs'\nexport const a = readFileSync")).join(),
    ).toMatch(/no-restricted-imports.*no I\/O/)
    expect((await ruleIds('src/render/x.ts', 'export const t = Date.now()')).join()).toMatch(/no clock/)
    expect((await ruleIds('src/render/x.ts', 'export const t = new Date()')).join()).toMatch(/no clock/)
    expect((await ruleIds('src/plan/x.ts', 'export const r = Math.random()')).join()).toMatch(/no randomness/)
    expect(
      (await ruleIds('src/plan/x.ts', "import {connectZk} from '../zk/index.js'\nexport const c = connectZk")).join(),
    ).toMatch(/no I\/O layers/)
  })

  it('keeps engine planners pure, even nested', async () => {
    expect(
      (
        await ruleIds(
          'src/engines/pegasus/meta-recovery/planner.ts',
          "import {connect} from 'node:net'\nexport const c = connect",
        )
      ).join(),
    ).toMatch(/no I\/O/)
    expect(
      (await ruleIds('src/engines/pegasus/meta-recovery/planner.ts', 'export const t = Date.now()')).join(),
    ).toMatch(/no clock/)
  })

  it('lets plan/file.ts do I/O', async () => {
    expect(
      await ruleIds('src/plan/file.ts', "import {readFileSync} from 'node:fs'\nexport const a = readFileSync"),
    ).toEqual([])
  })

  it('forbids importing commands/ from anywhere else', async () => {
    expect(
      (await ruleIds('src/apply/x.ts', "import Plan from '../commands/plan.js'\nexport const p = Plan")).join(),
    ).toMatch(/Nothing imports commands/)
  })

  it('forbids the lab from importing planners, gatherers and engines, but allows the wire codec', async () => {
    expect(
      (
        await ruleIds(
          'src/lab/pegasus/x.ts',
          "import {planMetaRecovery} from '../../engines/pegasus/meta-recovery/planner.js'\nexport const p = planMetaRecovery",
        )
      ).join(),
    ).toMatch(/independent implementation/)
    expect(
      (
        await ruleIds(
          'src/lab/pegasus/x.ts',
          "import {gather} from '../../engines/pegasus/meta-recovery/gather.js'\nexport const g = gather",
        )
      ).join(),
    ).toMatch(/independent implementation/)
    expect(
      await ruleIds(
        'src/lab/pegasus/x.ts',
        "import {encode} from '../../engines/pegasus/wire/index.js'\nexport const e = encode",
      ),
    ).toEqual([])
  })

  it('keeps zk/ free of domain modules and engines free of render/ and the lab', async () => {
    expect(
      (await ruleIds('src/zk/x.ts', "import {buildPlan} from '../plan/build.js'\nexport const b = buildPlan")).join(),
    ).toMatch(/zk\/ imports no domain module/)
    expect(
      (
        await ruleIds(
          'src/engines/pegasus/x.ts',
          "import {renderPlanText} from '../../render/text.js'\nexport const r = renderPlanText",
        )
      ).join(),
    ).toMatch(/render/)
    expect(
      (await ruleIds('src/engines/pegasus/x.ts', "import {x} from '../tikv/planner.js'\nexport const y = x")).join(),
    ).toMatch(/another engine/)
  })
})
