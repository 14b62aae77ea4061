// Open-loop load on the simulated clock: arrivals are scheduled in simulated seconds (scaled to
// wall-clock by the time scale) whatever the server does, as real clients arrive.
//
// - poisson: new connections at a mean rate, one request each (Connection: close);
// - bursty: the same in on/off periods (exponential durations), the rate during "on" raised so
//   the mean stays the given rate;
// - keepalive: a pool of clients, each holding one keep-alive connection (as browsers, SDKs
//   and ALB do), sending a request after an exponential think time; a client reconnects when
//   the server closed its connection, and only then does the LB make a routing decision.
//
// Every request ends as ok, non-2xx, reset (refused, reset, closed unanswered) or timeout
// (the timeout runs on the simulated clock). A harness stall delays arrivals; they are sent
// late (catching up), never dropped.
import http from 'node:http'
import { exponential, type Random } from '../model/random.js'
import type { Timeline } from './timeline.js'
import { countsSoFar, type LoadResult, type LoadRun } from './load.js'
import { sendRequest } from './request.js'
import { simulatedClock } from './clock.js'

export type OpenLoopModel =
  | { kind: 'poisson'; ratePerSecond: number }
  | { kind: 'bursty'; ratePerSecond: number; onSeconds: number; offSeconds: number }
  | { kind: 'keepalive'; clients: number; thinkSeconds: number }

export interface OpenLoopOptions {
  url: string
  model: OpenLoopModel
  /** Wall-clock seconds per simulated second. */
  timeScale: number
  random: Random
  /** Request timeout, simulated seconds. */
  timeoutSeconds: number
  path: string
  timeline: Timeline
}

export function startOpenLoop(opts: OpenLoopOptions): LoadRun {
  const target = new URL(opts.path, opts.url)
  const clock = simulatedClock(opts.timeScale)
  const result: LoadResult = { requests: 0, ok: 0, non2xx: 0, resets: 0, timeouts: 0, failed: 0, errorsByCode: {}, latenciesMs: [] }
  const agents: http.Agent[] = []

  const request = (agent: http.Agent | false): Promise<void> =>
    clock.track(
      sendRequest(
        { host: target.hostname, port: target.port, path: target.pathname + target.search, timeoutMs: clock.wallMs(opts.timeoutSeconds) },
        agent,
        result,
        opts.timeline,
      ),
    )

  const m = opts.model
  if (m.kind === 'poisson') {
    clock.every(
      () => exponential(opts.random, 1 / m.ratePerSecond),
      () => {
        void request(false)
      },
    )
  } else if (m.kind === 'bursty') {
    // Walk the on/off periods in simulated time; arrivals only inside "on".
    const onRate = (m.ratePerSecond * (m.onSeconds + m.offSeconds)) / m.onSeconds
    let onLeft = exponential(opts.random, m.onSeconds)
    clock.every(
      () => {
        let gap = 0
        for (;;) {
          const arrival = exponential(opts.random, 1 / onRate)
          if (arrival <= onLeft) {
            onLeft -= arrival
            return gap + arrival
          }
          gap += onLeft + exponential(opts.random, m.offSeconds)
          onLeft = exponential(opts.random, m.onSeconds)
        }
      },
      () => {
        void request(false)
      },
    )
  } else {
    for (let i = 0; i < m.clients; i++) {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      agents.push(agent)
      let first = true
      // One request at a time per client: think, send, wait for the answer, think again.
      const loop = (): void => {
        if (clock.stopping) return
        const think = first ? opts.random() * m.thinkSeconds : exponential(opts.random, m.thinkSeconds)
        first = false
        clock.after(think, () => {
          void request(agent).then(loop)
        })
      }
      loop()
    }
  }

  const snapshot = (): LoadResult => countsSoFar(result)
  return {
    snapshot,
    async stop() {
      await clock.stop()
      for (const agent of agents) agent.destroy()
      return snapshot()
    },
  }
}
