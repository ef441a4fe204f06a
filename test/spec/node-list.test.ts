import {describe, expect, it} from 'vitest'

import {parseEndpoint, parseHostPort, parseNodeList, zkRootProblem} from '../../src/spec/index.js'
import {where} from './helpers.js'

describe('parseNodeList (Pegasus node-list format)', () => {
  it('trims lines and skips blanks and # ; comments', () => {
    const r = parseNodeList('# nodes\n; more\n\n  10.0.0.1:34801  \r\nhost-2.example:34801\n\t\n', 'nodes')
    expect(r.nodes).toEqual(['10.0.0.1:34801', 'host-2.example:34801'])
    expect(r.diagnostics).toEqual([])
  })

  it('names the line and column of each malformed entry', () => {
    const r = parseNodeList(
      '10.0.0.1:34801\n10.0.0.2\n   10.0.0.3:0\n10.0.0.4:34801 # trailing\n10.0.0.1:34801\n',
      'nodes',
      '/recovery/target_nodes_file',
    )
    expect(where(r)).toEqual([
      'NODES_FILE_MALFORMED@2:1',
      'NODES_FILE_MALFORMED@3:4',
      'NODES_FILE_MALFORMED@4:1',
      'DUPLICATE_NODE@5:1',
    ])
    expect(r.diagnostics.every((d) => d.file === 'nodes' && d.path === '/recovery/target_nodes_file')).toBe(true)
    expect(r.nodes).toEqual(['10.0.0.1:34801'])
  })

  it('a list without nodes is malformed', () => {
    expect(where(parseNodeList('# nothing here\n', 'nodes'))).toEqual(['NODES_FILE_MALFORMED@1:1'])
    expect(where(parseNodeList('', 'nodes'))).toEqual(['NODES_FILE_MALFORMED@1:1'])
  })
})

describe('parseHostPort', () => {
  it.each(['10.0.0.1:1', '10.0.0.1:65535', 'localhost:34601', 'meta-1.pegasus.internal:34601', 'a.b.:80'])(
    'accepts %s',
    (s) => {
      expect(parseHostPort(s).ok).toBe(true)
    },
  )

  it.each([
    '10.0.0.1:99999',
    '10.0.0.1:0',
    '10.0.0.1',
    '10.0.0.1:',
    '10.0.0.256:1',
    '10.0.01.1:1',
    '1.2.3:80',
    'host_x:1',
    '-host:1',
    '[::1]:80',
    '::1:80',
    'a b:1',
    'http://h:1',
    ':80',
    '10.0.0.1:8o',
  ])('refuses %s', (s) => {
    expect(parseHostPort(s).ok).toBe(false)
  })

  it('normalises for duplicate detection', () => {
    const a = parseHostPort('Meta1:080')
    const b = parseHostPort('meta1:80')
    expect(a.ok && b.ok && a.value.key === b.value.key).toBe(true)
  })

  it('PD endpoints may carry a scheme but no path', () => {
    expect(parseEndpoint('http://10.0.0.1:2379').ok).toBe(true)
    expect(parseEndpoint('https://pd.example:2379/').ok).toBe(true)
    expect(parseEndpoint('http://10.0.0.1:2379/pd/api').ok).toBe(false)
    expect(parseEndpoint('ftp://10.0.0.1:2379').ok).toBe(false)
  })
})

describe('zkRootProblem', () => {
  it.each(['/', '/pegasus', '/pegasus/onebox_recovery/127.0.0.1'])('accepts %s', (r) =>
    expect(zkRootProblem(r)).toBeUndefined(),
  )
  it.each(['pegasus', '/pegasus/', '//', '/a//b', '/a/./b', '/a/..', '/zookeeper', '/zookeeper/quota', '/a\u0001b'])(
    'refuses %s',
    (r) => {
      expect(zkRootProblem(r)).toBeTypeOf('string')
    },
  )
})
