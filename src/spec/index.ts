/**
 * Spec loading and validation: the public surface other modules import.
 *
 * `loadSpecFile` is what plan/apply call; `validateSpecText` serves tests and tools that hold the
 * text already; `parseNodeList` reads Pegasus's node-list format on its own.
 */
export {MAX_DIAGNOSTICS, loadSpecFile, validateSpecText} from './load.js'
export {parseNodeList, type NodeListResult} from './node-list.js'
export {parseEndpoint, parseHostPort, type HostPort, type HostPortResult} from './host-port.js'
export {MAX_FILE_BYTES} from './read-file.js'
export {composeSpecSchema, kindSchemaDir, packageRoot, specKinds, specSchemaPath, SPEC_SCHEMA_ID} from './schema.js'
export {zkRootProblem} from './semantic.js'
export * from './types.js'
