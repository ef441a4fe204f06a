/**
 * Struct codecs for every Pegasus message lifeboat and the lab exchange, declared as field tables
 * that mirror the IDL (id, name, type, optional) and written/read through the thrift package's
 * TBinaryProtocol. The field tables are the single place where the IDL is transcribed.
 *
 * Reading has two paths that give the same values: the schema walk (readStruct), which reads
 * through any TProtocol, and the readers compiled from the same tables (read-compiled.ts), which
 * the codecs use when the bytes are in a buffer (every reply and request lifeboat and the lab read).
 */
import type {TProtocol} from 'thrift'
import {
  BinaryReader,
  BinaryWriter,
  bufferTransportOf,
  readErrorCode,
  readGpid,
  readHostPort,
  readI64Big,
  readI64Num,
  readRpcAddress,
  TType,
  WireError,
  writeErrorCode,
  writeGpid,
  writeHostPort,
  writeI64Big,
  writeI64Num,
  writeRpcAddress,
} from './protocol.js'
import {CODE_GENERATION, compiledReaderOf} from './read-compiled.js'
import {missingValueOf, ttypeOf, type FieldKind, type FieldSpec, type StructSchema} from './schema.js'
import type * as M from './types.js'

export type {FieldKind, FieldSpec, StructSchema} from './schema.js'
export {ttypeOf} from './schema.js'

function writeValue(p: TProtocol, kind: FieldKind, v: unknown, where: string): void {
  if (typeof kind === 'object') {
    if ('list' in kind) {
      if (!Array.isArray(v)) throw new WireError(`${where}: expected a list`)
      p.writeListBegin(ttypeOf(kind.list) as never, v.length)
      for (const e of v) writeValue(p, kind.list, e, where)
      p.writeListEnd()
      return
    }
    if ('map' in kind) {
      if (v === null || typeof v !== 'object') throw new WireError(`${where}: expected a map`)
      const entries = v instanceof Map ? [...v.entries()] : Object.entries(v)
      p.writeMapBegin(ttypeOf(kind.map[0]) as never, ttypeOf(kind.map[1]) as never, entries.length)
      for (const [k, val] of entries) {
        writeValue(p, kind.map[0], k, where)
        writeValue(p, kind.map[1], val, where)
      }
      p.writeMapEnd()
      return
    }
    writeStruct(p, kind.struct, v as Record<string, unknown>)
    return
  }
  switch (kind) {
    case 'bool':
      if (typeof v !== 'boolean') throw new WireError(`${where}: expected a boolean, got ${typeof v}`)
      p.writeBool(v)
      return
    case 'i32':
      if (!Number.isInteger(v) || (v as number) < -2147483648 || (v as number) > 2147483647) {
        throw new WireError(`${where}: ${String(v)} is not an i32`)
      }
      p.writeI32(v as number)
      return
    case 'i64':
      if (typeof v !== 'number') throw new WireError(`${where}: expected a number, got ${typeof v}`)
      writeI64Num(p, v)
      return
    case 'i64big':
      writeI64Big(p, BigInt(v as bigint | number))
      return
    case 'string':
      if (typeof v !== 'string') throw new WireError(`${where}: expected a string, got ${typeof v}`)
      p.writeString(v)
      return
    case 'address':
      writeRpcAddress(p, v as string)
      return
    case 'host_port':
      writeHostPort(p, v as string)
      return
    case 'gpid':
      writeGpid(p, v as string)
      return
    case 'error_code':
      writeErrorCode(p, v as string)
      return
  }
}

function readValue(p: TProtocol, kind: FieldKind): unknown {
  if (typeof kind === 'object') {
    if ('list' in kind) {
      const {size} = p.readListBegin()
      if (size < 0) throw new WireError('negative list size')
      // Every element takes a byte at least: a size past the bytes left (a damaged frame) fails on
      // reading, and must not allocate first.
      const out: unknown[] = new Array(Math.min(size, bufferTransportOf(p)?.remaining() ?? 0))
      for (let i = 0; i < size; i++) out[i] = readValue(p, kind.list)
      p.readListEnd()
      return out
    }
    if ('map' in kind) {
      const {size} = p.readMapBegin()
      if (size < 0) throw new WireError('negative map size')
      const out: Record<string, unknown> = {}
      for (let i = 0; i < size; i++) {
        const k = readValue(p, kind.map[0])
        out[String(k)] = readValue(p, kind.map[1])
      }
      p.readMapEnd()
      return out
    }
    return readStruct(p, kind.struct)
  }
  switch (kind) {
    case 'bool':
      return p.readBool()
    case 'i32':
      return p.readI32()
    case 'i64':
      return readI64Num(p)
    case 'i64big':
      return readI64Big(p)
    case 'string':
      return p.readString()
    case 'address':
      return readRpcAddress(p)
    case 'host_port':
      return readHostPort(p)
    case 'gpid':
      return readGpid(p)
    case 'error_code':
      return readErrorCode(p)
  }
}

