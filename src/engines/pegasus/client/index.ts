/**
 * Pegasus clients: a pooled RPC caller with deadlines, the meta client (leader discovery, forward
 * following, typed meta RPCs), the replica-server client, address resolution, bounded-concurrency
 * helpers and the HTTP API (meta documents, `/config`).
 */
export * from './errors.js'
export * from './address.js'
export * from './rpc-pool.js'
export * from './meta-client.js'
export * from './replica-client.js'
export {mapLimit, mapLimitSettled} from '../../../util/map-limit.js'
export {recoveryFailed, startRecoveryAndWait} from './recovery.js'
export * from './http.js'
export * from './timeouts.js'
