// A scripted Pegasus meta and replica servers over the real THFT wire, built from a fixture's
// live.json, for testing gather and the step executors. It is deliberately small: it answers
// what the fixture says, and executes or clears ASSIGN_PRIMARY proposals with the meta's rule
// (partition_guardian from_proposals) when the test calls check(). It is not the lab.
import {
  AppStatus,
  MetaFunctionLevel,
  NodeStatus,
  PartitionStatus,
  startRpcServer,
  type PartitionConfiguration,
  type PartitionStatus as PartitionStatusValue,
  type RpcHandlers,
  type RpcServer,
} from '../../../src/engines/pegasus/wire/index.js'
import type {DddLiveState, PartitionConfigFacts} from '../../../src/engines/pegasus/ddd/types.js'

const FIXTURE_NODE = /\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}:\d{1,5}\b/g

/** Replaces every fixture address in a JSON document through `map`. */
function rename<T>(doc: T, map: Map<string, string>): T {
  return JSON.parse(JSON.stringify(doc).replace(FIXTURE_NODE, (m) => map.get(m) ?? m)) as T
}

interface Replica {
  pid: string
  ballot: number
  status: number
  lcd: number
  lpd: number
  ldd: number
}

/** How a fixture node behaves on the wire. */
type Behaviour = 'serve' | 'closed' | 'silent'

export class FakePegasus {
  /** The fixture's live state with real addresses. */
  live!: DddLiveState
  level = 'fl_steady' as keyof typeof MetaFunctionLevel
  /** fixture address -> real address. */
  readonly names = new Map<string, string>()
  readonly alive = new Map<string, boolean>()
  readonly replicas = new Map<string, Replica[]>()
  readonly configs = new Map<string, PartitionConfigFacts>()
  readonly pending = new Map<string, string>()
  /** What the meta would log. */
  readonly log: string[] = []
  /** Every propose_balancer request received. */
  readonly proposals: {gpid: string; node: string; force: boolean}[] = []
  private readonly servers = new Map<string, RpcServer>()
  private meta!: RpcServer

  static async start(fixture: DddLiveState): Promise<FakePegasus> {
    const f = new FakePegasus()
    await f.init(fixture)
    return f
  }

  get metaAddress(): string {
    return this.meta.address
  }

  private async init(fixture: DddLiveState): Promise<void> {
    const behaviour = new Map<string, Behaviour>()
    for (const n of fixture.nodes) behaviour.set(n.node, n.alive ? 'serve' : 'closed')
    for (const r of fixture.replicas)
      behaviour.set(r.node, r.reachable ? 'serve' : r.error === 'ERR_TIMEOUT' ? 'silent' : 'closed')
    // Consecutive 5-digit ports in the fixture's node order, so that sorting by address gives the
    // same order before and after renaming (plans sort some lists by node).
    const entries = [...behaviour.entries()].sort()
    for (let attempt = 0; ; attempt++) {
      const base = 20000 + Math.floor(Math.random() * 40000)
      const started: RpcServer[] = []
      try {
        for (const [fixtureNode, how] of entries) {
          const server = await startRpcServer({
            port: base + started.length,
            handlers:
              how === 'silent'
                ? {RPC_QUERY_REPLICA_INFO: () => new Promise(() => {})}
                : this.replicaHandlers(fixtureNode),
          })
          started.push(server)
          this.names.set(fixtureNode, server.address)
        }
      } catch (err) {
        await Promise.all(started.map((s) => s.close()))
        if (attempt < 20) continue
        throw err
      }
      entries.forEach(([, how], i) => {
        if (how !== 'closed') this.servers.set(started[i].address, started[i])
      })
      await Promise.all(entries.map(([, how], i) => (how === 'closed' ? started[i].close() : undefined)))
      break
    }
    this.meta = await startRpcServer({handlers: this.metaHandlers()})
    this.names.set(fixture.meta_server, this.meta.address)
    this.live = rename(fixture, this.names)
    this.level = this.live.meta_level
    for (const n of this.live.nodes) this.alive.set(n.node, n.alive)
    for (const n of this.live.replicas) {
      this.replicas.set(
        n.node,
        n.replicas.map((r) => ({
          pid: r.pid,
          ballot: r.ballot,
          status: (PartitionStatus as Record<string, number>)[r.status],
          lcd: r.last_committed_decree,
          lpd: r.last_prepared_decree,
          ldd: r.last_durable_decree,
        })),
      )
    }
    for (const c of this.live.configs) this.configs.set(c.pid, structuredClone(c))
  }

  /** Replica handlers look up the real address lazily: it is known only once the server listens. */
  private replicaHandlers(fixtureNode: string): RpcHandlers {
    return {
      RPC_QUERY_REPLICA_INFO: async () => {
        const rs = this.replicas.get(this.names.get(fixtureNode) ?? '') ?? []
        return {
          err: 'ERR_OK',
          response: {
            err: 'ERR_OK',
            replicas: rs.map((r) => ({
              pid: r.pid,
              ballot: r.ballot,
              status: r.status as PartitionStatusValue,
              last_committed_decree: r.lcd,
              last_prepared_decree: r.lpd,
              last_durable_decree: r.ldd,
              app_type: 'pegasus',
              disk_tag: 'default',
            })),
          },
        }
      },
    }
  }

