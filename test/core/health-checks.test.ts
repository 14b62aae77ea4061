// Load-balancer health checks answered by drainpipe without touching the app: zero-byte
// TCP probes (connect, close) and the NLB's HTTP check behind a PROXY v2 LOCAL header.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startInProcess } from '../helpers/sidecar.js'
import { RawConnection } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startTcpServer } from '../helpers/servers.js'
import { startRecordingUpstream } from '../helpers/recording-upstream.js'
import { crc32c } from '../../src/proxy-protocol/crc32c.js'

/**
 * The NLB's health-check header, byte for byte: v2 signature, 0x20 (v2, LOCAL), family 0x11
 * (TCP over IPv4 although LOCAL), len 84 = 12 zero address bytes + CRC32C TLV (7) + NOOP TLV
 * (3 + 62 zero bytes). 100 bytes in all.
 */
function nlbLocalHeader(): Buffer {
  const b = Buffer.alloc(100)
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(b, 0)
  b[12] = 0x20
  b[13] = 0x11
  b.writeUInt16BE(84, 14)
  // bytes 16..27: addresses, zero
  b[28] = 0x03
  b.writeUInt16BE(4, 29)
  // bytes 31..34: the CRC, computed with the field zeroed
  b[35] = 0x04
  b.writeUInt16BE(62, 36)
  b.writeUInt32BE(crc32c(b), 31)
  return b
}

/** Connect and close without sending a byte, as the NLB's TCP health check does. */
async function tcpProbe(port: number): Promise<void> {
  const s = net.connect({ port, host: '127.0.0.1' })
  await once(s, 'connect')
  s.end()
  s.resume()
  await once(s, 'close')
}

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await cond()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return cond()
}

t.test('zero-byte connections are counted as health checks and never reach the app', async (t) => {
  for (const mode of ['tcp', 'http'] as const) {
    const app = await startTcpServer(t)
    // One probe of the app at start-up, none after: the app's accept count is then ours to read.
    const dp = await startInProcess(t, ['--mode', mode, '--upstream', `127.0.0.1:${app.port}`, '--upstream-probe-interval', '10m'])
    // drainpipe is ready once its start-up probe connected; the app may see that accept a
    // moment later, so wait for it before taking the baseline.
    await waitFor(async () => app.accepted >= 1)
    const acceptedBefore = app.accepted
    for (let i = 0; i < 5; i++) await tcpProbe(dp.port)
    const counted = await waitFor(
      async () => (await scrapeMetrics(dp.adminUrl)).value('drainpipe_health_checks_total', { type: 'empty' }) === 5,
    )
    t.ok(counted, `${mode}: 5 health checks of type empty`)
    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'healthcheck' }), 5, `${mode}: accepted as healthcheck`)
    t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'direct' }), 0, `${mode}: none as a client`)
    t.equal(m.value('drainpipe_proxy_header_errors_total'), 0)
    t.equal(app.accepted, acceptedBefore, `${mode}: the app accepted no connection`)
  }
})

t.test('the NLB LOCAL header + GET / is answered 200 by drainpipe itself, 503 when the app is down', async (t) => {
  const header = nlbLocalHeader()
  t.equal(header.length, 100)
  t.equal(header.subarray(12, 16).toString('hex'), '20110054', 'LOCAL, family 0x11, len 84')

  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--upstream-probe-interval',
    '0.1',
    '--proxy-protocol',
    'required',
  ])
  const requestsBefore = app.requests.length

  const check = async () => {
    const conn = await RawConnection.open(dp.port)
    try {
      conn.write(header)
      conn.write(
        'GET / HTTP/1.1\r\nHost: 10.0.0.5:8080\r\nUser-Agent: ELB-HealthChecker/2.0\r\nAccept-Encoding: gzip, compressed\r\nConnection: close\r\n\r\n',
      )
      const res = await conn.readResponse()
      return { res, closed: await conn.closed() }
    } finally {
      conn.close()
    }
  }

  const up = await check()
  t.equal(up.res.status, 200)
  t.equal(up.res.body, 'ok\n', "drainpipe's own answer")
  t.ok(up.closed, "and the check's connection is closed")
  t.equal(app.requests.length, requestsBefore, 'the app received no request')
  let m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_health_checks_total', { type: 'local' }), 1)
  t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'healthcheck' }), 1)
  t.equal(m.value('drainpipe_http_requests_total'), 0, 'not counted as a client request')
  t.equal(m.value('drainpipe_proxy_header_errors_total'), 0, 'the byte-exact header (CRC32C, NOOP) is valid')

  // The app goes away: once the background probe notices, checks answer 503 at once.
  await app.close()
  t.ok(await waitFor(async () => (await fetch(`${dp.adminUrl}/readyz`)).status === 503), 'readiness noticed the app is down')
  const down = await check()
  t.equal(down.res.status, 503)
  t.equal(down.res.body, 'unavailable\n')
  m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_health_checks_total', { type: 'local' }), 2)
})
