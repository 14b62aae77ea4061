// Closed-loop load with new connections all the time: an NLB routes per connection, so
// long-lived keep-alives alone would never reach a new target nor show the flows a deregistered
// target still receives. `parallel` clients run at once; each holds `connections` keep-alive
// connections (a node:http Agent), sends `requestsPerConnection` requests on each, one at a time,
// and ends; a new client replaces it at once, with new connections.
//
// Every request is accounted for by ./request.ts: a response (2xx or not), a connection error
// (reset, refused, closed under it) or a timeout. A server's `Connection: close` is honoured: the
// next request goes on a new connection, as real clients do.
import http from 'node:http'
import type { Timeline } from './timeline.js'
import { sendRequest } from './request.js'

export interface LoadOptions {
  url: string
  /** Concurrent clients. Default 4. */
  parallel?: number
  /** Keep-alive connections per client. Default 2. */
  connections?: number
  /** Requests per connection before the client ends (and a new one opens new connections). Default 5. */
  requestsPerConnection?: number
  /** Per-request timeout, seconds. Default 10. */
  timeoutSeconds?: number
  /** Path and query of each request. Default '/'. */
  path?: string
  timeline: Timeline
}

/** What the load generator counts: every request, and each way one can fail. */
export interface RequestCounts {
  requests: number
  ok: number
  non2xx: number
  resets: number
  timeouts: number
  failed: number
}

export interface LoadResult extends RequestCounts {
  errorsByCode: Record<string, number>
  latenciesMs: number[]
}

export interface LoadRun {
  /** Stop starting new instances; resolves when the running ones finished. */
  stop(): Promise<LoadResult>
  snapshot(): LoadResult
}

export function startLoad(opts: LoadOptions): LoadRun {
  const parallel = opts.parallel ?? 4
  const connections = opts.connections ?? 2
  const perConnection = opts.requestsPerConnection ?? 5
  const url = new URL(opts.path ?? '/', opts.url)
  const target = { host: url.hostname, port: url.port, path: url.pathname + url.search, timeoutMs: (opts.timeoutSeconds ?? 10) * 1000 }
  const result: LoadResult = { requests: 0, ok: 0, non2xx: 0, resets: 0, timeouts: 0, failed: 0, errorsByCode: {}, latenciesMs: [] }
  const finished = new Set<Promise<void>>()
  let stopping = false

  /** One client: its own connections, `perConnection` requests on each, then a new client. */
  const launch = (): void => {
    if (stopping) return
    const agent = new http.Agent({ keepAlive: true, maxSockets: connections })
    const connection = async (): Promise<void> => {
      for (let i = 0; i < perConnection && !stopping; i++) await sendRequest(target, agent, result, opts.timeline)
    }
    const done = Promise.all(Array.from({ length: connections }, connection)).then(() => agent.destroy())
    finished.add(done)
    void done.then(() => {
      finished.delete(done)
      launch()
    })
  }

  for (let i = 0; i < parallel; i++) launch()

  const snapshot = (): LoadResult => countsSoFar(result)
  return {
    snapshot,
    async stop() {
      stopping = true
      while (finished.size > 0) await Promise.all([...finished])
      return snapshot()
    },
  }
}

/** The counts so far, with `requests` and `failed` derived (a copy: the load goes on). */
export function countsSoFar(result: LoadResult): LoadResult {
  const failed = result.non2xx + result.resets + result.timeouts
  return { ...result, requests: result.ok + failed, failed, errorsByCode: { ...result.errorsByCode } }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]!
}
