/**
 * The lab meta's partition guardian (pegasus.md §3.1): `check_all_partitions` and `cure` with
 * their cases (missing primary, DDD detection, missing and redundant secondaries), proposals,
 * and the configuration changes they lead to. The meta server (./meta-server.ts) owns the state
 * and decides when a check runs (serving, not frozen).
 */
import {
  ConfigType,
  PartitionStatus,
  enumName,
  type ConfigurationProposalAction,
  type DddPartitionInfo,
} from '../../engines/pegasus/wire/index.js'
import {
  INVALID_BALLOT,
  checkSize,
  clonePc,
  isMember,
  isSecondary,
  maintainDrops,
  members,
  min2pcCount,
  recordDropHistory,
  removeFromDropped,
  replicaCount,
  type AppState,
  type ConfigContext,
  type StateRules,
} from './meta-state.js'
import type {MetaServerConfig} from './meta-server.js'

/** A replica server as the meta's failure detector and config sync know it. */
export interface NodeState {
  alive: boolean
  collected: boolean
  /** When the last beacon came, on the failure detector's clock (./fd-clock.ts). */
  lastBeacon: number
}

/** What the guardian reads and changes of its meta server. */
export interface GuardianHost {
  config: MetaServerConfig
  rules: StateRules
  /** Available apps by name: the ones the guardian cures. */
  existApps: Map<string, AppState>
  nodes: Map<string, NodeState>
  counters: {proposals: number; configChanges: number}
  log(line: string): void
  /** Rewrites the partition's node in ZooKeeper. */
  writePartition(app: AppState, i: number): void
}

/** The partition guardian of one meta server. */
export class PartitionGuardian {
  /** The DDD partitions found by the last check. */
  ddd = new Map<string, DddPartitionInfo>()

  constructor(private readonly host: GuardianHost) {}

  /** One `check_all_partitions` pass: cure every partition of every available app; the DDD list is rebuilt. */
  checkAll(): void {
    this.ddd = new Map()
    const addSecondary: [AppState, number, ConfigurationProposalAction][] = []
    for (const app of this.host.existApps.values()) {
      for (let i = 0; i < app.pcs.length; i++) {
        if (app.pcs[i].ballot === INVALID_BALLOT) continue
        const action = this.cure(app, i)
        if (!action) continue
        if (action.type === ConfigType.CT_ADD_SECONDARY || action.type === ConfigType.CT_ADD_SECONDARY_FOR_LB)
          addSecondary.push([app, i, action])
        else this.sendProposal(app, i, action)
      }
    }
    for (const [app, i, action] of addSecondary) this.sendProposal(app, i, action)
  }

  private alive(node: string): boolean {
    return node !== '' && this.host.nodes.get(node)?.alive === true
  }

  /** `partition_guardian::cure`: the action to take for one partition, if any. */
  private cure(app: AppState, i: number): ConfigurationProposalAction | undefined {
    const fromProposal = this.fromProposals(app, i)
    if (fromProposal) return fromProposal
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    if (!pc.hp_primary) this.onMissingPrimary(app, i)
    else if ((pc.hp_secondaries ?? []).length + 1 < pc.max_replica_count) this.onMissingSecondary(app, i)
    else if ((pc.hp_secondaries ?? []).length >= pc.max_replica_count) this.onRedundantSecondary(app, i)
    return cc.lb_actions[0]
  }

  private fromProposals(app: AppState, i: number): ConfigurationProposalAction | undefined {
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    const action = cc.lb_actions[0]
    if (!action) return undefined
    const target = action.hp_target || action.target
    const node = action.hp_node || action.node
    let reason = ''
    if (!target) reason = 'action target is invalid'
    else if (!this.alive(target)) reason = `action target(${target}) is not alive`
    else if (!node) reason = 'action node is invalid'
    else if (!this.alive(node)) reason = `action node(${node}) is not alive`
    else {
      let valid = false
      switch (action.type) {
        case ConfigType.CT_ASSIGN_PRIMARY:
          valid = node === target && !pc.hp_primary && !isSecondary(pc, node)
          break
        case ConfigType.CT_UPGRADE_TO_PRIMARY:
          valid = node === target && !pc.hp_primary && isSecondary(pc, node)
          break
        case ConfigType.CT_ADD_SECONDARY:
        case ConfigType.CT_ADD_SECONDARY_FOR_LB:
          valid = pc.hp_primary === target && !isSecondary(pc, node) && this.alive(node)
          break
        case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
        case ConfigType.CT_REMOVE:
          valid = pc.hp_primary === target && isMember(pc, node)
          break
        case ConfigType.CT_DOWNGRADE_TO_SECONDARY:
          valid = target === node && pc.hp_primary === target
          break
        default:
          valid = false
      }
      if (valid) return action
      reason = 'action is invalid'
    }
    this.host.log(
      `proposal action(${enumName(ConfigType, action.type)} ${target}/${node}) for gpid(${pc.pid}) is invalid, clear all proposal actions: ${reason}`,
    )
    cc.lb_actions = []
    return undefined
  }

