/**
 * Where lifeboat is installed: the folder holding its package.json and schemas/, found from this
 * module's own location, so it works from dist/ and from the TypeScript sources under vitest.
 */
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {InternalError} from './errors.js'

let cached: string | undefined

/** The package root (cached): the nearest folder above this module with package.json and schemas/. */
export function packageRoot(): string {
  if (cached !== undefined) return cached
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'schemas', 'spec.schema.json')) && existsSync(join(dir, 'package.json')))
      return (cached = dir)
    const parent = dirname(dir)
    if (parent === dir) throw new InternalError('schemas/spec.schema.json not found above the lifeboat installation')
    dir = parent
  }
}
