// One load run, as a child process (so it can be pinned to a CPU apart from the proxy):
// autocannon against a loopback port, optionally prepending a PROXY v2 header (NLB-shaped,
// 100 bytes with CRC32C) to every connection, keep-alive or one new connection per request.
// Latency is recorded per response in microseconds (autocannon's own histogram keeps whole
// milliseconds). The proxy's CPU time is read from /proc right before and after the run.
// Prints one JSON line (LoadResult).
//
//   node build/proxy/load.js '<LoadSpec JSON>'
import autocannon from 'autocannon'
import { performance } from 'node:perf_hooks'
import { clientHeader } from '../rollout/nlb/proxy-header.js'
import { cpuTimes, rssKiB } from './proc-stat.js'
import { runLoadProcess } from './load-process.js'
import { Samples } from './stats.js'

export interface LoadSpec {
  port: number
  connections: number
  durationS: number
  /** When set, the run ends after this many requests instead of after durationS (smoke runs). */
  requests?: number
  /** false: one new connection per request (the client closes it after the response). */
  keepAlive: boolean
  proxyHeader: boolean
  /** Process whose CPU and RSS are reported (the proxy; the app for direct runs). */
  watchPid: number
}

export interface LoadResult {
  requests: number
  rps: number
  p50Us: number
  p99Us: number
  p999Us: number
  errors: number
  timeouts: number
  non2xx: number
  cpuS: number
  /** The kernel's part of cpuS (system time: socket syscalls, loopback TCP). */
  sysS: number
  seconds: number
  rssKiB: number
}

interface ClientLike {
  conn: unknown
  getRequestBuffer(): Buffer
  pipelinedRequests: { terminateRequest(): { headers: { statusCode: number }; duration: number } }
}

async function run(spec: LoadSpec): Promise<LoadResult> {
  const header = spec.proxyHeader ? clientHeader({ address: '203.0.113.7', port: 40123 }, { address: '10.0.1.12', port: 8080 }) : null
  const samples = new Samples()
  let ok = 0
  let non2xx = 0
  const setupClient = (client: ClientLike) => {
    // Every completed response, counted here: with reconnectRate autocannon resets the
    // connection before it emits (and counts) the response.
    const queue = client.pipelinedRequests
    const terminate = queue.terminateRequest.bind(queue)
    queue.terminateRequest = () => {
      const resp = terminate()
      const status = resp.headers.statusCode
      if (status >= 200 && status < 300) {
        ok++
        samples.add(Math.round(resp.duration * 1000))
      } else non2xx++
      return resp
    }
    if (header === null) return
    // The first write on every new connection carries the header in front of the request.
    const build = client.getRequestBuffer.bind(client)
    let seen: unknown = null
    client.getRequestBuffer = () => {
      const req = build()
      if (client.conn === seen) return req
      seen = client.conn
      return Buffer.concat([header, req])
    }
  }
  const cpu0 = cpuTimes(spec.watchPid)
  const t0 = performance.now()
  // New connection per request: the client closes after each response (reconnectRate 1),
  // as a browser or an NLB-fronted client ending its connection would; the closing side
  // keeps TIME_WAIT, and on loopback Linux reuses those ports (tcp_tw_reuse = 2).
  const r = await autocannon({
    url: `http://127.0.0.1:${spec.port}/`,
    connections: spec.connections,
    ...(spec.requests !== undefined ? { amount: spec.requests } : { duration: spec.durationS }),
    ...(spec.keepAlive ? {} : { reconnectRate: 1 }),
    setupClient: setupClient as unknown as autocannon.Options['setupClient'],
  })
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = cpuTimes(spec.watchPid)
  const cpuS = cpu1.total - cpu0.total
  const sysS = cpu1.sys - cpu0.sys
  const [p50, p99, p999] = samples.percentiles([50, 99, 99.9])
  return {
    requests: ok,
    rps: ok / seconds,
    p50Us: p50!,
    p99Us: p99!,
    p999Us: p999!,
    errors: r.errors,
    timeouts: r.timeouts,
    non2xx,
    cpuS,
    sysS,
    seconds,
    rssKiB: rssKiB(spec.watchPid).rss,
  }
}

runLoadProcess('load', run)
