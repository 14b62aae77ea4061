// The PROXY policy at the socket level, drainpipe in-process over real sockets: headers split into single
// bytes, required mode, untrusted senders, the header timeout, and a bad header closing
// only its own connection. (The reader's RFC edge cases are table-tested in
// test/proxy-protocol/; here is what a connection experiences.)
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { startApp } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { RawConnection, rawExchange, parseResponse } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startTcpServer } from '../helpers/servers.js'
import { startRecordingUpstream } from '../helpers/recording-upstream.js'
import { within } from '../helpers/wait.js'
import { encodeV2, encodeV1 } from '../../src/proxy-protocol/encode.js'

const CLIENT = { address: '192.0.2.44', port: 50044 }
const v2 = (source = CLIENT) =>
  encodeV2({ command: 'PROXY', source, destination: { address: '10.0.0.5', port: 80 }, crc32c: true, padTo: 100 })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Write `bytes` one byte per TCP segment (Nagle off, a pause between writes). */
async function writeByteByByte(socket: net.Socket, bytes: Buffer): Promise<void> {
  socket.setNoDelay(true)
  for (let i = 0; i < bytes.length; i++) {
    socket.write(bytes.subarray(i, i + 1))
    await sleep(2)
  }
}

const headerErrors = async (adminUrl: string) => {
  const m = await scrapeMetrics(adminUrl)
  return Object.fromEntries(
    m.samples.filter((s) => s.name === 'drainpipe_proxy_header_errors_total' && s.value > 0).map((s) => [s.labels.reason, s.value]),
  )
}

t.test('a header split into single bytes works; the payload after it reaches the app byte for byte', async (t) => {
  // tcp mode: the app records exactly what it received per connection (probes send nothing).
  const received: Buffer[] = []
  const app = await startTcpServer(t, (socket) => {
    const parts: Buffer[] = []
    socket.on('data', (d: Buffer) => parts.push(d))
    socket.on('end', () => {
      if (parts.length > 0) received.push(Buffer.concat(parts))
      socket.end()
    })
  })
  const dp = await startInProcess(t, ['--mode', 'tcp', '--upstream', `127.0.0.1:${app.port}`])
  for (const [label, header] of [
    ['v2', v2()],
    ['v1', encodeV1({ family: 'TCP4', source: CLIENT, destination: { address: '10.0.0.5', port: 80 } })],
  ] as const) {
    // The payload opens with 11 bytes of the v2 signature (diverging at the 12th) and holds
    // every byte value: the stacked-header check must give back what it held, unchanged.
    const payload = Buffer.concat([
      Buffer.from('0d0a0d0a000d0a5155495400', 'hex'),
      Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) & 0xff)),
    ])
    const before = received.length
    const client = net.connect({ port: dp.port, host: '127.0.0.1', allowHalfOpen: true })
    await once(client, 'connect')
    client.resume()
    await writeByteByByte(client, Buffer.concat([header, payload.subarray(0, 16)]))
    client.end(payload.subarray(16))
    await within(once(client, 'end'), 10_000)
    client.destroy()
    t.equal(received.length, before + 1, `${label}: one connection reached the app`)
    t.ok(
      received[before]?.equals(payload),
      `${label}: the app got the payload byte for byte (${received[before]?.length} of ${payload.length} bytes)`,
    )
  }
  t.same(await headerErrors(dp.adminUrl), {}, 'no header errors')
  t.equal((await scrapeMetrics(dp.adminUrl)).value('drainpipe_connections_accepted_total', { kind: 'client' }), 2)
})

t.test('http mode: a byte-by-byte header still sets X-Forwarded-For', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--proxy-protocol', 'required'])
  const conn = await RawConnection.open(dp.port)
  t.teardown(() => conn.close())
  await writeByteByByte(conn.socket, Buffer.concat([v2(), Buffer.from('GET / HTTP/1.1\r\nHost: app\r\n\r\n')]))
  const res = await conn.readResponse()
  t.equal(res.status, 200)
  t.equal((JSON.parse(res.body) as { xForwardedFor: string }).xForwardedFor, CLIENT.address)
})

