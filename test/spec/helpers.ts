/** Shared helpers of the spec tests. */
import {fileURLToPath} from 'node:url'

import {loadEngineRegistry} from '../../src/engines/registry.js'
import * as spec from '../../src/spec/index.js'
import type {Diagnostic, LoadOptions, LoadResult} from '../../src/spec/index.js'

/** The built-in engines by kind: their `checkSpec` are the semantic checks, as plan and validate run them. */
async function engines(): Promise<NonNullable<LoadOptions['engines']>> {
  return (await loadEngineRegistry({})).engines
}

/** `loadSpecFile` with the built-in engines' checks. */
export async function loadSpecFile(path: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return spec.loadSpecFile(path, {engines: await engines(), ...opts})
}

/** `validateSpecText` with the built-in engines' checks. */
export async function validateSpecText(text: string, file: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return spec.validateSpecText(text, file, {engines: await engines(), ...opts})
}

/** Absolute path of a file under test/fixtures/specs. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/specs/${name}`, import.meta.url))
}

/** `CODE@line:col` for each diagnostic, in report order: what the tests assert on. */
export function where(r: LoadResult | {diagnostics: Diagnostic[]}): string[] {
  return r.diagnostics.map((d) => `${d.code}@${d.line}:${d.col}`)
}

/** A minimal valid PegasusMetaRecovery spec, with lines that tests replace. */
export const META_SPEC = `apiVersion: lifeboat/v1
kind: PegasusMetaRecovery
metadata:
  name: onebox-meta-recovery
cluster:
  name: onebox
  meta_servers: [127.0.0.1:34601]
  zookeeper: {hosts: 127.0.0.1:2181, root: /pegasus/onebox}
recovery:
  target_nodes: [127.0.0.1:34801, 127.0.0.1:34802]
  skip_bad_nodes: false
`