/** How readStruct reads one schema, worked out once per schema (readStruct runs per replica). */
interface StructReadPlan {
  /** Fields by id (the first declaration of an id wins), each with its thrift type. */
  byId: ({spec: FieldSpec; ttype: number} | undefined)[]
  required: FieldSpec[]
}

const readPlans = new WeakMap<StructSchema, StructReadPlan>()

function readPlanOf(schema: StructSchema): StructReadPlan {
  let plan = readPlans.get(schema)
  if (!plan) {
    const required = schema.fields.filter((f) => !f.optional)
    const byId: StructReadPlan['byId'] = []
    for (const f of schema.fields) {
      byId[f.id] ??= {spec: f, ttype: ttypeOf(f.kind)}
    }
    plan = {byId, required}
    readPlans.set(schema, plan)
  }
  return plan
}

/** Writes a struct: its fields in IDL order (optional ones only when present), then STOP. */
export function writeStruct(p: TProtocol, schema: StructSchema, v: Record<string, unknown>): void {
  if (v === null || typeof v !== 'object') throw new WireError(`${schema.name}: expected an object`)
  p.writeStructBegin(schema.name)
  for (const f of schema.fields) {
    let value = v[f.name]
    if (value === undefined || value === null) {
      if (f.optional) continue
      value = missingValueOf(f)
    }
    p.writeFieldBegin(f.name, ttypeOf(f.kind) as never, f.id)
    writeValue(p, f.kind, value, `${schema.name}.${f.name}`)
    p.writeFieldEnd()
  }
  p.writeFieldStop()
  p.writeStructEnd()
}

/**
 * Reads a struct by walking its schema (the reference the compiled readers match; the codecs read
 * through {@link readStructFast}). Like generated thrift code: unknown field ids and fields of an unexpected type
 * are skipped, and required fields that did not arrive take their IDL default.
 */
export function readStruct(p: TProtocol, schema: StructSchema): Record<string, unknown> {
  // The required fields' keys first, in IDL order (the order readStructDefaults gives); their
  // defaults are made only for the fields that do not arrive, not for every field of every struct.
  // Added one by one, not copied from a template object: with the many schemas a gather reads,
  // the engine's object copy goes generic and costs more than these stores.
  const plan = readPlanOf(schema)
  const out: Record<string, unknown> = {}
  for (const f of plan.required) out[f.name] = undefined
  p.readStructBegin()
  for (;;) {
    const {ftype, fid} = p.readFieldBegin()
    if (ftype === TType.STOP) break
    const f = fid >= 0 ? plan.byId[fid] : undefined
    if (f && f.ttype === ftype) out[f.spec.name] = readValue(p, f.spec.kind)
    else skipValue(p, ftype)
    p.readFieldEnd()
  }
  p.readStructEnd()
  for (const f of plan.required) if (out[f.name] === undefined) out[f.name] = missingValueOf(f)
  return out
}

/** Skips a value of a thrift type, refusing types the binary protocol does not have. */
export function skipValue(p: TProtocol, ftype: number): void {
  const known: number[] = Object.values(TType)
  if (!known.includes(ftype) || ftype === TType.STOP) throw new WireError(`unknown thrift type ${ftype}`)
  p.skip(ftype as never)
}

/** Encoder and decoder of one struct type. */
export interface StructCodec<T> {
  readonly schema: StructSchema
  write(p: TProtocol, v: T): void
  read(p: TProtocol): T
  /** The struct alone in thrift binary (fields + STOP). */
  encode(v: T): Buffer
  /** Parses the struct alone; trailing bytes are an error. */
  decode(buf: Buffer): T
}

/**
 * Reads a struct through its compiled reader (read-compiled.ts) when `p` reads from a buffer (a
 * BinaryReader's protocol) and the process may compile, else through the schema walk: the same
 * value either way.
 */
export function readStructFast(p: TProtocol, schema: StructSchema): Record<string, unknown> {
  const direct = bufferTransportOf(p)
  return direct && CODE_GENERATION ? compiledReaderOf(schema)(direct) : readStruct(p, schema)
}

