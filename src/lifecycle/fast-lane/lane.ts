// The fast lane (--health-check-on-terminate fail): from termination start the load balancer's
// health checks fail (HTTP checks get 503, the dedicated health-check port closes) while client
// traffic is still served, so an NLB stops sending new connections within ~30-40 s of marking
// the target unhealthy instead of ~2 minutes after deregistration. The decision keeps watching:
// the lag bound becomes --lb-unhealthy-lag-max from termination start (../lag-clock.ts), and
// traffic that keeps coming (fail-open when every target is unhealthy, or checks the LB ignores)
// keeps the pod serving until it stops, up to --max-wait.
//
// States of the mode: requested (the flag) → checked at start-up (./safety-check.ts): refused
// sets it back to pass, loudly; unverified keeps it, with a warning. At termination start it is
// engaged (or not) once, for that termination; a container restart (drained → ready) releases it.
import type { LagBoundChoice } from '../lag-clock.js'
import type { ObserverLogger } from '../observers/observer.js'
import type { SafetyCheck } from './safety-check.js'

export type HealthCheckMode = 'fail' | 'pass'

export interface FastLaneOptions {
  requested: HealthCheckMode
  /** --lb-unhealthy-lag-max */
  unhealthyLagMs: number
  /** --lb-lag-max, the bound without the lane */
  lagMs: number
  /** Absent with --health-check-on-terminate pass. */
  check?: SafetyCheck
  logger: ObserverLogger
}

export class FastLane {
  readonly #opts: FastLaneOptions
  #engaged = false
  #engagedWhy: string | null = null

  constructor(opts: FastLaneOptions) {
    this.#opts = opts
    const check = opts.check
    if (opts.requested !== 'fail' || check === undefined) return
    check.onSettled((state) => {
      if (state === 'refused') {
        opts.logger.error(
          { healthCheckOnTerminate: 'pass', why: check.why },
          `fast lane refused: ${check.why}. --health-check-on-terminate falls back to pass: health checks keep passing until draining, and the lag bound stays --lb-lag-max`,
        )
      } else if (state === 'unverified') {
        opts.logger.warn(
          { healthCheckOnTerminate: 'fail', why: check.why },
          `fast lane on, but could not verify the target group: ${check.why}`,
        )
      } else {
        opts.logger.info(
          { healthCheckOnTerminate: 'fail', why: check.why },
          'fast lane verified: failing health checks on termination is safe for every target group',
        )
      }
    })
    if (check.state === 'unverified')
      opts.logger.warn(
        { healthCheckOnTerminate: 'fail', why: check.why },
        `fast lane on, but could not verify the target group: ${check.why}`,
      )
  }

  get requested(): HealthCheckMode {
    return this.#opts.requested
  }

  /** The mode now: pass when asked for pass or when the start-up check refused fail. */
  get mode(): HealthCheckMode {
    return this.#opts.requested === 'fail' && this.#opts.check?.state !== 'refused' ? 'fail' : 'pass'
  }

  /** Health checks are being failed: the lane engaged at this termination's start. */
  get failing(): boolean {
    return this.#engaged
  }

  /**
   * Termination started: engage the lane if the mode is fail and the start-up check settled
   * (verified, or could not verify). While it has not answered yet (a pod terminated within
   * seconds of starting) the lane stays off: failing checks on a target group that resets
   * unhealthy targets' connections would cut every request in flight. Idempotent until release().
   */
  engage(): void {
    if (this.#engaged || this.#engagedWhy !== null) return
    const check = this.#opts.check
    const settled = check?.state === 'verified' || check?.state === 'unverified'
    this.#engaged = this.mode === 'fail' && settled
    this.#engagedWhy = this.#engaged
      ? `fast lane: health checks fail from termination start (target group check ${check!.state}${check!.state === 'verified' ? '' : `: ${check!.why}`})`
      : this.#opts.requested === 'pass'
        ? 'the LB stops after deregistration (--health-check-on-terminate pass)'
        : check?.state === 'refused'
          ? `fast lane refused at start-up (${check.why}): health checks pass until draining`
          : 'fast lane not engaged: the target group check had not answered at termination start, so health checks pass until draining (the safe default)'
  }

  /** A container restart brought the pod back to ready: the next termination chooses afresh. */
  release(): void {
    this.#engaged = false
    this.#engagedWhy = null
  }

  /** For the lag clock at termination start (call after engage()). */
  lagChoice(): LagBoundChoice {
    if (this.#engaged)
      return { lane: 'unhealthy', flag: '--lb-unhealthy-lag-max', lagMs: this.#opts.unhealthyLagMs, why: this.#engagedWhy! }
    return {
      lane: 'deregistration',
      flag: '--lb-lag-max',
      lagMs: this.#opts.lagMs,
      why: this.#engagedWhy ?? 'the LB stops after deregistration',
    }
  }

  view(): Record<string, unknown> {
    return {
      requested: this.#opts.requested,
      mode: this.mode,
      failingHealthChecks: this.#engaged,
      unhealthyLagMaxSeconds: this.#opts.unhealthyLagMs / 1000,
      ...(this.#engagedWhy !== null ? { why: this.#engagedWhy } : {}),
      ...(this.#opts.check !== undefined ? { targetGroupCheck: this.#opts.check.view() } : {}),
    }
  }
}
