/**
 * Table envs in the lab, as upstream keeps them (reference/pegasus.md; server_state.cpp
 * set_app_envs/del_app_envs/clear_app_envs, replica_config.cpp, replication_app_base.cpp):
 *
 * - The meta holds a table's envs in its app_info (ZooKeeper's app node). `update_app_env`
 *   (RPC_CM_UPDATE_APP_ENV, the shell's set_app_envs/del_app_envs/clear_app_envs) changes them there.
 * - A replica server's replica keeps the app_info it was opened with in memory (`_app_info`: the
 *   meta's app_info of the proposal that created it, envs included) and reports that copy in
 *   query_app_info. Config sync applies the meta's envs to the replica's behaviour
 *   (`update_app_envs`), never to that copy.
 * - Its `.app-info` file keeps no env but `rocksdb.allow_ingest_behind`; a change of that env is
 *   written to the file (`update_allow_ingest_behind`). A restarted replica server loads the file,
 *   so it then reports no env but that one.
 *
 * Also the codec of update_app_env, which the wire module does not carry (only the lab serves it).
 */
import {
  BinaryReader,
  BinaryWriter,
  readStruct,
  writeStruct,
  type StructCodec,
  type StructSchema,
} from '../../engines/pegasus/wire/index.js'
import {ENV_ALLOW_INGEST_BEHIND} from './app-env-rules.js'
import {callRpcWith} from './rpc-call.js'

export {ENV_ALLOW_INGEST_BEHIND, invalidEnvHint} from './app-env-rules.js'

/** `meta_admin.app_env_operation`. */
export const AppEnvOperation = {
  APP_ENV_OP_INVALID: 0,
  APP_ENV_OP_SET: 1,
  APP_ENV_OP_DEL: 2,
  APP_ENV_OP_CLEAR: 3,
} as const

/** `meta_admin.configuration_update_app_env_request`. */
export interface UpdateAppEnvRequest {
  app_name: string
  op: number
  keys?: string[]
  values?: string[]
  clear_prefix?: string
}

/** `meta_admin.configuration_update_app_env_response`. */
export interface UpdateAppEnvResponse {
  err: string
  hint_message: string
}

function structCodec<T>(schema: StructSchema): StructCodec<T> {
  return {
    schema,
    write: (p, v) => writeStruct(p, schema, v as Record<string, unknown>),
    read: (p) => readStruct(p, schema) as T,
    encode(v) {
      const w = new BinaryWriter()
      writeStruct(w.proto, schema, v as Record<string, unknown>)
      return w.toBuffer()
    },
    decode(buf) {
      return readStruct(new BinaryReader(buf).proto, schema) as T
    },
  }
}

/** The RPC name and its codecs (idl/meta_admin.thrift). */
export const UPDATE_APP_ENV = {
  name: 'RPC_CM_UPDATE_APP_ENV',
  request: structCodec<UpdateAppEnvRequest>({
    name: 'configuration_update_app_env_request',
    fields: [
      {id: 1, name: 'app_name', kind: 'string'},
      {id: 2, name: 'op', kind: 'i32'},
      {id: 3, name: 'keys', kind: {list: 'string'}, optional: true},
      {id: 4, name: 'values', kind: {list: 'string'}, optional: true},
      {id: 5, name: 'clear_prefix', kind: 'string', optional: true},
    ],
  }),
  response: structCodec<UpdateAppEnvResponse>({
    name: 'configuration_update_app_env_response',
    fields: [
      {id: 1, name: 'err', kind: 'error_code'},
      {id: 2, name: 'hint_message', kind: 'string'},
    ],
  }),
} as const

/** What a `.app-info` file keeps of `envs` (replica_app_info::store): only rocksdb.allow_ingest_behind. */
export function persistedEnvs(envs: Record<string, string>): Record<string, string> {
  const v = envs[ENV_ALLOW_INGEST_BEHIND]
  return v === undefined ? {} : {[ENV_ALLOW_INGEST_BEHIND]: v}
}

/** get_bool_envs: the env's boolean, or undefined when absent or not a boolean. */
export function boolEnv(envs: Record<string, string>, key: string): boolean | undefined {
  const v = envs[key]
  return v === 'true' ? true : v === 'false' ? false : undefined
}

/**
 * The shell's `use_app T; set_app_envs K V [K V ...]` against a meta server over THFT: the call's
 * error, or the meta's answer.
 */
export async function setAppEnvs(
  meta: string,
  appName: string,
  envs: Record<string, string>,
  timeoutMs = 5000,
): Promise<UpdateAppEnvResponse> {
  const keys = Object.keys(envs)
  const {err, response} = await callRpcWith(
    meta,
    UPDATE_APP_ENV.name,
    UPDATE_APP_ENV.request,
    UPDATE_APP_ENV.response,
    {app_name: appName, op: AppEnvOperation.APP_ENV_OP_SET, keys, values: keys.map((k) => envs[k] ?? '')},
    timeoutMs,
  )
  return response ?? {err, hint_message: ''}
}
