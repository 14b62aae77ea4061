// Spoofing: who may say who the client is. A PROXY header counts only from
// --trusted-proxies; a second header a client sent behind the load balancer's is never the
// client address; forwarding headers a client forged never reach the app in replace mode.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { encodeAwsVpceTlv, encodeV1, encodeV2 } from '../../src/proxy-protocol/index.js'
import { needs, startHaproxy } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { parseResponse, rawExchange } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startRecordingUpstream, type RecordedRequest } from '../helpers/recording-upstream.js'

const FORGED = '6.6.6.6'
const v2From = (address: string, extra: { vpce?: string } = {}) =>
  encodeV2({
    command: 'PROXY',
    source: { address, port: 40000 },
    destination: { address: '10.0.0.5', port: 80 },
    crc32c: true,
    tlvs: extra.vpce ? [encodeAwsVpceTlv(extra.vpce)] : [],
  })
const v1Forged = encodeV1({ family: 'TCP4', source: { address: FORGED, port: 1 }, destination: { address: '10.0.0.5', port: 80 } })
const GET = 'GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n'

/** Header values the app received for `name` (case-insensitive), in order. */
function values(req: RecordedRequest, name: string): string[] {
  const out: string[] = []
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === name) out.push(req.rawHeaders[i + 1]!)
  return out
}

/** Connect from `localAddress`, write `first`, wait, write `second`; collect until closed. */
async function twoWrites(
  port: number,
  first: Buffer,
  second: Buffer,
  localAddress = '127.0.0.1',
): Promise<{ data: Buffer; closedBy: string }> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress })
  await once(socket, 'connect')
  const parts: Buffer[] = []
  socket.on('data', (d: Buffer) => parts.push(d))
  socket.write(first)
  await new Promise((r) => setTimeout(r, 100))
  if (!socket.destroyed) socket.write(second)
  const closedBy = await new Promise<string>((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy()
      resolve('timeout')
    }, 5000)
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve('closed')
    })
  })
  return { data: Buffer.concat(parts), closedBy }
}

t.test(
  'a PROXY header from outside --trusted-proxies is refused (optional mode); the same source without one is served as itself',
  async (t) => {
    const app = await startRecordingUpstream(t)
    const dp = await startInProcess(t, [
      '--upstream',
      `127.0.0.1:${app.port}`,
      '--trusted-proxies',
      '127.0.0.2/32',
      '--proxy-protocol',
      'optional',
    ])

    const untrusted = await rawExchange(dp.port, Buffer.concat([v2From(FORGED), Buffer.from(GET)]), { localAddress: '127.0.0.1' })
    t.equal(untrusted.data.length, 0, 'no answer to a header from an untrusted source')
    const untrustedV1 = await rawExchange(dp.port, Buffer.concat([v1Forged, Buffer.from(GET)]), { localAddress: '127.0.0.1' })
    t.equal(untrustedV1.data.length, 0, 'nor to a v1 header')
    t.equal(app.requests.length, 0, 'nothing reached the app')

    const plain = parseResponse((await rawExchange(dp.port, GET, { localAddress: '127.0.0.1' })).data)
    t.equal(plain.status, 200, 'the untrusted source without a header is served')
    t.same(values(app.requests.at(-1)!, 'x-forwarded-for'), ['127.0.0.1'], 'as itself')

    const trusted = parseResponse(
      (await rawExchange(dp.port, Buffer.concat([v2From('203.0.113.7'), Buffer.from(GET)]), { localAddress: '127.0.0.2' })).data,
    )
    t.equal(trusted.status, 200, 'a header from the trusted source is used')
    t.same(values(app.requests.at(-1)!, 'x-forwarded-for'), ['203.0.113.7'])
    t.notOk(app.received().includes(FORGED), 'the forged address never reached the app')

    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'untrusted_header' }), 2, 'both refusals counted as untrusted_header')
  },
)

