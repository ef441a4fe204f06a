import {mkdir, mkdtemp, readFile, readdir, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, test} from 'vitest'

import {LifeboatError} from '../../src/errors.js'
import {buildPlan} from '../../src/plan/build.js'
import {
  addApproval,
  assertPlanForCluster,
  readPlanFile,
  schemaValidator,
  writeFileAtomic,
  writePlanFile,
} from '../../src/plan/file.js'
import {serializePlan} from '../../src/plan/serialize.js'
import {fixtureInput} from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lifeboat-planfile-'))
})
afterAll(async () => {
  await rm(dir, {recursive: true, force: true})
})

const plan = () => buildPlan(fixtureInput('ddd'))

/** The code of the LifeboatError a promise rejects with. */
async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    expect(err).toBeInstanceOf(LifeboatError)
    return (err as LifeboatError).code
  }
  throw new Error('expected a refusal')
}

describe('plan file', () => {
  test('round trip: written atomically, read back equal, no temporary file left behind', async () => {
    const path = join(dir, 'round.json')
    await writePlanFile(path, plan())
    expect(await readPlanFile(path)).toEqual(plan())
    expect(await readFile(path, 'utf8')).toBe(serializePlan(plan()))
    expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([])
  })

  test('refusals: missing, a directory, not JSON, truncated, not a plan, another version, invalid, edited', async () => {
    const good = serializePlan(plan())
    const put = async (name: string, text: string) => {
      const p = join(dir, name)
      await writeFile(p, text)
      return p
    }
    expect(await refusal(readPlanFile(join(dir, 'nope.json')))).toBe('PLAN_FILE_NOT_FOUND')
    await mkdir(join(dir, 'adir'), {recursive: true})
    expect(await refusal(readPlanFile(join(dir, 'adir')))).toBe('PLAN_FILE_UNREADABLE')
    expect(await refusal(readPlanFile(await put('text.json', 'hello, world\n')))).toBe('PLAN_FILE_CORRUPT')
    const truncated = await put('truncated.json', good.slice(0, Math.floor(good.length / 2)))
    await expect(readPlanFile(truncated)).rejects.toThrow(/looks truncated/)
    expect(await refusal(readPlanFile(await put('array.json', '[1, 2]')))).toBe('PLAN_FILE_INVALID')
    expect(
      await refusal(readPlanFile(await put('v3.json', good.replace('"formatVersion": 2', '"formatVersion": 3')))),
    ).toBe('PLAN_FILE_VERSION')
    // A plan made by an older lifeboat (format 1) is refused with the advice to plan again.
    await expect(
      readPlanFile(await put('v1.json', good.replace('"formatVersion": 2', '"formatVersion": 1'))),
    ).rejects.toMatchObject({
      code: 'PLAN_FILE_VERSION',
      message: expect.stringMatching(/made by an older lifeboat/),
      hints: [expect.stringMatching(/Plan again.*lifeboat plan SPEC/)],
    })
    expect(await refusal(readPlanFile(await put('noversion.json', '{"hello": 1}')))).toBe('PLAN_FILE_VERSION')
    const noSteps = JSON.parse(good) as Record<string, unknown>
    delete noSteps.steps
    expect(await refusal(readPlanFile(await put('nosteps.json', JSON.stringify(noSteps))))).toBe('PLAN_FILE_INVALID')
    const badRisk = good.replace('"risk": "lossy"', '"risk": "harmless"')
    await expect(readPlanFile(await put('badrisk.json', badRisk))).rejects.toMatchObject({
      code: 'PLAN_FILE_INVALID',
      detail: expect.stringMatching(/risk/),
    })
    const edited = good.replace('"node": "127.0.0.1:34803"', '"node": "127.0.0.1:34801"')
    expect(edited).not.toBe(good)
    expect(await refusal(readPlanFile(await put('edited.json', edited)))).toBe('PLAN_FILE_EDITED')
    // Key order and whitespace are not edits: the digest is over canonical JSON.
    const reformatted = await put('reformatted.json', JSON.stringify(JSON.parse(good)))
    expect((await readPlanFile(reformatted)).digest).toBe(plan().digest)
  })

  test('another cluster is refused; the same cluster in another order is not', () => {
    const p = plan()
    expect(() => assertPlanForCluster(p, {...p.cluster})).not.toThrow()
    // The facts are compared by name, whatever their order.
    expect(() => assertPlanForCluster(p, {...p.cluster, facts: [...p.cluster.facts].reverse()})).not.toThrow()
    try {
      assertPlanForCluster(p, {
        name: 'staging',
        facts: [{name: 'zookeeper', label: 'ZooKeeper', value: '10.9.9.9:2181/pegasus/staging'}],
      })
      throw new Error('expected a refusal')
    } catch (err) {
      expect((err as LifeboatError).code).toBe('PLAN_WRONG_CLUSTER')
      expect((err as LifeboatError).detail).toMatch(
        /ZooKeeper: plan 127.0.0.1:2181\/pegasus\/onebox, cluster 10.9.9.9:2181\/pegasus\/staging/,
      )
      expect((err as LifeboatError).detail).toMatch(/endpoints: plan 127.0.0.1:34601, cluster \(none\)/)
    }
    const otherRoot = p.cluster.facts.map((f) =>
      f.name === 'zookeeper' ? {...f, value: '127.0.0.1:2181/pegasus/other'} : f,
    )
    expect(() => assertPlanForCluster(p, {...p.cluster, facts: otherRoot})).toThrow(/not this one/)
  })

  test('approvals: one per name, replaced not counted twice, bound to the digest', async () => {
    const path = join(dir, 'approve.json')
    await writePlanFile(path, plan())
    await addApproval(path, {name: 'bob', at: '2025-03-02T09:00:00.000Z'})
    await addApproval(path, {name: 'alice', comment: 'checked decrees', at: '2025-03-02T09:05:00.000Z'})
    const again = await addApproval(path, {name: 'bob', comment: 'second look', at: '2025-03-02T09:10:00.000Z'})
    expect(again.approvals.map((a) => [a.name, a.comment])).toEqual([
      ['alice', 'checked decrees'],
      ['bob', 'second look'],
    ])
    const read = await readPlanFile(path)
    expect(read.approvals).toHaveLength(2)
    expect(read.approvals.every((a) => a.digest === read.digest)).toBe(true)
    expect(schemaValidator('plan.schema.json')(read)).toBe(true)

    // An approval copied from another plan is refused.
    const other = JSON.parse(await readFile(path, 'utf8')) as {approvals: {digest: string}[]}
    other.approvals[0]!.digest = 'f'.repeat(64)
    await writeFile(join(dir, 'foreign.json'), JSON.stringify(other))
    expect(await refusal(readPlanFile(join(dir, 'foreign.json')))).toBe('PLAN_FILE_EDITED')
    // Approving an edited plan is refused and leaves the file as it was.
    const editedPath = join(dir, 'edited-approve.json')
    const editedText = serializePlan(plan()).replace('"node": "127.0.0.1:34803"', '"node": "127.0.0.1:34801"')
    await writeFile(editedPath, editedText)
    expect(await refusal(addApproval(editedPath, {name: 'carol', at: '2025-03-02T09:00:00.000Z'}))).toBe(
      'PLAN_FILE_EDITED',
    )
    expect(await readFile(editedPath, 'utf8')).toBe(editedText)
    expect(await refusal(addApproval(path, {name: '  ', at: '2025-03-02T09:00:00.000Z'}))).toBe('APPROVAL_NAME_EMPTY')
  })

  test('writing into a missing directory fails clearly and leaves nothing', async () => {
    expect(await refusal(writePlanFile(join(dir, 'missing', 'p.json'), plan()))).toBe('PLAN_FILE_WRITE_FAILED')
  })
})

describe('writeFileAtomic in pieces (issue 17: a 134 MB plan is never encoded whole)', () => {
  test('writes the UTF-8 bytes of the text whatever the piece size, never splitting a surrogate pair', async () => {
    const text = `{"a":"é𝄞x😀😀","b":"${'☃'.repeat(5)}𝄞"}\n`
    for (const piece of [1, 2, 3, 4, 7, 1000]) {
      const path = join(dir, `pieces-${piece}.json`)
      await writeFileAtomic(path, text, piece)
      expect(await readFile(path)).toEqual(Buffer.from(text, 'utf8'))
    }
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
})
