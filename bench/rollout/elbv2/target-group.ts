// The target-group model shared by the ELBv2 API emulator (what the API reports) and the NLB
// data-plane simulator (where connections go). One state machine per target:
//
//   register ─▶ initial ──health checks pass──▶ healthy ◀──▶ unhealthy
//                  │                               │            │
//                  └──────────── DeregisterTargets ┴────────────┘
//                                      ▼
//                  draining (Target.DeregistrationInProgress)
//                                      │ deregistration_delay.timeout_seconds
//                                      ▼
//                  removed: the API answers unused (Target.NotRegistered)
//
// The API is eventually consistent: every change is recorded with its time, and the
// API reads the state as it was `consistencyLagMs` ago (`healthAt`). The data plane reads
// the current state (`current`) plus its own lag (see ../nlb/).
import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'

export type TargetState = 'initial' | 'healthy' | 'unhealthy' | 'unhealthy.draining' | 'draining' | 'unused' | 'unavailable'

export interface TargetHealth {
  state: TargetState
  reason?: string
  description?: string
}

/** Reason codes and descriptions as the API words them. */
export const REASONS: Record<string, string> = {
  'Elb.RegistrationInProgress': 'Target registration is in progress',
  'Elb.InitialHealthChecking': 'Initial health checks in progress',
  'Target.FailedHealthChecks': 'Health checks failed',
  'Target.Timeout': 'Request timed out',
  'Target.DeregistrationInProgress': 'Target deregistration is in progress',
  'Target.NotRegistered': 'Target is not registered to the target group',
  'Target.HealthCheckDisabled': 'Health checks are disabled',
}

export function health(state: TargetState, reason?: string): TargetHealth {
  if (reason === undefined) return { state }
  return { state, reason, description: REASONS[reason] ?? reason }
}

export const NOT_REGISTERED: TargetHealth = health('unused', 'Target.NotRegistered')

export interface Target {
  readonly id: string
  readonly port: number
  readonly key: string
  health: TargetHealth
  registeredAt: number
  /** Wall-clock ms of DeregisterTargets; undefined while registered. */
  deregisteredAt?: number
  /** Last health-check verdict, kept while draining (the API state no longer shows it). */
  checksPassing: boolean | undefined
}

export interface HealthCheckConfig {
  protocol: 'TCP' | 'HTTP'
  path: string
  /** Seconds. Defaults are the AWS Load Balancer Controller's (interval 10, timeout 10, thresholds 2/2); the API's own are 30/10/5/2. */
  intervalSeconds: number
  timeoutSeconds: number
  healthyThreshold: number
  unhealthyThreshold: number
  /** 'traffic-port' or a port number. */
  port: string
}

export const DEFAULT_HEALTH_CHECK: HealthCheckConfig = {
  protocol: 'TCP',
  path: '/',
  intervalSeconds: 10,
  timeoutSeconds: 10,
  healthyThreshold: 2,
  unhealthyThreshold: 2,
  port: 'traffic-port',
}

/** Target-group attributes with AWS defaults (NLB, IP targets). */
export function defaultAttributes(deregistrationDelaySeconds = 300): Map<string, string> {
  return new Map([
    ['deregistration_delay.timeout_seconds', String(deregistrationDelaySeconds)],
    ['deregistration_delay.connection_termination.enabled', 'false'],
    ['proxy_protocol_v2.enabled', 'false'],
    ['proxy_protocol_v2.client_to_server.header_placement', 'on_first_ack_with_payload'],
    ['preserve_client_ip.enabled', 'false'],
    ['stickiness.enabled', 'false'],
    ['stickiness.type', 'source_ip'],
    ['target_health_state.unhealthy.connection_termination.enabled', 'true'],
    ['target_health_state.unhealthy.draining_interval_seconds', '0'],
  ])
}

interface HistoryEntry {
  at: number
  health: TargetHealth
}

export interface TargetGroupOptions {
  name: string
  port: number
  deregistrationDelaySeconds?: number
  healthCheck?: Partial<HealthCheckConfig>
  attributes?: Record<string, string>
  timeScale?: number
  consistencyLagMs?: number
  region?: string
  accountId?: string
}

export interface TargetGroupEvents {
  change: [target: Target, previous: TargetHealth]
  removed: [target: Target]
}

export class TargetGroup extends EventEmitter<TargetGroupEvents> {
  readonly arn: string
  readonly name: string
  readonly port: number
  readonly healthCheck: HealthCheckConfig
  readonly attributes: Map<string, string>
  readonly timeScale: number
  readonly consistencyLagMs: number
  private readonly live = new Map<string, Target>()
  private readonly history = new Map<string, HistoryEntry[]>()
  private readonly drainTimers = new Map<string, NodeJS.Timeout>()

  constructor(opts: TargetGroupOptions) {
    super()
    if (!/^[A-Za-z0-9-]{1,32}$/.test(opts.name))
      throw new RangeError(`target group name must be 1-32 alphanumerics or hyphens: ${opts.name}`)
    this.name = opts.name
    this.port = opts.port
    this.arn = `arn:aws:elasticloadbalancing:${opts.region ?? 'us-east-1'}:${opts.accountId ?? '123456789012'}:targetgroup/${opts.name}/${randomBytes(8).toString('hex')}`
    this.healthCheck = { ...DEFAULT_HEALTH_CHECK, ...opts.healthCheck }
    this.attributes = defaultAttributes(opts.deregistrationDelaySeconds)
    for (const [k, v] of Object.entries(opts.attributes ?? {})) this.attributes.set(k, v)
    this.timeScale = opts.timeScale ?? 1
    this.consistencyLagMs = opts.consistencyLagMs ?? 0
  }

  static key(id: string, port: number): string {
    return `${id}:${port}`
  }

