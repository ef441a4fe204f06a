import {chmod, mkdtemp, rm, truncate, writeFile} from 'node:fs/promises'
import {execFileSync} from 'node:child_process'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {MAX_DIAGNOSTICS, MAX_FILE_BYTES} from '../../src/spec/index.js'
import {META_SPEC, fixture, loadSpecFile, validateSpecText, where} from './helpers.js'

const VALID = [
  ['pegasus-meta-recovery.yaml', 'PegasusMetaRecovery'],
  ['pegasus-meta-recovery-file.yaml', 'PegasusMetaRecovery'],
  ['pegasus-ddd-recovery.yaml', 'PegasusDddRecovery'],
  ['pegasus-zk-migration.yaml', 'PegasusZkMigration'],
  ['openmldb-recovery.yaml', 'OpenMLDBRecovery'],
  ['openmldb-recovery.json', 'OpenMLDBRecovery'],
  ['tikv-unsafe-recovery.yaml', 'TiKVUnsafeRecovery'],
] as const

describe('valid examples', () => {
  it.each(VALID)('%s is valid', async (name, kind) => {
    const r = await loadSpecFile(fixture(name))
    expect(r.diagnostics).toEqual([])
    expect(r.ok).toBe(true)
    expect(r.spec?.kind).toBe(kind)
    expect(r.spec?.sha256).toMatch(/^[0-9a-f]{64}$/)
  })

  it('resolves target_nodes_file relative to the spec and keeps the document as written', async () => {
    const r = await loadSpecFile(fixture('pegasus-meta-recovery-file.yaml'))
    expect(r.spec?.targetNodes).toEqual(['10.0.0.11:34801', '10.0.0.12:34801', '10.0.0.13:34801'])
    const recovery = r.spec?.document.recovery as Record<string, unknown>
    expect(recovery.wait_seconds).toBeUndefined()
    expect(r.spec?.spec.kind === 'PegasusMetaRecovery' && r.spec.spec.recovery.wait_seconds).toBe(100)
    expect(r.spec?.spec.kind === 'PegasusMetaRecovery' && r.spec.spec.recovery.skip_lost_partitions).toBe(false)
    expect(r.spec?.name).toBe('prod-meta-recovery')
  })

  it('fills defaults and keeps 64-bit store ids exact', async () => {
    const r = await loadSpecFile(fixture('tikv-unsafe-recovery.yaml'))
    const spec = r.spec?.spec
    if (spec?.kind !== 'TiKVUnsafeRecovery') throw new Error('wrong kind')
    expect(spec.recovery.failed_stores).toContain('18446744073709551615')
    expect(spec.recovery.auto_detect).toBe(false)
    expect(r.spec?.ticket).toBeUndefined()
  })

  it('every valid example carries the yaml-language-server schema line', async () => {
    const {readFile} = await import('node:fs/promises')
    for (const [name] of VALID.filter(([n]) => n.endsWith('.yaml'))) {
      const text = await readFile(fixture(name), 'utf8')
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../../schemas/spec.schema.json')
    }
  })
})

describe("the issue's checks", () => {
  it('a misspelt skip_bad_node points at its key and suggests skip_bad_nodes', async () => {
    const r = await loadSpecFile(fixture('invalid/misspelt-key.yaml'))
    expect(r.ok).toBe(false)
    expect(where(r)).toEqual(['SCHEMA_UNKNOWN_KEY@11:3'])
    expect(r.diagnostics[0]?.path).toBe('/recovery/skip_bad_node')
    expect(r.diagnostics[0]?.hint).toContain('skip_bad_nodes')
  })

  it('target_nodes with 10.0.0.1:99999 is rejected at that item', async () => {
    const r = await loadSpecFile(fixture('invalid/bad-port.yaml'))
    expect(where(r)).toEqual(['BAD_HOST_PORT@12:7', 'DUPLICATE_NODE@13:7', 'BAD_HOST_PORT@14:7', 'BAD_HOST_PORT@15:7'])
    expect(r.diagnostics[0]?.path).toBe('/recovery/target_nodes/1')
  })

  it('finds the item inside a flow sequence too', async () => {
    const r = await validateSpecText(META_SPEC.replace('127.0.0.1:34802]', '10.0.0.1:99999]'), 'spec.yaml')
    expect(where(r)).toEqual(['BAD_HOST_PORT@10:35'])
  })
})

