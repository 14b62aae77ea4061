// Slow and stalled clients: 2000 connections held open at once, half sending nothing and
// half trickling a PROXY header one byte at a time, replaced as they are closed. Meanwhile a
// legitimate request, an NLB health check and /readyz keep being answered, and every held
// connection is closed by --header-timeout (1 s), which the metrics count.
import t from 'tap'
import net from 'node:net'
import { performance } from 'node:perf_hooks'
import { readFileSync } from 'node:fs'
import { encodeV2 } from '../../src/proxy-protocol/index.js'
import { startApp, startDrainpipe } from '../helpers/processes.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'

// Descriptors: this process holds every connection, and drainpipe caps the pod port at about
// half its limit (fd-budget.ts). Hold 2000 where the limits allow, and start drainpipe with
// enough room for them.
const limits = /^Max open files\s+(\d+)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
const SOFT = Number(limits?.[1] ?? 1024)
const HARD = limits?.[2] === 'unlimited' ? 1 << 20 : Number(limits?.[2] ?? SOFT)
const HELD = Math.min(2000, SOFT - 200)
const DRAINPIPE_NOFILE = Math.max(SOFT, Math.min(HARD, 4 * HELD + 1000))
const WINDOW_MS = 5000
const TRICKLE_EVERY_MS = 200

const header = encodeV2({
  command: 'PROXY',
  source: { address: '203.0.113.7', port: 40000 },
  destination: { address: '10.0.0.5', port: 80 },
  crc32c: true,
})
const LOCAL = Buffer.concat([
  encodeV2({ command: 'LOCAL', family: 'TCP4', padTo: 100 }),
  Buffer.from('GET /health HTTP/1.1\r\nhost: 10.0.0.5\r\n\r\n'),
])
const GET = Buffer.concat([header, Buffer.from('GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n')])

interface Held {
  socket: net.Socket
  openedAt: number
  connectedAt: number
  sent: number
  trickle: boolean
}

t.test(
  `${HELD} stalled and trickling connections delay neither requests nor health checks, and are all closed by the header timeout`,
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--header-timeout', '1'], { nofile: DRAINPIPE_NOFILE })

    const timed = async <T>(fn: () => Promise<T>): Promise<[T, number]> => {
      const at = performance.now()
      const r = await fn()
      return [r, performance.now() - at]
    }
    const legit = () => timed(async () => parseResponse((await rawExchange(dp.port, GET, { timeoutMs: 20_000 })).data).status)
    const healthCheck = () => timed(async () => parseResponse((await rawExchange(dp.port, LOCAL, { timeoutMs: 20_000 })).data).status)
    const readyz = () => timed(async () => (await fetch(`${dp.adminUrl}/readyz`, { signal: AbortSignal.timeout(20_000) })).status)

    const baseline: number[] = []
    for (let i = 0; i < 5; i++) baseline.push((await legit())[1])

    const held = new Set<Held>()
    let opened = 0
    let closedByDrainpipe = 0
    let tooEarly = 0
    const lifetimes: number[] = []
    let replenish = true
    let stopping = false
    const open = (trickle: boolean): Promise<void> =>
      new Promise((resolve) => {
        const socket = net.connect({ port: dp.port, host: '127.0.0.1' })
        const h: Held = { socket, openedAt: performance.now(), connectedAt: 0, sent: 0, trickle }
        opened++
        socket.on('error', () => {})
        socket.once('connect', () => {
          h.connectedAt = performance.now()
          held.add(h)
          resolve()
        })
        socket.once('close', () => {
          held.delete(h)
          if (h.connectedAt === 0) {
            resolve()
            return
          }
          if (!stopping) {
            closedByDrainpipe++
            // From connect() on: drainpipe cannot have accepted before. (Its timer starts from the
            // event loop's cached clock, which may lag a busy accept batch by some ms: hence 900.)
            const life = performance.now() - h.openedAt
            lifetimes.push(life)
            if (life < 900) tooEarly++
          }
          if (replenish) void open(trickle)
        })
      })
    const trickler = setInterval(() => {
      for (const h of held) {
        if (h.trickle && h.sent < header.length && h.socket.writable) h.socket.write(header.subarray(h.sent, ++h.sent))
      }
    }, TRICKLE_EVERY_MS)
    t.teardown(() => {
      clearInterval(trickler)
      stopping = true
      replenish = false
      for (const h of held) h.socket.destroy()
    })

    // Open them in batches so the accept queue is not the bottleneck being measured.
    for (let i = 0; i < HELD; i += 200) {
      await Promise.all(Array.from({ length: Math.min(200, HELD - i) }, (_, j) => open((i + j) % 2 === 0)))
    }
    t.ok(held.size > HELD * 0.5, `connections held at once: ${held.size} (peak is ${HELD})`)

    const during: Array<{ what: string; status: number; ms: number }> = []
    let peak = 0
    const windowEnds = performance.now() + WINDOW_MS
    while (performance.now() < windowEnds) {
      peak = Math.max(peak, held.size)
      const [[s1, ms1], [s2, ms2], [s3, ms3]] = await Promise.all([legit(), healthCheck(), readyz()])
      during.push(
        { what: 'request', status: s1, ms: ms1 },
        { what: 'health check', status: s2, ms: ms2 },
        { what: 'readyz', status: s3, ms: ms3 },
      )
      await new Promise((r) => setTimeout(r, 100))
    }
    replenish = false
    // Wait for drainpipe to close the last ones: 1 s timeout, generous slack for a busy machine.
    const deadline = performance.now() + 15_000
    while (held.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    clearInterval(trickler)

    t.equal(held.size, 0, 'every held connection was closed by drainpipe')
    t.equal(closedByDrainpipe, opened, `all ${opened} connections opened were closed by drainpipe`)
    t.equal(tooEarly, 0, `none before the 1 s header timeout (shortest ${Math.round(Math.min(...lifetimes))} ms)`)
    lifetimes.sort((a, b) => a - b)
    const p50 = lifetimes[Math.floor(lifetimes.length / 2)]!
    const max = lifetimes.at(-1)!
    t.ok(max < 10_000, `longest lifetime ${Math.round(max)} ms (median ${Math.round(p50)} ms) stays near the 1 s timeout`)

    for (const d of during) t.equal(d.status, 200, `${d.what} answered 200 under load`)
    const worst = (what: string) => Math.max(...during.filter((d) => d.what === what).map((d) => d.ms))
    for (const what of ['request', 'health check', 'readyz'])
      t.ok(worst(what) < 5000, `${what}: slowest ${Math.round(worst(what))} ms under load`)
    t.comment(
      `held ${HELD} (peak seen ${peak}), opened ${opened} in ${WINDOW_MS} ms; request latency baseline median ${Math.round(baseline.sort((a, b) => a - b)[2]!)} ms, under load worst ${Math.round(worst('request'))} ms; ${during.length / 3} rounds`,
    )

    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_connections_refused_total', { reason: 'header_timeout' }), opened, 'each one counted as header_timeout')
    t.equal(m.value('drainpipe_connections_active'), 0, 'none left open')
    t.equal(
      m.value('drainpipe_health_checks_total', { type: 'local' }),
      during.length / 3,
      'every LOCAL health check was answered without the app',
    )
  },
)