t.test('required mode closes a headerless connection, counted as bad_signature; the app never sees it', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--proxy-protocol', 'required'])
  const r = await rawExchange(dp.port, 'GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.not(r.closedBy, 'timeout', 'closed by drainpipe')
  t.equal(r.data.length, 0, 'no response: the bytes were not HTTP to drainpipe')
  t.same(await headerErrors(dp.adminUrl), { bad_signature: 1 })
  t.equal(app.requests.length, 0, 'nothing forwarded')
  const line = await dp.waitForLog((l) => l.reason === 'bad_signature')
  t.equal(line.code, 'ERR_PP_BAD_SIGNATURE')
  t.equal(line.client, '127.0.0.1')
  // With a header, the same request is served.
  const ok = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from('GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n')]))).data,
  )
  t.equal(ok.status, 200)
})

t.test('--trusted-proxies: a header from another source closes the connection (untrusted_header)', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--trusted-proxies', '127.0.0.2/32', '--log-level', 'debug'])
  const request = 'GET /x HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n'

  const untrusted = await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from(request)]), { localAddress: '127.0.0.1' })
  t.not(untrusted.closedBy, 'timeout')
  t.equal(untrusted.data.length, 0, 'a header from 127.0.0.1 is refused: no response')
  t.same(await headerErrors(dp.adminUrl), { untrusted_header: 1 })
  const line = await dp.waitForLog((l) => l.reason === 'untrusted_header')
  t.equal(line.level, 40, 'logged at warn')
  t.equal(app.requests.length, 0, 'nothing forwarded')

  const trusted = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from(request)]), { localAddress: '127.0.0.2' })).data,
  )
  t.equal(trusted.status, 200, 'the same header from 127.0.0.2 is used')
  const fromTrusted = app.requests.at(-1)!.rawHeaders
  t.equal(fromTrusted[fromTrusted.findIndex((h) => h.toLowerCase() === 'x-forwarded-for') + 1], CLIENT.address)

  const headerless = parseResponse((await rawExchange(dp.port, request, { localAddress: '127.0.0.1' })).data)
  t.equal(headerless.status, 200, 'optional mode: an untrusted source without a header is served as itself')
  const direct = app.requests.at(-1)!.rawHeaders
  t.equal(direct[direct.findIndex((h) => h.toLowerCase() === 'x-forwarded-for') + 1], '127.0.0.1')

  const required = await startInProcess(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--trusted-proxies',
    '127.0.0.2/32',
    '--proxy-protocol',
    'required',
  ])
  const rejected = await rawExchange(required.port, Buffer.concat([v2(), Buffer.from(request)]), { localAddress: '127.0.0.1' })
  t.equal(rejected.data.length, 0, 'required mode: an untrusted source is closed, header or not')
  t.equal((await scrapeMetrics(required.adminUrl)).value('drainpipe_connections_refused_total', { reason: 'untrusted_source' }), 1)
})

t.test('--header-timeout closes a connection that sends nothing, or half a header', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--header-timeout', '0.3'])
  const idle = await RawConnection.open(dp.port)
  t.teardown(() => idle.close())
  const half = await RawConnection.open(dp.port)
  t.teardown(() => half.close())
  half.write(v2().subarray(0, 20))
  t.ok(await idle.closed(5000), 'an idle connection is closed')
  t.ok(await half.closed(5000), 'a connection stuck inside its header is closed')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_refused_total', { reason: 'header_timeout' }), 2)
  t.equal(m.value('drainpipe_health_checks_total'), 0, 'not mistaken for health checks')
  t.equal(app.requests.length, 0)
  // A header and request sent in time are served.
  const ok = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from('GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n')]))).data,
  )
  t.equal(ok.status, 200)
})