describe('schema problems', () => {
  it('reports every problem of a file at once, sorted by position', async () => {
    const r = await loadSpecFile(fixture('invalid/many-problems.yaml'))
    expect(where(r)).toEqual([
      'SCHEMA_PATTERN@4:9',
      'BAD_HOST_PORT@8:38',
      'BAD_ZK_ROOT@8:52',
      'CONTRADICTORY_OPTIONS@11:3',
      'NODES_FILE_UNREADABLE@11:22',
      'SCHEMA_TYPE@12:19',
      'SCHEMA_RANGE@13:17',
      'SCHEMA_RANGE@15:22',
    ])
  })

  it('a wrong kind lists the kinds and guesses the intended one', async () => {
    const r = await loadSpecFile(fixture('invalid/wrong-kind.yaml'))
    expect(where(r)).toEqual(['SCHEMA_ENUM@2:7'])
    expect(r.diagnostics[0]?.hint).toContain('did you mean "PegasusMetaRecovery"')
    expect(r.diagnostics[0]?.hint).toContain('TiKVUnsafeRecovery')
  })

  it('a missing field points at its parent key', async () => {
    const r = await validateSpecText(
      META_SPEC.replace('  zookeeper: {hosts: 127.0.0.1:2181, root: /pegasus/onebox}\n', ''),
      'spec.yaml',
    )
    expect(where(r)).toEqual(['SCHEMA_REQUIRED@5:1'])
    expect(r.diagnostics[0]?.path).toBe('/cluster/zookeeper')
  })

  it('a missing top-level field and a missing kind', async () => {
    const r = await validateSpecText('# comment\napiVersion: lifeboat/v1\nmetadata: {name: x}\n', 'spec.yaml')
    expect(where(r).every((w) => w === 'SCHEMA_REQUIRED@2:1')).toBe(true)
    expect(r.diagnostics.map((d) => d.path).sort()).toEqual(['/cluster', '/kind'])
  })

  it('neither target_nodes nor target_nodes_file', async () => {
    const r = await validateSpecText(
      META_SPEC.replace('  target_nodes: [127.0.0.1:34801, 127.0.0.1:34802]\n', ''),
      'spec.yaml',
    )
    expect(where(r)).toEqual(['SCHEMA_REQUIRED@9:1'])
  })

  it('an unknown top-level key, a wrong apiVersion and a number where a string belongs', async () => {
    const text =
      META_SPEC.replace('apiVersion: lifeboat/v1', 'apiVersion: lifeboat/v2').replace(
        '  name: onebox\n',
        '  name: 1234\n',
      ) + 'recovry: {}\n'
    const r = await validateSpecText(text, 'spec.yaml')
    expect(where(r)).toEqual(['SCHEMA_ENUM@1:13', 'SCHEMA_TYPE@6:9', 'SCHEMA_UNKNOWN_KEY@12:1'])
    expect(r.diagnostics[1]?.hint).toContain('quote it')
  })

  it('DDD: bad gpid, override outside gpids, unquoted partition key, misspelt enum', async () => {
    const r = await loadSpecFile(fixture('invalid/ddd-contradictions.yaml'))
    expect(where(r)).toEqual([
      'SCHEMA_PATTERN@9:18',
      'CONTRADICTORY_OPTIONS@12:5',
      'SCHEMA_TYPE@13:5',
      'SCHEMA_ENUM@14:14',
    ])
    expect(r.diagnostics[3]?.hint).toContain('max_last_prepared')
  })

  it('DDD: gpids of the wrong shape gives one diagnostic naming the forms', async () => {
    const text = `apiVersion: lifeboat/v1
kind: PegasusDddRecovery
metadata: {name: d}
cluster: {name: c, meta_servers: [127.0.0.1:34601]}
recovery:
  gpids: some
  primaries: {"3.1": 127.0.0.1:34801}
`
    const r = await validateSpecText(text, 'spec.yaml')
    expect(where(r)).toEqual(['SCHEMA_TYPE@6:10'])
    const byTable = await validateSpecText(text.replace('gpids: some', 'gpids: 2'), 'spec.yaml')
    expect(where(byTable)).toEqual(['CONTRADICTORY_OPTIONS@7:15'])
  })

  it('a migration target identical to its source', async () => {
    const r = await loadSpecFile(fixture('invalid/zk-migration-same-target.yaml'))
    expect(where(r)).toEqual(['CONTRADICTORY_OPTIONS@11:3'])
  })

  it('a migration target nested in its source on the same ensemble', async () => {
    const {readFile} = await import('node:fs/promises')
    const text = await readFile(fixture('invalid/zk-migration-same-target.yaml'), 'utf8')
    const target = (root: string) =>
      text.replace(
        'target: {hosts: "127.0.0.1:2181", root: /pegasus/onebox}',
        `target: {hosts: "127.0.0.1:2181", root: ${root}}`,
      )
    expect(where(await validateSpecText(target('/pegasus/onebox/new'), 'spec.yaml'))).toEqual([
      'CONTRADICTORY_OPTIONS@11:43',
    ])
    expect(where(await validateSpecText(target('/pegasus'), 'spec.yaml'))).toEqual(['CONTRADICTORY_OPTIONS@11:43'])
    expect(where(await validateSpecText(target('/pegasus/onebox2'), 'spec.yaml'))).toEqual([])
    const otherEnsemble = text.replace('target: {hosts: "127.0.0.1:2181"', 'target: {hosts: "127.0.0.1:2182"')
    expect(where(await validateSpecText(otherEnsemble, 'spec.yaml'))).toEqual([])
  })

  it('OpenMLDB: chroot in hosts, reserved root, range, duplicate, bad endpoint, offlined and recovered, leader key and table patterns', async () => {
    const r = await loadSpecFile(fixture('invalid/openmldb-bad.yaml'))
    expect(where(r)).toEqual([
      'BAD_HOST_PORT@7:23',
      'BAD_ZK_ROOT@7:55',
      'SCHEMA_RANGE@9:16',
      'DUPLICATE_ENTRY@10:39',
      'BAD_HOST_PORT@11:23',
      'CONTRADICTORY_OPTIONS@11:47',
      'SCHEMA_PATTERN@12:32',
      'SCHEMA_PATTERN@13:12',
    ])
  })

  it('TiKV: URL with a path, id beyond uint64, id 0, both auto_detect and stores, zero timeout', async () => {
    const r = await loadSpecFile(fixture('invalid/tikv-bad.yaml'))
    expect(where(r)).toEqual([
      'SCHEMA_PATTERN@7:8',
      'SCHEMA_RANGE@9:22',
      'SCHEMA_PATTERN@9:46',
      'CONTRADICTORY_OPTIONS@10:3',
      'SCHEMA_RANGE@11:20',
    ])
  })

  it('TiKV: neither failed stores nor auto_detect', async () => {
    const text =
      'apiVersion: lifeboat/v1\nkind: TiKVUnsafeRecovery\nmetadata: {name: t}\ncluster: {name: t, pd: [pd:2379]}\nrecovery:\n  timeout_seconds: 60\n'
    const r = await validateSpecText(text, 'spec.yaml')
    expect(where(r)).toEqual(['SCHEMA_REQUIRED@5:1'])
  })

  it('ZooKeeper roots: relative, trailing slash, empty component, root itself', async () => {
    const root = async (value: string) =>
      where(await validateSpecText(META_SPEC.replace('root: /pegasus/onebox', `root: ${value}`), 'spec.yaml'))
    expect(await root('pegasus')).toEqual(['BAD_ZK_ROOT@8:44'])
    expect(await root('/pegasus/')).toEqual(['BAD_ZK_ROOT@8:44'])
    expect(await root('/pegasus//onebox')).toEqual(['BAD_ZK_ROOT@8:44'])
    expect(await root('/')).toEqual([])
  })

  it('a meta server listed as a replica node', async () => {
    const r = await validateSpecText(META_SPEC.replace('127.0.0.1:34802]', '127.0.0.1:34601]'), 'spec.yaml')
    expect(where(r)).toEqual(['CONTRADICTORY_OPTIONS@10:35'])
  })

  it('accepts kinds from engine plugins with their own schema', async () => {
    const schema = {
      type: 'object',
      additionalProperties: false,
      required: ['apiVersion', 'kind', 'metadata'],
      properties: {
        apiVersion: {const: 'lifeboat/v1'},
        kind: {const: 'RedisFailover'},
        metadata: {type: 'object'},
        extra: {type: 'integer'},
      },
    }
    const text = 'apiVersion: lifeboat/v1\nkind: RedisFailover\nmetadata: {name: r}\nextra: 3\n'
    expect((await validateSpecText(text, 'spec.yaml', {extraKinds: {RedisFailover: schema}})).ok).toBe(true)
    const bad = await validateSpecText(text.replace('extra: 3', 'extra: x'), 'spec.yaml', {
      extraKinds: {RedisFailover: schema},
    })
    expect(where(bad)).toEqual(['SCHEMA_TYPE@4:8'])
    // Without the plugin the kind is unknown: only the envelope is checked.
    const unknown = await validateSpecText(text, 'spec.yaml')
    expect(where(unknown)).toEqual(['SCHEMA_REQUIRED@1:1', 'SCHEMA_ENUM@2:7', 'SCHEMA_UNKNOWN_KEY@4:1'])
  })
})

