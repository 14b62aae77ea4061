// Health checks stay instant next to HTTP/2 traffic, over real sockets and a real drainpipe
// process: with an h2c connection open and a stream held on it, the NLB's HTTP check (PROXY v2
// LOCAL + HTTP/1.1) is answered by drainpipe at once and a TCP check (connect, close) is counted
// as one; a client's GET /healthz over HTTP/2 is forwarded to the app exactly as over HTTP/1.1;
// and a LOCAL check that speaks HTTP/2 gets drainpipe's own answer over HTTP/2.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startDrainpipe } from '../helpers/processes.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { h2Connect, h2Request, startH2App } from '../helpers/h2.js'
import { encodeV2 } from '../../src/proxy-protocol/encode.js'

const LOCAL = encodeV2({ command: 'LOCAL', family: 'TCP4', crc32c: true, padTo: 100 })
const NLB_CHECK = Buffer.concat([
  LOCAL,
  Buffer.from('GET /healthz HTTP/1.1\r\nhost: 10.0.0.5\r\nuser-agent: ELB-HealthChecker/2.0\r\n\r\n'),
])

// The app answers /healthz with its own body (so an answer from the app is told from drainpipe's); /hold never answers.
const app = await startH2App(t, (stream, headers) => {
  if (headers[':path'] === '/hold') return
  stream.respond({ ':status': 200, 'content-type': 'text/plain' })
  stream.end('app healthz\n')
})
const dp = await startDrainpipe(t, ['--upstream', `127.0.0.1:${app.port}`, '--upstream-protocol', 'h2c'])

t.test('an h2c connection with a stream in flight does not disturb the NLB HTTP and TCP checks', async (t) => {
  const client = h2Connect(t, dp.port)
  const held = client.session.request({ ':path': '/hold' })
  held.on('error', () => {})
  await new Promise((r) => setTimeout(r, 100))

  // The held stream never completes: an answer at all shows the check is not queued behind it.
  const check = await rawExchange(dp.port, NLB_CHECK, { timeoutMs: 5000 })
  const res = parseResponse(check.data)
  t.equal(res.status, 200, 'the HTTP check is answered 200 while the stream is held')
  t.equal(res.body, 'ok\n', "by drainpipe itself, not the app's /healthz")

  const probe = net.connect(dp.port, '127.0.0.1')
  await once(probe, 'connect')
  probe.end()
  await once(probe, 'close')
  let m = await scrapeMetrics(dp.adminUrl)
  for (let i = 0; i < 50 && m.value('drainpipe_health_checks_total', { type: 'empty' }) < 1; i++) {
    await new Promise((r) => setTimeout(r, 20))
    m = await scrapeMetrics(dp.adminUrl)
  }
  t.equal(m.value('drainpipe_health_checks_total', { type: 'local' }), 1, 'the HTTP check counted as one')
  t.equal(m.value('drainpipe_health_checks_total', { type: 'empty' }), 1, 'the TCP check counted as one')
  t.equal(m.value('drainpipe_http2_streams_total'), 1, 'neither became an HTTP/2 stream')
  t.notOk(held.closed, 'the held stream is undisturbed')
  held.close()
})

t.test("a client's GET /healthz over HTTP/2 is forwarded to the app, as over HTTP/1.1", async (t) => {
  const client = h2Connect(t, dp.port)
  const r = await h2Request(client.session, { ':path': '/healthz' })
  t.equal(r.status, 200)
  t.equal(r.body.toString(), 'app healthz\n', "the app's answer: a client request is the app's to answer")
})

t.test("a LOCAL health check speaking HTTP/2 gets drainpipe's answer over HTTP/2", async (t) => {
  const client = h2Connect(t, dp.port, LOCAL)
  const r = await h2Request(client.session, { ':path': '/healthz' })
  t.equal(r.status, 200)
  t.equal(r.body.toString(), 'ok\n', "drainpipe's own answer, as over HTTP/1.1")
  await client.closed
  t.pass('and the connection closes after it, as the HTTP/1.1 answer does')
})
