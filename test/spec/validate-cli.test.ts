/**
 * `lifeboat validate` through the real binary (built by `pretest`; run `npx tsc -p tsconfig.json`
 * first when running this file alone).
 */
import {describe, expect, it} from 'vitest'

import {REPO, lifeboat as run, type CliResult} from '../e2e/helpers.js'

/** `lifeboat ARGS` from the repository root (in the test worker where it can: e2e/helpers.ts). */
function lifeboat(...args: string[]): Promise<CliResult> {
  return run(args, {cwd: REPO})
}

const SPECS = 'test/fixtures/specs'

/**
 * stderr carries no error and no stack trace. (Not "is empty": oclif warns on stderr about other
 * commands of the tree that fail to load while they are being built, which is not ours to judge.)
 */
function expectCleanStderr(stderr: string): void {
  expect(stderr).not.toMatch(/^Error/m)
  expect(stderr).not.toMatch(/^\s+at \S/m)
}

describe('lifeboat validate', () => {
  it('exits 0 and says valid for every valid example', async () => {
    const files = [
      'pegasus-meta-recovery.yaml',
      'pegasus-ddd-recovery.yaml',
      'pegasus-zk-migration.yaml',
      'openmldb-recovery.yaml',
      'tikv-unsafe-recovery.yaml',
      'openmldb-recovery.json',
    ].map((f) => `${SPECS}/${f}`)
    const r = await lifeboat('validate', ...files)
    expectCleanStderr(r.stderr)
    expect(r.code).toBe(0)
    const lines = r.stdout.trim().split('\n')
    expect(lines).toHaveLength(files.length)
    for (const [i, f] of files.entries()) expect(lines[i]).toMatch(new RegExp(`^${f.replace(/\./g, '\\.')}: valid \\(`))
  })

  it('prints FILE:LINE:COL  CODE  message, the hint, and a summary; exits 1', async () => {
    const r = await lifeboat('validate', `${SPECS}/invalid/misspelt-key.yaml`, `${SPECS}/pegasus-meta-recovery.yaml`)
    expect(r.code).toBe(1)
    const lines = r.stdout.split('\n')
    expect(lines[0]).toMatch(/^test\/fixtures\/specs\/invalid\/misspelt-key\.yaml:11:3 {2}SCHEMA_UNKNOWN_KEY {2}\S/)
    expect(lines[1]).toMatch(/^ {4}hint: .*skip_bad_nodes/)
    expect(lines[2]).toBe('test/fixtures/specs/invalid/misspelt-key.yaml: 1 problem (1 error)')
    expect(lines[3]).toMatch(/^test\/fixtures\/specs\/pegasus-meta-recovery\.yaml: valid/)
    expectCleanStderr(r.stderr)
  })

  it("--json gathers every file's diagnostics with all fields", async () => {
    const r = await lifeboat(
      'validate',
      '--json',
      `${SPECS}/invalid/bad-port.yaml`,
      `${SPECS}/invalid/nodes-file-malformed.yaml`,
    )
    expect(r.code).toBe(1)
    const out = JSON.parse(r.stdout) as {valid: boolean; diagnostics: Record<string, unknown>[]}
    expect(out.valid).toBe(false)
    expect(out.diagnostics.map((d) => `${String(d.code)}@${String(d.line)}:${String(d.col)}`)).toEqual([
      'BAD_HOST_PORT@12:7',
      'DUPLICATE_NODE@13:7',
      'BAD_HOST_PORT@14:7',
      'BAD_HOST_PORT@15:7',
      'NODES_FILE_MALFORMED@3:1',
      'DUPLICATE_NODE@4:1',
      'NODES_FILE_MALFORMED@5:3',
    ])
    for (const d of out.diagnostics)
      expect(Object.keys(d).sort()).toEqual(['code', 'col', 'file', 'hint', 'line', 'message', 'path', 'severity'])
    expect(out.diagnostics[0]).toMatchObject({
      file: `${SPECS}/invalid/bad-port.yaml`,
      path: '/recovery/target_nodes/1',
      severity: 'error',
    })
    expect(out.diagnostics[4]?.file).toBe(`${SPECS}/invalid/malformed_node_list`)
  })

  it('--json on valid specs exits 0', async () => {
    const r = await lifeboat('validate', '--json', `${SPECS}/tikv-unsafe-recovery.yaml`)
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toEqual({valid: true, diagnostics: []})
  })

  it('answers a directory, a missing file and binary garbage with diagnostics, not a stack trace', async () => {
    const r = await lifeboat(
      'validate',
      SPECS,
      `${SPECS}/nope.yaml`,
      `${SPECS}/invalid/binary.bin`,
      `${SPECS}/invalid/alias-bomb.yaml`,
    )
    expect(r.code).toBe(1)
    expectCleanStderr(r.stderr)
    expect(r.stdout).toContain(`${SPECS}:1:1  NOT_A_FILE  `)
    expect(r.stdout).toContain(`${SPECS}/nope.yaml:1:1  FILE_NOT_FOUND  `)
    expect(r.stdout).toContain(`${SPECS}/invalid/binary.bin:1:1  BINARY_FILE  `)
    expect(r.stdout).toContain(`${SPECS}/invalid/alias-bomb.yaml:1:1  YAML_ALIAS_LIMIT  `)
    expect(r.stdout).not.toMatch(/\n\s+at /)
  })

  it('without a spec it is a usage error (exit 1)', async () => {
    const r = await lifeboat('validate')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^Error: /m)
    expect(r.stderr).not.toMatch(/^\s+at \S/m)
  })
})