describe('node-list files', () => {
  it('a missing file is reported at the spec field that names it', async () => {
    const r = await loadSpecFile(fixture('invalid/nodes-file-missing.yaml'))
    expect(where(r)).toEqual(['NODES_FILE_UNREADABLE@10:22'])
    expect(r.diagnostics[0]?.file).toBe(fixture('invalid/nodes-file-missing.yaml'))
  })

  it('malformed lines are reported in the node-list file, at their line', async () => {
    const r = await loadSpecFile(fixture('invalid/nodes-file-malformed.yaml'))
    expect(where(r)).toEqual(['NODES_FILE_MALFORMED@3:1', 'DUPLICATE_NODE@4:1', 'NODES_FILE_MALFORMED@5:3'])
    expect(r.diagnostics.every((d) => d.file === fixture('invalid/malformed_node_list'))).toBe(true)
    expect(r.diagnostics[0]?.path).toBe('/recovery/target_nodes_file')
  })

  it('a node list that is a directory', async () => {
    const r = await validateSpecText(
      META_SPEC.replace(/ {2}target_nodes: .*\n/, '  target_nodes_file: invalid\n'),
      fixture('x.yaml'),
    )
    expect(where(r)).toEqual(['NODES_FILE_UNREADABLE@10:22'])
  })
})