t.test('a bad header closes only its own connection; a concurrent good one completes', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--proxy-protocol', 'required'])
  const good = await RawConnection.open(dp.port)
  t.teardown(() => good.close())
  good.write(v2())
  good.write('GET /?delay=400 HTTP/1.1\r\nHost: app\r\n\r\n')

  const badCrc = Buffer.from(v2())
  badCrc[16] ^= 0x01 // the source address changes; the CRC32C no longer matches
  const badVersion = Buffer.from(v2())
  badVersion[12] = 0x11 // version 1 in a v2 header
  const results = await Promise.all(
    [badCrc, badVersion].map((h) => rawExchange(dp.port, Buffer.concat([h, Buffer.from('GET / HTTP/1.1\r\nHost: app\r\n\r\n')]))),
  )
  for (const r of results) {
    t.not(r.closedBy, 'timeout', 'bad header: closed')
    t.equal(r.data.length, 0, 'bad header: nothing answered')
  }
  const res = await good.readResponse()
  t.equal(res.status, 200, 'the concurrent good connection got its answer')
  t.equal((JSON.parse(res.body) as { xForwardedFor: string }).xForwardedFor, CLIENT.address)
  good.write('GET / HTTP/1.1\r\nHost: app\r\n\r\n')
  t.equal((await good.readResponse()).status, 200, 'and stays open for the next request')
  t.same(await headerErrors(dp.adminUrl), { bad_crc: 1, bad_version: 1 })
})

t.test('--max-connections: over the cap a new connection is closed at once and counted', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--max-connections', '2'])
  const open = await Promise.all([RawConnection.open(dp.port), RawConnection.open(dp.port)])
  t.teardown(() => {
    for (const c of open) c.close()
  })
  open[0]!.write(Buffer.concat([v2(), Buffer.from('GET / HTTP/1.1\r\nHost: app\r\n\r\n')]))
  t.equal((await open[0]!.readResponse()).status, 200, 'a connection under the cap is served')
  const over = await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from('GET / HTTP/1.1\r\nHost: app\r\n\r\n')]))
  t.not(over.closedBy, 'timeout', 'the third connection is closed')
  t.equal(over.data.length, 0, 'without an answer')
  t.equal((await scrapeMetrics(dp.adminUrl)).value('drainpipe_connections_refused_total', { reason: 'max_connections' }), 1)
  open[1]!.close()
  t.ok(await waitForActive(dp.adminUrl, 1), 'one connection left open')
  const again = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from('GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n')]))).data,
  )
  t.equal(again.status, 200, 'below the cap again: served')
})

async function waitForActive(adminUrl: string, n: number): Promise<boolean> {
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    if ((await scrapeMetrics(adminUrl)).value('drainpipe_connections_active') === n) return true
    await sleep(50)
  }
  return false
}

t.test('a dual-stack listener ([::]) sees IPv4 peers as IPv4: trust policy and X-Forwarded-For', async (t) => {
  const app = await startApp(t)
  const dp = await startInProcess(t, ['--listen', '[::]:0', '--upstream', `127.0.0.1:${app.port}`, '--trusted-proxies', '127.0.0.2/32'])
  const request = 'GET / HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n'
  const direct = parseResponse((await rawExchange(dp.port, request, { localAddress: '127.0.0.3' })).data)
  t.equal((JSON.parse(direct.body) as { xForwardedFor: string }).xForwardedFor, '127.0.0.3', 'not ::ffff:127.0.0.3')
  const trusted = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from(request)]), { localAddress: '127.0.0.2' })).data,
  )
  t.equal((JSON.parse(trusted.body) as { xForwardedFor: string }).xForwardedFor, CLIENT.address, '::ffff:127.0.0.2 matches 127.0.0.2/32')
  const untrusted = await rawExchange(dp.port, Buffer.concat([v2(), Buffer.from(request)]), { localAddress: '127.0.0.1' })
  t.equal(untrusted.data.length, 0, '::ffff:127.0.0.1 does not')
  const v6 = parseResponse((await rawExchange(dp.port, request, { host: '::1' })).data)
  t.equal((JSON.parse(v6.body) as { forwarded: string }).forwarded, 'for="[::1]";proto=http', 'an IPv6 peer, quoted in Forwarded')
})
