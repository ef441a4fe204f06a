import {expect, it} from 'vitest'

import {pegasusClusterIdentity, pegasusLock} from '../../src/engines/pegasus/cluster-identity.js'

const zookeeper = {
  hosts: '127.0.0.1:2181',
  root: '/pegasus/onebox',
  auth: {scheme: 'digest' as const, credentials_env: 'LIFEBOAT_ZK_AUTH'},
}

it('names a Pegasus cluster by name, ZooKeeper and sorted meta servers', () => {
  expect(
    pegasusClusterIdentity({name: 'onebox', meta_servers: ['127.0.0.1:34602', '127.0.0.1:34601'], zookeeper}),
  ).toEqual({
    name: 'onebox',
    facts: [
      {name: 'zookeeper', label: 'ZooKeeper', value: '127.0.0.1:2181/pegasus/onebox'},
      {name: 'meta_servers', label: 'endpoints', value: '127.0.0.1:34601 127.0.0.1:34602'},
    ],
  })
  expect(pegasusClusterIdentity({name: 'onebox', meta_servers: ['127.0.0.1:34601']})).toEqual({
    name: 'onebox',
    facts: [{name: 'meta_servers', label: 'endpoints', value: '127.0.0.1:34601'}],
  })
  // ZooKeeper hosts in another order are the same ensemble.
  const a = pegasusClusterIdentity({name: 'c', meta_servers: [], zookeeper: {hosts: 'b:2181,a:2181', root: '/p'}})
  const b = pegasusClusterIdentity({name: 'c', meta_servers: [], zookeeper: {hosts: 'a:2181,b:2181', root: '/p'}})
  expect(a).toEqual(b)
})

it('locks in the cluster ZooKeeper, or in a host-local file named after the cluster', () => {
  const zk = pegasusLock({name: 'onebox', meta_servers: [], zookeeper}, {env: {}})
  expect({kind: zk.kind, where: zk.where, hostLocal: zk.hostLocal}).toEqual({
    kind: 'zookeeper',
    where: '/lifeboat/locks/onebox/lock',
    hostLocal: undefined,
  })
  const file = pegasusLock({name: 'prod/a b', meta_servers: []}, {env: {}})
  expect(file.kind).toBe('file')
  expect(file.hostLocal).toBe(true)
  expect(file.where).toMatch(/\/\.lifeboat\/locks\/pegasus-prod_a_b\.lock$/)
})
