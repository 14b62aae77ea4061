// One HTTP request, accounted for exactly once: ok (2xx), non-2xx, reset (refused, reset, or a
// connection closed under it) or timeout. Shared by the open-loop and closed-loop loads, so a
// request counts the same way whichever load sent it.
//
// node:http's client honours `Connection: close` (drainpipe sends it from termination start): it
// never writes another request on a connection the server said it will close, and opens a new
// one instead, as every real HTTP client does. (autocannon writes the next request at once on
// the closing connection and reconnects only on the FIN, so against such a server a third of its
// requests went out on dead connections and read as unanswered.)
import http from 'node:http'
import type { Timeline } from './timeline.js'
import type { LoadResult } from './load.js'

export interface RequestTarget {
  host: string
  port: string
  /** Path and query. */
  path: string
  /** Wall-clock timeout, ms. */
  timeoutMs: number
}

export function sendRequest(target: RequestTarget, agent: http.Agent | false, result: LoadResult, timeline: Timeline): Promise<void> {
  const fail = (kind: 'resets' | 'timeouts', code: string): void => {
    result[kind]++
    result.errorsByCode[code] = (result.errorsByCode[code] ?? 0) + 1
    timeline.count(kind)
  }
  const started = Date.now()
  return new Promise<void>((resolve) => {
    let settled = false
    const settle = (): void => {
      if (!settled) {
        settled = true
        clearTimeout(timer)
        resolve()
      }
    }
    const req = http.request(
      { host: target.host, port: target.port, path: target.path, agent, headers: agent === false ? { connection: 'close' } : {} },
      (res) => {
        res.resume()
        res.on('end', () => {
          if (settled) return
          if (res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300) {
            result.ok++
            result.latenciesMs.push(Date.now() - started)
            timeline.count('ok')
          } else {
            result.non2xx++
            timeline.count('non2xx')
          }
          settle()
        })
        res.on('error', () => {
          if (!settled) {
            fail('resets', 'RESPONSE_ABORTED')
            settle()
          }
        })
      },
    )
    const timer = setTimeout(() => {
      if (!settled) {
        fail('timeouts', 'TIMEOUT')
        settle()
        req.destroy()
      }
    }, target.timeoutMs)
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (!settled) {
        fail('resets', err.code ?? err.message)
        settle()
      }
    })
    req.end()
  })
}
