// The lab's row loader as a Pegasus client (issue 16 item 12): a put that meets a partition between
// primaries (the primary killed, hung, or taken away by the meta) asks the meta again and retries
// until the partition has a primary, without writing a row twice (a partition's rows are its
// first decrees, one put each); a partition that never gets one fails the load at its deadline,
// named, with what its last put met and what the meta said of it. One lab for the file; the tests
// run in order on it (each leaves the nodes as it found them, the last one freezes the meta).
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'

import type {PegasusLab} from '../../../src/lab/pegasus/cluster.js'
import {loadRows, type TableToLoad} from '../../../src/lab/pegasus/data/load.js'
import {rowKey, rowLayout, rowValue, rowsOfPartition} from '../../../src/lab/pegasus/data/rows.js'
import {verifyRows} from '../../../src/lab/pegasus/verify.js'
import {LifeboatError} from '../../../src/errors.js'
import {scenario, startLab, waitFor} from './helpers.js'

const PARTITIONS = 4

describe('the lab loader when a partition is between primaries', () => {
  let lab: PegasusLab
  let close: () => Promise<void>
  beforeAll(async () => {
    // Tables without rows (lab up loads none); the tests load them. One node down must neither
    // freeze the meta nor stop a primary's writes.
    const tables = ['a', 'b', 'c'].map((name) => ({name, partitions: PARTITIONS, replicas: 3, rows: 0}))
    const s = scenario(tables, {meta: {min_live_node_count_for_unfreeze: 1, mutation_2pc_min_replica_count: 1}})
    ;({lab, close} = await startLab(inject('zookeeper'), s))
  })
  afterAll(async () => {
    await close?.()
  })

  const metaAddress = (): string => lab.layout.meta_servers[0].address
  const table = (name: string, rows: number): TableToLoad => {
    const t = lab.layout.tables.find((x) => x.name === name)!
    return {app_id: t.app_id, name, partitions: t.partitions, rows}
  }
  const primaryOf = (gpid: string): string => lab.leader()!.partition(gpid)!.hp_primary ?? ''
  const alive = (address: string): boolean | undefined =>
    lab
      .leader()!
      .nodeStates()
      .find((n) => n.node === address)?.alive

  /** Every row readable from the current primaries, and each partition's log exactly its rows (no row put twice). */
  async function expectLoaded(t: TableToLoad): Promise<void> {
    const verified = await verifyRows(metaAddress(), [{...t, replicas: 3, dropped: false}])
    expect(verified).toMatchObject({found: t.rows, total: t.rows})
    const decrees = Array.from({length: PARTITIONS}, (_, p) => lab.data.log(`${t.app_id}.${p}`).lastDecree)
    expect(decrees).toEqual(Array.from({length: PARTITIONS}, (_, p) => rowsOfPartition(t.rows, PARTITIONS, p)))
  }

  async function restart(address: string): Promise<void> {
    await lab.fault({type: 'start-node', node: address})
    await waitFor(`${address} alive again`, () => (alive(address) ? true : undefined))
  }

  /** The retries the load logged for partition `gpid`, once there is one. */
  const retriesOf = (log: string[], gpid: string): string[] | undefined => {
    const lines = log.filter((l) => l.includes(` partition ${gpid}: `))
    return lines.length > 0 ? lines : undefined
  }

  it('the primary is killed during the load: the load retries until the meta names another, then completes', async () => {
    const t = table('a', 400)
    const gpid = `${t.app_id}.0`
    const victim = primaryOf(gpid)
    // Freezed, the meta takes the dead node's primaries away and names no other: the load has to wait.
    await lab.fault({type: 'meta-level', level: 'freezed'})
    await lab.fault({type: 'kill-node', node: victim})
    const log: string[] = []
    const loading = loadRows(metaAddress(), [t], {log: (line) => log.push(line)})
    const retries = await waitFor(`the load retrying ${gpid}`, () => retriesOf(log, gpid))
    // It met the dead primary (connection refused), or no primary once the meta took it away.
    expect(retries[0]).toMatch(
      new RegExp(`^load of a partition ${gpid}: row\\d+ met (ERR_NETWORK_FAILURE|no primary); retrying via the meta$`),
    )
    await lab.fault({type: 'meta-level', level: 'steady'})
    expect(await loading).toBe(400)
    expect(primaryOf(gpid)).not.toBe(victim)
    await expectLoaded(t)
    await restart(victim)
  })

  it('the primary hangs during the load: its puts time out, and once it answers again no row it had applied is put twice', async () => {
    const t = table('b', 400)
    const gpid = `${t.app_id}.0`
    const victim = primaryOf(gpid)
    // Blind, the meta changes no configuration: it goes on naming the hung node as the primary.
    await lab.fault({type: 'meta-level', level: 'blind'})
    await lab.fault({type: 'hang-node', node: victim})
    const log: string[] = []
    const loading = loadRows(metaAddress(), [t], {timeoutMs: 1000, log: (line) => log.push(line)})
    const retries = await waitFor(`the load retrying ${gpid}`, () => retriesOf(log, gpid))
    expect(retries[0]).toMatch(
      new RegExp(`^load of b partition ${gpid}: row\\d+ met ERR_TIMEOUT; retrying via the meta$`),
    )
    // The hung primary had applied the first five of those puts before it hung (their answers are lost).
    const first = [...rowLayout(t.partitions, t.rows).byPartition[0].subarray(0, 5)]
    for (const i of first)
      expect(lab.node(victim).write(gpid, [{key: rowKey(i), value: rowValue(i), expire: 0}])).not.toHaveProperty('err')
    await restart(victim)
    await lab.fault({type: 'meta-level', level: 'steady'})
    expect(await loading).toBe(400)
    // The loader asked the primary which of the timed-out rows it holds before putting them again:
    // each partition's log is exactly its rows.
    await expectLoaded(t)
  })

  it('a partition whose primary never comes back fails the load at the deadline, named with what it met', async () => {
    const t = table('c', 100)
    // A freezed meta takes a dead node's primaries away and assigns none.
    await lab.fault({type: 'meta-level', level: 'freezed'})
    const victim = primaryOf(`${t.app_id}.0`)
    await lab.fault({type: 'kill-node', node: victim})
    await waitFor(`${t.app_id}.0 without a primary`, () => (primaryOf(`${t.app_id}.0`) === '' ? true : undefined))

    const err = await loadRows(metaAddress(), [t], {deadlineMs: 1500}).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(err).toBeInstanceOf(LifeboatError)
    const e = err as LifeboatError
    expect(e.code).toBe('LAB_LOAD_FAILED')
    const m = new RegExp(
      `^loading the rows of table c failed: partition (${t.app_id}\\.\\d) wrote no row for 1\\.5 s: its next row, row\\d+, ` +
        `last met no primary; the meta's configuration of \\1 was then ballot (\\d+), primary none, ` +
        `secondaries ([^;]+); 0 of its 25 rows are written$`,
    ).exec(e.message)
    expect(m, e.message).not.toBeNull()
    const pc = lab.leader()!.partition(m![1])!
    expect(pc.hp_primary).toBe('')
    const secondaries = pc.hp_secondaries ?? []
    expect([m![2], m![3]]).toEqual([String(pc.ballot), secondaries.length > 0 ? secondaries.join(', ') : 'none'])
    expect(e.hints.join(' ')).toContain('lab.log')
  })
})