describe('hostile input', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lifeboat-spec-'))
  })
  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
  })

  it.each([
    ['invalid/duplicate-key.yaml', ['DUPLICATE_KEY@12:3']],
    ['invalid/tabs.yaml', ['YAML_SYNTAX@4:1']],
    ['invalid/alias-bomb.yaml', ['YAML_ALIAS_LIMIT@1:1']],
    ['invalid/empty.yaml', ['EMPTY_FILE@1:1']],
    ['invalid/comments-only.yaml', ['EMPTY_FILE@1:1']],
    ['invalid/syntax-error.yaml', ['YAML_SYNTAX@3:1']],
    ['invalid/json-invalid.json', ['SCHEMA_TYPE@1:193']],
    ['invalid/binary.bin', ['BINARY_FILE@1:1']],
    ['invalid/list.yaml', ['SCHEMA_TYPE@1:1']],
    ['invalid/two-docs.yaml', ['MULTIPLE_DOCUMENTS@2:1']],
    ['invalid', ['NOT_A_FILE@1:1']],
    ['invalid/no-such-spec.yaml', ['FILE_NOT_FOUND@1:1']],
  ])('%s', async (name, expected) => {
    const r = await loadSpecFile(fixture(name))
    expect(r.ok).toBe(false)
    expect(where(r)).toEqual(expected)
  })

  it('refuses a 100 MB file without reading it', async () => {
    const big = join(dir, 'big.yaml')
    await writeFile(big, 'apiVersion: lifeboat/v1\n')
    await truncate(big, 100 * 1024 * 1024)
    const r = await loadSpecFile(big)
    expect(where(r)).toEqual(['FILE_TOO_LARGE@1:1'])
    expect(MAX_FILE_BYTES).toBeLessThan(100 * 1024 * 1024)
  })

  it('a file of distinct keys just under the cap is answered, with a bounded list of problems', async () => {
    // yaml's own duplicate-key check is quadratic: this file used to take minutes.
    const lines: string[] = []
    let size = 0
    for (let i = 0; size < MAX_FILE_BYTES - 32; i++) {
      const line = `key${i}: ${i}\n`
      lines.push(line)
      size += line.length
    }
    const wide = join(dir, 'wide.yaml')
    await writeFile(wide, lines.join(''))
    const r = await loadSpecFile(wide)
    expect(r.diagnostics).toHaveLength(MAX_DIAGNOSTICS + 1)
    expect(r.diagnostics.at(-1)?.code).toBe('TOO_MANY_PROBLEMS')
  })

  it('refuses a FIFO instead of waiting for a writer', async () => {
    const fifo = join(dir, 'fifo.yaml')
    execFileSync('mkfifo', [fifo])
    expect(where(await loadSpecFile(fifo))).toEqual(['NOT_A_FILE@1:1'])
  })

  it('answers absurd nesting with a diagnostic', async () => {
    const deep = join(dir, 'deep.yaml')
    await writeFile(deep, `a: ${'['.repeat(200_000)}`)
    const r = await loadSpecFile(deep)
    expect(r.ok).toBe(false)
    expect(r.diagnostics[0]?.code).toBe('YAML_SYNTAX')
  })

  it('rejects invalid UTF-8', async () => {
    const bad = join(dir, 'latin1.yaml')
    await writeFile(bad, Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]))
    expect(where(await loadSpecFile(bad))).toEqual(['BINARY_FILE@1:1'])
  })

  it.skipIf(process.getuid?.() === 0)('an unreadable file', async () => {
    const locked = join(dir, 'locked.yaml')
    await writeFile(locked, META_SPEC)
    await chmod(locked, 0o000)
    expect(where(await loadSpecFile(locked))).toEqual(['FILE_UNREADABLE@1:1'])
  })
})

