/**
 * Pegasus clients: a pooled RPC caller with deadlines, the meta client (leader discovery, forward
 * following, typed meta RPCs), the replica-server client, bounded-concurrency helpers and the meta
 * HTTP API.
 */
export * from './errors.js'
export * from './rpc-pool.js'
export * from './meta-client.js'
export * from './replica-client.js'
export * from './map-limit.js'
export * from './http.js'
