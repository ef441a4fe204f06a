// hang-tablet: a wedged tablet keeps its ZooKeeper node and stays kHealthy to the nameserver, accepts
// connections and answers nothing until resume-tablet, which answers the held requests and lets its
// followers catch up. The fault's command-line form and refusals.
import {connect} from 'node:net'

import {describe, expect, inject, it} from 'vitest'

import {LifeboatError} from '../../../src/errors.js'
import {pidOfKey, rowKey} from '../../../src/lab/openmldb/cluster.js'
import {parseOpenMLDBFault} from '../../../src/lab/openmldb/faults.js'
import {verifyOpenMLDBRows} from '../../../src/lab/openmldb/verify.js'
import {connectZk} from '../../../src/zk/index.js'
import {post, rpc, scenario, startLab, until} from './helpers.js'

const zkHosts = inject('zookeeper')

type Status = {tid: number; pid: number; offset?: number; mode: string}

describe('OpenMLDB lab: hang-tablet', () => {
  it('keeps the registration, answers nothing until resumed, then catches its followers up', async () => {
    const {lab, close} = await startLab(zkHosts, scenario())
    try {
      const [t1, t2, t3] = lab.layout.tablets.map((t) => t.endpoint)
      expect(await lab.fault({type: 'hang-tablet', tablet: 'tablet2'})).toBe(
        `tablet tablet2 (${t2}) hangs: registered and healthy to the nameserver, no HTTP reply`,
      )
      // A TCP connection is accepted, and an HTTP request on it gets no reply while the others answer.
      await new Promise<void>((resolve, reject) => {
        const s = connect(Number(t2.split(':')[1]), '127.0.0.1', () => {
          s.destroy()
          resolve()
        })
        s.on('error', reject)
      })
      let held: Awaited<ReturnType<typeof post>> | undefined
      const pending = post(t2, '/TabletServer/GetTableStatus', '{"tid":1,"pid":1}').then((r) => (held = r))
      // Rows written meanwhile through tablet1, which leads pid 0 with tablet2 and tablet3 as followers.
      const keys = Array.from({length: 400}, (_, i) => rowKey('t1', 1000 + i)).filter((k) => pidOfKey(k, 4) === 0)
      for (const [i, key] of keys.entries())
        expect(
          await rpc(t1, 'TabletServer', 'Put', {tid: 1, pid: 0, dimensions: [{key, idx: 0}], time: i, value: `v${i}`}),
        ).toEqual({code: 0, msg: 'ok'})
      const offsetOn = async (ep: string) =>
        ((await rpc(ep, 'TabletServer', 'GetTableStatus', {tid: 1, pid: 0})).all_table_status as Status[])[0].offset
      const leaderOffset = await offsetOn(t1)
      expect(await offsetOn(t3)).toBe(leaderOffset)
      // The nameserver still sees it healthy, two table status rounds later; its node is in ZooKeeper.
      const ns = lab.leader()
      const round = ns?.statusRounds ?? 0
      await until('two table status rounds', () => ((ns?.statusRounds ?? 0) >= round + 2 ? true : undefined))
      const tablets = (await rpc(ns?.endpoint as string, 'NameServer', 'ShowTablet')).tablets as {
        endpoint: string
        state: string
      }[]
      expect(tablets.find((t) => t.endpoint === t2)?.state).toBe('kHealthy')
      const zk = await connectZk({hosts: zkHosts})
      try {
        expect(await zk.exists(`${lab.layout.zk_root}/nodes/${t2}`)).toBeTruthy()
      } finally {
        await zk.close()
      }
      expect((lab.status().tablets as {hung: boolean}[]).map((t) => t.hung)).toEqual([false, true, false])
      expect(held).toBeUndefined()
      // Nothing reached its replica of pid 0 while it hung.
      expect(lab.tablets[1].mem.get('1_0')?.stored.entries.length).toBeLessThan(leaderOffset as number)

      expect(await lab.fault({type: 'resume-tablet', tablet: 'tablet2'})).toBe(`tablet tablet2 (${t2}) answers again`)
      expect((await pending).status).toBe(200)
      expect((held?.json?.all_table_status as Status[])[0]).toMatchObject({tid: 1, pid: 1})
      expect(await offsetOn(t2)).toBe(leaderOffset)
      expect(await verifyOpenMLDBRows(lab.layout)).toMatchObject({found: 200, total: 200})
    } finally {
      await close()
    }
  })

  it('is refused on a killed tablet; resume-tablet on a tablet that does not hang; the CLI form', async () => {
    const {lab, close} = await startLab(zkHosts, scenario({tablets: 2, tables: [{name: 't1', replicas: 2}]}))
    try {
      const refused = async (p: Promise<unknown>) => {
        const err = await p.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(err).toBeInstanceOf(LifeboatError)
        return err as LifeboatError
      }
      expect((await refused(lab.fault({type: 'resume-tablet', tablet: 'tablet1'}))).message).toBe(
        'tablet tablet1 is not hung',
      )
      await lab.fault({type: 'hang-tablet', tablet: 'tablet1'})
      // kill-tablet ends the hang with the process: a start serves again.
      await lab.fault({type: 'kill-tablet', tablet: 'tablet1'})
      expect((await refused(lab.fault({type: 'hang-tablet', tablet: 'tablet1'}))).message).toBe(
        'tablet tablet1 is not running',
      )
      await lab.fault({type: 'start-tablet', tablet: 'tablet1'})
      expect(await rpc(lab.layout.tablets[0].endpoint, 'TabletServer', 'GetTableStatus')).toEqual({code: 0, msg: 'ok'})
    } finally {
      await close()
    }
    expect(parseOpenMLDBFault('hang-tablet', ['tablet2'])).toEqual({type: 'hang-tablet', tablet: 'tablet2'})
    expect(parseOpenMLDBFault('resume-tablet', ['127.0.0.1:9'])).toEqual({type: 'resume-tablet', tablet: '127.0.0.1:9'})
    expect(() => parseOpenMLDBFault('hang-tablet', [])).toThrow('hang-tablet takes 1 argument, got 0')
  })
})
