// Byte-exact test vectors for every message, derived by hand from the IDL (idl/*.thrift of
// apache/incubator-pegasus master). Each vector: the RPC, request or response, the value, the bytes.
import type {RpcName} from '../../../src/engines/pegasus/wire/index.js'
import {cat, hx, T} from './hex.js'

export interface Vector {
  rpc: RpcName
  dir: 'request' | 'response'
  value: unknown
  hex: string
}

const F = hx.field
const appInfo = {
  status: 1,
  app_type: 'pegasus',
  app_name: 'temp',
  app_id: 2,
  partition_count: 8,
  envs: {'rocksdb.allow_ingest_behind': 'false'},
  is_stateful: true,
  max_replica_count: 3,
  expire_second: 0,
  create_second: 1700000000,
  drop_second: 0,
  duplicating: false,
  init_partition_count: 8,
  is_bulk_loading: false,
  atomic_idempotent: false,
}
const appInfoHex = cat(
  F(T.I32, 1), hx.i32(1),
  F(T.STRING, 2), hx.str('pegasus'),
  F(T.STRING, 3), hx.str('temp'),
  F(T.I32, 4), hx.i32(2),
  F(T.I32, 5), hx.i32(8),
  F(T.MAP, 6), hx.map(T.STRING, T.STRING, 1), hx.str('rocksdb.allow_ingest_behind'), hx.str('false'),
  F(T.BOOL, 7), hx.bool(true),
  F(T.I32, 8), hx.i32(3),
  F(T.I64, 9), hx.i64(0),
  F(T.I64, 10), hx.i64(1700000000),
  F(T.I64, 11), hx.i64(0),
  F(T.BOOL, 12), hx.bool(false),
  F(T.I32, 13), hx.i32(8),
  F(T.BOOL, 14), hx.bool(false),
  F(T.BOOL, 15), hx.bool(false),
  hx.stop,
)
// An app_info as a 2.5.0 replica sends it: no optional fields, no atomic_idempotent.
const appInfoOld = {
  status: 6, app_type: 'pegasus', app_name: 'old', app_id: 1, partition_count: 4, envs: {}, is_stateful: true,
  max_replica_count: 3, expire_second: 1700604800, create_second: 1690000000, drop_second: 1700000000, init_partition_count: -1,
}
const appInfoOldHex = cat(
  F(T.I32, 1), hx.i32(6), F(T.STRING, 2), hx.str('pegasus'), F(T.STRING, 3), hx.str('old'), F(T.I32, 4), hx.i32(1),
  F(T.I32, 5), hx.i32(4), F(T.MAP, 6), hx.map(T.STRING, T.STRING, 0), F(T.BOOL, 7), hx.bool(true), F(T.I32, 8), hx.i32(3),
  F(T.I64, 9), hx.i64(1700604800), F(T.I64, 10), hx.i64(1690000000), F(T.I64, 11), hx.i64(1700000000),
  F(T.I32, 13), hx.i32(-1), hx.stop,
)