t.test('required mode: an untrusted source is closed before a byte is read', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, [
    '--upstream',
    `127.0.0.1:${app.port}`,
    '--trusted-proxies',
    '127.0.0.2/32',
    '--proxy-protocol',
    'required',
  ])
  const withHeader = await rawExchange(dp.port, Buffer.concat([v2From(FORGED), Buffer.from(GET)]), { localAddress: '127.0.0.1' })
  const without = await rawExchange(dp.port, GET, { localAddress: '127.0.0.1' })
  t.equal(withHeader.data.length + without.data.length, 0, 'no answers')
  const noHeaderFromTrusted = await rawExchange(dp.port, GET, { localAddress: '127.0.0.2' })
  t.equal(noHeaderFromTrusted.data.length, 0, 'a trusted source without a header is closed too (required)')
  const good = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2From('203.0.113.7'), Buffer.from(GET)]), { localAddress: '127.0.0.2' })).data,
  )
  t.equal(good.status, 200)
  t.equal(app.requests.length, 1, 'only the good request reached the app')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_connections_refused_total', { reason: 'untrusted_source' }), 2)
  t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'bad_signature' }), 1)
})

t.test('stacked headers, --stacked-headers reject (default): a client-sent second header closes the connection', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])

  const sameWrite = await rawExchange(dp.port, Buffer.concat([v2From('203.0.113.7'), v1Forged, Buffer.from(GET)]))
  t.equal(sameWrite.data.length, 0, 'second header in the same segment: closed, no answer')

  // The NLB with header placement on_first_ack (and HAProxy) sends its header before the
  // client's bytes: the client's own header arrives in a later segment.
  const later = await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.concat([v1Forged, Buffer.from(GET)]))
  t.equal(later.data.length, 0, 'second header in a later segment: closed, no answer')
  t.equal(later.closedBy, 'closed')

  const laterV2 = await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.concat([v2From(FORGED), Buffer.from(GET)]))
  t.equal(laterV2.data.length, 0, 'a stacked v2 header likewise')

  t.equal(app.requests.length, 0, 'nothing reached the app')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'stacked_header' }), 3, 'each counted as stacked_header')
})

t.test(
  'stacked headers through a real PROXY v2 sender: the client speaks the header itself behind HAProxy',
  { skip: needs('haproxy') },
  async (t) => {
    const app = await startRecordingUpstream(t)
    const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
    const haproxy = await startHaproxy(t, { host: '127.0.0.1', port: dp.port })
    const viaHaproxy = await rawExchange(haproxy.port, Buffer.concat([v1Forged, Buffer.from(GET)]))
    t.notOk(viaHaproxy.data.toString('latin1').includes('200 OK'), 'HAProxy in front: the client-sent header is refused')

    const fine = parseResponse((await rawExchange(haproxy.port, GET)).data)
    t.equal(fine.status, 200, 'a plain request through HAProxy is served')
    t.same(values(app.requests.at(-1)!, 'x-forwarded-for'), ['127.0.0.1'], 'with the client HAProxy saw')

    t.equal(app.requests.length, 1, 'only that request reached the app')
    t.notOk(app.received().includes(FORGED), 'the forged address never reached the app')
    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'stacked_header' }), 1, 'counted as stacked_header')
  },
)

t.test('stacked headers, --stacked-headers pass: the second header is payload, so the HTTP parser answers 400', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--stacked-headers', 'pass'])
  const same = parseResponse((await rawExchange(dp.port, Buffer.concat([v2From('203.0.113.7'), v1Forged, Buffer.from(GET)]))).data)
  t.equal(same.status, 400, 'v1 text as a request line: 400')
  const later = parseResponse((await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.concat([v2From(FORGED), Buffer.from(GET)]))).data)
  t.equal(later.status, 400, 'binary v2 header as payload: 400')
  t.equal(app.requests.length, 0, 'no request reached the app')
  t.equal(app.received(), '', 'not a byte (the app sees only readiness probes connect)')
})

