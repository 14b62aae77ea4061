// One HTTP/2 load run (h2c, prior knowledge), as a child process like load.ts: `connections`
// concurrent streams spread over sessions of up to STREAMS_PER_SESSION each (as a gRPC client
// multiplexes calls on a few connections), each stream slot sending GET / as soon as its last
// answer ended, until the duration (or request count) is reached. With proxyHeader every
// session's connection starts with an NLB-shaped PROXY v2 header. Same LoadResult as load.ts.
//
//   node build/proxy/load-h2.js '<LoadSpec JSON>'
import http2 from 'node:http2'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { clientHeader } from '../rollout/nlb/proxy-header.js'
import { cpuTimes, rssKiB } from './proc-stat.js'
import { runLoadProcess } from './load-process.js'
import { Samples } from './stats.js'
import type { LoadResult, LoadSpec } from './load.js'

const STREAMS_PER_SESSION = 10

async function run(spec: LoadSpec): Promise<LoadResult> {
  const header = spec.proxyHeader ? clientHeader({ address: '203.0.113.7', port: 40123 }, { address: '10.0.1.12', port: 8080 }) : null
  const samples = new Samples()
  let ok = 0
  let non2xx = 0
  let errors = 0
  let sent = 0
  const sessionCount = Math.max(1, Math.ceil(spec.connections / STREAMS_PER_SESSION))
  const sessions = Array.from({ length: sessionCount }, () => {
    const s = http2.connect(`http://127.0.0.1:${spec.port}`, {
      createConnection: () => {
        const socket = net.connect({ port: spec.port, host: '127.0.0.1', noDelay: true })
        if (header) socket.write(header)
        return socket
      },
    })
    s.on('error', () => {})
    return s
  })
  await Promise.all(sessions.map((s) => new Promise((r) => s.once('remoteSettings', r))))

  const cpu0 = cpuTimes(spec.watchPid)
  const t0 = performance.now()
  const deadline = t0 + spec.durationS * 1000
  const more = () => (spec.requests !== undefined ? sent < spec.requests : performance.now() < deadline)
  const slot = (session: http2.ClientHttp2Session) =>
    new Promise<void>((resolve) => {
      const next = () => {
        if (!more() || session.destroyed) return resolve()
        sent++
        const started = performance.now()
        const req = session.request({ ':path': '/' }, { endStream: true })
        let status = 0
        req.on('response', (h) => {
          status = Number(h[':status'])
        })
        req.on('data', () => {})
        req.on('error', () => {})
        req.on('close', () => {
          if (status >= 200 && status < 300) {
            ok++
            samples.add(Math.round((performance.now() - started) * 1000))
          } else if (status > 0) non2xx++
          else errors++
          next()
        })
      }
      next()
    })
  const slots: Promise<void>[] = []
  for (let i = 0; i < spec.connections; i++) slots.push(slot(sessions[i % sessionCount]!))
  await Promise.all(slots)
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = cpuTimes(spec.watchPid)
  for (const s of sessions) s.destroy()
  const [p50, p99, p999] = samples.percentiles([50, 99, 99.9])
  return {
    requests: ok,
    rps: ok / seconds,
    p50Us: p50!,
    p99Us: p99!,
    p999Us: p999!,
    errors,
    timeouts: 0,
    non2xx,
    cpuS: cpu1.total - cpu0.total,
    sysS: cpu1.sys - cpu0.sys,
    seconds,
    rssKiB: rssKiB(spec.watchPid).rss,
  }
}

runLoadProcess('load-h2', run)
