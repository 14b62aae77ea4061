// Which targets an NLB node opens new connections to. Each node has its own view of each
// target's health (its own health checker, ./health-checker.ts, or the target group's state
// when health checks are off) and its own data-plane lags:
//
// - a target the node sees healthy gets new connections;
// - a target the node's checker marked unhealthy keeps getting them for that node's unhealthy
//   lag (~30–40 s observed, containers-roadmap#470), drawn per node and per target;
// - a target deregistered while the node routed to it keeps getting new connections from that
//   node for the node's deregistration lag (AWS: ~2 minutes, field reports 90–180 s, whatever
//   the deregistration delay, while the API already reports draining — aws-load-balancer-
//   controller#2366), drawn per node and per target: until then the node still has it in its
//   configuration. The lag outlives a short deregistration delay;
// - assumption (`unhealthyCutsLag`, default on): a node that marks such a lingering target
//   unhealthy stops routing to it after its unhealthy lag, if that comes first (the reason
//   the fast lane exists: failing checks stops traffic sooner than deregistering). Off, a
//   node's health view of a target freezes when it is deregistered;
// - fail-open, per node: when none of the targets a node still has is healthy in its view, it
//   routes to every one it sees unhealthy;
// - cross-zone off (the NLB default): a node routes only to targets in its own AZ; on: to all.
import { EventEmitter } from 'node:events'
import type { Target, TargetGroup, TargetHealth } from '../elbv2/target-group.js'
import type { Distribution } from '../model/distribution.js'
import type { Random } from '../model/random.js'

export type NodeHealthState = 'initial' | 'healthy' | 'unhealthy'

export interface RoutingOptions {
  nodes: number
  /** Simulated seconds → wall-clock ms. */
  scaled: (seconds: number) => number
  deregistrationLag: Distribution
  unhealthyLag: Distribution
  /** Node i's deregistration lag is longer by i × this many simulated seconds (staggered AZs). Default 0. */
  staggerSeconds?: number
  /** Default false, as on an NLB. */
  crossZone?: boolean
  /** The AZ (node index) a target lives in. Default: the last number of its address, mod nodes. */
  azOf?: (target: Target) => number
  /**
   * Node views come from per-node health checks (setNodeHealth). False: every node follows the
   * target group's state (health checks off; tests set it directly).
   */
  perNodeHealth?: boolean
  /** A node's unhealthy mark also ends a deregistered target's lag (assumption). Default true. */
  unhealthyCutsLag?: boolean
  random: Random
}

interface NodeHealth {
  state: NodeHealthState
  /** Wall-clock ms at which the node stops routing to it because of an unhealthy mark. */
  stopAt: number
}

interface Entry {
  target: Target
  nodes: NodeHealth[]
  /** Per node: wall-clock ms until which a deregistered target is still in the node's configuration. */
  lagUntil?: number[]
  /** Per node: the view frozen at deregistration (unhealthyCutsLag off). */
  frozen?: NodeHealth[]
}

export interface RoutingEvents {
  /** A node's view of a target changed, at wall-clock ms `at`. */
  'node-health': [target: Target, node: number, previous: NodeHealthState, next: NodeHealthState, at: number]
}

export class RoutingTable extends EventEmitter<RoutingEvents> {
  private readonly entries = new Map<string, Entry>()
  private readonly onChange: (target: Target, previous: TargetHealth) => void
  private readonly onRemoved: (target: Target) => void
  private readonly azOf: (target: Target) => number

  constructor(
    readonly group: TargetGroup,
    readonly opts: RoutingOptions,
  ) {
    super()
    this.azOf = opts.azOf ?? ((t) => Number(/(\d+)$/.exec(t.id)?.[1] ?? 0) % opts.nodes)
    for (const target of group.targets()) this.fresh(target)
    this.onChange = (target) => {
      const state = target.health.state
      if (state === 'initial') {
        this.fresh(target)
        return
      }
      const entry = this.entries.get(target.key) ?? this.fresh(target)
      if (state === 'draining') {
        const now = Date.now()
        const stagger = opts.staggerSeconds ?? 0
        entry.lagUntil = entry.nodes.map((h, i) =>
          this.routesByHealth(h, now) ? now + opts.scaled(opts.deregistrationLag.sample(opts.random) + i * stagger) : now,
        )
        if (opts.unhealthyCutsLag === false) entry.frozen = entry.nodes.map((h) => ({ ...h }))
        return
      }
      if (opts.perNodeHealth !== true && (state === 'healthy' || state === 'unhealthy'))
        for (let node = 0; node < opts.nodes; node++) this.setNodeHealth(target, node, state)
    }
    // Removal (the deregistration delay ended) does not end the lag: the data plane is behind.
    this.onRemoved = (target) => {
      const entry = this.entries.get(target.key)
      if (entry !== undefined && entry.target === target && !(entry.lagUntil ?? []).some((u) => u > Date.now()))
        this.entries.delete(target.key)
    }
    group.on('change', this.onChange)
    group.on('removed', this.onRemoved)
  }

