// The TiKVUnsafeRecovery spec: the kind's schema and the engine's checks, by code and position.
import {describe, expect, it} from 'vitest'

import {loadEngineRegistry} from '../../src/engines/registry.js'
import {toTiKVSpec} from '../../src/engines/tikv/spec.js'
import {validateSpecText} from '../../src/spec/index.js'

const head = `apiVersion: lifeboat/v1
kind: TiKVUnsafeRecovery
metadata: {name: t}
cluster: {name: prod, pd: [10.0.0.1:2379]}
`
async function check(recovery: string, cluster?: string): Promise<Array<{code: string; line: number; col: number}>> {
  const text =
    cluster === undefined
      ? `${head}recovery:\n${recovery}`
      : head.replace(/cluster: .*\n/, `${cluster}\n`) + `recovery:\n${recovery}`
  const r = await validateSpecText(text, 'spec.yaml', {engines: (await loadEngineRegistry()).engines})
  return r.diagnostics.map((d) => ({code: d.code, line: d.line, col: d.col}))
}

describe('TiKVUnsafeRecovery spec', () => {
  it('takes store ids as integers or, past 2^53, quoted; fills the defaults', async () => {
    const text = `${head}recovery:\n  failed_stores: [4, "18446744073709551615"]\n`
    const r = await validateSpecText(text, 'spec.yaml', {engines: (await loadEngineRegistry()).engines})
    expect(r.diagnostics).toEqual([])
    expect(toTiKVSpec(r.spec!.spec).recovery).toEqual({
      failed_stores: ['4', '18446744073709551615'],
      auto_detect: false,
      timeout_seconds: 300,
      skip_lost_partitions: false,
    })
  })

  it('refuses auto_detect with failed stores, no store at all, a store twice, an id past uint64', async () => {
    expect(await check('  failed_stores: [4]\n  auto_detect: true\n')).toEqual([
      {code: 'CONTRADICTORY_OPTIONS', line: 7, col: 3},
    ])
    expect(await check('  timeout_seconds: 60\n')).toEqual([{code: 'SCHEMA_REQUIRED', line: 5, col: 1}])
    expect(await check('  failed_stores: [4, "4"]\n')).toEqual([{code: 'DUPLICATE_ENTRY', line: 6, col: 22}])
    expect((await check('  failed_stores: ["18446744073709551616"]\n')).map((d) => d.code)).toEqual(['SCHEMA_RANGE'])
  })

  it('refuses a bad PD endpoint and a zero timeout by the schema', async () => {
    expect(
      (await check('  failed_stores: [4]\n', 'cluster: {name: prod, pd: ["10.0.0.1"]}')).map((d) => d.code),
    ).not.toEqual([])
    expect((await check('  failed_stores: [4]\n  timeout_seconds: 0\n')).map((d) => [d.code, d.line])).toEqual([
      [expect.stringMatching(/^SCHEMA_/), 7],
    ])
  })
})