  private propose(cc: ConfigContext, type: ConfigType, target: string, node: string, fromBalancer = false): void {
    cc.lb_actions = [{target, node, type, hp_target: target, hp_node: node}]
    cc.from_balancer = fromBalancer
  }

  /**
   * The "fewest primaries" order of newly_partitions::less_primaries: a node's primaries of this
   * table, then its partitions of this table (both counted per app_id, as Pegasus does).
   */
  private fewerPrimaries(app: AppState): (a: string, b: string) => boolean {
    const prim = new Map<string, number>()
    const all = new Map<string, number>()
    for (const pc of app.pcs) {
      if (pc.hp_primary) prim.set(pc.hp_primary, (prim.get(pc.hp_primary) ?? 0) + 1)
      for (const m of members(pc)) all.set(m, (all.get(m) ?? 0) + 1)
    }
    return (a, b) => {
      const pa = prim.get(a) ?? 0
      const pb = prim.get(b) ?? 0
      if (pa !== pb) return pa < pb
      return (all.get(a) ?? 0) < (all.get(b) ?? 0)
    }
  }

  /** Replicas (primaries and secondaries) per node, for the "fewest partitions" choices. */
  private replicaCounts(): Map<string, number> {
    const counts = new Map<string, number>()
    for (const app of this.host.existApps.values())
      for (const pc of app.pcs) for (const m of members(pc)) counts.set(m, (counts.get(m) ?? 0) + 1)
    return counts
  }

