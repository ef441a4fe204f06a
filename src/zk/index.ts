/**
 * The ZooKeeper layer: a promise client with deadlines and typed errors, pipelined tree
 * read/copy/diff/remove, and the apply lock. Imports no domain module.
 */
export {
  DEFAULT_CALL_DEADLINE_MS,
  DEFAULT_CONNECT_DEADLINE_MS,
  DEFAULT_SESSION_TIMEOUT_MS,
  MAX_REQUEST_BYTES,
  OPEN_ACL,
  ZK_PERMS,
  ZkClient,
  connectZk,
  credentialsFromEnv,
  digestId,
  joinPath,
  opBytes,
  toStat,
} from './client.js'
export type {
  ZkAcl,
  ZkAuth,
  ZkCallOptions,
  ZkClientState,
  ZkConnectOptions,
  ZkCreateMode,
  ZkCreateOptions,
  ZkOp,
  ZkOpResult,
  ZkStat,
  ZkWatchEvent,
  ZkWatchOptions,
} from './client.js'
export {ZkError, codeFromNumber, isZkError, toZkError} from './errors.js'
export type {ZkErrorCode, ZkErrorContext} from './errors.js'
export {
  acquireLock,
  forceUnlock,
  formatLockBlock,
  formatLockInfo,
  lockDirFor,
  lockInfoOf,
  lockPath,
  readLock,
  releaseLock,
} from './lock.js'
export type {LockHolder, LockInfo} from './lock.js'
export {compareTrees, copyTree, diffTrees, readTree, removeTree, walkTree} from './tree.js'
export type {
  CopyTreeOptions,
  CopyTreeResult,
  DiffTreesOptions,
  ReadTreeOptions,
  TreeDiff,
  TreeEntry,
  WalkResult,
} from './tree.js'