t.test(
  'tcp mode: a stacked header in a later segment is caught before a byte reaches the app; server-speaks-first still works',
  async (t) => {
    const app = await startRecordingUpstream(t)
    const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--mode', 'tcp'])
    const stacked = await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.concat([v1Forged, Buffer.from(GET)]))
    t.equal(stacked.data.length, 0, 'closed without an answer')
    const stackedV2 = await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.concat([v2From(FORGED), Buffer.from(GET)]))
    t.equal(stackedV2.data.length, 0)
    await new Promise((r) => setTimeout(r, 200))
    t.equal(app.received(), '', 'the app received nothing')
    const fine = await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.from(GET))
    t.equal(parseResponse(fine.data).status, 200, 'header alone, then a request: forwarded')
    // Partial signature bytes that turn out to be payload are forwarded intact.
    const prefix = await twoWrites(dp.port, v2From('203.0.113.7'), Buffer.from('PROXX'))
    t.equal(prefix.closedBy, 'closed')
    t.ok(app.received().endsWith('PROXX'), 'a near-signature is payload, passed byte for byte')
    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'stacked_header' }), 2)

    // Server speaks first: the header comes alone and the client then waits for the greeting.
    const { spawn } = await import('node:child_process')
    const { ROOT, freePort, waitForPort } = await import('../helpers/processes.js')
    const greeterPort = await freePort()
    const greeter = spawn(process.execPath, [`${ROOT}examples/tcp-greeter.mjs`, '--port', String(greeterPort)], { stdio: 'ignore' })
    t.teardown(() => {
      greeter.kill('SIGKILL')
    })
    await waitForPort(greeterPort)
    const dp2 = await startInProcess(t, ['--upstream', `127.0.0.1:${greeterPort}`, '--mode', 'tcp'])
    const socket = net.connect({ port: dp2.port, host: '127.0.0.1' })
    await once(socket, 'connect')
    socket.write(v2From('203.0.113.7'))
    const [greeting] = (await Promise.race([
      once(socket, 'data'),
      new Promise((_, rej) => setTimeout(() => rej(new Error('no greeting within 5 s')), 5000)),
    ])) as [Buffer]
    t.match(greeting.toString(), /^220 greeter ready/, 'the greeting arrives before the client sent a byte')
    socket.destroy()
  },
)

