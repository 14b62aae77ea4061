// The termination sequence. Triggered by SIGTERM/SIGINT or GET/POST /prestop; runs once.
//   1. terminating: readiness fails; keep serving (http: every response now asks the client to
//      reconnect, so keep-alive clients become visible LB routing decisions); start the lag
//      clock, the observers and the decision.
//   2. wait for the decision (decision.ts: every observer agrees at the same moment, --min-wait
//      passed); or --max-wait passed (warn, naming what was still unsure).
//   3. draining: take in what is queued, close the pod port; let in-flight work finish within
//      --drain-timeout; then close what remains and count it.
//   4. drained.
// An operator can end step 2 early (a second SIGINT: endWait()); the report says so.
// Lifecycle observes (observers, counts) and commands (stopAccepting, drain, abort); it
// never reaches into the forwarders.
import { performance } from 'node:perf_hooks'
import type { Logger } from '../log.js'
import type { DecisionBasis, Metrics } from '../admin/metrics.js'
import type { DeregistrationObserver } from './observers/observer.js'
import { lastArrivalAt, observedPorts, type Observed } from './observers/ports.js'
import type { Lifecycle } from './state.js'
import { Decision } from './decision.js'
import type { LagClock } from './lag-clock.js'

export type Trigger = 'SIGTERM' | 'SIGINT' | 'prestop'

export interface DrainTarget {
  /** From now on, ask clients to close their connections after each response (http). */
  announceClose(): void
  /** Take in connections already queued, then close the pod port. */
  stopAccepting(): Promise<void>
  drain(): Promise<void>
  abort(): number
}

export interface ShutdownOptions {
  lifecycle: Lifecycle
  observers: DeregistrationObserver[]
  observations: Observed
  lagClock: LagClock
  target: DrainTarget
  /** Responses carry Connection: close from termination start (--connection-close-on-terminate). */
  connectionCloseOnTerminate: boolean
  minWaitMs: number
  maxWaitMs: number
  drainTimeoutMs: number
  logger: Logger
  metrics: Metrics
}

export interface ShutdownReport {
  trigger: Trigger
  /** ms from termination start until draining began */
  waitedMs: number
  /** how the wait ended: observers agreed, --max-wait, or an operator ended it (second SIGINT) */
  waitEnded: 'observers' | 'max-wait' | 'operator'
  /** what the decision rested on: evidence (each LB node quiet for its window), a fixed window, the lag bound, or nothing (max-wait, operator) */
  basis: DecisionBasis
  /** ms from termination start to the last new client connection, null if none came */
  lastConnectionMs: number | null
  drainMs: number
  cut: number
}

export class Shutdown {
  readonly #opts: ShutdownOptions
  #running: Promise<ShutdownReport> | undefined
  #trigger: Trigger | undefined
  #startedAt = 0
  #report: ShutdownReport | undefined
  readonly #decision: Decision
  #endWait: ((ended: 'operator') => void) | undefined

  constructor(opts: ShutdownOptions) {
    this.#opts = opts
    this.#decision = new Decision({ observers: opts.observers, lagClock: opts.lagClock, minWaitMs: opts.minWaitMs, logger: opts.logger })
  }

  get decision(): Decision {
    return this.#decision
  }

  get started(): boolean {
    return this.#running !== undefined
  }
  get trigger(): Trigger | undefined {
    return this.#trigger
  }
  get startedAt(): number {
    return this.#startedAt
  }
  get report(): ShutdownReport | undefined {
    return this.#report
  }

