// http mode when the app fails: 502 when it cannot be reached (never started, or died),
// 504 when it does not answer within --upstream-timeout. Each with a short body, a warn
// log line naming the client, and a counter.
import t from 'tap'
import { startApp, startDrainpipe, freePort } from '../helpers/processes.js'
import { RawConnection } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const header = (address: string) => encodeV2({ command: 'PROXY', source: { address, port: 40001 }, destination: { address: '10.0.0.5', port: 80 }, crc32c: true, padTo: 100 })

t.test('502 when the app is not listening: short body, log line with the client, counted', async (t) => {
  const dead = await freePort()
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${dead}`], { waitReady: false })
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
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--upstream-probe-interval', '0.1'])
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
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--upstream-timeout', '0.5'])
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
  const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${dead}`], { waitReady: false })
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
