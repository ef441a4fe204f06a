import {expect, it} from 'vitest'

import {pegasusClusterIdentity, pegasusLockTarget} from '../../src/engines/pegasus/cluster-identity.js'

const zookeeper = {hosts: '127.0.0.1:2181', root: '/pegasus/onebox', auth: {scheme: 'digest' as const, credentials_env: 'LIFEBOAT_ZK_AUTH'}}

it('names a Pegasus cluster by name, ZooKeeper and sorted meta servers', () => {
  expect(pegasusClusterIdentity({name: 'onebox', meta_servers: ['127.0.0.1:34602', '127.0.0.1:34601'], zookeeper})).toEqual({
    name: 'onebox', endpoints: ['127.0.0.1:34601', '127.0.0.1:34602'], zookeeper: {hosts: '127.0.0.1:2181', root: '/pegasus/onebox'},
  })
  expect(pegasusClusterIdentity({name: 'onebox', meta_servers: ['127.0.0.1:34601']})).toEqual({name: 'onebox', endpoints: ['127.0.0.1:34601']})
})

it('locks in the cluster ZooKeeper (credentials by env name), or in a file named after the cluster', () => {
  expect(pegasusLockTarget({name: 'onebox', meta_servers: [], zookeeper})).toEqual({zookeeper})
  expect(pegasusLockTarget({name: 'prod/a b', meta_servers: []})).toEqual({file: '.lifeboat/locks/pegasus-prod_a_b.lock'})
})
