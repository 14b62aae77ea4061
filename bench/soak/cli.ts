// npm run bench:soak [-- --duration S | --connections N | --churn N | --mode http|tcp | --seed N | --settle S]
//
// Memory under sustained load with connection churn: does drainpipe's resident memory stay
// flat? autocannon keeps `connections` keep-alive clients busy for `duration` seconds while a
// churn loop opens `churn` short connections per second of mixed kinds (seeded), each one a
// different path through drainpipe:
//   request    PROXY v2 header + one request, then close      (classify → forward → close)
//   local      PROXY v2 LOCAL health check                    (health responder)
//   empty      connect and close without a byte               (TCP health check)
//   bad        a PROXY signature followed by garbage          (reader error, refused)
//   idle       connect, send nothing, client leaves early     (pending set cleanup)
//   abandon    half a request, then the client resets         (forwarder cleanup)
// RSS is sampled every second. Reported: RSS before load, after warm-up (10% of the run), at
// the middle and the end, and after the load stopped; the drift end − warm-up; the slope of a
// least-squares line over the second half (a leak grows linearly); descriptors and open
// connections before and after (a leak of either shows up there first). V8's heap can take a
// minute or more to settle, so judge a leak on runs of 180 s or longer.
//
// The last stdout line is one JSON object with every figure.
import net from 'node:net'
import { parseArgs } from 'node:util'
import { readdirSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import autocannon from 'autocannon'
import { encodeV2 } from '../../dist/proxy-protocol/index.js'
import { inspectMachine, type Placement } from '../proxy/processes.js'
import { startApp, startDrainpipe } from '../proxy/targets.js'
import { rssKiB } from '../proxy/proc-stat.js'

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '16' },
    churn: { type: 'string', default: '100' },
    mode: { type: 'string', default: 'http' },
    seed: { type: 'string', default: '1' },
    settle: { type: 'string', default: '5' },
  },
})
const durationS = Number(values.duration)
const connections = Number(values.connections)
const churnPerS = Number(values.churn)
const mode = values.mode === 'tcp' ? 'tcp' : 'http'
const seed = Number(values.seed)
const settleS = Number(values.settle)
if (!(durationS > 0) || !(connections > 0) || !(churnPerS >= 0))
  throw new Error('--duration, --connections and --churn take positive numbers')

