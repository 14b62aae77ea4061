// App faults: down at start, crash mid-request, resets, garbage, slow. Clients get 502/504
// or a clean close, drainpipe stays up, readiness follows the app, and it recovers when
// the app comes back.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { freePort, startApp } from '../helpers/processes.js'
import { startInProcess, type InProcessDrainpipe } from '../helpers/sidecar.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { encodeV2 } from '../../src/proxy-protocol/index.js'

const LOCAL_HC = Buffer.concat([
  encodeV2({ command: 'LOCAL', family: 'TCP4', padTo: 100 }),
  Buffer.from('GET /health HTTP/1.1\r\nhost: x\r\n\r\n'),
])
const readyz = async (dp: InProcessDrainpipe) => (await fetch(`${dp.adminUrl}/readyz`, { signal: AbortSignal.timeout(5000) })).status
const request = async (dp: InProcessDrainpipe, path = '/') =>
  parseResponse((await rawExchange(dp.port, `GET ${path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`, { timeoutMs: 15_000 })).data)
const healthCheck = async (dp: InProcessDrainpipe) => parseResponse((await rawExchange(dp.port, LOCAL_HC)).data).status

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** A TCP server that does `onConnection` to every connection (reset it, answer garbage, ...). */
async function rawApp(t: { teardown(fn: () => unknown): void }, onConnection: (s: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(
    () =>
      new Promise<void>((r) => {
        server.close(() => r())
      }),
  )
  return (server.address() as net.AddressInfo).port
}

t.test('app down at start: readyz 503, 502s, health checks 503; then the app starts and everything recovers', async (t) => {
  const appPort = await freePort()
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${appPort}`, '--upstream-probe-interval', '0.2'], { waitReady: false })
  t.equal(await readyz(dp), 503, 'not ready while the app is down')
  const res = await request(dp)
  t.equal(res.status, 502, 'a request gets 502')
  t.match(res.body, /could not be reached/)
  t.equal(await healthCheck(dp), 503, 'the LB health check fails too')

  await startApp(t, { port: appPort })
  await until('readyz 200 after the app started', async () => (await readyz(dp)) === 200)
  t.equal((await request(dp)).status, 200, 'requests are served')
  t.equal(await healthCheck(dp), 200)
  const m = await scrapeMetrics(dp.adminUrl)
  t.ok(m.value('drainpipe_upstream_errors_total', { reason: 'connect' }) >= 1, 'the failed connect was counted')
  t.equal((await fetch(`${dp.adminUrl}/livez`)).status, 200, 'drainpipe is still up')
})

t.test('app crash mid-request: 502 before the response started, a cut connection after; drainpipe stays up and recovers', async (t) => {
  const appPort = await freePort()
  const app = await startApp(t, { port: appPort })
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${appPort}`, '--upstream-probe-interval', '0.2'])

  const waiting = request(dp, '/?delay=5000')
  // A large streamed body: the crash lands after the response started.
  const streaming = rawExchange(dp.port, 'GET /?bytes=500000000 HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', { timeoutMs: 15_000 })
  await new Promise((r) => setTimeout(r, 500))
  app.proc.kill('SIGKILL')
  await app.exited

  const before = await waiting
  t.equal(before.status, 502, 'the request waiting for its answer gets 502')
  const during = await streaming
  const head = parseResponse(during.data)
  t.equal(head.status, 200, 'the streamed response had started')
  t.ok(
    during.data.length < 500_000_000,
    `and was cut (${during.data.length} bytes of 500 MB): the client sees it incomplete, not a clean end`,
  )
  t.not(during.closedBy, 'timeout')

  await until('readyz 503 after the crash', async () => (await readyz(dp)) === 503)
  t.equal(await healthCheck(dp), 503, 'health checks fail while the app is gone')
  t.equal((await request(dp)).status, 502)

  await startApp(t, { port: appPort })
  await until('readyz 200 again', async () => (await readyz(dp)) === 200)
  t.equal((await request(dp)).status, 200, 'served again')
  t.equal((await fetch(`${dp.adminUrl}/livez`)).status, 200, 'drainpipe is still up')
})

t.test('app resets connections or answers garbage: 502, counted; tcp mode closes the client', async (t) => {
  const resetPort = await rawApp(t, (s) => {
    s.once('data', () => s.resetAndDestroy())
  })
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${resetPort}`])
  t.equal((await request(dp)).status, 502, 'reset before answering: 502')

  const garbagePort = await rawApp(t, (s) => {
    s.once('data', () => s.end('garbage\r\n\r\n'))
  })
  const dp2 = await startInProcess(t, ['--upstream', `127.0.0.1:${garbagePort}`])
  t.equal((await request(dp2)).status, 502, 'an invalid HTTP answer: 502')

  const dp3 = await startInProcess(t, ['--upstream', `127.0.0.1:${resetPort}`, '--mode', 'tcp'])
  const tcp = await rawExchange(dp3.port, 'hello\n')
  t.equal(tcp.data.length, 0, 'tcp mode: the client connection is closed, nothing invented')
  t.not(tcp.closedBy, 'timeout')

  for (const d of [dp, dp2, dp3]) t.equal((await fetch(`${d.adminUrl}/livez`)).status, 200, 'drainpipe is still up')
  t.equal((await scrapeMetrics(dp.adminUrl)).value('drainpipe_http_responses_total', { class: '5xx' }), 1)
})

t.test('app slow: 504 after --upstream-timeout; the app being slow does not fail readiness', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--upstream-timeout', '0.5'])
  const started = Date.now()
  const res = await request(dp, '/?delay=4000')
  t.equal(res.status, 504, 'the app did not answer in time')
  t.ok(Date.now() - started < 4000, 'answered before the app would have')
  t.equal((await request(dp, '/?delay=10')).status, 200, 'a quick request is fine')
  t.equal(await readyz(dp), 200, 'still ready: the app is reachable, just slow')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_upstream_errors_total', { reason: 'timeout' }), 1)
})
