// `elbv2`: asks the ELBv2 API what it thinks of this pod's target. It tells *when* the target was
// deregistered, not *whether* the LB stopped: the NLB keeps opening new connections for ~2 minutes
// after the API says `draining`. Satisfied once every target group reported the target `draining`,
// or `unused` with reason `Target.NotRegistered` after it had been seen registered; the moment it
// first saw that (the latest over the groups) starts the lag clock (../lag-clock.ts), and the
// traffic observer or the lag bound decide the rest.
//
// A target reported not registered by a group that never showed it registered is a configuration
// error (wrong --target-id or --target-port), logged as one and not taken as deregistration. It,
// AccessDenied and a missing target group make that group unable to tell: logged once as an error,
// the group stops blocking, and the lag clock falls back to termination start.
//
// Polls after start(); before termination, only the start-up check (checkAtStartup): one call,
// jittered, repeated a few times while the target is not registered yet, so a missing permission,
// a wrong ARN or target is reported when the pod starts. Calls spend the account-wide Describe*
// token bucket (burst 40, refill 10/s) that every pod and the AWS Load Balancer Controller share.
//
// Scheduling: the first poll comes after a uniformly random delay in [0, interval) so pods that
// start terminating together do not poll together; then every interval ±jitter. A tick in which
// any call was throttled doubles the delay (interval · 2^k, capped at maxBackoff, still jittered)
// until a tick passes without throttling. The SDK's own retries are off (maxAttempts 1): each of
// its attempts would take another token from the bucket that is already empty, and our backoff,
// counted per call, is then the only thing that governs the request rate. Other errors are logged
// and retried on the next regular tick. A group, once satisfied, is not polled again.

// The SDK is loaded on the first poll, not at start-up: it is the largest module drainpipe
// has (about 60 ms to import) and most deployments never poll.
import type { ElasticLoadBalancingV2Client, ElasticLoadBalancingV2ClientConfig } from '@aws-sdk/client-elastic-load-balancing-v2'
import { ChangeListeners, silentLogger, viewSeconds, type DeregistrationObserver, type ObserverLogger } from './observer.js'
import type { LagClock } from '../lag-clock.js'
import { unretryable } from '../elbv2-errors.js'
import { loadElbv2, type Elbv2ClientOptions, type LoadedElbv2 } from '../elbv2-client.js'

export type Elbv2CallOutcome = 'ok' | 'throttled' | 'error'

/** Start-up check: attempts while the target is not registered yet, and the delay between them. */
export const STARTUP_CHECK_ATTEMPTS = 5
export const STARTUP_CHECK_RETRY_MS = 30_000

/** Counts DescribeTargetHealth calls (the lead wires this to prom-client). */
export interface Elbv2CallHook {
  onCall(outcome: Elbv2CallOutcome): void
}

export interface Elbv2ObserverOptions {
  /** One or more target group ARNs this pod is registered in. */
  targetGroupArns: readonly string[]
  /** The target id: the pod IP in IP target mode. */
  targetId: string
  /** The target port registered in the groups. */
  targetPort: number
  /** Groups registered at another port (a pod port of its own, --ports): ARN → target port. */
  groupPorts?: ReadonlyMap<string, number>
  /** AWS region; default: the SDK's chain (AWS_REGION, profile). */
  region?: string
  /** Endpoint override, e.g. an emulator's http://127.0.0.1:PORT. */
  endpoint?: string
  /** Static credentials; default: the SDK's chain (env, IRSA web identity, pod identity, IMDS). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** Time between polls, ms. Default 10 000. */
  pollIntervalMs?: number
  /** Fraction of random jitter applied to every delay (±). Default 0.2. */
  jitter?: number
  /** Ceiling of the throttling backoff, ms. Default max(60 000, pollIntervalMs). */
  maxBackoffMs?: number
  /** Per-call timeout, ms. Default min(10 000, pollIntervalMs), at least 1000. */
  requestTimeoutMs?: number
  hook?: Elbv2CallHook
  logger?: ObserverLogger
  /** Told when every group was seen deregistered (or could not tell). */
  lagClock?: LagClock
  /**
   * A client to use instead of building one: region/endpoint/credentials are then ignored, and
   * its own retry settings apply (build it with `maxAttempts: 1` so our backoff governs).
   * stop() does not destroy an injected client.
   */
  client?: ElasticLoadBalancingV2Client
  /** Random source in [0, 1) for jitter. Default Math.random. */
  random?: () => number
}

