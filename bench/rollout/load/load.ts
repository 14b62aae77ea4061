// Load through autocannon's programmatic API, with new connections all the time: an NLB routes
// per connection, so long-lived keep-alives alone would never reach a new target nor show the
// flows a deregistered target still receives. `parallel` autocannon instances run at once; each
// opens `connections` connections, sends `requestsPerConnection` requests on each, and ends;
// a new instance replaces it at once.
//
// Every request is accounted for: a response (2xx or not), a connection error (reset, refused),
// a timeout, or — autocannon quietly reconnects when a server closes a connection with a request
// outstanding — "unanswered" (sent minus answered), which we count with the resets.
import autocannon from 'autocannon'
import type { Timeline } from './timeline.js'

export interface LoadOptions {
  url: string
  /** Concurrent autocannon instances. Default 4. */
  parallel?: number
  /** Connections per instance. Default 2. */
  connections?: number
  /** Requests per connection before the instance ends (and a new one opens new connections). Default 5. */
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
  const timeout = opts.timeoutSeconds ?? 10
  const url = new URL(opts.path ?? '/', opts.url).toString()
  const result: LoadResult = { requests: 0, ok: 0, non2xx: 0, resets: 0, timeouts: 0, failed: 0, errorsByCode: {}, latenciesMs: [] }
  const running = new Set<autocannon.Instance>()
  const finished = new Set<Promise<void>>()
  let stopping = false

  const launch = (): void => {
    if (stopping) return
    let answered = 0
    let resolveDone: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      resolveDone = resolve
    })
    // sampleInt: autocannon notices it is done on its sampling tick (1 s by default).
    const instance = autocannon(
      { url, connections, amount: connections * perConnection, timeout, pipelining: 1, sampleInt: 20 } as autocannon.Options,
      (err, r) => {
        // Requests autocannon sent but never saw answered nor failed: the server (or the LB)
        // closed the connection under them with a FIN (a reset is reported as an error).
        const unanswered = err === null && r !== undefined ? Math.max(0, r.requests.sent - answered) : 0
        if (unanswered > 0) {
          result.resets += unanswered
          result.errorsByCode.UNANSWERED = (result.errorsByCode.UNANSWERED ?? 0) + unanswered
          for (let i = 0; i < unanswered; i++) opts.timeline.count('resets')
        }
        if (err !== null) result.errorsByCode[`autocannon: ${String(err)}`] = 1
        running.delete(instance)
        resolveDone()
      },
    )
    running.add(instance)
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      answered++
      if (statusCode >= 200 && statusCode < 300) {
        result.ok++
        result.latenciesMs.push(responseTime)
        opts.timeline.count('ok')
      } else {
        result.non2xx++
        opts.timeline.count('non2xx')
      }
    })
    instance.on('reqError', (err: NodeJS.ErrnoException) => {
      answered++
      const timedOut = err.message === 'request timed out'
      const code = timedOut ? 'TIMEOUT' : (err.code ?? err.message)
      result.errorsByCode[code] = (result.errorsByCode[code] ?? 0) + 1
      if (timedOut) {
        result.timeouts++
        opts.timeline.count('timeouts')
      } else {
        result.resets++
        opts.timeline.count('resets')
      }
    })
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