  private fresh(target: Target): Entry {
    const initial: NodeHealthState =
      target.health.state === 'healthy' ? 'healthy' : target.health.state === 'unhealthy' ? 'unhealthy' : 'initial'
    const entry: Entry = { target, nodes: Array.from({ length: this.opts.nodes }, () => ({ state: initial, stopAt: 0 })) }
    this.entries.set(target.key, entry)
    return entry
  }

  /** Node `node`'s checker reached a verdict on `target` (crossed a threshold). */
  setNodeHealth(target: Target, node: number, state: NodeHealthState, now = Date.now()): void {
    const entry = this.entries.get(target.key)
    if (entry === undefined || entry.target !== target) return
    const h = entry.nodes[node]!
    const previous = h.state
    if (previous === state) return
    h.state = state
    // Routed until now: the data plane takes its unhealthy lag to stop. Never routed: stops at once.
    h.stopAt =
      state === 'unhealthy' && previous === 'healthy' ? now + this.opts.scaled(this.opts.unhealthyLag.sample(this.opts.random)) : now
    this.emit('node-health', target, node, previous, state, now)
  }

  /** Node `node`'s current view of a target (undefined: the node does not know it). */
  nodeHealth(key: string, node: number): NodeHealthState | undefined {
    return this.entries.get(key)?.nodes[node]?.state
  }

  /** Wall-clock ms at which each node stops routing to this target because it marked it unhealthy (0: not marked). */
  unhealthyStops(key: string): number[] | undefined {
    return this.entries.get(key)?.nodes.map((h) => (h.state === 'unhealthy' ? h.stopAt : 0))
  }

  private routesByHealth(h: NodeHealth, now: number): boolean {
    return h.state === 'healthy' || (h.state === 'unhealthy' && now < h.stopAt)
  }

  /** Whether node `node` still has the target in its configuration. */
  private known(entry: Entry, node: number, now: number): boolean {
    const t = entry.target
    if (t.deregisteredAt === undefined && this.group.get(t.id, t.port) === t) return true
    return (entry.lagUntil?.[node] ?? 0) > now
  }

  private view(entry: Entry, node: number): NodeHealth {
    return (entry.target.deregisteredAt !== undefined ? entry.frozen?.[node] : undefined) ?? entry.nodes[node]!
  }

  az(target: Target): number {
    return this.azOf(target)
  }

  /** Targets node `node` sends new flows to now, sorted by key. */
  eligible(node = 0, now = Date.now()): Target[] {
    const known = [...this.entries.values()].filter((e) => this.known(e, node, now))
    let out = known.filter((e) => this.routesByHealth(this.view(e, node), now))
    if (out.length === 0) out = known.filter((e) => this.view(e, node).state === 'unhealthy')
    const targets = out.map((e) => e.target)
    const zoned = this.opts.crossZone === true ? targets : targets.filter((t) => this.azOf(t) === node)
    return zoned.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Every target some node sends new flows to now. */
  anyEligible(now = Date.now()): Target[] {
    const all = new Map<string, Target>()
    for (let node = 0; node < this.opts.nodes; node++) for (const t of this.eligible(node, now)) all.set(t.key, t)
    return [...all.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** True while some node still routes to this deregistered target. */
  lingering(key: string, now = Date.now()): boolean {
    const entry = this.entries.get(key)
    if (entry === undefined) return false
    return entry.nodes.some((_, node) => this.known(entry, node, now) && this.eligible(node, now).includes(entry.target))
  }

  /**
   * Wall-clock ms at which each node stops routing new flows to this deregistered target: its
   * deregistration lag, or its unhealthy stop when that came first.
   */
  lagEnds(key: string): number[] | undefined {
    const entry = this.entries.get(key)
    if (entry?.lagUntil === undefined) return undefined
    return entry.lagUntil.map((until, node) => {
      const h = this.view(entry, node)
      return h.state === 'unhealthy' ? Math.min(until, Math.max(h.stopAt, entry.target.deregisteredAt ?? 0)) : until
    })
  }

  close(): void {
    this.group.off('change', this.onChange)
    this.group.off('removed', this.onRemoved)
    this.removeAllListeners()
  }
}