function codec<T>(name: string, fields: FieldSpec[]): StructCodec<T> {
  const schema: StructSchema = {name, fields}
  return {
    schema,
    write: (p, v) => writeStruct(p, schema, v as Record<string, unknown>),
    read: (p) => readStructFast(p, schema) as T,
    encode(v) {
      const w = new BinaryWriter()
      writeStruct(w.proto, schema, v as Record<string, unknown>)
      return w.toBuffer()
    },
    decode(buf) {
      const r = new BinaryReader(buf)
      const v = readStructFast(r.proto, schema) as T
      if (r.remaining() !== 0) throw new WireError(`${name}: ${r.remaining()} trailing bytes`)
      return v
    },
  }
}

const f = (id: number, name: string, kind: FieldKind, extra: Partial<FieldSpec> = {}): FieldSpec => ({
  id,
  name,
  kind,
  ...extra,
})
const opt = {optional: true}
const listOf = (kind: FieldKind): FieldKind => ({list: kind})
const structOf = <T>(c: StructCodec<T>): FieldKind => ({struct: c.schema})

/** `dsn.layer2.app_info`. */
export const AppInfoCodec = codec<M.AppInfo>('app_info', [
  f(1, 'status', 'i32'),
  f(2, 'app_type', 'string'),
  f(3, 'app_name', 'string'),
  f(4, 'app_id', 'i32'),
  f(5, 'partition_count', 'i32'),
  f(6, 'envs', {map: ['string', 'string']}),
  f(7, 'is_stateful', 'bool'),
  f(8, 'max_replica_count', 'i32'),
  f(9, 'expire_second', 'i64'),
  f(10, 'create_second', 'i64'),
  f(11, 'drop_second', 'i64'),
  f(12, 'duplicating', 'bool', opt),
  f(13, 'init_partition_count', 'i32', {default: -1}),
  f(14, 'is_bulk_loading', 'bool', opt),
  f(15, 'atomic_idempotent', 'bool', opt),
])

/** `dsn.layer2.partition_configuration`. */
export const PartitionConfigurationCodec = codec<M.PartitionConfiguration>('partition_configuration', [
  f(1, 'pid', 'gpid'),
  f(2, 'ballot', 'i64'),
  f(3, 'max_replica_count', 'i32'),
  f(4, 'primary', 'address'),
  f(5, 'secondaries', listOf('address')),
  f(6, 'last_drops', listOf('address')),
  f(7, 'last_committed_decree', 'i64'),
  f(8, 'partition_flags', 'i32'),
  f(9, 'hp_primary', 'host_port', opt),
  f(10, 'hp_secondaries', listOf('host_port'), opt),
  f(11, 'hp_last_drops', listOf('host_port'), opt),
])

/** `metadata.replica_info`. */
export const ReplicaInfoCodec = codec<M.ReplicaInfo>('replica_info', [
  f(1, 'pid', 'gpid'),
  f(2, 'ballot', 'i64'),
  f(3, 'status', 'i32'),
  f(4, 'last_committed_decree', 'i64'),
  f(5, 'last_prepared_decree', 'i64'),
  f(6, 'last_durable_decree', 'i64'),
  f(7, 'app_type', 'string'),
  f(8, 'disk_tag', 'string'),
  f(9, 'manual_compact_status', 'i32', opt),
])

/** `meta_admin.query_app_info_request`. */
export const QueryAppInfoRequestCodec = codec<M.QueryAppInfoRequest>('query_app_info_request', [
  f(1, 'meta_server', 'address'),
  f(2, 'hp_meta_server', 'host_port', opt),
])
/** `meta_admin.query_app_info_response`. */
export const QueryAppInfoResponseCodec = codec<M.QueryAppInfoResponse>('query_app_info_response', [
  f(1, 'err', 'error_code'),
  f(2, 'apps', listOf(structOf(AppInfoCodec))),
])

/** `replica_admin.query_replica_info_request`. */
export const QueryReplicaInfoRequestCodec = codec<M.QueryReplicaInfoRequest>('query_replica_info_request', [
  f(1, 'node1', 'address'),
  f(2, 'hp_node1', 'host_port', opt),
])
/** `replica_admin.query_replica_info_response`. */
export const QueryReplicaInfoResponseCodec = codec<M.QueryReplicaInfoResponse>('query_replica_info_response', [
  f(1, 'err', 'error_code'),
  f(2, 'replicas', listOf(structOf(ReplicaInfoCodec))),
])

