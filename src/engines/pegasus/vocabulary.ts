/**
 * Pegasus's words for a plan (plan/types.ts Vocabulary): the nouns its changes count as, and the
 * primaries section with the facts Pegasus chooses a primary by. Shared by the three Pegasus
 * planners; pure data.
 */
import type {Vocabulary} from '../../plan/types.js'

/** Keys of PEGASUS_VOCABULARY.nouns, for Change.noun. */
export const NOUN = {table: 'table', partition: 'partition', zkNode: 'zk_node'} as const

/** The candidate facts, by the names the planners key them with. */
export const FACT = {
  alive: 'alive',
  collected: 'collected',
  ballot: 'ballot',
  lastCommitted: 'last_committed_decree',
  lastPrepared: 'last_prepared_decree',
  lastDrops: 'last_drops',
} as const

export const PEGASUS_VOCABULARY: Vocabulary = {
  nouns: {
    [NOUN.table]: {one: 'table', many: 'tables'},
    [NOUN.partition]: {one: 'partition', many: 'partitions'},
    [NOUN.zkNode]: {one: 'ZooKeeper node', many: 'ZooKeeper nodes'},
  },
  leadership: {
    heading: 'Primaries to assign',
    item: {one: 'partition', many: 'partitions'},
    role: {one: 'primary', many: 'primaries'},
    candidateFacts: [
      {name: FACT.alive, label: 'alive'},
      {name: FACT.collected, label: 'collected'},
      {name: FACT.ballot, label: 'ballot'},
      {name: FACT.lastCommitted, label: 'committed'},
      {name: FACT.lastPrepared, label: 'prepared'},
    ],
    changeFacts: [{name: FACT.lastDrops, label: 'last drops'}],
  },
}