describe('warnings, encodings and hashes', () => {
  it('a warning leaves the spec valid', async () => {
    const text = `apiVersion: lifeboat/v1
kind: PegasusDddRecovery
metadata: {name: d, ticket: !custom INC-1}
cluster: {name: c, meta_servers: [127.0.0.1:34601]}
recovery:
  auto_diagnose: false
`
    const r = await validateSpecText(text, 'spec.yaml')
    expect(r.ok).toBe(true)
    expect(r.diagnostics.map((d) => `${d.severity}:${d.code}@${d.line}:${d.col}`)).toEqual([
      'warning:YAML_WARNING@3:29',
      'warning:NO_EFFECT@6:18',
    ])
    expect(r.spec?.spec.kind === 'PegasusDddRecovery' && r.spec.spec.recovery.gpids).toBe('all')
  })

  it('merge keys are refused with a hint', async () => {
    const r = await validateSpecText(META_SPEC.replace('cluster:\n', 'cluster:\n  <<: {name: x}\n'), 'spec.yaml')
    expect(where(r)).toEqual(['SCHEMA_UNKNOWN_KEY@6:3'])
    expect(r.diagnostics[0]?.hint).toContain('merge keys')
  })

  it("a byte-order mark is accepted and the hash is of the file's bytes, whichever way the spec is read", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lifeboat-bom-'))
    try {
      const file = join(dir, 'bom.yaml')
      const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(META_SPEC)])
      await writeFile(file, bytes)
      const r = await loadSpecFile(file)
      expect(r.diagnostics).toEqual([])
      const {createHash} = await import('node:crypto')
      expect(r.spec?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'))
      const again = await validateSpecText(r.spec!.source, file)
      expect(again.spec?.sha256).toBe(r.spec?.sha256)
    } finally {
      await rm(dir, {recursive: true, force: true})
    }
  })
})

describe('semantic checks come from the engine of the kind', () => {
  const text = 'apiVersion: lifeboat/v1\nkind: ToyKV\nmetadata: {name: t}\ncluster: {nodes: [a:1, b:2, a:1]}\n'
  const extraKinds = {ToyKV: {type: 'object'}}

  it('runs checkSpec with the toolkit (a plugin kind here), and nothing without it', async () => {
    const checkSpec = async (c: import('../../src/spec/semantic.js').SpecChecks) => {
      c.endpointList('/cluster/nodes', (c.data.cluster as {nodes: unknown}).nodes)
    }
    const r = await validateSpecText(text, 'toy.yaml', {
      extraKinds,
      engines: new Map([['ToyKV', {load: async () => ({checkSpec})}]]),
    })
    expect(r.diagnostics.map((d) => [d.code, d.path, d.line])).toEqual([['DUPLICATE_NODE', '/cluster/nodes/2', 4]])
    expect((await validateSpecText(text, 'toy.yaml', {extraKinds, engines: new Map()})).diagnostics).toEqual([])
  })
})