const log = (msg: string) => process.stderr.write(`${msg}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** mulberry32: a small seeded PRNG, so a run's mix of connection kinds can be repeated. */
function prng(s: number): () => number {
  return () => {
    s = (s + 0x6d2b79f5) | 0
    let x = Math.imul(s ^ (s >>> 15), 1 | s)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const KINDS = [
  ['request', 0.5],
  ['local', 0.15],
  ['empty', 0.1],
  ['bad', 0.1],
  ['idle', 0.1],
  ['abandon', 0.05],
] as const
type Kind = (typeof KINDS)[number][0]

const HEADER = encodeV2({
  command: 'PROXY',
  source: { address: '203.0.113.7', port: 40000 },
  destination: { address: '10.0.0.5', port: 80 },
  crc32c: true,
})
const LOCAL = Buffer.concat([
  encodeV2({ command: 'LOCAL', family: 'TCP4', padTo: 100 }),
  Buffer.from('GET /health HTTP/1.1\r\nhost: x\r\n\r\n'),
])
const REQUEST = Buffer.concat([HEADER, Buffer.from('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')])
const BAD = Buffer.concat([HEADER.subarray(0, 12), Buffer.from([0x21, 0x11, 0xff, 0xff, 1, 2, 3])])
const HALF = Buffer.concat([HEADER, Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n')])

/** One churn connection of `kind`; resolves when it is over, with whether it went as expected. */
function churnOne(port: number, kind: Kind, rand: () => number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' })
    let bytes = 0
    const timer = setTimeout(() => {
      s.destroy()
      resolve(false)
    }, 10_000)
    const finish = (ok: boolean) => {
      clearTimeout(timer)
      resolve(ok)
    }
    s.on('data', (d: Buffer) => {
      bytes += d.length
    })
    s.on('error', () => {})
    s.once('connect', () => {
      switch (kind) {
        case 'request':
          s.write(REQUEST)
          s.once('close', () => finish(bytes > 0))
          return
        case 'local':
          s.write(LOCAL)
          s.once('close', () => finish(bytes > 0))
          return
        case 'empty':
          s.end()
          s.once('close', () => finish(true))
          return
        case 'bad':
          s.write(BAD)
          s.once('close', () => finish(bytes === 0))
          return
        case 'idle':
          setTimeout(() => {
            s.destroy()
            finish(true)
          }, rand() * 500)
          return
        case 'abandon':
          s.write(HALF)
          setTimeout(() => {
            s.resetAndDestroy()
            finish(true)
          }, rand() * 100)
      }
    })
  })
}

async function metricsText(adminPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
}
/** A metric summed over its label sets (per-port metrics carry a port label), NaN when absent. */
const metric = (text: string, name: string) => {
  const values = [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, 'gm'))].map((m) => Number(m[1]))
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0)
}

async function main(): Promise<void> {
  const machine = inspectMachine()
  const placement: Placement = { cpus: null, nofile: machine.prlimit ? 65536 : null }
  const app = await startApp(machine, placement)
  const dp = await startDrainpipe(machine, placement, { mode, upstreamPort: app.port, extraArgs: ['--header-timeout', '2'] })
  const pid = dp.proc.pid
  const fds = () => readdirSync(`/proc/${pid}/fd`).length
  log(
    `bench:soak: drainpipe ${mode} (pid ${pid}), ${durationS} s, autocannon ${connections} keep-alive connections + ${churnPerS} churn connections/s (seed ${seed})`,
  )

  await sleep(1000)
  const before = { rssKiB: rssKiB(pid).rss, fds: fds() }
  const samples: Array<{ s: number; rssKiB: number }> = []
  const t0 = performance.now()
  const sampler = setInterval(() => samples.push({ s: (performance.now() - t0) / 1000, rssKiB: rssKiB(pid).rss }), 1000)

  // Keep-alive load.
  const cannonDone = new Promise<autocannon.Result>((resolve, reject) => {
    autocannon({ url: `http://127.0.0.1:${dp.port}/`, connections, duration: durationS, timeout: 10 }, (err, result) =>
      err ? reject(err) : resolve(result),
    )
  })

  // Churn at a steady rate, in 100 ms ticks.
  const rand = prng(seed)
  const counts = Object.fromEntries(KINDS.map(([k]) => [k, { done: 0, unexpected: 0 }])) as Record<
    Kind,
    { done: number; unexpected: number }
  >
  const inFlight = new Set<Promise<boolean>>()
  const pick = (): Kind => {
    let x = rand()
    for (const [k, w] of KINDS) {
      if ((x -= w) < 0) return k
    }
    return 'request'
  }
  const endAt = t0 + durationS * 1000
  let carry = 0
  while (performance.now() < endAt) {
    carry += churnPerS / 10
    for (; carry >= 1; carry--) {
      const kind = pick()
      const p = churnOne(dp.port, kind, rand).then((ok) => {
        counts[kind].done++
        if (!ok) counts[kind].unexpected++
        inFlight.delete(p)
        return ok
      })
      inFlight.add(p)
    }
    await sleep(100)
  }
  const result = await cannonDone
  await Promise.all(inFlight)
  await sleep(settleS * 1000) // header timeouts (2 s) and the app pool's idle connections (4 s) settle
  clearInterval(sampler)
  const after = { rssKiB: rssKiB(pid).rss, fds: fds() }
  const text = await metricsText(dp.adminPort!)
  const active = metric(text, 'drainpipe_connections_active')

  const at = (fraction: number) => {
    const target = durationS * fraction
    return samples.reduce((best, x) => (Math.abs(x.s - target) < Math.abs(best.s - target) ? x : best), samples[0]!).rssKiB
  }
  const warm = at(0.1)
  const middle = at(0.5)
  const end = at(1)
  const secondHalf = samples.filter((x) => x.s >= durationS / 2 && x.s <= durationS)
  const slopeKiBPerMin = slope(secondHalf.map((x) => [x.s, x.rssKiB])) * 60
  const churned = Object.values(counts).reduce((a, c) => a + c.done, 0)
  const unexpected = Object.values(counts).reduce((a, c) => a + c.unexpected, 0)
  const mib = (k: number) => (k / 1024).toFixed(1)

  const lines = [
    '',
    `| | RSS MiB |`,
    '| --- | --- |',
    `| before load | ${mib(before.rssKiB)} |`,
    `| after warm-up (${(durationS * 0.1).toFixed(0)} s) | ${mib(warm)} |`,
    `| middle (${(durationS * 0.5).toFixed(0)} s) | ${mib(middle)} |`,
    `| end (${durationS} s) | ${mib(end)} |`,
    `| ${settleS} s after the load stopped | ${mib(after.rssKiB)} |`,
    '',
    `drift end − warm-up: ${((end - warm) / 1024).toFixed(1)} MiB (${(((end - warm) / warm) * 100).toFixed(1)}%); second-half slope ${(slopeKiBPerMin / 1024).toFixed(2)} MiB/min`,
    `keep-alive load: ${result.requests.total} requests (${Math.round(result.requests.average)} req/s), ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`,
    `churn: ${churned} connections (${KINDS.map(([k]) => `${k} ${counts[k].done}`).join(', ')}), ${unexpected} not as expected`,
    `descriptors: ${before.fds} before, ${after.fds} after; open connections after: ${active}`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  process.stdout.write(
    `${JSON.stringify({
      mode,
      durationS,
      connections,
      churnPerS,
      seed,
      rssMiB: { before: before.rssKiB / 1024, warm: warm / 1024, middle: middle / 1024, end: end / 1024, after: after.rssKiB / 1024 },
      driftMiB: (end - warm) / 1024,
      driftPct: ((end - warm) / warm) * 100,
      slopeMiBPerMin: slopeKiBPerMin / 1024,
      requests: result.requests.total,
      rps: result.requests.average,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      churn: counts,
      churned,
      unexpected,
      fds: { before: before.fds, after: after.fds },
      activeAfter: active,
    })}\n`,
  )
  await dp.proc.kill()
  await app.proc.kill()
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((a, p) => a + p[0], 0) / n
  const my = points.reduce((a, p) => a + p[1], 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench:soak: ${(err as Error).stack ?? err}\n`)
    process.exit(1)
  },
)