/** What one target group last said about the target. */
interface GroupState {
  readonly arn: string
  /** The target port registered in this group. */
  readonly port: number
  state: string | null
  reason: string | null
  description: string | null
  /** When the state was last read, performance.now() ms. */
  readAt: number | null
  satisfied: boolean
  /** Seen in a registered state (initial, healthy, unhealthy, …) at least once. */
  everRegistered: boolean
  /** When the deregistration was first seen (performance.now() ms). */
  deregisteredAt: number | null
  /** Why this group cannot tell (permission, missing group, target never registered). */
  failed: string | null
  calls: number
  throttled: number
  errors: number
  lastError: { code: string; message: string } | null
}

const THROTTLING_CODES = new Set(['Throttling', 'ThrottlingException'])

/** Whether a DescribeTargetHealth answer means the LB deregistered the target. */
export function isDeregisteredState(state: string | undefined | null, reason: string | undefined | null): boolean {
  return state === 'draining' || (state === 'unused' && reason === 'Target.NotRegistered')
}

/** Whether the answer shows the target registered in the group. */
export function isRegisteredState(state: string | undefined | null): boolean {
  return state === 'initial' || state === 'healthy' || state === 'unhealthy' || state === 'unhealthy.draining' || state === 'unavailable'
}

export class Elbv2Observer implements DeregistrationObserver {
  readonly name = 'elbv2' as const
  #client: Promise<LoadedElbv2> | undefined
  readonly #clientOptions: Elbv2ClientOptions
  readonly #givenClient: ElasticLoadBalancingV2Client | undefined
  readonly #targetId: string
  readonly #targetPort: number
  readonly #groups: GroupState[]
  readonly #intervalMs: number
  readonly #jitter: number
  readonly #maxBackoffMs: number
  readonly #requestTimeoutMs: number
  readonly #hook: Elbv2CallHook | undefined
  readonly #log: ObserverLogger
  readonly #random: () => number
  readonly #listeners = new ChangeListeners()
  readonly #lagClock: LagClock | undefined
  #satisfiedAt: number | undefined
  readonly #abort = new AbortController()
  #startedAt: number | undefined
  #startup: { state: 'not run' | 'checking' | 'registered' | 'not registered' | 'failed'; attempts: number; at: number | null } = {
    state: 'not run',
    attempts: 0,
    at: null,
  }
  #startupTimer: NodeJS.Timeout | undefined
  #timer: NodeJS.Timeout | undefined
  #stopped = false
  #consecutiveThrottledTicks = 0
  #ticks = 0
  #nextPollAt: number | undefined

  constructor(opts: Elbv2ObserverOptions) {
    // The options come checked from the option table (src/config.ts): ARNs, target and a
    // positive interval are validated there, once, naming the flag.
    const arns = [...new Set(opts.targetGroupArns)]
    const intervalMs = opts.pollIntervalMs ?? 10_000

    this.#targetId = opts.targetId
    this.#targetPort = opts.targetPort
    this.#groups = arns.map((arn) => ({
      arn,
      port: opts.groupPorts?.get(arn) ?? opts.targetPort,
      state: null,
      reason: null,
      description: null,
      readAt: null,
      satisfied: false,
      everRegistered: false,
      deregisteredAt: null,
      failed: null,
      calls: 0,
      throttled: 0,
      errors: 0,
      lastError: null,
    }))
    this.#intervalMs = intervalMs
    this.#jitter = opts.jitter ?? 0.2
    this.#maxBackoffMs = opts.maxBackoffMs ?? Math.max(60_000, intervalMs)
    this.#requestTimeoutMs = opts.requestTimeoutMs ?? Math.max(1000, Math.min(10_000, intervalMs))
    this.#hook = opts.hook
    this.#log = opts.logger ?? silentLogger
    this.#random = opts.random ?? Math.random
    this.#lagClock = opts.lagClock
    this.#givenClient = opts.client
    this.#clientOptions = { region: opts.region, endpoint: opts.endpoint, credentials: opts.credentials }
  }

  /** The SDK module and a client: the given one, or one built on first use. */
  #sdk(): Promise<LoadedElbv2> {
    this.#client ??= loadElbv2(this.#clientOptions, this.#givenClient)
    return this.#client
  }

  get satisfied(): boolean {
    return this.#satisfiedAt !== undefined
  }

  onChange(fn: () => void): void {
    this.#listeners.add(fn)
  }

  /**
   * One DescribeTargetHealth per group after a random delay within `maxDelayMs`, so a missing
   * permission, a wrong ARN or target is reported at start-up; repeated every
   * STARTUP_CHECK_RETRY_MS (at most STARTUP_CHECK_ATTEMPTS times) while the target is not registered
   * yet (the controller registers pods a little after they start). Stops when termination starts.
   */
  checkAtStartup(maxDelayMs = Math.min(this.#intervalMs, 5000)): void {
    if (this.#startup.state !== 'not run' || this.#startedAt !== undefined || this.#stopped) return
    this.#startup.state = 'checking'
    const attempt = async (): Promise<void> => {
      this.#startupTimer = undefined
      if (this.#stopped || this.#startedAt !== undefined) return
      this.#startup.attempts++
      await Promise.all(this.#groups.filter((g) => g.failed === null && !g.everRegistered).map((g) => this.#poll(g)))
      if (this.#stopped || this.#startedAt !== undefined) return
      this.#startup.at = performance.now()
      const failed = this.#groups.filter((g) => g.failed !== null)
      const unregistered = this.#groups.filter((g) => g.failed === null && !g.everRegistered)
      if (failed.length > 0) this.#startup.state = 'failed'
      else if (unregistered.length === 0) {
        this.#startup.state = 'registered'
        this.#log.info(
          { observer: this.name, groups: this.#groups.map((g) => ({ arn: g.arn, state: g.state })) },
          'elbv2 start-up check: the target is registered in every target group',
        )
        return
      } else this.#startup.state = 'not registered'
      if (unregistered.length > 0) {
        const last = this.#startup.attempts >= STARTUP_CHECK_ATTEMPTS
        this.#log[last ? 'error' : 'warn'](
          {
            observer: this.name,
            targetId: this.#targetId,
            targetPort: this.#targetPort,
            groups: unregistered.map((g) => ({ arn: g.arn, targetPort: g.port, state: g.state, reason: g.reason })),
            attempt: this.#startup.attempts,
          },
          last
            ? `elbv2 start-up check: target ${this.#targetId}:${[...new Set(unregistered.map((g) => g.port))].join('/')} still not registered after ${this.#startup.attempts} checks: wrong --target-id or --target-port, or the controller does not manage this pod`
            : 'elbv2 start-up check: target not registered yet; checking again',
        )
        if (!last)
          this.#startupTimer = setTimeout(() => {
            void attempt()
          }, STARTUP_CHECK_RETRY_MS)
      }
    }
    this.#startupTimer = setTimeout(
      () => {
        void attempt()
      },
      Math.round(this.#random() * maxDelayMs),
    )
  }

  start(startedAt: number): void {
    if (this.#startedAt !== undefined || this.#stopped) return
    this.#startedAt = startedAt
    if (this.#startupTimer !== undefined) clearTimeout(this.#startupTimer)
    this.#startupTimer = undefined
    // What the start-up check could not do (a permission not yet granted) is tried afresh.
    for (const g of this.#groups) g.failed = null
    this.#log.info(
      {
        observer: this.name,
        targetGroupArns: this.#groups.map((g) => g.arn),
        targetId: this.#targetId,
        targetPort: this.#targetPort,
        ...(this.#groups.some((g) => g.port !== this.#targetPort)
          ? { targetPorts: Object.fromEntries(this.#groups.map((g) => [g.arn, g.port])) }
          : {}),
        pollIntervalSeconds: this.#intervalMs / 1000,
      },
      'elbv2 observer: polling DescribeTargetHealth',
    )
    this.#schedule(this.#random() * this.#intervalMs)
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.satisfied) return
    this.#nextPollAt = performance.now() + delayMs
    this.#timer = setTimeout(
      () => {
        void this.#tick()
      },
      Math.max(0, Math.round(delayMs)),
    )
  }

  /** interval · 2^k (k = consecutive throttled ticks), capped, then ±jitter. */
  #nextDelayMs(): number {
    const k = this.#consecutiveThrottledTicks
    const base = Math.min(this.#maxBackoffMs, this.#intervalMs * 2 ** Math.min(k, 30))
    return base * (1 + this.#jitter * (2 * this.#random() - 1))
  }

  /** Every group deregistered or unable to tell: satisfied, and the lag clock told. */
  #resolveIfDone(): boolean {
    if (this.#satisfiedAt !== undefined) return true
    if (!this.#groups.every((g) => g.satisfied || g.failed !== null)) return false
    const now = performance.now()
    this.#satisfiedAt = now
    const seen = this.#groups.filter((g) => g.deregisteredAt !== null).map((g) => g.deregisteredAt!)
    this.#lagClock?.deregistered(seen.length === 0 ? now : Math.max(...seen), seen.length === 0)
    this.#log.info(
      {
        observer: this.name,
        groups: this.#groups.map((g) => ({ arn: g.arn, state: g.state, reason: g.reason, failed: g.failed })),
        afterSeconds: viewSeconds(now - (this.#startedAt ?? now)),
      },
      seen.length === 0
        ? 'elbv2 observer: no target group could tell; the lag clock starts at termination start'
        : 'elbv2 observer: every target group reports the target deregistered; the lag clock runs from here',
    )
    this.#listeners.emit()
    return true
  }

  async #tick(): Promise<void> {
    this.#timer = undefined
    this.#nextPollAt = undefined
    if (this.#stopped || this.satisfied) return
    this.#ticks++
    const pending = this.#groups.filter((g) => !g.satisfied && g.failed === null)
    const outcomes = await Promise.all(pending.map((g) => this.#poll(g)))
    if (this.#stopped) return
    if (this.#resolveIfDone()) return
    if (outcomes.includes('throttled')) {
      this.#consecutiveThrottledTicks++
      const delay = this.#nextDelayMs()
      this.#log.warn(
        { observer: this.name, consecutiveThrottledTicks: this.#consecutiveThrottledTicks, nextPollSeconds: viewSeconds(delay) },
        'elbv2 observer: DescribeTargetHealth throttled, backing off',
      )
      this.#schedule(delay)
    } else {
      this.#consecutiveThrottledTicks = 0
      this.#schedule(this.#nextDelayMs())
    }
  }

  async #poll(g: GroupState): Promise<Elbv2CallOutcome | 'aborted'> {
    const timeout = AbortSignal.timeout(this.#requestTimeoutMs)
    const signal = AbortSignal.any([this.#abort.signal, timeout])
    g.calls++
    try {
      const { sdk, client } = await this.#sdk()
      if (this.#stopped) return 'aborted'
      const out = await client.send(
        new sdk.DescribeTargetHealthCommand({
          TargetGroupArn: g.arn,
          Targets: [{ Id: this.#targetId, Port: g.port }],
        }),
        { abortSignal: signal },
      )
      if (this.#stopped) return 'aborted'
      this.#hook?.onCall('ok')
      const desc =
        out.TargetHealthDescriptions?.find(
          (d) => d.Target?.Id === this.#targetId && (d.Target?.Port === undefined || d.Target.Port === g.port),
        ) ?? out.TargetHealthDescriptions?.[0]
      const state = desc?.TargetHealth?.State ?? null
      const reason = desc?.TargetHealth?.Reason ?? null
      if (state !== g.state || reason !== g.reason) {
        this.#log.info(
          { observer: this.name, targetGroupArn: g.arn, from: g.state, to: state, reason },
          `elbv2 observer: target ${state ?? 'missing from the answer'}${reason !== null ? ` (${reason})` : ''}`,
        )
      }
      g.state = state
      g.reason = reason
      g.description = desc?.TargetHealth?.Description ?? null
      g.readAt = performance.now()
      g.lastError = null
      if (isRegisteredState(state)) g.everRegistered = true
      if (this.#startedAt !== undefined && isDeregisteredState(state, reason) && !g.satisfied) {
        if (state === 'unused' && !g.everRegistered) {
          g.failed = `target ${this.#targetId}:${g.port} was never seen registered in this group: wrong --target-id or --target-port?`
          this.#log.error(
            { observer: this.name, targetGroupArn: g.arn, targetId: this.#targetId, targetPort: g.port, state, reason },
            `elbv2 observer: ${g.failed} Not taken as deregistration; this group cannot tell when the LB deregistered the target`,
          )
        } else {
          g.satisfied = true
          g.deregisteredAt = g.readAt
        }
      }
      return 'ok'
    } catch (err) {
      if (this.#stopped) return 'aborted'
      const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
      const timedOut = timeout.aborted
      const code = timedOut ? 'RequestTimeout' : typeof e.name === 'string' ? e.name : 'Error'
      g.lastError = { code, message: timedOut ? `no answer within ${this.#requestTimeoutMs / 1000} s` : String(e.message ?? err) }
      if (THROTTLING_CODES.has(code) || e.$metadata?.httpStatusCode === 429) {
        g.throttled++
        this.#hook?.onCall('throttled')
        return 'throttled'
      }
      g.errors++
      this.#hook?.onCall('error')
      const fatal = unretryable(code, 'DescribeTargetHealth', 'k8s/nlb-elbv2/iam-policy.json')
      if (fatal !== undefined) {
        if (g.failed === null)
          this.#log.error(
            { observer: this.name, targetGroupArn: g.arn, code, err: g.lastError.message },
            `elbv2 observer: DescribeTargetHealth refused: ${fatal}; this group cannot tell, the decision rests on traffic and --lb-lag-max from termination start`,
          )
        g.failed = `${code}: ${fatal}`
      } else {
        this.#log.warn(
          { observer: this.name, targetGroupArn: g.arn, code, err: g.lastError.message },
          'elbv2 observer: DescribeTargetHealth failed; retrying on the next tick',
        )
      }
      return 'error'
    }
  }

  view(): Record<string, unknown> {
    const now = performance.now()
    return {
      satisfied: this.satisfied,
      targetId: this.#targetId,
      targetPort: this.#targetPort,
      pollIntervalSeconds: this.#intervalMs / 1000,
      polling: this.#startedAt !== undefined && !this.#stopped && !this.satisfied,
      ticks: this.#ticks,
      consecutiveThrottledTicks: this.#consecutiveThrottledTicks,
      nextPollInSeconds: this.#nextPollAt === undefined ? null : viewSeconds(Math.max(0, this.#nextPollAt - now)),
      ...(this.#satisfiedAt !== undefined && this.#startedAt !== undefined
        ? { satisfiedAfterSeconds: viewSeconds(this.#satisfiedAt - this.#startedAt) }
        : {}),
      startupCheck: {
        state: this.#startup.state,
        attempts: this.#startup.attempts,
        secondsAgo: this.#startup.at === null ? null : viewSeconds(now - this.#startup.at),
      },
      targetGroups: this.#groups.map((g) => ({
        arn: g.arn,
        targetPort: g.port,
        state: g.state,
        reason: g.reason,
        description: g.description,
        secondsSinceRead: g.readAt === null ? null : viewSeconds(now - g.readAt),
        deregistered: g.satisfied,
        everRegistered: g.everRegistered,
        deregisteredAfterSeconds:
          g.deregisteredAt === null || this.#startedAt === undefined ? null : viewSeconds(g.deregisteredAt - this.#startedAt),
        cannotTell: g.failed,
        calls: g.calls,
        throttled: g.throttled,
        errors: g.errors,
        lastError: g.lastError,
      })),
    }
  }

  summary(): Record<string, unknown> {
    const seen = this.#groups.filter((g) => g.deregisteredAt !== null)
    return {
      deregistrationSeenAfterSeconds:
        seen.length === 0 || this.#startedAt === undefined
          ? null
          : viewSeconds(Math.max(...seen.map((g) => g.deregisteredAt!)) - this.#startedAt),
      groupsThatCannotTell: this.#groups.filter((g) => g.failed !== null).length,
    }
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#startupTimer !== undefined) clearTimeout(this.#startupTimer)
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    this.#nextPollAt = undefined
    this.#abort.abort()
    if (this.#givenClient === undefined)
      void this.#client?.then(
        ({ client }) => client.destroy(),
        () => {},
      )
  }
}