  /** The nodes the meta knows, by address. */
  sortedNodes(): [string, NodeState][] {
    return [...this.host.nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  }

  private onMissingPrimary(app: AppState, i: number): void {
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    const secondaries = pc.hp_secondaries ?? []
    if (secondaries.length > 0) {
      const less = this.fewerPrimaries(app)
      let best = ''
      for (const s of secondaries) {
        if (!this.alive(s)) continue
        if (best === '' || less(s, best)) best = s
      }
      if (best) this.propose(cc, ConfigType.CT_UPGRADE_TO_PRIMARY, best, best)
      return
    }
    const lastDrops = pc.hp_last_drops ?? []
    if (lastDrops.length === 0) {
      // A new (or force-emptied) partition: the alive node with the fewest primaries.
      const less = this.fewerPrimaries(app)
      let best = ''
      for (const [node, ns] of this.sortedNodes()) {
        if (!ns.alive) continue
        if (best === '' || less(node, best)) best = node
      }
      if (best) this.propose(cc, ConfigType.CT_ASSIGN_PRIMARY, best, best)
      return
    }
    // DDD: every replica of the partition is gone.
    let reason = ''
    let chosen = ''
    if (lastDrops.length === 1) {
      chosen = lastDrops[0]
    } else {
      const nodes = lastDrops.slice(-2)
      const collected: {node: string; ballot: number; lcd: number; lpd: number}[] = []
      let ready = true
      for (const n of nodes) {
        const ns = this.host.nodes.get(n)
        if (!ns || !ns.alive) {
          ready = false
          reason = `the last dropped node(${n}) hasn't come back yet`
          continue
        }
        const d = cc.dropped.find((x) => x.node === n)
        if (!d || d.ballot === INVALID_BALLOT) {
          if (ns.collected) {
            collected.push({node: n, ballot: -1, lcd: -1, lpd: -1})
          } else {
            ready = false
            reason = `the last dropped node(${n}) is unavailable because ${d ? 'replica info has not been collected from the node' : 'the node is not exist in dropped_nodes'}`
          }
        } else {
          collected.push({node: n, ballot: d.ballot, lcd: d.last_committed_decree, lpd: d.last_prepared_decree})
        }
      }
      if (ready && collected[0].ballot === -1 && collected[1].ballot === -1) {
        ready = false
        reason = 'no replica info collected from the last two drops'
      }
      if (ready) {
        const [prev, recent] = collected
        const gap1 = prev.ballot - recent.ballot
        const gap2 = prev.lcd - recent.lcd
        if (gap1 * gap2 >= 0) {
          const largerCd = Math.max(prev.lcd, recent.lcd)
          const largerPd = Math.max(prev.lpd, recent.lpd)
          if (largerPd >= pc.last_committed_decree && largerPd >= largerCd) {
            if (gap1 !== 0) chosen = gap1 < 0 ? recent.node : prev.node
            else if (gap2 !== 0) chosen = gap2 < 0 ? recent.node : prev.node
            else chosen = prev.lpd > recent.lpd ? prev.node : recent.node
          }
          // else: Pegasus formats a message but never assigns it to `reason` (so it stays as is).
        } else {
          reason = 'for the last two drops, the node with larger ballot has smaller last committed decree'
        }
      }
    }
    if (chosen) {
      this.propose(cc, ConfigType.CT_ASSIGN_PRIMARY, chosen, chosen)
      return
    }
    this.ddd.set(pc.pid, {
      config: clonePc(pc),
      dropped: cc.dropped.map((dr) => {
        const ns = this.host.nodes.get(dr.node)
        const alive = ns?.alive === true
        const collected = alive && ns?.collected === true
        return {
          node: dr.node,
          hp_node: dr.node,
          drop_time_ms: dr.time,
          is_alive: alive,
          is_collected: collected,
          ballot: collected ? dr.ballot : -1,
          last_committed_decree: collected ? dr.last_committed_decree : -1,
          last_prepared_decree: collected ? dr.last_prepared_decree : -1,
        }
      }),
      reason,
    })
  }

  private onMissingSecondary(app: AppState, i: number): void {
    const pc = app.pcs[i]
    const cc = app.ccs[i]
    const min2pc = min2pcCount(this.host.config.mutation2pcMinReplicaCount, pc.max_replica_count)
    const last = cc.dropped[cc.dropped.length - 1]
    const emergency =
      (pc.max_replica_count > min2pc && replicaCount(pc) < min2pc) ||
      cc.dropped.length === 0 ||
      (last !== undefined && last.time + this.host.config.replicaAssignDelayMsForDropouts < Date.now())
    let node = ''
    if (emergency) {
      if (cc.prefered_dropped < 0 || cc.prefered_dropped >= cc.dropped.length)
        cc.prefered_dropped = cc.dropped.length - 1
      while (cc.prefered_dropped >= 0) {
        const server = cc.dropped[cc.prefered_dropped]
        cc.prefered_dropped--
        if (this.alive(server.node)) {
          node = server.node
          break
        }
      }
      if (!node) {
        // A new node with the fewest partitions.
        const load = this.replicaCounts()
        for (const [n, ns] of this.sortedNodes()) {
          if (!ns.alive || isMember(pc, n)) continue
          if (!node || (load.get(n) ?? 0) < (load.get(node) ?? 0)) node = n
        }
      }
    } else if (last && this.alive(last.node)) {
      node = last.node
    }
    if (node) this.propose(cc, ConfigType.CT_ADD_SECONDARY, pc.hp_primary ?? '', node)
  }

  private onRedundantSecondary(app: AppState, i: number): void {
    const pc = app.pcs[i]
    const secs = pc.hp_secondaries ?? []
    const load = this.replicaCounts()
    let target = 0
    for (let k = 1; k < secs.length; k++) if ((load.get(secs[k]) ?? 0) > (load.get(secs[target]) ?? 0)) target = k
    this.propose(app.ccs[i], ConfigType.CT_REMOVE, pc.hp_primary ?? '', secs[target], true)
  }

  /**
   * `send_proposal`: the target replica server carries the action out and the meta records the new
   * configuration. A target that is down or hung never answers: the action stays queued and is
   * judged again on the next check.
   */
  sendProposal(app: AppState, i: number, action: ConfigurationProposalAction): void {
    const target = action.hp_target || action.target
    const node = action.hp_node || action.node
    const peer = this.host.config.replicas(target)
    if (!peer?.serving) return
    this.host.counters.proposals++
    switch (action.type) {
      case ConfigType.CT_ASSIGN_PRIMARY:
        this.applyChange(app, i, ConfigType.CT_ASSIGN_PRIMARY, node)
        break
      case ConfigType.CT_UPGRADE_TO_PRIMARY:
        this.applyChange(app, i, ConfigType.CT_UPGRADE_TO_PRIMARY, node)
        break
      case ConfigType.CT_ADD_SECONDARY:
      case ConfigType.CT_ADD_SECONDARY_FOR_LB:
        if (this.host.config.replicas(node)?.serving) this.applyChange(app, i, ConfigType.CT_UPGRADE_TO_SECONDARY, node)
        break
      case ConfigType.CT_REMOVE:
      case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
        this.applyChange(app, i, action.type, node)
        break
      default:
        app.ccs[i].lb_actions.shift()
    }
  }

  /**
   * One configuration change, as the replica side performs it and `update_configuration` records
   * it: the ballot goes up by one, last_drops and the drop list are maintained, the replicas take
   * their new roles, and the partition node is rewritten in ZooKeeper.
   */
  applyChange(app: AppState, i: number, type: ConfigType, node: string): void {
    const old = app.pcs[i]
    const pc = clonePc(old)
    const cc = app.ccs[i]
    pc.ballot = old.ballot + 1
    const peer = this.host.config.replicas(node)
    const primaryPeer = old.hp_primary ? this.host.config.replicas(old.hp_primary) : undefined
    switch (type) {
      case ConfigType.CT_ASSIGN_PRIMARY: {
        pc.primary = node
        pc.hp_primary = node
        const r = peer?.replica(pc.pid)
        if (peer && !r) {
          peer.putReplica(app.info, {
            pid: pc.pid,
            ballot: pc.ballot,
            status: PartitionStatus.PS_PRIMARY,
            last_committed_decree: 0,
            last_prepared_decree: 0,
            last_durable_decree: 0,
            disk_tag: 'default',
            rows: 0,
          })
        } else if (peer && r) {
          peer.updateReplica(pc.pid, {last_committed_decree: Math.max(r.last_committed_decree, r.last_prepared_decree)})
        }
        pc.last_committed_decree = peer?.replica(pc.pid)?.last_committed_decree ?? 0
        break
      }
      case ConfigType.CT_UPGRADE_TO_PRIMARY: {
        pc.secondaries = pc.secondaries.filter((s) => s !== node)
        pc.hp_secondaries = (pc.hp_secondaries ?? []).filter((s) => s !== node)
        pc.primary = node
        pc.hp_primary = node
        const r = peer?.replica(pc.pid)
        if (peer && r)
          peer.updateReplica(pc.pid, {last_committed_decree: Math.max(r.last_committed_decree, r.last_prepared_decree)})
        pc.last_committed_decree = peer?.replica(pc.pid)?.last_committed_decree ?? pc.last_committed_decree
        break
      }
      case ConfigType.CT_UPGRADE_TO_SECONDARY: {
        // The new secondary learns everything from the primary.
        const src = primaryPeer?.replica(pc.pid)
        if (peer && src) {
          peer.putReplica(app.info, {...src, status: PartitionStatus.PS_SECONDARY, ballot: pc.ballot})
        }
        pc.secondaries.push(node)
        ;(pc.hp_secondaries as string[]).push(node)
        pc.last_committed_decree = src?.last_committed_decree ?? pc.last_committed_decree
        break
      }
      case ConfigType.CT_DOWNGRADE_TO_INACTIVE:
      case ConfigType.CT_REMOVE: {
        if (pc.hp_primary === node) {
          pc.primary = ''
          pc.hp_primary = ''
        } else {
          pc.secondaries = pc.secondaries.filter((s) => s !== node)
          pc.hp_secondaries = (pc.hp_secondaries ?? []).filter((s) => s !== node)
          const src = primaryPeer?.replica(pc.pid)
          if (src) pc.last_committed_decree = src.last_committed_decree
        }
        if (peer?.serving && peer.replica(pc.pid)) peer.updateReplica(pc.pid, {status: PartitionStatus.PS_INACTIVE})
        break
      }
      default:
        return
    }
    maintainDrops(pc.last_drops, node, type)
    maintainDrops(pc.hp_last_drops as string[], node, type)
    // reconfig: the current proposal is done; the drop list follows the change.
    if (cc.lb_actions.length > 0) cc.lb_actions.shift()
    app.pcs[i] = pc
    if (type === ConfigType.CT_DOWNGRADE_TO_INACTIVE || type === ConfigType.CT_REMOVE) {
      recordDropHistory(pc, cc, node, Date.now(), this.host.rules)
    } else {
      removeFromDropped(cc, node)
      checkSize(pc, cc, this.host.rules)
    }
    // Serving members follow the new ballot (the primary propagates it).
    for (const m of members(pc)) {
      const p = this.host.config.replicas(m)
      if (p?.serving && p.replica(pc.pid)) {
        p.updateReplica(pc.pid, {
          ballot: pc.ballot,
          status: m === pc.hp_primary ? PartitionStatus.PS_PRIMARY : PartitionStatus.PS_SECONDARY,
        })
      }
    }
    this.host.counters.configChanges++
    this.host.writePartition(app, i)
  }
}