  private wireConfig(c: PartitionConfigFacts): PartitionConfiguration {
    return {
      pid: c.pid,
      ballot: c.ballot,
      max_replica_count: c.max_replica_count,
      primary: c.primary ?? '',
      secondaries: c.secondaries,
      last_drops: c.last_drops,
      last_committed_decree: c.last_committed_decree,
      partition_flags: 0,
      hp_primary: c.primary ?? '',
      hp_secondaries: c.secondaries,
      hp_last_drops: c.last_drops,
    }
  }

  private metaHandlers(): RpcHandlers {
    const ok = <R>(response: R) => Promise.resolve({err: 'ERR_OK', response})
    return {
      RPC_CM_CONTROL_META: (req) => {
        const old = MetaFunctionLevel[this.level]
        if (req.level !== MetaFunctionLevel.fl_invalid) {
          this.level = Object.entries(MetaFunctionLevel).find(
            ([, v]) => v === req.level,
          )![0] as keyof typeof MetaFunctionLevel
        }
        return ok({err: 'ERR_OK', old_level: old})
      },
      // The level as get_function_level reports it (this fake never freezes by itself).
      RPC_CM_CLUSTER_INFO: () => ok({err: 'ERR_OK', keys: ['meta_function_level'], values: [this.level.slice(3)]}),
      RPC_CM_LIST_NODES: () =>
        ok({
          err: 'ERR_OK',
          infos: [...this.alive.entries()].map(([node, alive]) => ({
            node,
            hp_node: node,
            status: alive ? NodeStatus.NS_ALIVE : NodeStatus.NS_UNALIVE,
          })),
        }),
      RPC_CM_LIST_APPS: () =>
        ok({
          err: 'ERR_OK',
          infos: this.live.apps.map((a) => ({
            status: AppStatus[a.status as keyof typeof AppStatus],
            app_type: 'pegasus',
            app_name: a.app_name,
            app_id: a.app_id,
            partition_count: 16,
            envs: {},
            is_stateful: true,
            max_replica_count: 3,
            expire_second: 0,
            create_second: 0,
            drop_second: 0,
            init_partition_count: 16,
          })),
        }),
      RPC_CM_DDD_DIAGNOSE: (req) => {
        const [app, pidx] = req.pid.split('.').map(Number)
        const partitions = this.live.ddd
          .filter((p) => this.configs.get(p.config.pid)?.primary == null)
          .filter((p) => {
            const [a, i] = p.config.pid.split('.').map(Number)
            return app === -1 || (a === app && (pidx === -1 || i === pidx))
          })
          .map((p) => ({
            config: this.wireConfig(p.config),
            reason: p.reason,
            dropped: p.dropped.map((d) => ({
              node: d.node,
              hp_node: d.node,
              drop_time_ms: d.drop_time_ms,
              is_alive: d.is_alive,
              is_collected: d.is_collected,
              ballot: d.ballot,
              last_committed_decree: d.last_committed_decree,
              last_prepared_decree: d.last_prepared_decree,
            })),
          }))
        return ok({err: 'ERR_OK', partitions})
      },
      RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX: (req) => {
        const app = this.live.apps.find((a) => a.app_name === req.app_name)
        if (!app)
          return ok({err: 'ERR_OBJECT_NOT_FOUND', app_id: 0, partition_count: 0, is_stateful: true, partitions: []})
        const partitions = req.partition_indices
          .map((i) => this.configs.get(`${app.app_id}.${i}`))
          .filter((c) => c !== undefined)
          .map((c) => this.wireConfig(c))
        return ok({err: 'ERR_OK', app_id: app.app_id, partition_count: 16, is_stateful: true, partitions})
      },
      RPC_CM_PROPOSE_BALANCER: (req) => {
        const action = req.action_list[0]
        const node = action?.hp_node || action?.node || ''
        this.proposals.push({gpid: req.gpid, node, force: req.force ?? false})
        // register_proposals: a partition with actions pending refuses another set.
        if (!this.configs.has(req.gpid) || this.pending.has(req.gpid) || action === undefined)
          return ok({err: 'ERR_INVALID_PARAMETERS'})
        this.pending.set(req.gpid, node)
        return ok({err: 'ERR_OK'})
      },
    }
  }

  /** One partition check: execute valid proposals, clear invalid ones (the meta's from_proposals). */
  check(): void {
    for (const [gpid, node] of [...this.pending.entries()]) {
      this.pending.delete(gpid)
      const c = this.configs.get(gpid)!
      if (c.primary !== null || c.secondaries.includes(node) || this.alive.get(node) !== true) {
        this.log.push(`proposal action(CT_ASSIGN_PRIMARY) for gpid(${gpid}) is invalid, clear all proposal actions`)
        continue
      }
      c.primary = node
      c.ballot += 1
      c.last_drops = c.last_drops.filter((n) => n !== node)
      for (const r of this.replicas.get(node) ?? []) {
        if (r.pid === gpid) {
          r.status = PartitionStatus.PS_PRIMARY
          r.ballot = c.ballot
        }
      }
    }
  }

  /** Stops a replica server and marks it dead at the meta. */
  async kill(node: string): Promise<void> {
    this.alive.set(node, false)
    await this.servers.get(node)?.close()
    this.servers.delete(node)
  }

  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.close()))
    await this.meta.close()
  }
}
