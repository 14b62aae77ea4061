// http mode when the app fails: 502 when it cannot be reached (never started, or died),
// 504 when it does not answer within --upstream-timeout. Each with a short body, a warn
// log line naming the client, and a counter.
import t from 'tap'
import { startApp, freePort } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { RawConnection } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const header = (address: string) =>
  encodeV2({ command: 'PROXY', source: { address, port: 40001 }, destination: { address: '10.0.0.5', port: 80 }, crc32c: true, padTo: 100 })

t.test('502 when the app is not listening: short body, log line with the client, counted', async (t) => {
  const dead = await freePort()
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${dead}`], { waitReady: false })
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  conn.write(header('198.51.100.21'))
  conn.write('GET /checkout HTTP/1.1\r\nHost: app\r\n\r\n')
  const res = await conn.readResponse()
  t.equal(res.status, 502)
  t.equal(res.headers['content-type'], 'text/plain')
  t.equal(res.body, 'drainpipe: the app could not be reached\n')
  t.ok(res.body.length < 100, 'short body')
  const line = await dp.waitForLog((l) => l.msg === 'app unreachable')
  t.equal(line.level, 40, 'warn')
  t.equal(line.client, '198.51.100.21', 'the log line names the client from the PROXY header')
  t.equal(line.status, 502)
  t.equal(line.url, '/checkout')
  t.match(line.err, { code: 'ECONNREFUSED' }, 'and the cause')
  // The connection stays usable: a second request gets its own 502.
  conn.write('GET /again HTTP/1.1\r\nHost: app\r\n\r\n')
  t.equal((await conn.readResponse()).status, 502)
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_upstream_errors_total', { reason: 'connect' }), 2)
  t.equal(m.value('drainpipe_http_responses_total', { class: '5xx' }), 2)
})

t.test('502 after the app died, and again once it is back 200', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--upstream-probe-interval', '0.1'])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  conn.write(header('198.51.100.22'))
  conn.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.equal((await conn.readResponse()).status, 200, 'served while the app is up (a pool connection now idles)')
  app.proc.kill('SIGKILL')
  await app.exited
  conn.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  const res = await conn.readResponse()
  t.equal(res.status, 502, 'the dead app (idle pool connection reset) answers 502, not a hang or a cut connection')
  t.equal(res.body, 'drainpipe: the app could not be reached\n')
  const line = await dp.waitForLog((l) => l.msg === 'app unreachable')
  t.equal(line.client, '198.51.100.22')
  const again = await startApp(t, { port: app.port })
  t.equal(again.port, app.port)
  conn.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.equal((await conn.readResponse()).status, 200, 'served again once the app is back')
})

t.test('504 when the app does not answer within --upstream-timeout', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--upstream-timeout', '0.5'])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  conn.write(header('198.51.100.23'))
  conn.write('GET /?delay=2000 HTTP/1.1\r\nHost: app\r\n\r\n')
  const res = await conn.readResponse()
  t.equal(res.status, 504, 'the app would have answered 200 after 2 s')
  t.equal(res.body, 'drainpipe: the app did not answer in time (--upstream-timeout)\n')
  const line = await dp.waitForLog((l) => l.msg === 'app timed out')
  t.equal(line.level, 40)
  t.equal(line.client, '198.51.100.23')
  t.equal(line.status, 504)
  conn.write('GET /?delay=10 HTTP/1.1\r\nHost: app\r\n\r\n')
  t.equal((await conn.readResponse()).status, 200, 'the client connection still serves the next request')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_upstream_errors_total', { reason: 'timeout' }), 1)
  t.equal(m.value('drainpipe_upstream_reachable'), 1, 'a slow app is still a reachable app')
})

t.test('an Upgrade to an app that is down answers 502', async (t) => {
  const dead = await freePort()
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${dead}`], { waitReady: false })
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  conn.write(header('198.51.100.24'))
  conn.write('GET /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n')
  const res = await conn.readResponse()
  t.equal(res.status, 502)
  t.equal(res.body, 'drainpipe: the app could not be reached\n')
  t.ok(await conn.closed(), 'and closes the connection')
  const line = await dp.waitForLog((l) => l.msg === 'app unreachable for upgrade')
  t.equal(line.client, '198.51.100.24')
})

t.test("mid-response: an app that dies cuts the client and is counted; a client that leaves is not the app's failure", async (t) => {
  const { startTcpServer } = await import('../helpers/servers.js')
  // An app that promises 1 MB and dies after 1 KB on /die; on other paths streams slowly forever.
  const app = await startTcpServer(t, (socket) => {
    socket.once('data', (d: Buffer) => {
      if (d.toString('latin1').startsWith('GET /die ')) {
        socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${1024 * 1024}\r\n\r\n${'x'.repeat(1024)}`)
        setTimeout(() => socket.destroy(), 50)
        return
      }
      socket.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n')
      const timer = setInterval(() => socket.write(`4000\r\n${'y'.repeat(0x4000)}\r\n`), 5)
      socket.on('close', () => clearInterval(timer))
      socket.on('error', () => clearInterval(timer))
    })
  })
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])

  const dying = await RawConnection.open(dp.port)
  t.teardown(() => dying.close())
  dying.write(header('198.51.100.25'))
  dying.write('GET /die HTTP/1.1\r\nHost: app\r\n\r\n')
  await dying.readResponse({ headOnly: true })
  t.ok(await dying.closed(), 'the client connection is cut: the only honest signal once the status was sent')
  const line = await dp.waitForLog((l) => l.msg === 'app connection failed mid-response; client connection cut')
  t.equal(line.client, '198.51.100.25')
  t.equal((await scrapeMetrics(dp.adminUrl)).value('drainpipe_upstream_errors_total', { reason: 'reset' }), 1, 'counted as an app reset')

  const leaving = await RawConnection.open(dp.port)
  leaving.write(header('198.51.100.26'))
  leaving.write('GET /stream HTTP/1.1\r\nHost: app\r\n\r\n')
  await leaving.readResponse({ headOnly: true })
  await leaving.read(256 * 1024)
  leaving.close()
  const deadline = Date.now() + 5000
  while (Date.now() < deadline && (await scrapeMetrics(dp.adminUrl)).value('drainpipe_connections_active') !== 0)
    await new Promise((r) => setTimeout(r, 50))
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_active'), 0, "the client's departure closed everything")
  t.equal(m.value('drainpipe_upstream_errors_total'), 1, 'and is not counted as an app failure')
  t.equal(dp.logs.filter((l) => l.msg === 'app connection failed mid-response; client connection cut').length, 1, 'nor logged as one')
  const appSide = app.sockets.filter((s) => s.bytesWritten > 0)
  t.ok(
    appSide.every((s) => s.destroyed),
    'drainpipe closed its app connection for the stream the client left',
  )
})
