// Which targets an NLB node opens new connections to, from the target group's current state
// (not the API's lagged view) plus the data plane's own lags:
//
// - healthy registered targets;
// - a target deregistered while healthy keeps receiving new connections from each node for
//   that node's own lag, drawn independently per node and per target from a distribution
//   (AWS: ~2 minutes, field reports 90–180 s, whatever the deregistration delay, while the API
//   already reports draining — aws-load-balancer-controller#2366, containers-roadmap#470).
//   The lag outlives a short deregistration delay: a target already removed from the group
//   still gets new connections until its lag ends;
// - a target that turned unhealthy keeps receiving new connections for the unhealthy lag
//   (~30–40 s observed, containers-roadmap#470), also per node;
// - fail-open: when no registered target is healthy, every registered unhealthy target;
// - cross-zone load balancing off (the NLB default): a node routes only to targets in its own
//   AZ; on: to every target.
import type { Target, TargetGroup, TargetHealth } from '../elbv2/target-group.js'
import type { Distribution } from '../model/distribution.js'
import type { Random } from '../model/random.js'

export interface RoutingOptions {
  nodes: number
  /** Simulated seconds → wall-clock ms. */
  scaled: (seconds: number) => number
  deregistrationLag: Distribution
  unhealthyLag: Distribution
  /** Node i's lags are longer by i × this many simulated seconds (staggered AZs). Default 0. */
  staggerSeconds?: number
  /** Default false, as on an NLB. */
  crossZone?: boolean
  /** The AZ (node index) a target lives in. Default: the last number of its address, mod nodes. */
  azOf?: (target: Target) => number
  random: Random
}

interface Linger {
  target: Target
  until: number[]
  deregistered: boolean
}

export class RoutingTable {
  private readonly lingers = new Map<string, Linger>()
  private readonly onChange: (target: Target, previous: TargetHealth) => void
  private readonly onRemoved: (target: Target) => void
  private readonly azOf: (target: Target) => number

  constructor(
    readonly group: TargetGroup,
    readonly opts: RoutingOptions,
  ) {
    this.azOf = opts.azOf ?? ((t) => Number(/(\d+)$/.exec(t.id)?.[1] ?? 0) % opts.nodes)
    this.onChange = (target, previous) => {
      if (previous.state !== 'healthy') {
        if (target.health.state === 'healthy') this.lingers.delete(target.key)
        return
      }
      if (target.health.state === 'draining') this.linger(target, opts.deregistrationLag, true)
      else if (target.health.state === 'unhealthy') this.linger(target, opts.unhealthyLag, false)
    }
    // Removal (the deregistration delay ended) does not end the lag: the data plane is behind.
    this.onRemoved = (target) => {
      const l = this.lingers.get(target.key)
      if (l !== undefined && !l.deregistered) this.lingers.delete(target.key)
    }
    group.on('change', this.onChange)
    group.on('removed', this.onRemoved)
  }

  private linger(target: Target, lag: Distribution, deregistered: boolean): void {
    const now = Date.now()
    const stagger = deregistered ? (this.opts.staggerSeconds ?? 0) : 0
    const until = Array.from({ length: this.opts.nodes }, (_, i) => now + this.opts.scaled(lag.sample(this.opts.random) + i * stagger))
    this.lingers.set(target.key, { target, until, deregistered })
  }

  az(target: Target): number {
    return this.azOf(target)
  }

  /** Targets node `node` sends new flows to now, sorted by key. */
  eligible(node = 0, now = Date.now()): Target[] {
    const out: Target[] = []
    const failOpen: Target[] = []
    let registered = 0
    let healthyRegistered = false
    for (const target of this.group.targets()) {
      if (target.deregisteredAt !== undefined) continue
      registered++
      const lingering = (this.lingers.get(target.key)?.until[node] ?? 0) > now
      if (target.health.state === 'healthy') {
        healthyRegistered = true
        out.push(target)
      } else if (lingering) out.push(target)
      else if (target.health.state === 'unhealthy') failOpen.push(target)
    }
    for (const l of this.lingers.values()) if (l.deregistered && l.until[node]! > now) out.push(l.target)
    if (!healthyRegistered && registered > 0) out.push(...failOpen)
    const zoned = this.opts.crossZone === true ? out : out.filter((t) => this.azOf(t) === node)
    return [...new Set(zoned)].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** Every target some node sends new flows to now. */
  anyEligible(now = Date.now()): Target[] {
    const all = new Map<string, Target>()
    for (let node = 0; node < this.opts.nodes; node++) for (const t of this.eligible(node, now)) all.set(t.key, t)
    return [...all.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** True while some node still routes to this deregistered target. */
  lingering(key: string, now = Date.now()): boolean {
    return (this.lingers.get(key)?.until ?? []).some((u) => u > now)
  }

  /** Wall-clock ms at which each node stops routing new flows to this deregistered target. */
  lagEnds(key: string): number[] | undefined {
    return this.lingers.get(key)?.until.slice()
  }

  close(): void {
    this.group.off('change', this.onChange)
    this.group.off('removed', this.onRemoved)
  }
}
