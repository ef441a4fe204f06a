// The engine registry and its plugin hook (LIFEBOAT_ENGINE_MODULES).
import {mkdtempSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {describe, expect, it} from 'vitest'

import {BUILT_IN, engineFor, loadEngineRegistry} from '../../src/engines/registry.js'

const TEST_ENGINE = resolve('test/engine/test-kv.js')

describe('engine registry', () => {
  it.each(BUILT_IN.map((e) => [e.kind, e]))(
    'lists the built-in %s under the kind its engine handles',
    async (kind, e) => {
      expect((await e.load()).kind).toBe(kind)
      const registered = (await loadEngineRegistry({})).engines.get(kind)
      expect(registered?.source).toBe('built-in')
      // Loaded once: the same engine object each time.
      expect(await registered?.load()).toBe(await registered?.load())
    },
  )

  it('loads an engine module named in LIFEBOAT_ENGINE_MODULES, with its spec schema', async () => {
    const env = {LIFEBOAT_ENGINE_MODULES: TEST_ENGINE}
    const engine = await engineFor('TestKV', env)
    expect(engine.kind).toBe('TestKV')
    expect((await loadEngineRegistry(env)).extraKinds.TestKV).toMatchObject({type: 'object'})
  })

  it('says which kinds it knows when asked for another', async () => {
    await expect(engineFor('NoSuchKind', {LIFEBOAT_ENGINE_MODULES: TEST_ENGINE})).rejects.toMatchObject({
      code: 'ENGINE_UNKNOWN_KIND',
      detail: expect.stringContaining('TestKV'),
    })
  })

  it('refuses a relative path, a missing module, a module that is not an engine, and a kind claimed twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lifeboat-engine-'))
    const half = join(dir, 'half.mjs')
    writeFileSync(half, "export default {kind: 'Half', gather() {}}\n")
    await expect(loadEngineRegistry({LIFEBOAT_ENGINE_MODULES: 'engine.js'})).rejects.toMatchObject({
      code: 'ENGINE_MODULE_INVALID',
      message: expect.stringContaining('not absolute'),
    })
    await expect(loadEngineRegistry({LIFEBOAT_ENGINE_MODULES: join(dir, 'missing.mjs')})).rejects.toMatchObject({
      code: 'ENGINE_MODULE_INVALID',
    })
    await expect(loadEngineRegistry({LIFEBOAT_ENGINE_MODULES: half})).rejects.toMatchObject({
      code: 'ENGINE_MODULE_INVALID',
      message: expect.stringContaining('missing cluster, lock, plan, connect, close, verify, steps'),
    })
    await expect(loadEngineRegistry({LIFEBOAT_ENGINE_MODULES: `${TEST_ENGINE},${TEST_ENGINE}`})).rejects.toMatchObject({
      code: 'ENGINE_DUPLICATE_KIND',
    })
  })
})
