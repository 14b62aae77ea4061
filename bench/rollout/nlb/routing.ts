// Which targets an NLB opens new connections to, from the target group's current state
// (not the API's lagged view) plus the data plane's own lags:
//
// - healthy registered targets;
// - a target deregistered while healthy keeps receiving new connections for
//   `deregistrationLagMs` (AWS: ~2 minutes, whatever the deregistration delay, while the
//   API already reports draining — aws-load-balancer-controller#2366, containers-roadmap#470);
// - a target that turned unhealthy keeps receiving new connections for `unhealthyLagMs`
//   (~30–40 s observed, containers-roadmap#470);
// - fail-open: when no registered target is healthy, every registered unhealthy target.
import type { Target, TargetGroup, TargetHealth } from '../elbv2/target-group.js'

export interface RoutingOptions {
  deregistrationLagMs: number
  unhealthyLagMs: number
}

export class RoutingTable {
  /** target key → wall-clock ms until which the data plane still routes new flows to it. */
  private readonly lingerUntil = new Map<string, number>()
  private readonly onChange: (target: Target, previous: TargetHealth) => void
  private readonly onRemoved: (target: Target) => void

  constructor(readonly group: TargetGroup, readonly opts: RoutingOptions) {
    this.onChange = (target, previous) => {
      if (previous.state !== 'healthy') return
      if (target.health.state === 'draining') this.lingerUntil.set(target.key, Date.now() + opts.deregistrationLagMs)
      else if (target.health.state === 'unhealthy') this.lingerUntil.set(target.key, Date.now() + opts.unhealthyLagMs)
    }
    this.onRemoved = (target) => { this.lingerUntil.delete(target.key) }
    group.on('change', this.onChange)
    group.on('removed', this.onRemoved)
  }

  /** Targets that get new flows now, sorted by key (stable hashing). */
  eligible(now = Date.now()): Target[] {
    const out: Target[] = []
    const failOpen: Target[] = []
    let registered = 0
    for (const target of this.group.targets()) {
      const lingering = (this.lingerUntil.get(target.key) ?? 0) > now
      if (target.deregisteredAt === undefined) {
        registered++
        if (target.health.state === 'healthy' || lingering) out.push(target)
        else if (target.health.state === 'unhealthy') failOpen.push(target)
      } else if (lingering) {
        out.push(target)
      }
    }
    const hasHealthyRegistered = out.some((t) => t.deregisteredAt === undefined && t.health.state === 'healthy')
    if (!hasHealthyRegistered && registered > 0 && failOpen.length > 0) out.push(...failOpen)
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  /** True while the data plane still routes to a deregistered target. */
  lingering(key: string, now = Date.now()): boolean { return (this.lingerUntil.get(key) ?? 0) > now }

  close(): void {
    this.group.off('change', this.onChange)
    this.group.off('removed', this.onRemoved)
  }
}