const pc = {
  pid: '2.5',
  ballot: 7,
  max_replica_count: 3,
  primary: '',
  secondaries: [],
  last_drops: ['10.0.0.2:34801', '10.0.0.3:34801'],
  last_committed_decree: 1234,
  partition_flags: 0,
  hp_primary: '',
  hp_secondaries: [],
  hp_last_drops: ['host2:34801', 'host3:34801'],
}
const pcHex = cat(
  F(T.STRUCT, 1), hx.gpid(2, 5),
  F(T.I64, 2), hx.i64(7),
  F(T.I32, 3), hx.i32(3),
  F(T.STRUCT, 4), hx.i64(0),
  F(T.LIST, 5), hx.list(T.STRUCT, 0),
  F(T.LIST, 6), hx.list(T.STRUCT, 2), hx.addr(10, 0, 0, 2, 34801), hx.addr(10, 0, 0, 3, 34801),
  F(T.I64, 7), hx.i64(1234),
  F(T.I32, 8), hx.i32(0),
  F(T.STRUCT, 9), hx.i32(0), hx.i16(0), '00',
  F(T.LIST, 10), hx.list(T.STRUCT, 0),
  F(T.LIST, 11), hx.list(T.STRUCT, 2), hx.hp('host2', 34801), hx.hp('host3', 34801),
  hx.stop,
)
const pcHealthy = {
  pid: '3.0', ballot: 2, max_replica_count: 3, primary: '127.0.0.1:34801', secondaries: ['127.0.0.1:34802', '127.0.0.1:34803'],
  last_drops: [], last_committed_decree: 99, partition_flags: 0,
}
const pcHealthyHex = cat(
  F(T.STRUCT, 1), hx.gpid(3, 0), F(T.I64, 2), hx.i64(2), F(T.I32, 3), hx.i32(3), F(T.STRUCT, 4), hx.addr(127, 0, 0, 1, 34801),
  F(T.LIST, 5), hx.list(T.STRUCT, 2), hx.addr(127, 0, 0, 1, 34802), hx.addr(127, 0, 0, 1, 34803),
  F(T.LIST, 6), hx.list(T.STRUCT, 0), F(T.I64, 7), hx.i64(99), F(T.I32, 8), hx.i32(0), hx.stop,
)

