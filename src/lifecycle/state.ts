// The lifecycle state machine. Transitions are explicit; each is logged at info with its
// reason and counted.
//
//   starting ──► ready ──► terminating ──► draining ──► drained ──► (exit)
//       └──────────┼─────────┘                              │
//                  └─────────────────────────────────────────┘
//   drained → ready: a /prestop drain that no SIGTERM followed was a container restart; the
//   app came back, so the pod port reopens (lifecycle/container-restart.ts).
//   starting: pod port open, app not yet seen reachable.   ready: /readyz 200.
//   terminating: readiness fails, traffic still served until the LB stops sending.
//   draining: pod port closed, in-flight work finishing.   drained: nothing left open.
import { performance } from 'node:perf_hooks'
import type { Metrics } from '../admin/metrics.js'
import type { Logger } from '../log.js'
import { StateMachineError } from '../errors.js'

export const STATES = ['starting', 'ready', 'terminating', 'draining', 'drained'] as const
export type State = (typeof STATES)[number]

const NEXT: Readonly<Record<State, readonly State[]>> = {
  starting: ['ready', 'terminating'],
  ready: ['terminating'],
  terminating: ['draining'],
  draining: ['drained'],
  drained: ['ready'],
}

export class Lifecycle {
  #state: State = 'starting'
  #since = performance.now()
  #sinceWall = new Date()
  readonly #listeners = new Set<(state: State) => void>()

  constructor(
    private readonly logger: Logger,
    private readonly metrics: Metrics,
  ) {}

  get state(): State {
    return this.#state
  }
  /** performance.now() when the current state was entered. */
  get since(): number {
    return this.#since
  }
  get sinceWall(): Date {
    return this.#sinceWall
  }

  /** True once termination began: readiness fails from then on. */
  get terminating(): boolean {
    return this.#state !== 'starting' && this.#state !== 'ready'
  }

  to(next: State, reason: string, extra: Record<string, unknown> = {}): void {
    if (!NEXT[this.#state].includes(next)) throw new StateMachineError(`no transition ${this.#state} → ${next}`)
    const from = this.#state
    const now = performance.now()
    const inStateMs = Math.round(now - this.#since)
    this.#state = next
    this.#since = now
    this.#sinceWall = new Date()
    this.metrics.transitions.labels(next).inc()
    this.logger.info({ from, to: next, reason, inStateMs, ...extra }, `state ${from} → ${next}: ${reason}`)
    for (const fn of this.#listeners) fn(next)
  }

  onChange(fn: (state: State) => void): void {
    this.#listeners.add(fn)
  }
}
