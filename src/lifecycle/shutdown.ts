// The termination sequence. Triggered by SIGTERM/SIGINT or GET/POST /prestop; runs once.
//   1. terminating: readiness fails; keep serving; start the observers.
//   2. wait until every observer agrees the LB stopped sending new connections, and
//      --min-wait passed; or --max-wait passed (warn, naming the observers still waiting).
//   3. draining: close the pod port; let in-flight work finish within --drain-timeout;
//      then close what remains and count it.
//   4. drained.
// An operator can end step 2 early (a second SIGINT: endWait()); the report says so.
// Lifecycle observes (observers, counts) and commands (stopAccepting, drain, abort); it
// never reaches into the forwarders.
import { performance } from 'node:perf_hooks'
import type { Logger } from '../log.js'
import type { Metrics } from '../admin/metrics.js'
import type { DeregistrationObserver } from './observers/observer.js'
import type { TrafficObservations } from './observations.js'
import type { Lifecycle } from './state.js'

export type Trigger = 'SIGTERM' | 'SIGINT' | 'prestop'

export interface DrainTarget {
  stopAccepting(): void
  drain(): Promise<void>
  abort(): number
}

export interface ShutdownOptions {
  lifecycle: Lifecycle
  observers: DeregistrationObserver[]
  observations: TrafficObservations
  target: DrainTarget
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
  #endWait: ((ended: 'operator') => void) | undefined

  constructor(opts: ShutdownOptions) {
    this.#opts = opts
  }

  get started(): boolean { return this.#running !== undefined }
  get trigger(): Trigger | undefined { return this.#trigger }
  get startedAt(): number { return this.#startedAt }
  get report(): ShutdownReport | undefined { return this.#report }

  /**
   * End the wait for the load balancer now and start draining (an operator's second Ctrl-C).
   * Returns false when there is no wait to end (not started, or already draining).
   */
  endWait(reason: string): boolean {
    if (!this.#endWait) return false
    this.#opts.logger.warn({ reason, sinceStartMs: Math.round(performance.now() - this.#startedAt) }, `${reason}: ending the wait for the load balancer now; it may still be sending new connections`)
    this.#endWait('operator')
    this.#endWait = undefined
    return true
  }

  /** Start the sequence, or join the one running. Resolves when drained. */
  begin(trigger: Trigger): Promise<ShutdownReport> {
    if (this.#running) {
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
    lifecycle.to('terminating', trigger === 'prestop' ? 'preStop hook called' : `${trigger} received`, { observers: observers.map((o) => o.name) })
    for (const o of observers) o.start(startedAt)

    const cutShort = new Promise<'operator'>((resolve) => { this.#endWait = resolve })
    const waitEnded = await Promise.race([this.#waitForLoadBalancer(startedAt), cutShort])
    this.#endWait = undefined
    const waitedMs = performance.now() - startedAt
    metrics.deregistrationObservedSeconds.set(waitedMs / 1000)
    const last = this.#opts.observations.lastArrivalAt
    const lastConnectionMs = last !== undefined && last >= startedAt ? last - startedAt : null
    if (lastConnectionMs !== null) metrics.lastConnectionSeconds.set(lastConnectionMs / 1000)
    for (const o of observers) o.stop()

    lifecycle.to('draining', waitEnded === 'observers' ? 'load balancer stopped sending new connections' : waitEnded === 'operator' ? 'wait ended by the operator' : '--max-wait reached', {
      waitedMs: Math.round(waitedMs),
      lastConnectionMs: lastConnectionMs === null ? null : Math.round(lastConnectionMs),
    })
    const drainStarted = performance.now()
    target.stopAccepting()
    let timer: NodeJS.Timeout | undefined
    const timedOut = await Promise.race([
      target.drain().then(() => false),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), this.#opts.drainTimeoutMs) }),
    ])
    clearTimeout(timer)
    let cut = 0
    if (timedOut) {
      cut = target.abort()
      metrics.drainCut.inc(cut)
      if (cut > 0) logger.warn({ cut, drainTimeoutMs: this.#opts.drainTimeoutMs }, `--drain-timeout reached: closed ${cut} connection(s) still open`)
    }
    const drainMs = performance.now() - drainStarted
    metrics.drainSeconds.set(drainMs / 1000)
    this.#report = { trigger, waitedMs: Math.round(waitedMs), waitEnded, lastConnectionMs: lastConnectionMs === null ? null : Math.round(lastConnectionMs), drainMs: Math.round(drainMs), cut }
    lifecycle.to('drained', timedOut ? 'drain timeout' : 'all connections finished', { drainMs: Math.round(drainMs), cut })
    return this.#report
  }

  async #waitForLoadBalancer(startedAt: number): Promise<'observers' | 'max-wait'> {
    const { observers, minWaitMs, maxWaitMs, logger } = this.#opts
    const timers: NodeJS.Timeout[] = []
    const sleep = (ms: number) => new Promise<void>((resolve) => { timers.push(setTimeout(resolve, Math.max(0, ms))) })
    const agreed = Promise.all([...observers.map((o) => o.whenSatisfied()), sleep(minWaitMs)]).then(() => 'observers' as const)
    const capped = sleep(maxWaitMs).then(() => 'max-wait' as const)
    const ended = await Promise.race([agreed, capped])
    for (const t of timers) clearTimeout(t)
    if (ended === 'max-wait') {
      const waiting = observers.filter((o) => !o.satisfied)
      logger.warn({
        maxWaitMs,
        waitingFor: waiting.map((o) => o.name),
        views: Object.fromEntries(waiting.map((o) => [o.name, o.view()])),
        sinceStartMs: Math.round(performance.now() - startedAt),
      }, `--max-wait reached while ${waiting.map((o) => o.name).join(', ') || 'min-wait'} still waiting: draining anyway`)
    }
    return ended
  }
}