export const VECTORS: Vector[] = [
  // ---- RPC_QUERY_APP_INFO ----
  {rpc: 'RPC_QUERY_APP_INFO', dir: 'request', value: {meta_server: '127.0.0.1:34601', hp_meta_server: 'meta1:34601'},
    hex: cat(F(T.STRUCT, 1), '7f00000187290001', F(T.STRUCT, 2), hx.hp('meta1', 34601), hx.stop)},
  {rpc: 'RPC_QUERY_APP_INFO', dir: 'response', value: {err: 'ERR_OK', apps: [appInfo, appInfoOld]},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.LIST, 2), hx.list(T.STRUCT, 2), appInfoHex, appInfoOldHex, hx.stop)},
  // ---- RPC_QUERY_REPLICA_INFO ----
  {rpc: 'RPC_QUERY_REPLICA_INFO', dir: 'request', value: {node1: '127.0.0.1:34801'},
    hex: '0c00017f00000187f1000100'},
  {rpc: 'RPC_QUERY_REPLICA_INFO', dir: 'response', value: {err: 'ERR_OK', replicas: [
    {pid: '2.0', ballot: 5, status: 3, last_committed_decree: 100, last_prepared_decree: 101, last_durable_decree: 90, app_type: 'pegasus', disk_tag: 'ssd1'},
    {pid: '2.1', ballot: -1, status: 2, last_committed_decree: -1, last_prepared_decree: -1, last_durable_decree: 0, app_type: 'pegasus', disk_tag: 'default', manual_compact_status: 0},
  ]}, hex: cat(
    F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.LIST, 2), hx.list(T.STRUCT, 2),
    F(T.STRUCT, 1), hx.gpid(2, 0), F(T.I64, 2), hx.i64(5), F(T.I32, 3), hx.i32(3), F(T.I64, 4), hx.i64(100), F(T.I64, 5), hx.i64(101),
    F(T.I64, 6), hx.i64(90), F(T.STRING, 7), hx.str('pegasus'), F(T.STRING, 8), hx.str('ssd1'), hx.stop,
    F(T.STRUCT, 1), hx.gpid(2, 1), F(T.I64, 2), hx.i64(-1), F(T.I32, 3), hx.i32(2), F(T.I64, 4), hx.i64(-1), F(T.I64, 5), hx.i64(-1),
    F(T.I64, 6), hx.i64(0), F(T.STRING, 7), hx.str('pegasus'), F(T.STRING, 8), hx.str('default'), F(T.I32, 9), hx.i32(0), hx.stop,
    hx.stop)},
  // ---- RPC_CM_START_RECOVERY ----
  {rpc: 'RPC_CM_START_RECOVERY', dir: 'request', value: {
    recovery_nodes: ['127.0.0.1:34801', '127.0.0.1:34802'], skip_bad_nodes: true, skip_lost_partitions: false,
    hp_recovery_nodes: ['localhost:34801', 'localhost:34802']}, hex: cat(
    F(T.LIST, 1), hx.list(T.STRUCT, 2), hx.addr(127, 0, 0, 1, 34801), hx.addr(127, 0, 0, 1, 34802),
    F(T.BOOL, 2), '01', F(T.BOOL, 3), '00',
    F(T.LIST, 4), hx.list(T.STRUCT, 2), hx.hp('localhost', 34801), hx.hp('localhost', 34802), hx.stop)},
  {rpc: 'RPC_CM_START_RECOVERY', dir: 'response', value: {err: 'ERR_TRY_AGAIN',
    hint_message: 'ERROR: collect app and replica info from node(127.0.0.1:34803) failed with err(ERR_NETWORK_FAILURE), you can skip it by set skip_bad_nodes option'},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_TRY_AGAIN'), F(T.STRING, 2),
      hx.str('ERROR: collect app and replica info from node(127.0.0.1:34803) failed with err(ERR_NETWORK_FAILURE), you can skip it by set skip_bad_nodes option'), hx.stop)},
  // ---- RPC_CM_DDD_DIAGNOSE ----
  {rpc: 'RPC_CM_DDD_DIAGNOSE', dir: 'request', value: {pid: '-1.-1'}, hex: '0c0001ffffffffffffffff00'},
  {rpc: 'RPC_CM_DDD_DIAGNOSE', dir: 'response', value: {err: 'ERR_OK', partitions: [{
    config: pc,
    dropped: [
      {node: '10.0.0.2:34801', drop_time_ms: 1700000000123, is_alive: true, is_collected: true, ballot: 7, last_committed_decree: 1234, last_prepared_decree: 1240, hp_node: 'host2:34801'},
      {node: '10.0.0.3:34801', drop_time_ms: 0, is_alive: false, is_collected: false, ballot: -1, last_committed_decree: -1, last_prepared_decree: -1},
    ],
    reason: 'the last dropped node(host3:34801) hasn\'t come back yet',
  }]}, hex: cat(
    F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.LIST, 2), hx.list(T.STRUCT, 1),
    F(T.STRUCT, 1), pcHex,
    F(T.LIST, 2), hx.list(T.STRUCT, 2),
    F(T.STRUCT, 1), hx.addr(10, 0, 0, 2, 34801), F(T.I64, 2), hx.i64(1700000000123), F(T.BOOL, 3), '01', F(T.BOOL, 4), '01',
    F(T.I64, 5), hx.i64(7), F(T.I64, 6), hx.i64(1234), F(T.I64, 7), hx.i64(1240), F(T.STRUCT, 8), hx.hp('host2', 34801), hx.stop,
    F(T.STRUCT, 1), hx.addr(10, 0, 0, 3, 34801), F(T.I64, 2), hx.i64(0), F(T.BOOL, 3), '00', F(T.BOOL, 4), '00',
    F(T.I64, 5), hx.i64(-1), F(T.I64, 6), hx.i64(-1), F(T.I64, 7), hx.i64(-1), hx.stop,
    F(T.STRING, 3), hx.str('the last dropped node(host3:34801) hasn\'t come back yet'), hx.stop,
    hx.stop)},
  // ---- RPC_CM_PROPOSE_BALANCER ----
  {rpc: 'RPC_CM_PROPOSE_BALANCER', dir: 'request', value: {gpid: '2.5', action_list: [
    {target: '10.0.0.2:34801', node: '10.0.0.2:34801', type: 1, hp_target: 'host2:34801', hp_node: 'host2:34801'}], force: false},
  hex: cat(F(T.STRUCT, 1), hx.gpid(2, 5), F(T.LIST, 2), hx.list(T.STRUCT, 1),
    F(T.STRUCT, 1), hx.addr(10, 0, 0, 2, 34801), F(T.STRUCT, 2), hx.addr(10, 0, 0, 2, 34801), F(T.I32, 3), hx.i32(1),
    F(T.STRUCT, 5), hx.hp('host2', 34801), F(T.STRUCT, 6), hx.hp('host2', 34801), hx.stop,
    F(T.BOOL, 3), '00', hx.stop)},
  {rpc: 'RPC_CM_PROPOSE_BALANCER', dir: 'response', value: {err: 'ERR_INVALID_PARAMETERS'},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_INVALID_PARAMETERS'), hx.stop)},
  // ---- RPC_CM_CONTROL_META ----
  {rpc: 'RPC_CM_CONTROL_META', dir: 'request', value: {level: 10000}, hex: '08000100002710' + '00'},
  {rpc: 'RPC_CM_CONTROL_META', dir: 'response', value: {err: 'ERR_OK', old_level: 400},
    hex: '0c0001' + '00000006' + '4552525f4f4b' + '080002' + '00000190' + '00'},
  // ---- RPC_CM_CLUSTER_INFO ----
  {rpc: 'RPC_CM_CLUSTER_INFO', dir: 'request', value: {}, hex: '00'},
  {rpc: 'RPC_CM_CLUSTER_INFO', dir: 'response', value: {err: 'ERR_OK', keys: ['meta_servers', 'meta_function_level'], values: ['127.0.0.1:34601', 'steady']},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.LIST, 2), hx.list(T.STRING, 2), hx.str('meta_servers'), hx.str('meta_function_level'),
      F(T.LIST, 3), hx.list(T.STRING, 2), hx.str('127.0.0.1:34601'), hx.str('steady'), hx.stop)},
  // ---- RPC_CM_LIST_APPS ----
  {rpc: 'RPC_CM_LIST_APPS', dir: 'request', value: {status: 0}, hex: '0800010000000000'},
  {rpc: 'RPC_CM_LIST_APPS', dir: 'request', value: {status: 1, app_name_pattern: 'te', match_type: 4},
    hex: cat(F(T.I32, 1), hx.i32(1), F(T.STRING, 2), hx.str('te'), F(T.I32, 3), hx.i32(4), hx.stop)},
  {rpc: 'RPC_CM_LIST_APPS', dir: 'response', value: {err: 'ERR_UNDER_RECOVERY', infos: []},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_UNDER_RECOVERY'), F(T.LIST, 2), hx.list(T.STRUCT, 0), hx.stop)},
  {rpc: 'RPC_CM_LIST_APPS', dir: 'response', value: {err: 'ERR_OK', infos: [appInfo], hint_message: ''},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.LIST, 2), hx.list(T.STRUCT, 1), appInfoHex, F(T.STRING, 3), hx.str(''), hx.stop)},
  // ---- RPC_CM_LIST_NODES ----
  {rpc: 'RPC_CM_LIST_NODES', dir: 'request', value: {status: 1}, hex: '0800010000000100'},
  {rpc: 'RPC_CM_LIST_NODES', dir: 'response', value: {err: 'ERR_OK', infos: [
    {status: 1, node: '127.0.0.1:34801', hp_node: 'localhost:34801'}, {status: 2, node: '192.168.1.200:65535'}]},
  hex: cat(F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.LIST, 2), hx.list(T.STRUCT, 2),
    F(T.I32, 1), hx.i32(1), F(T.STRUCT, 2), hx.addr(127, 0, 0, 1, 34801), F(T.STRUCT, 3), hx.hp('localhost', 34801), hx.stop,
    F(T.I32, 1), hx.i32(2), F(T.STRUCT, 2), 'c0a801c8ffff0001', hx.stop, hx.stop)},
  // ---- RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX ----
  {rpc: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', dir: 'request', value: {app_name: 'temp', partition_indices: [0, 5]},
    hex: cat(F(T.STRING, 1), hx.str('temp'), F(T.LIST, 2), hx.list(T.I32, 2), hx.i32(0), hx.i32(5), hx.stop)},
  {rpc: 'RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX', dir: 'response', value: {err: 'ERR_OK', app_id: 3, partition_count: 1, is_stateful: true, partitions: [pcHealthy]},
    hex: cat(F(T.STRUCT, 1), hx.str('ERR_OK'), F(T.I32, 2), hx.i32(3), F(T.I32, 3), hx.i32(1), F(T.BOOL, 4), '01',
      F(T.LIST, 5), hx.list(T.STRUCT, 1), pcHealthyHex, hx.stop)},
]
