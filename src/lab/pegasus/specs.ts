/**
 * Ready-to-use lifeboat specs for a running Pegasus lab (DESIGN.md §2), with its real endpoints:
 * a PegasusMetaRecovery spec (every replica server as a target) and a PegasusDddRecovery spec.
 */
import {mkdirSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {stringify} from 'yaml'

import type {PegasusLabLayout} from './cluster.js'

/** `<stateDir>/specs`, created if need be. */
export function specDir(stateDir: string): string {
  const dir = join(stateDir, 'specs')
  mkdirSync(dir, {recursive: true})
  return dir
}

/**
 * How long apply watches a lab cluster serve before it calls it verified. lifeboat's default (10 s)
 * is a few beacon intervals of a real replica server (3 s); the lab's beacon every 300 ms (1 s in
 * pegasus-scale), and a meta that cannot live with its tree fails at the first config sync after
 * one, so a few seconds are as many beacons as 10 s are in Pegasus.
 */
export const LAB_SERVING_SECONDS = 3

/** A spec's `cluster` block: the lab's name, meta servers, where its metadata is now, and the serving watch. */
export function specCluster(layout: PegasusLabLayout): {
  name: string
  meta_servers: string[]
  zookeeper: {hosts: string; root: string}
  timeouts: {serving_seconds: number}
} {
  return {
    name: layout.cluster_name,
    meta_servers: layout.meta_servers.map((m) => m.address),
    zookeeper: {hosts: layout.zk_hosts, root: layout.cluster_root},
    timeouts: {serving_seconds: LAB_SERVING_SECONDS},
  }
}

/** Writes `<stateDir>/specs/*.yaml`; returns {spec name: path}. */
export function writePegasusSpecs(stateDir: string, layout: PegasusLabLayout): Record<string, string> {
  const dir = specDir(stateDir)
  const cluster = specCluster(layout)
  const specs: Record<string, object> = {
    'pegasus-meta-recovery': {
      apiVersion: 'lifeboat/v1',
      kind: 'PegasusMetaRecovery',
      metadata: {name: `${layout.cluster_name}-meta-recovery`, ticket: 'LAB'},
      cluster,
      recovery: {
        target_nodes: layout.replica_servers.map((r) => r.address),
        skip_bad_nodes: false,
        skip_lost_partitions: false,
        wait_seconds: 100,
      },
    },
    'pegasus-ddd-recovery': {
      apiVersion: 'lifeboat/v1',
      kind: 'PegasusDddRecovery',
      metadata: {name: `${layout.cluster_name}-ddd-recovery`, ticket: 'LAB'},
      cluster,
      recovery: {gpids: 'all', auto_diagnose: true, undecided: 'skip', wait_seconds: 100},
    },
  }
  const out: Record<string, string> = {}
  for (const [name, spec] of Object.entries(specs)) {
    const path = join(dir, `${name}.yaml`)
    writeFileSync(path, `# Written by lifeboat lab for the lab's current endpoints.\n${stringify(spec)}`)
    out[name] = path
  }
  return out
}
