// Restarts every tablet of an OpenMLDB lab (and the leader nameserver) and waits on the leader
// nameserver's ShowTablet at each stage, so that no registration races the old session's node.
import {OpenMLDBClient} from '../../src/engines/openmldb/client.js'
import {tabletStatesOf} from '../../src/engines/openmldb/gather.js'
import type {OpenMLDBLab} from '../../src/lab/openmldb/cluster.js'

async function until(what: string, cond: () => Promise<boolean>, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Every tablet killed and started again (no table loaded), the leader nameserver restarted in between. */
export async function restartEveryTablet(lab: OpenMLDBLab): Promise<void> {
  const client = new OpenMLDBClient({nameservers: lab.layout.nameservers.map((n) => n.endpoint), authorization: 'foo'})
  const states = async (): Promise<string[]> => [...tabletStatesOf(await client.ns('ShowTablet', {})).values()]
  for (const t of lab.layout.tablets) await lab.fault({type: 'kill-tablet', tablet: t.endpoint})
  await until('every tablet kOffline', async () => (await states()).every((s) => s === 'kOffline'))
  await lab.fault({type: 'kill-nameserver'})
  await lab.fault({type: 'start-nameserver'})
  for (const t of lab.layout.tablets) await lab.fault({type: 'start-tablet', tablet: t.endpoint})
  await until('every tablet kHealthy', async () => {
    const s = await states()
    return s.length === lab.layout.tablets.length && s.every((x) => x === 'kHealthy')
  })
}