  /** Simulated seconds → wall-clock milliseconds. */
  scaled(seconds: number): number {
    return seconds * 1000 * this.timeScale
  }

  attribute(key: string): string | undefined {
    return this.attributes.get(key)
  }
  numberAttribute(key: string): number {
    return Number(this.attributes.get(key) ?? 0)
  }
  boolAttribute(key: string): boolean {
    return this.attributes.get(key) === 'true'
  }

  /** Targets currently registered or draining (the data plane's view, no API lag). */
  targets(): Target[] {
    return [...this.live.values()]
  }
  get(id: string, port: number): Target | undefined {
    return this.live.get(TargetGroup.key(id, port))
  }

  register(id: string, port = this.port): Target {
    const key = TargetGroup.key(id, port)
    const existing = this.live.get(key)
    if (existing !== undefined && existing.deregisteredAt === undefined) return existing
    if (existing !== undefined) {
      // Registering a draining target again: AWS restarts registration.
      this.cancelDrain(key)
      existing.deregisteredAt = undefined
      existing.registeredAt = Date.now()
      existing.checksPassing = undefined
      this.transition(existing, health('initial', 'Elb.RegistrationInProgress'))
      return existing
    }
    const target: Target = { id, port, key, health: NOT_REGISTERED, registeredAt: Date.now(), checksPassing: undefined }
    this.live.set(key, target)
    this.transition(target, health('initial', 'Elb.RegistrationInProgress'))
    return target
  }

  /** DeregisterTargets: draining now, removed after the deregistration delay. Unknown targets are ignored, as AWS does. */
  deregister(id: string, port = this.port): Target | undefined {
    const key = TargetGroup.key(id, port)
    const target = this.live.get(key)
    if (target === undefined || target.deregisteredAt !== undefined) return target
    target.deregisteredAt = Date.now()
    this.transition(target, health('draining', 'Target.DeregistrationInProgress'))
    const delayMs = this.scaled(this.numberAttribute('deregistration_delay.timeout_seconds'))
    const timer = setTimeout(() => this.remove(key), delayMs)
    timer.unref()
    this.drainTimers.set(key, timer)
    return target
  }

  /** A health-check verdict from the data plane. Draining targets keep their API state. */
  reportHealthCheck(id: string, port: number, passing: boolean, reason = 'Target.FailedHealthChecks'): void {
    const target = this.get(id, port)
    if (target === undefined) return
    target.checksPassing = passing
    if (target.deregisteredAt !== undefined) return
    const next = passing ? health('healthy') : health('unhealthy', reason)
    if (next.state !== target.health.state || next.reason !== target.health.reason) this.transition(target, next)
  }

  /** Direct manipulation for tests: set any state (registers the target if unknown). */
  setHealth(id: string, port: number, state: TargetState, reason?: string): void {
    if (state === 'unused' && reason === 'Target.NotRegistered') {
      this.remove(TargetGroup.key(id, port))
      return
    }
    const target = this.get(id, port) ?? this.register(id, port)
    if (state === 'healthy') target.checksPassing = true
    if (state === 'unhealthy') target.checksPassing = false
    if (state === 'draining' && target.deregisteredAt === undefined) {
      this.deregister(id, port)
      return
    }
    this.transition(target, health(state, reason ?? defaultReason(state)))
  }

  /** The API's view: the target's health as it was at `at` (wall-clock ms). */
  healthAt(id: string, port: number, at = Date.now() - this.consistencyLagMs): TargetHealth {
    const entries = this.history.get(TargetGroup.key(id, port))
    if (entries === undefined) return NOT_REGISTERED
    let found: TargetHealth = NOT_REGISTERED
    for (const entry of entries) {
      if (entry.at > at) break
      found = entry.health
    }
    return found
  }

  /** Every target the API would list at `at` (those not unused). */
  visibleTargets(at = Date.now() - this.consistencyLagMs): Array<{ id: string; port: number; health: TargetHealth }> {
    const out: Array<{ id: string; port: number; health: TargetHealth }> = []
    for (const key of this.history.keys()) {
      const sep = key.lastIndexOf(':')
      const id = key.slice(0, sep)
      const port = Number(key.slice(sep + 1))
      const h = this.healthAt(id, port, at)
      if (h.state !== 'unused') out.push({ id, port, health: h })
    }
    return out
  }

  close(): void {
    for (const timer of this.drainTimers.values()) clearTimeout(timer)
    this.drainTimers.clear()
  }

  private remove(key: string): void {
    this.cancelDrain(key)
    const target = this.live.get(key)
    if (target === undefined) return
    this.live.delete(key)
    this.transition(target, NOT_REGISTERED)
    this.emit('removed', target)
  }

  private cancelDrain(key: string): void {
    const timer = this.drainTimers.get(key)
    if (timer !== undefined) clearTimeout(timer)
    this.drainTimers.delete(key)
  }

  private transition(target: Target, next: TargetHealth): void {
    const previous = target.health
    target.health = next
    const now = Date.now()
    let entries = this.history.get(target.key)
    if (entries === undefined) {
      entries = []
      this.history.set(target.key, entries)
    }
    entries.push({ at: now, health: next })
    // Keep one entry older than the consistency window; older ones can no longer be read.
    const horizon = now - this.consistencyLagMs
    while (entries.length > 1 && entries[1]!.at <= horizon) entries.shift()
    this.emit('change', target, previous)
  }
}

function defaultReason(state: TargetState): string | undefined {
  switch (state) {
    case 'initial':
      return 'Elb.RegistrationInProgress'
    case 'unhealthy':
      return 'Target.FailedHealthChecks'
    case 'draining':
      return 'Target.DeregistrationInProgress'
    case 'unused':
      return 'Target.NotRegistered'
    default:
      return undefined
  }
}
