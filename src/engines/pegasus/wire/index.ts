/**
 * The Pegasus wire protocol: message types, thrift binary codecs, THFT framing and an RPC server.
 * Shared by the Pegasus engine's clients and the lab's simulators. See docs/pegasus-wire.md.
 */
export * from './types.js'
export * from './protocol.js'
export * from './messages.js'
export * from './framing.js'
export * from './server.js'
export * from './meta-level.js'
