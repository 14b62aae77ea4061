// http mode end to end: the forwarding headers the app sees (replace and append), the VPC
// endpoint id from a v2 TLV, hop-by-hop removal both ways, keep-alive reuse, pipelining,
// Upgrade passthrough and the debug request log. drainpipe in-process, real sockets.
import t from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { startApp } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { RawConnection } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { headerMap } from '../helpers/servers.js'
import { encodeV2, encodeAwsVpceTlv, encodeV1 } from '../../src/proxy-protocol/encode.js'

interface Echo {
  method: string
  url: string
  rawHeaders: string[]
  upstreamPort: number
}

// The app for this file: echoes what it received (method, url, raw headers, the port of
// drainpipe's pool connection); /hop answers with hop-by-hop fields; ?delay=ms waits.
const seen: Echo[] = []
const echo = http.createServer((req, res) => {
  const e: Echo = { method: req.method!, url: req.url!, rawHeaders: req.rawHeaders, upstreamPort: req.socket.remotePort! }
  seen.push(e)
  req.resume()
  const delay = Number(new URL(req.url!, 'http://x').searchParams.get('delay') ?? 0)
  req.on('end', () =>
    setTimeout(() => {
      const body = JSON.stringify(e)
      const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }
      if (req.url === '/hop')
        Object.assign(headers, {
          connection: 'X-App-Private',
          'x-app-private': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          'x-app-public': 'fine',
        })
      res.writeHead(200, headers)
      res.end(body)
    }, delay),
  )
})
echo.keepAliveTimeout = 30_000
echo.listen(0, '127.0.0.1')
await once(echo, 'listening')
t.teardown(() => {
  echo.closeAllConnections()
  echo.close()
})
const echoPort = (echo.address() as AddressInfo).port

const replace = await startInProcess(t, ['--upstream', `127.0.0.1:${echoPort}`, '--log-level', 'debug'])
const append = await startInProcess(t, ['--upstream', `127.0.0.1:${echoPort}`, '--xff', 'append'])

const CLIENT = { address: '203.0.113.7', port: 51234 }
const nlbHeader = (dstPort: number, vpceId?: string, source = CLIENT) =>
  encodeV2({
    command: 'PROXY',
    source,
    destination: { address: source.address.includes(':') ? '2001:db8::10' : '10.0.0.5', port: dstPort },
    tlvs: vpceId ? [encodeAwsVpceTlv(vpceId)] : [],
    crc32c: true,
    padTo: source.address.includes(':') ? undefined : 100,
  })

/** One request on a fresh connection behind `header`; returns what the app saw and the response. */
async function exchange(
  port: number,
  header: Buffer | null,
  request: string,
): Promise<{ app: Map<string, string[]>; echo: Echo; status: number; headers: Record<string, string> }> {
  const conn = await RawConnection.open(port)
  try {
    if (header) conn.write(header)
    conn.write(request)
    const res = await conn.readResponse()
    const e = JSON.parse(res.body) as Echo
    return { app: headerMap(e.rawHeaders), echo: e, status: res.status, headers: res.headers }
  } finally {
    conn.close()
  }
}

const FORGED =
  'GET /who HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\nForwarded: for=6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n' +
  'X-Forwarded-Proto: https\r\nX-Forwarded-Port: 8443\r\nX-Amzn-Vpce-Id: vpce-forged\r\n\r\n'

t.test("--xff replace (default): the client's forwarding headers are dropped, the PROXY header's client set", async (t) => {
  const r = await exchange(replace.port, nlbHeader(80), FORGED)
  t.equal(r.status, 200)
  t.same(r.app.get('x-forwarded-for'), [CLIENT.address], 'X-Forwarded-For: only the client from the PROXY header')
  t.same(r.app.get('x-real-ip'), [CLIENT.address])
  t.same(r.app.get('forwarded'), [`for=${CLIENT.address};proto=http`])
  t.same(r.app.get('x-forwarded-proto'), ['http'])
  t.same(r.app.get('x-forwarded-port'), ['80'], 'X-Forwarded-Port: the port the client connected to')
  t.notOk(r.app.has('x-amzn-vpce-id'), 'a client-sent VPC endpoint id never reaches the app')
  t.same(r.app.get('host'), ['app'], 'other fields pass untouched')
})