  /**
   * End the wait for the load balancer now and start draining (an operator's second Ctrl-C).
   * Returns false when there is no wait to end (not started, or already draining).
   */
  endWait(reason: string): boolean {
    if (!this.#endWait) return false
    this.#opts.logger.warn(
      { reason, sinceStartMs: Math.round(performance.now() - this.#startedAt) },
      `${reason}: ending the wait for the load balancer now; it may still be sending new connections`,
    )
    this.#endWait('operator')
    this.#endWait = undefined
    return true
  }

  /** Start the sequence, or join the one running. Resolves when drained. */
  begin(trigger: Trigger): Promise<ShutdownReport> {
    if (this.#running !== undefined) {
      this.#opts.logger.info({ trigger, running: this.#trigger, state: this.#opts.lifecycle.state }, 'termination already in progress')
      return this.#running
    }
    this.#trigger = trigger
    this.#running = this.#run(trigger)
    return this.#running
  }

  async #run(trigger: Trigger): Promise<ShutdownReport> {
    const { lifecycle, observers, target, logger, metrics } = this.#opts
    const startedAt = performance.now()
    this.#startedAt = startedAt
    lifecycle.to('terminating', trigger === 'prestop' ? 'preStop hook called' : `${trigger} received`, {
      observers: observers.map((o) => o.name),
    })
    if (this.#opts.connectionCloseOnTerminate) target.announceClose()
    this.#opts.lagClock.start(startedAt)
    for (const o of observers) o.start(startedAt)
    this.#decision.start(startedAt)

    const cutShort = new Promise<'operator'>((resolve) => {
      this.#endWait = resolve
    })
    const waitEnded = await Promise.race([this.#waitForLoadBalancer(startedAt), cutShort])
    this.#endWait = undefined
    const waitedMs = performance.now() - startedAt
    metrics.deregistrationObservedSeconds.set(waitedMs / 1000)
    const last = lastArrivalAt(observedPorts(this.#opts.observations))
    const lastConnectionMs = last !== undefined && last >= startedAt ? last - startedAt : null
    if (lastConnectionMs !== null) metrics.lastConnectionSeconds.set(lastConnectionMs / 1000)
    const summaries = Object.assign({}, ...observers.map((o) => o.summary())) as Record<string, unknown>
    const basis: DecisionBasis = waitEnded !== 'observers' ? waitEnded : ((summaries.basis as DecisionBasis | undefined) ?? 'lag-bound')
    for (const o of observers) o.stop()
    this.#decision.stop()
    const deadline = this.#opts.lagClock.deadline
    metrics.recordDecision({
      basis,
      falseStopBound: typeof summaries.falseStopBound === 'number' ? summaries.falseStopBound : null,
      longestWindowSeconds: typeof summaries.longestWindowSeconds === 'number' ? summaries.longestWindowSeconds : null,
      revocations: (typeof summaries.revocations === 'number' ? summaries.revocations : 0) + this.#decision.revocations,
      lagDeadlineSeconds: deadline === undefined ? null : (deadline - startedAt) / 1000,
    })

    lifecycle.to('draining', drainReason(basis, this.#opts.lagClock.choice.flag), {
      waitedMs: Math.round(waitedMs),
      lastConnectionMs: lastConnectionMs === null ? null : Math.round(lastConnectionMs),
      ...summaries,
      basis,
      agreementsRevoked: this.#decision.revocations,
      lagBound: this.#opts.lagClock.summary(last),
    })
    const drainStarted = performance.now()
    await target.stopAccepting()
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      target.drain().then(() => false),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), this.#opts.drainTimeoutMs)
      }),
    ])
    clearTimeout(timer)
    let cut = 0
    if (timedOut) {
      cut = target.abort()
      metrics.drainCut.inc(cut)
      if (cut > 0)
        logger.warn({ cut, drainTimeoutMs: this.#opts.drainTimeoutMs }, `--drain-timeout reached: closed ${cut} connection(s) still open`)
    }
    const drainMs = performance.now() - drainStarted
    metrics.drainSeconds.set(drainMs / 1000)
    this.#report = {
      trigger,
      waitedMs: Math.round(waitedMs),
      waitEnded,
      basis,
      lastConnectionMs: lastConnectionMs === null ? null : Math.round(lastConnectionMs),
      drainMs: Math.round(drainMs),
      cut,
    }
    lifecycle.to('drained', timedOut ? 'drain timeout' : 'all connections finished', { drainMs: Math.round(drainMs), cut })
    return this.#report
  }

  async #waitForLoadBalancer(startedAt: number): Promise<'observers' | 'max-wait'> {
    const { observers, maxWaitMs, logger } = this.#opts
    let timer: NodeJS.Timeout | undefined
    const capped = new Promise<'max-wait'>((resolve) => {
      timer = setTimeout(() => resolve('max-wait'), Math.max(0, startedAt + maxWaitMs - performance.now()))
    })
    const ended = await Promise.race([this.#decision.whenAgreed().then(() => 'observers' as const), capped])
    clearTimeout(timer)
    if (ended === 'max-wait') {
      const waiting = this.#decision.pending()
      const unsure = observers.filter((o) => waiting.includes(o.name))
      logger.warn(
        {
          maxWaitMs,
          waitingFor: waiting,
          views: Object.fromEntries(unsure.map((o) => [o.name, o.view()])),
          lagBound: this.#opts.lagClock.view(),
          sinceStartMs: Math.round(performance.now() - startedAt),
        },
        `--max-wait reached while ${waiting.join(', ') || 'nothing'} still unsure: draining anyway; new connections the LB still sends will be refused`,
      )
    }
    return ended
  }
}

function drainReason(basis: DecisionBasis, lagFlag: string): string {
  switch (basis) {
    case 'evidence':
      return 'load balancer stopped sending new connections: every LB node quiet for its window'
    case 'fixed':
      return 'no new connection for the configured --quiet-period from any LB node'
    case 'lag-bound':
      return lagFlag === '--lb-lag-max'
        ? '--lb-lag-max passed since deregistration with no new connection since (too little traffic to judge by)'
        : `${lagFlag} passed since health checks started failing with no new connection since (too little traffic to judge by)`
    case 'max-wait':
      return '--max-wait reached'
    case 'operator':
      return 'wait ended by the operator'
  }
}
