/**
 * Pegasus's own primary recommendation for a DDD partition, as the shell's `ddd_diagnose -d`
 * computes it (`diagnose_recommend` in `src/shell/commands/recovery.cpp`), plus the markers the
 * shell prints beside nodes. Pure.
 *
 * The rule only looks at the last two entries of `last_drops` and only trusts nodes the meta reports
 * as both alive and collected. It is reproduced branch for branch, including every way it yields
 * none, because a plan that claims "Pegasus's rule picks X" must be exactly as strict as Pegasus.
 */
import type {DddNodeFacts, DddPartitionFacts} from './types.js'

/** The markers the shell prints beside a node. */
export type DropMark = 'the latest' | 'the secondary latest'

/** The outcome of the rule, with the branch that produced it in words. */
export interface Recommendation {
  /** The recommended primary, or null when the rule yields none (`recommend_primary: none`). */
  node: string | null
  /** Why, in the rule's terms; one sentence, no trailing period. */
  why: string
}

/**
 * The shell's marker for a node: `the latest` when it is the last element of `last_drops`, else
 * `the secondary latest` when it is the one before. The latest wins when a node is both.
 */
export function dropMark(node: string, lastDrops: readonly string[]): DropMark | undefined {
  if (lastDrops.length > 0 && lastDrops[lastDrops.length - 1] === node) return 'the latest'
  if (lastDrops.length > 1 && lastDrops[lastDrops.length - 2] === node) return 'the secondary latest'
  return undefined
}

function describe(n: DddNodeFacts, lastDrops: readonly string[]): string {
  const mark = dropMark(n.node, lastDrops)
  return mark === undefined ? `node(${n.node})` : `node(${n.node}) (${mark})`
}

/**
 * `diagnose_recommend`: the primary Pegasus's shell recommends for a DDD partition.
 *
 * - fewer than two `last_drops`: none;
 * - of the last two drops, keep those the meta reports alive and collected;
 * - one kept: it, if its last committed decree is at least the config's;
 * - two kept: the larger last committed decree wins if at least the config's; on equal decrees
 *   (at least the config's) the latest wins unless the secondary latest has a strictly larger ballot;
 * - otherwise none.
 *
 * Where the shell dereferences a missing entry (a last drop absent from `dropped`, undefined
 * behaviour in C++), the node is treated as neither alive nor collected.
 */
export function diagnoseRecommend(p: DddPartitionFacts): Recommendation {
  const r = recommend(p)
  // The IDL's "collected && ballot == -1 means replica not exist on this node": say so, since the
  // rule itself compares such a node's -1 decrees like any other.
  const absent = [...new Set(p.config.last_drops.slice(-2))].filter((n) =>
    p.dropped.some((d) => d.node === n && d.is_alive && d.is_collected && d.ballot === -1),
  )
  if (absent.length === 0) return r
  return {
    node: r.node,
    why: `${r.why}; ${absent.map((n) => `node(${n})`).join(' and ')} collected with ballot -1: no replica there`,
  }
}

function recommend(p: DddPartitionFacts): Recommendation {
  const drops = p.config.last_drops
  const configLcd = p.config.last_committed_decree
  if (drops.length < 2) {
    return {
      node: null,
      why: `last_drops has ${drops.length} node${drops.length === 1 ? '' : 's'}; the rule needs the last two drops`,
    }
  }
  const lastTwo = drops.slice(-2)
  const kept: DddNodeFacts[] = []
  const dismissed: string[] = []
  for (const node of lastTwo) {
    const info = p.dropped.find((d) => d.node === node)
    if (info === undefined) dismissed.push(`node(${node}) is not in the dropped list`)
    else if (info.is_alive && info.is_collected) kept.push(info)
    else dismissed.push(`${describe(info, drops)} is ${info.is_alive ? 'alive but not collected' : 'not alive'}`)
  }

  if (kept.length === 1) {
    const only = kept[0]
    const lcd = only.last_committed_decree
    if (lcd >= configLcd) {
      return {
        node: only.node,
        why: `only ${describe(only, drops)} of the last two drops is alive and collected (${dismissed.join('; ')}), and its last_committed(${lcd}) >= the config's last_committed(${configLcd})`,
      }
    }
    return {
      node: null,
      why: `only ${describe(only, drops)} of the last two drops is alive and collected (${dismissed.join('; ')}), and its last_committed(${lcd}) < the config's last_committed(${configLcd})`,
    }
  }

  if (kept.length === 2) {
    const [secondary, latest] = kept
    const sLcd = secondary.last_committed_decree
    const lLcd = latest.last_committed_decree
    const both = 'both last drops are alive and collected'
    if (lLcd === sLcd && lLcd >= configLcd) {
      if (latest.ballot >= secondary.ballot) {
        return {
          node: latest.node,
          why: `${both} with equal last_committed(${lLcd}) >= the config's(${configLcd}); the latest has the larger or equal ballot(${latest.ballot} >= ${secondary.ballot})`,
        }
      }
      return {
        node: secondary.node,
        why: `${both} with equal last_committed(${lLcd}) >= the config's(${configLcd}); the secondary latest has the larger ballot(${secondary.ballot} > ${latest.ballot})`,
      }
    }
    if (lLcd > sLcd && lLcd >= configLcd) {
      return {
        node: latest.node,
        why: `${both}; the latest has the larger last_committed(${lLcd} > ${sLcd}), >= the config's(${configLcd})`,
      }
    }
    if (sLcd > lLcd && sLcd >= configLcd) {
      return {
        node: secondary.node,
        why: `${both}; the secondary latest has the larger last_committed(${sLcd} > ${lLcd}), >= the config's(${configLcd})`,
      }
    }
    return {
      node: null,
      why: `${both}, but the larger last_committed(${Math.max(sLcd, lLcd)}) < the config's last_committed(${configLcd})`,
    }
  }

  return {node: null, why: `neither of the last two drops is alive and collected (${dismissed.join('; ')})`}
}
