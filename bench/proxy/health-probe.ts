// Load-balancer health checks as the NLB sends them, timed from our side:
//   local  a PROXY v2 LOCAL header (NLB-shaped, 100 bytes) + GET; time to the status line
//   empty  connect, then close without sending a byte; time to the connect (the answer an
//          NLB TCP check waits for is the handshake)
// Runs as a child process (node build/proxy/health-probe.js '<ProbeSpec>') so it is not
// queued behind the benchmark's own work; prints one JSON line (ProbeResult).
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { localHeader } from '../rollout/nlb/proxy-header.js'
import { Samples } from './stats.js'

export interface ProbeSpec {
  port: number
  durationS: number
  /** Pause between probes, ms. */
  everyMs: number
}

export interface ProbeStats {
  count: number
  failed: number
  p50Us: number
  p99Us: number
  maxUs: number
}
export interface ProbeResult {
  local: ProbeStats
  empty: ProbeStats
}

const REQUEST = Buffer.from('GET /healthz HTTP/1.1\r\nhost: pod\r\nuser-agent: ELB-HealthChecker/2.0\r\n\r\n')

function local(port: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const s = net.connect({ host: '127.0.0.1', port, noDelay: true })
    s.write(Buffer.concat([localHeader(), REQUEST]))
    let text = ''
    s.setEncoding('latin1')
    s.on('data', (chunk: string) => {
      text += chunk
      if (text.includes('\r\n')) {
        const ok = text.startsWith('HTTP/1.1 200')
        const us = (performance.now() - t0) * 1000
        s.destroy()
        resolve(ok ? us : -1)
      }
    })
    s.on('error', () => resolve(-1))
    s.setTimeout(5000, () => {
      s.destroy()
      resolve(-1)
    })
  })
}

function empty(port: number): Promise<number> {
  return new Promise((resolve) => {
    const t0 = performance.now()
    const s = net.connect({ host: '127.0.0.1', port })
    s.once('connect', () => {
      const us = (performance.now() - t0) * 1000
      s.end()
      resolve(us)
    })
    s.on('error', () => resolve(-1))
  })
}

function stats(samples: Samples, failed: number): ProbeStats {
  const [p50, p99, max] = samples.percentiles([50, 99, 100])
  return { count: samples.count, failed, p50Us: p50!, p99Us: p99!, maxUs: max! }
}

async function run(spec: ProbeSpec): Promise<ProbeResult> {
  const l = new Samples()
  const e = new Samples()
  let lFailed = 0
  let eFailed = 0
  const end = performance.now() + spec.durationS * 1000
  while (performance.now() < end) {
    const a = await local(spec.port)
    if (a < 0) lFailed++
    else l.add(Math.round(a))
    const b = await empty(spec.port)
    if (b < 0) eFailed++
    else e.add(Math.round(b))
    await new Promise((r) => setTimeout(r, spec.everyMs))
  }
  return { local: stats(l, lFailed), empty: stats(e, eFailed) }
}

run(JSON.parse(process.argv[2] ?? '{}') as ProbeSpec).then(
  (r) => {
    process.stdout.write(`${JSON.stringify(r)}\n`)
    process.exit(0)
  },
  (err) => {
    process.stderr.write(`health-probe: ${(err as Error).stack ?? err}\n`)
    process.exit(1)
  },
)