t.test(
  'tcp mode, header alone: a stacked signature split over segments is caught; a signature prefix then FIN reaches the app as payload, FIN included',
  async (t) => {
    // The app records what it receives and whether the client's FIN reached it.
    const conns: Array<{ bytes: Buffer[]; ended: boolean }> = []
    const app = net.createServer({ allowHalfOpen: true }, (s) => {
      const c = { bytes: [] as Buffer[], ended: false }
      conns.push(c)
      s.on('data', (d: Buffer) => c.bytes.push(d))
      s.on('end', () => {
        c.ended = true
        s.end()
      })
      s.on('error', () => {})
    })
    await new Promise<void>((r) => app.listen(0, '127.0.0.1', r))
    t.teardown(() => app.close())
    const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${(app.address() as net.AddressInfo).port}`, '--mode', 'tcp'])
    const send = async (parts: Buffer[], end: boolean) => {
      const socket = net.connect({ port: dp.port, host: '127.0.0.1', allowHalfOpen: true })
      socket.on('error', () => {})
      socket.on('end', () => socket.end())
      await once(socket, 'connect')
      socket.write(v2From('203.0.113.7'))
      for (const p of parts) {
        await new Promise((r) => setTimeout(r, 50))
        if (!socket.destroyed) socket.write(p)
      }
      if (end && !socket.destroyed) socket.end()
      socket.resume()
      const timer = setTimeout(() => socket.destroy(), 5000) // a connection left open fails the checks below
      await once(socket, 'close')
      clearTimeout(timer)
    }
    await send([v1Forged.subarray(0, 3), v1Forged.subarray(3, 5), Buffer.concat([v1Forged.subarray(5), Buffer.from(GET)])], false)
    const prefix = Buffer.from('\r\n\r\n\0')
    await send([prefix], true)
    await new Promise((r) => setTimeout(r, 200))
    // (The background app probe connects too: those connections carry nothing.)
    const received = conns.map((c) => ({ bytes: Buffer.concat(c.bytes), ended: c.ended })).filter((c) => c.bytes.length > 0)
    t.equal(received.length, 1, 'the split stacked header: not a byte reached the app')
    t.same(received[0]?.bytes, prefix, 'a signature prefix then FIN: payload, byte for byte')
    t.ok(received[0]?.ended, 'and the FIN reached the app')
    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_proxy_header_errors_total', { reason: 'stacked_header' }), 1)
  },
)

t.test('forged X-Forwarded-For, Forwarded, X-Real-IP, X-Amzn-Vpce-Id never reach the app (--xff replace)', async (t) => {
  const app = await startRecordingUpstream(t)
  const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`])
  const forged = [
    `X-Forwarded-For: ${FORGED}`,
    `x-forwarded-for: ${FORGED}, 7.7.7.7`,
    `FORWARDED: for=${FORGED};proto=https`,
    `X-Real-IP: ${FORGED}`,
    'X-Amzn-Vpce-Id: vpce-forged',
    'X-Forwarded-Proto: https',
    'X-Forwarded-Port: 1',
  ].join('\r\n')
  // The hop-by-hop trick: naming drainpipe's own fields in Connection must not drop them.
  const request = `GET /forged HTTP/1.1\r\nhost: x\r\n${forged}\r\nconnection: close, x-forwarded-for, x-real-ip, forwarded, x-amzn-vpce-id\r\n\r\n`

  const viaProxy = parseResponse(
    (await rawExchange(dp.port, Buffer.concat([v2From('203.0.113.7', { vpce: 'vpce-0123456789abcdef0' }), Buffer.from(request)]))).data,
  )
  t.equal(viaProxy.status, 200)
  let req = app.requests.at(-1)!
  t.same(values(req, 'x-forwarded-for'), ['203.0.113.7'], 'one X-Forwarded-For: the PROXY header source')
  t.same(values(req, 'x-real-ip'), ['203.0.113.7'])
  t.same(values(req, 'forwarded'), ['for=203.0.113.7;proto=http'])
  t.same(values(req, 'x-amzn-vpce-id'), ['vpce-0123456789abcdef0'], 'the VPC endpoint id from the TLV only')
  t.same(values(req, 'x-forwarded-proto'), ['http'])
  t.same(values(req, 'x-forwarded-port'), ['80'])

  const direct = parseResponse((await rawExchange(dp.port, request)).data)
  t.equal(direct.status, 200)
  req = app.requests.at(-1)!
  t.same(values(req, 'x-forwarded-for'), ['127.0.0.1'], 'without a header: the socket peer')
  t.same(values(req, 'x-amzn-vpce-id'), [], 'and no VPC endpoint id at all')

  // Trailers are not forwarded either (a forged X-Forwarded-For in a chunked trailer).
  const trailer = `POST /t HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n2\r\nhi\r\n0\r\nX-Forwarded-For: ${FORGED}\r\n\r\n`
  t.equal(parseResponse((await rawExchange(dp.port, trailer)).data).status, 200)
  t.equal(app.requests.at(-1)!.body.toString(), 'hi', 'the body arrived')

  // An Upgrade request is tunnelled raw after its head: the head is filtered too.
  const upgrade = `GET /ws HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nX-Forwarded-For: ${FORGED}\r\nX-Real-IP: ${FORGED}\r\n\r\n`
  await rawExchange(dp.port, upgrade, { timeoutMs: 2000 })

  const received = app.received()
  t.ok(received.includes('GET /ws'), 'the upgrade request reached the app')
  t.notOk(received.includes(FORGED), 'no forged address in any byte the app received')
  t.notOk(received.includes('vpce-forged'), 'no forged VPC endpoint id')
  t.notOk(received.includes('7.7.7.7'))
})