/** `meta_admin.configuration_recovery_request`. */
export const ConfigurationRecoveryRequestCodec = codec<M.ConfigurationRecoveryRequest>(
  'configuration_recovery_request',
  [
    f(1, 'recovery_nodes', listOf('address')),
    f(2, 'skip_bad_nodes', 'bool'),
    f(3, 'skip_lost_partitions', 'bool'),
    f(4, 'hp_recovery_nodes', listOf('host_port'), opt),
  ],
)
/** `meta_admin.configuration_recovery_response`. */
export const ConfigurationRecoveryResponseCodec = codec<M.ConfigurationRecoveryResponse>(
  'configuration_recovery_response',
  [f(1, 'err', 'error_code'), f(2, 'hint_message', 'string')],
)

/** `meta_admin.ddd_diagnose_request`. */
export const DddDiagnoseRequestCodec = codec<M.DddDiagnoseRequest>('ddd_diagnose_request', [f(1, 'pid', 'gpid')])
/** `meta_admin.ddd_node_info`. */
export const DddNodeInfoCodec = codec<M.DddNodeInfo>('ddd_node_info', [
  f(1, 'node', 'address'),
  f(2, 'drop_time_ms', 'i64'),
  f(3, 'is_alive', 'bool'),
  f(4, 'is_collected', 'bool'),
  f(5, 'ballot', 'i64'),
  f(6, 'last_committed_decree', 'i64'),
  f(7, 'last_prepared_decree', 'i64'),
  f(8, 'hp_node', 'host_port', opt),
])
/** `meta_admin.ddd_partition_info`. */
export const DddPartitionInfoCodec = codec<M.DddPartitionInfo>('ddd_partition_info', [
  f(1, 'config', structOf(PartitionConfigurationCodec)),
  f(2, 'dropped', listOf(structOf(DddNodeInfoCodec))),
  f(3, 'reason', 'string'),
])
/** `meta_admin.ddd_diagnose_response`. */
export const DddDiagnoseResponseCodec = codec<M.DddDiagnoseResponse>('ddd_diagnose_response', [
  f(1, 'err', 'error_code'),
  f(2, 'partitions', listOf(structOf(DddPartitionInfoCodec))),
])

/** `meta_admin.configuration_proposal_action`. */
export const ConfigurationProposalActionCodec = codec<M.ConfigurationProposalAction>('configuration_proposal_action', [
  f(1, 'target', 'address'),
  f(2, 'node', 'address'),
  f(3, 'type', 'i32'),
  f(5, 'hp_target', 'host_port', opt),
  f(6, 'hp_node', 'host_port', opt),
])
/** `meta_admin.configuration_balancer_request`. */
export const ConfigurationBalancerRequestCodec = codec<M.ConfigurationBalancerRequest>(
  'configuration_balancer_request',
  [
    f(1, 'gpid', 'gpid'),
    f(2, 'action_list', listOf(structOf(ConfigurationProposalActionCodec))),
    f(3, 'force', 'bool', opt),
    f(4, 'balance_type', 'i32', opt),
  ],
)
/** `meta_admin.configuration_balancer_response`. */
export const ConfigurationBalancerResponseCodec = codec<M.ConfigurationBalancerResponse>(
  'configuration_balancer_response',
  [f(1, 'err', 'error_code')],
)

/** `meta_admin.configuration_meta_control_request`. */
export const ConfigurationMetaControlRequestCodec = codec<M.ConfigurationMetaControlRequest>(
  'configuration_meta_control_request',
  [f(1, 'level', 'i32')],
)
/** `meta_admin.configuration_meta_control_response`. */
export const ConfigurationMetaControlResponseCodec = codec<M.ConfigurationMetaControlResponse>(
  'configuration_meta_control_response',
  [f(1, 'err', 'error_code'), f(2, 'old_level', 'i32')],
)

/** `meta_admin.configuration_cluster_info_request` (empty). */
export const ConfigurationClusterInfoRequestCodec = codec<M.ConfigurationClusterInfoRequest>(
  'configuration_cluster_info_request',
  [],
)
/** `meta_admin.configuration_cluster_info_response`. */
export const ConfigurationClusterInfoResponseCodec = codec<M.ConfigurationClusterInfoResponse>(
  'configuration_cluster_info_response',
  [f(1, 'err', 'error_code'), f(2, 'keys', listOf('string')), f(3, 'values', listOf('string'))],
)

/** `meta_admin.configuration_list_apps_request`. */
export const ConfigurationListAppsRequestCodec = codec<M.ConfigurationListAppsRequest>(
  'configuration_list_apps_request',
  [f(1, 'status', 'i32'), f(2, 'app_name_pattern', 'string', opt), f(3, 'match_type', 'i32', opt)],
)
/** `meta_admin.configuration_list_apps_response`. */
export const ConfigurationListAppsResponseCodec = codec<M.ConfigurationListAppsResponse>(
  'configuration_list_apps_response',
  [f(1, 'err', 'error_code'), f(2, 'infos', listOf(structOf(AppInfoCodec))), f(3, 'hint_message', 'string', opt)],
)

