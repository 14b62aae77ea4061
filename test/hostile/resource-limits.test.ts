// Resource limits: drainpipe under a 64-descriptor limit facing 150 connections, and the
// --max-connections cap. Neither crashes nor spins; the admin port stays reachable; the
// refusals are counted; service resumes when connections close; SIGTERM still exits 0.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startApp, startDrainpipe, type Drainpipe } from '../helpers/processes.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { within } from '../helpers/wait.js'
import { readdirSync } from 'node:fs'
import { cpuSeconds } from '../../bench/proxy/proc-stat.js'

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length
const FD_LIMIT = 64
const FLOOD = 150

/** Open `n` connections that send nothing; resolves once each connected or was refused. */
async function hold(t: { teardown(fn: () => unknown): void }, port: number, n: number): Promise<net.Socket[]> {
  const sockets: net.Socket[] = []
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ port, host: '127.0.0.1' })
          sockets.push(s)
          s.on('error', () => {})
          s.once('connect', () => resolve())
          s.once('close', () => resolve())
        }),
    ),
  )
  t.teardown(() => {
    for (const s of sockets) s.destroy()
  })
  return sockets
}

const request = async (dp: Drainpipe) =>
  parseResponse((await rawExchange(dp.port, 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', { timeoutMs: 5000 })).data).status
const status = async (url: string) => {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(5000) })).status
  } catch (err) {
    return `${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).name}`
  }
}

t.test(
  `out of file descriptors (ulimit -n ${FD_LIMIT}, ${FLOOD} connections): no crash, no spin, admin reachable, counted, recovers`,
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(
      t,
      ['--upstream', `127.0.0.1:${app.port}`, '--header-timeout', '60', '--upstream-probe-interval', '0.2'],
      { nofile: FD_LIMIT },
    )
    const pid = dp.proc.pid!
    t.comment(`descriptors open at start: ${openFds(pid)} of ${FD_LIMIT}`)

    const held = await hold(t, dp.port, FLOOD)
    await new Promise((r) => setTimeout(r, 300))
    const stillOpen = held.filter((s) => !s.destroyed).length
    t.ok(stillOpen < FLOOD, `${FLOOD - stillOpen} of ${FLOOD} connections were shed, ${stillOpen} held`)

    // Keep knocking for 2 s and watch the CPU drainpipe uses meanwhile.
    const cpuBefore = cpuSeconds(pid)
    const knockUntil = Date.now() + 2000
    let knocks = 0
    while (Date.now() < knockUntil) {
      const s = net.connect({ port: dp.port, host: '127.0.0.1' })
      s.on('error', () => {})
      knocks++
      await new Promise((r) => setTimeout(r, 20))
      s.destroy()
    }
    const cpu = cpuSeconds(pid) - cpuBefore
    t.ok(cpu < 1, `drainpipe used ${cpu.toFixed(2)} CPU-s in 2 s of ${knocks} refused connections: it does not spin`)
    t.equal(dp.proc.exitCode, null, 'still running')

    t.equal(await status(`${dp.adminUrl}/livez`), 200, 'the admin port answers /livez while the pod port is saturated')
    const m = await scrapeMetrics(dp.adminUrl)
    const refused = m.value('drainpipe_connections_refused_total', { reason: 'fd_limit' }) + m.value('drainpipe_accept_errors_total')
    t.ok(refused >= FLOOD - stillOpen, `refusals counted: ${refused}`)

    for (const s of held) s.destroy()
    let recovered: number | string = 0
    for (let i = 0; i < 50 && recovered !== 200; i++) {
      recovered = await request(dp)
      if (recovered !== 200) await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(recovered, 200, 'requests are served again once the connections closed')
    t.equal(await status(`${dp.adminUrl}/readyz`), 200, 'and readiness is back')
  },
)

t.test(
  `--max-connections above what ulimit -n ${FD_LIMIT} allows: accept fails (EMFILE) and libuv sheds; no crash, no spin, recovers`,
  async (t) => {
    const app = await startApp(t)
    const dp = await startDrainpipe(
      t,
      ['--upstream', `127.0.0.1:${app.port}`, '--header-timeout', '60', '--max-connections', '100000', '--upstream-probe-interval', '0.2'],
      { nofile: FD_LIMIT },
    )
    const pid = dp.proc.pid!
    const held = await hold(t, dp.port, FLOOD)
    for (let i = 0; i < 60 && openFds(pid) < FD_LIMIT - 1; i++) await new Promise((r) => setTimeout(r, 50))
    t.ok(openFds(pid) >= FD_LIMIT - 1, `descriptors exhausted: ${openFds(pid)} open`)
    const cpuBefore = cpuSeconds(pid)
    for (let i = 0; i < 50; i++) {
      const s = net.connect({ port: dp.port, host: '127.0.0.1' })
      s.on('error', () => {})
      await new Promise((r) => setTimeout(r, 40))
      s.destroy()
    }
    const cpu = cpuSeconds(pid) - cpuBefore
    t.ok(cpu < 1, `drainpipe used ${cpu.toFixed(2)} CPU-s in 2 s of shed connections: it does not spin`)
    t.equal(dp.proc.exitCode, null, 'still running')
    for (const s of held) s.destroy()
    let recovered: number | string = 0
    for (let i = 0; i < 50 && recovered !== 200; i++) {
      recovered = await request(dp)
      if (recovered !== 200) await new Promise((r) => setTimeout(r, 100))
    }
    t.equal(recovered, 200, 'served again once the connections closed')
    t.equal(await status(`${dp.adminUrl}/readyz`), 200)
  },
)

t.test('SIGTERM while out of file descriptors: drains and exits 0', async (t) => {
  const app = await startApp(t)
  // A cap above the limit, so the descriptors really run out.
  const dp = await startDrainpipe(
    t,
    [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--header-timeout',
      '60',
      '--quiet-period',
      '0.5',
      '--drain-timeout',
      '2',
      '--max-connections',
      '100000',
    ],
    { nofile: FD_LIMIT },
  )
  await hold(t, dp.port, FLOOD)
  for (let i = 0; i < 60 && openFds(dp.proc.pid!) < FD_LIMIT - 1; i++) await new Promise((r) => setTimeout(r, 50))
  t.ok(openFds(dp.proc.pid!) >= FD_LIMIT - 1, 'descriptors exhausted')
  dp.proc.kill('SIGTERM')
  const exit = await within(dp.exited, 15_000)
  t.same(exit, { code: 0, signal: null }, 'exit 0')
})

t.test('--max-connections 5: the sixth connection is closed at once and counted; a slot frees when one closes', async (t) => {
  const app = await startApp(t)
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--max-connections', '5'])
  const held = await hold(t, dp.port, 5)
  await new Promise((r) => setTimeout(r, 200))
  t.equal(held.filter((s) => !s.destroyed).length, 5, 'five held')

  const sixth = net.connect({ port: dp.port, host: '127.0.0.1' })
  sixth.on('error', () => {})
  const got: Buffer[] = []
  sixth.on('data', (d: Buffer) => got.push(d))
  const closed = await within(once(sixth, 'close'), 5000)
  t.not(closed, 'timeout', 'the sixth is closed by drainpipe')
  t.equal(Buffer.concat(got).length, 0, 'without a byte')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_refused_total', { reason: 'max_connections' }), 1, 'counted as max_connections')
  t.ok(
    dp.logs.some((l) => /max-connections/.test(String(l.msg))),
    'and logged',
  )

  held[0]!.destroy()
  await new Promise((r) => setTimeout(r, 200))
  t.equal(await request(dp), 200, 'a freed slot serves a request')
})