t.test("--xff append: the client's X-Forwarded-For and Forwarded stay in front", async (t) => {
  const r = await exchange(append.port, nlbHeader(80), FORGED)
  t.same(r.app.get('x-forwarded-for'), [`6.6.6.6, 7.7.7.7, ${CLIENT.address}`], 'client values first (both lines), then the PROXY client')
  t.same(r.app.get('forwarded'), [`for=6.6.6.6, for=${CLIENT.address};proto=http`])
  t.same(r.app.get('x-real-ip'), [CLIENT.address], "X-Real-IP is always drainpipe's")
  t.same(r.app.get('x-forwarded-proto'), ['http'], "proto and port are never the client's")
  t.same(r.app.get('x-forwarded-port'), ['80'])
  t.notOk(r.app.has('x-amzn-vpce-id'))
})

t.test('TLS terminated at the LB (destination port 443) and the VPC endpoint id from the AWS TLV', async (t) => {
  const r = await exchange(replace.port, nlbHeader(443, 'vpce-0123456789abcdef0'), 'GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.same(r.app.get('x-amzn-vpce-id'), ['vpce-0123456789abcdef0'], 'VPC endpoint id from the PROXY v2 TLV')
  t.same(r.app.get('x-forwarded-proto'), ['https'])
  t.same(r.app.get('x-forwarded-port'), ['443'])
  t.same(r.app.get('forwarded'), [`for=${CLIENT.address};proto=https`])
})

t.test('--forwarded-proto https: TLS ended at the LB on a port auto cannot recognise', async (t) => {
  const forced = await startInProcess(t, ['--upstream', `127.0.0.1:${echoPort}`, '--forwarded-proto', 'https'])
  const r = await exchange(forced.port, nlbHeader(8443), 'GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.same(r.app.get('x-forwarded-proto'), ['https'])
  t.same(r.app.get('forwarded'), [`for=${CLIENT.address};proto=https`])
  t.same(r.app.get('x-forwarded-port'), ['8443'])
  const auto = await exchange(replace.port, nlbHeader(8443), 'GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.same(auto.app.get('x-forwarded-proto'), ['http'], 'auto on the same port says http')
})

t.test('IPv6 clients (v2 and v1 headers) and headerless clients', async (t) => {
  const v6 = { address: '2001:db8::7', port: 40000 }
  const r = await exchange(replace.port, nlbHeader(80, undefined, v6), 'GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.same(r.app.get('x-forwarded-for'), ['2001:db8::7'])
  t.same(r.app.get('forwarded'), ['for="[2001:db8::7]";proto=http'], 'RFC 7239: IPv6 quoted and bracketed')
  const v1 = encodeV1({ family: 'TCP6', source: v6, destination: { address: '2001:db8::10', port: 8080 } })
  const r1 = await exchange(replace.port, v1, 'GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.same(r1.app.get('x-forwarded-for'), ['2001:db8::7'])
  t.same(r1.app.get('x-forwarded-port'), ['8080'])
  const direct = await exchange(replace.port, null, FORGED)
  t.same(direct.app.get('x-forwarded-for'), ['127.0.0.1'], 'no header (optional mode): the socket peer')
  t.same(direct.app.get('x-forwarded-port'), [String(replace.port)], 'and the local port it connected to')
})

t.test('hop-by-hop fields are removed both ways, including those the Connection header names', async (t) => {
  const r = await exchange(
    replace.port,
    nlbHeader(80),
    'GET /hop HTTP/1.1\r\nHost: app\r\nConnection: keep-alive, X-Client-Private\r\n' +
      'X-Client-Private: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nProxy-Authorization: Basic eDp5\r\nProxy-Connection: keep-alive\r\nX-Client-Public: fine\r\n\r\n',
  )
  t.notOk(r.app.has('x-client-private'), 'a field named in Connection is not forwarded')
  for (const f of ['keep-alive', 'te', 'proxy-authorization', 'proxy-connection']) t.notOk(r.app.has(f), `${f} not forwarded`)
  t.notOk(
    (r.app.get('connection') ?? []).some((v) => /x-client-private/i.test(v)),
    "the client's Connection value is not forwarded",
  )
  t.same(r.app.get('x-client-public'), ['fine'], 'end-to-end fields pass')
  t.notOk('x-app-private' in r.headers, "a response field the app's Connection names is not returned")
  t.notOk('proxy-authenticate' in r.headers, 'Proxy-Authenticate not returned')
  t.notOk((r.headers['keep-alive'] ?? '').includes('timeout=5'), "the app's Keep-Alive is not returned")
  t.equal(r.headers['x-app-public'], 'fine')
})

t.test('keep-alive: several requests on one client connection, one pool connection to the app', async (t) => {
  const before = (await scrapeMetrics(replace.adminUrl)).value('drainpipe_connections_accepted_total')
  const conn = await RawConnection.open(replace.port)
  t.teardown(() => conn.close())
  conn.write(nlbHeader(80))
  const ports: number[] = []
  for (let i = 0; i < 3; i++) {
    conn.write(`GET /ka/${i} HTTP/1.1\r\nHost: app\r\n\r\n`)
    const res = await conn.readResponse()
    t.equal(res.status, 200)
    const e = JSON.parse(res.body) as Echo
    t.equal(e.url, `/ka/${i}`)
    t.same(
      headerMap(e.rawHeaders).get('x-forwarded-for'),
      [CLIENT.address],
      "the header's client applies to every request of the connection",
    )
    ports.push(e.upstreamPort)
  }
  t.notOk(conn.ended, 'the client connection stays open')
  t.equal(new Set(ports).size, 1, 'the app saw one reused pool connection')
  const after = (await scrapeMetrics(replace.adminUrl)).value('drainpipe_connections_accepted_total')
  t.equal(after - before, 1, 'one pod-port connection accepted')
})

t.test('pipelined requests are answered in order', async (t) => {
  const conn = await RawConnection.open(replace.port)
  t.teardown(() => conn.close())
  // The first is the slowest: answers must still come back in request order.
  conn.write(nlbHeader(80))
  conn.write(
    'GET /p/1?delay=300 HTTP/1.1\r\nHost: app\r\n\r\nGET /p/2?delay=0 HTTP/1.1\r\nHost: app\r\n\r\nGET /p/3?delay=100 HTTP/1.1\r\nHost: app\r\n\r\n',
  )
  const urls: string[] = []
  for (let i = 0; i < 3; i++) urls.push((JSON.parse((await conn.readResponse()).body) as Echo).url)
  t.same(urls, ['/p/1?delay=300', '/p/2?delay=0', '/p/3?delay=100'])
})

t.test('Upgrade passes through: 101 from the app, then bytes both ways', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  conn.write(nlbHeader(80))
  conn.write('GET /socket HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nearly bytes|')
  const head = await conn.readResponse({ headOnly: true })
  t.equal(head.status, 101, "the app's 101 reaches the client")
  t.equal(head.headers.upgrade, 'echo')
  t.equal((await conn.read('early bytes|'.length)).toString(), 'early bytes|', 'bytes sent with the request head are echoed')
  const payload = Buffer.from(Array.from({ length: 4096 }, (_, i) => i & 0xff))
  conn.write(payload)
  t.ok((await conn.read(payload.length)).equals(payload), 'binary payload echoed byte for byte after the upgrade')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_active'), 1, 'the upgraded connection is counted as open')
  conn.close()
})

t.test('debug log: one JSON line per request with client, status and duration', async (t) => {
  await exchange(replace.port, nlbHeader(80), 'GET /logged?delay=50 HTTP/1.1\r\nHost: app\r\n\r\n')
  const line = await replace.waitForLog((l) => l.msg === 'request' && l.url === '/logged?delay=50')
  t.equal(line.level, 20, 'pino debug level')
  t.equal(line.client, CLIENT.address, 'client address from the PROXY header')
  t.equal(line.lb, '127.0.0.1', 'the socket peer, as the LB node')
  t.equal(line.status, 200)
  t.equal(line.method, 'GET')
  t.type(line.ms, 'number')
  t.ok((line.ms as number) >= 45, `duration covers the app's delay (${line.ms} ms)`)
  t.type(line.time, 'string', 'ISO timestamp')
  t.ok(
    replace.logs.every((l) => !('text' in l)),
    'every stdout line is JSON',
  )
  t.notOk(
    append.logs.some((l) => l.msg === 'request'),
    'no request lines at the default level (info)',
  )
})

t.test('request targets the pool cannot send are answered by drainpipe, not blamed on the app', async (t) => {
  const before = await scrapeMetrics(replace.adminUrl)
  const seenBefore = seen.length
  const star = await RawConnection.open(replace.port)
  t.teardown(() => star.close())
  star.write('OPTIONS * HTTP/1.1\r\nHost: app\r\n\r\n')
  const r1 = await star.readResponse()
  t.equal(r1.status, 501, 'OPTIONS * (valid HTTP, asterisk-form): 501, not a 502 "app unreachable"')
  const abs = await RawConnection.open(replace.port)
  t.teardown(() => abs.close())
  abs.write('GET http://elsewhere.example/ HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n')
  t.equal((await abs.readResponse()).status, 400, 'absolute-form (forward-proxy use): 400')
  const after = await scrapeMetrics(replace.adminUrl)
  t.equal(after.value('drainpipe_upstream_errors_total') - before.value('drainpipe_upstream_errors_total'), 0, 'no upstream error counted')
  t.equal(after.value('drainpipe_upstream_reachable'), 1)
  t.equal(seen.length, seenBefore, 'nothing reached the app')
})

t.test("an Upgrade request carries drainpipe's forwarding headers, not the client's", async (t) => {
  // The recording app has no upgrade handler: Node answers the request as a plain one (200),
  // which drainpipe's tunnel returns verbatim; the app's raw bytes show what was sent.
  const { startRecordingUpstream } = await import('../helpers/recording-upstream.js')
  const rec = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${rec.port}`, '--upstream-probe-interval', '10m'])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  conn.write(nlbHeader(443))
  conn.write(
    'GET /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade, X-Secret\r\nX-Secret: 1\r\nUpgrade: websocket\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n',
  )
  t.equal((await conn.readResponse()).status, 200, "the app's answer comes back through the tunnel")
  const raw = rec.received()
  t.match(raw, /^GET \/ws HTTP\/1\.1\r\n/m)
  t.match(raw, new RegExp(`\\r\\nx-forwarded-for: ${CLIENT.address}\\r\\n`, 'i'))
  t.notMatch(raw, /6\.6\.6\.6/, 'the forged X-Forwarded-For is dropped on the upgrade path too')
  t.match(raw, /\r\nx-forwarded-proto: https\r\n/i)
  t.match(raw, /\r\nupgrade: websocket\r\n/i, 'Upgrade is kept')
  t.match(raw, /\r\nconnection: Upgrade, X-Secret\r\n/i, 'Connection is kept for the upgrade')
  t.notMatch(raw, /\r\nx-secret:/i, 'a field the Connection header names is still dropped')
})

t.test('closed client connections leave nothing open in drainpipe', async (t) => {
  // Every connection this file opened was closed by its test; the gauge must come back to 0.
  const deadline = Date.now() + 5000
  let active = -1
  while (Date.now() < deadline) {
    active = (await scrapeMetrics(replace.adminUrl)).value('drainpipe_connections_active')
    if (active === 0) break
    await new Promise((r) => setTimeout(r, 50))
  }
  t.equal(active, 0, 'drainpipe_connections_active back to 0')
})