/** `meta_admin.node_info`. */
export const NodeInfoCodec = codec<M.NodeInfo>('node_info', [
  f(1, 'status', 'i32'),
  f(2, 'node', 'address'),
  f(3, 'hp_node', 'host_port', opt),
])
/** `meta_admin.configuration_list_nodes_request`. */
export const ConfigurationListNodesRequestCodec = codec<M.ConfigurationListNodesRequest>(
  'configuration_list_nodes_request',
  [f(1, 'status', 'i32')],
)
/** `meta_admin.configuration_list_nodes_response`. */
export const ConfigurationListNodesResponseCodec = codec<M.ConfigurationListNodesResponse>(
  'configuration_list_nodes_response',
  [f(1, 'err', 'error_code'), f(2, 'infos', listOf(structOf(NodeInfoCodec)))],
)

/** `dsn.layer2.query_cfg_request`. */
export const QueryCfgRequestCodec = codec<M.QueryCfgRequest>('query_cfg_request', [
  f(1, 'app_name', 'string'),
  f(2, 'partition_indices', listOf('i32')),
])
/** `dsn.layer2.query_cfg_response`. */
export const QueryCfgResponseCodec = codec<M.QueryCfgResponse>('query_cfg_response', [
  f(1, 'err', 'error_code'),
  f(2, 'app_id', 'i32'),
  f(3, 'partition_count', 'i32'),
  f(4, 'is_stateful', 'bool'),
  f(5, 'partitions', listOf(structOf(PartitionConfigurationCodec))),
])

/** `thrift_request_meta_v1` (every field optional). */
export const RequestMetaV1Codec = codec<M.RequestMetaV1>('thrift_request_meta_v1', [
  f(1, 'app_id', 'i32', opt),
  f(2, 'partition_index', 'i32', opt),
  f(3, 'client_timeout', 'i32', opt),
  f(4, 'client_partition_hash', 'i64big', opt),
  f(5, 'is_backup_request', 'bool', opt),
])

/** Request and response codecs of one RPC. */
export interface RpcDef<Req, Resp> {
  request: StructCodec<Req>
  response: StructCodec<Resp>
}
const rpc = <Req, Resp>(request: StructCodec<Req>, response: StructCodec<Resp>): RpcDef<Req, Resp> => ({
  request,
  response,
})

/**
 * Every RPC lifeboat and the lab speak, by task-code name (the name on the wire;
 * the reply is named `<name>_ACK`).
 */
export const RPCS = {
  RPC_QUERY_APP_INFO: rpc(QueryAppInfoRequestCodec, QueryAppInfoResponseCodec),
  RPC_QUERY_REPLICA_INFO: rpc(QueryReplicaInfoRequestCodec, QueryReplicaInfoResponseCodec),
  RPC_CM_START_RECOVERY: rpc(ConfigurationRecoveryRequestCodec, ConfigurationRecoveryResponseCodec),
  RPC_CM_DDD_DIAGNOSE: rpc(DddDiagnoseRequestCodec, DddDiagnoseResponseCodec),
  RPC_CM_PROPOSE_BALANCER: rpc(ConfigurationBalancerRequestCodec, ConfigurationBalancerResponseCodec),
  RPC_CM_CONTROL_META: rpc(ConfigurationMetaControlRequestCodec, ConfigurationMetaControlResponseCodec),
  RPC_CM_CLUSTER_INFO: rpc(ConfigurationClusterInfoRequestCodec, ConfigurationClusterInfoResponseCodec),
  RPC_CM_LIST_APPS: rpc(ConfigurationListAppsRequestCodec, ConfigurationListAppsResponseCodec),
  RPC_CM_LIST_NODES: rpc(ConfigurationListNodesRequestCodec, ConfigurationListNodesResponseCodec),
  RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX: rpc(QueryCfgRequestCodec, QueryCfgResponseCodec),
} as const

/** The name of an RPC in {@link RPCS}. */
export type RpcName = keyof typeof RPCS
/** The request type of an RPC. */
export type RpcRequest<N extends RpcName> = (typeof RPCS)[N] extends RpcDef<infer Req, unknown> ? Req : never
/** The response type of an RPC. */
export type RpcResponse<N extends RpcName> = (typeof RPCS)[N] extends RpcDef<unknown, infer Resp> ? Resp : never

/** Whether a name is one of {@link RPCS}. */
export function isRpcName(name: string): name is RpcName {
  return Object.prototype.hasOwnProperty.call(RPCS, name)
}
