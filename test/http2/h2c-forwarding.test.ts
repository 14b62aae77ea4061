// HTTP/2 with prior knowledge (h2c) in http mode, over real sockets and a real drainpipe
// process: after an NLB-shaped PROXY v2 header a connection that starts with the HTTP/2
// preface is served as HTTP/2 while HTTP/1.1 on the same port is unchanged; streams reach the
// app over h2c or over HTTP/1.1 (--upstream-protocol) with drainpipe's forwarding headers;
// trailers pass both ways; resets pass both ways with their code; a reader that stops (client
// or app) holds the other side back instead of filling drainpipe's memory.
import t from 'tap'
import http from 'node:http'
import type http2 from 'node:http2'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { startDrainpipe, type Drainpipe } from '../helpers/processes.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { CLIENT, h2Connect, h2Request, nlbHeader, startH2App } from '../helpers/h2.js'

const MB = 1024 * 1024

/** What the app saw of the last /echo request: its header fields (lower-case names) and trailers. */
let seen: { headers: Record<string, string | string[] | undefined>; trailers?: Record<string, unknown>; bodyBytes: number } | undefined
/** Client-reset streams, as the app saw them: the RST_STREAM code it got. */
const appAborted: number[] = []
/** /big: bytes the app managed to hand to its stream so far (writes that were accepted). */
let bigWritten = 0

// The h2c app: /echo answers with the request's fields and trailers; /reset?code=N resets the
// stream with N before answering, /reset-mid?code=N after the first bytes; /hold never answers;
// /big writes `bytes` as fast as flow control lets it; /upload-stall never reads the body.
const h2app = await startH2App(t, (stream, headers) => {
  const url = new URL(headers[':path'] ?? '/', 'http://x')
  const code = Number(url.searchParams.get('code') ?? 0)
  switch (url.pathname) {
    case '/echo': {
      let bodyBytes = 0
      let trailers: Record<string, unknown> | undefined
      stream.on('trailers', (tr) => {
        trailers = { ...tr }
      })
      stream.on('data', (c: Buffer) => {
        bodyBytes += c.length
      })
      stream.on('end', () => {
        seen = { headers: { ...headers }, trailers, bodyBytes }
        stream.respond({ ':status': 200, 'content-type': 'application/json' }, { waitForTrailers: true })
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-app-trailer': 'done', 'x-body-bytes': String(bodyBytes) }))
        stream.end(JSON.stringify({ ok: true }))
      })
      return
    }
    case '/reset':
      stream.close(code)
      return
    case '/reset-mid':
      // waitForTrailers: Node would otherwise end the stream cleanly before its RST_STREAM.
      stream.respond({ ':status': 200 }, { waitForTrailers: true })
      stream.write('partial', () => setTimeout(() => stream.close(code), 50))
      return
    case '/hold':
      stream.on('close', () => appAborted.push(stream.rstCode ?? -1))
      return
    case '/big': {
      const total = Number(url.searchParams.get('bytes'))
      const chunk = Buffer.alloc(64 * 1024, 7)
      bigWritten = 0
      stream.respond({ ':status': 200 })
      const pump = () => {
        while (bigWritten < total && !stream.destroyed) {
          bigWritten += chunk.length
          if (!stream.write(chunk)) return void stream.once('drain', pump)
        }
        if (!stream.destroyed) stream.end()
      }
      pump()
      return
    }
    case '/upload-stall':
      stream.pause()
      return
  }
})

// The HTTP/1.1 app, for --upstream-protocol h1: /echo answers with the request's fields and
// announces a trailer; /big as above.
const h1app = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/cut') {
    // Part of a body, then the connection is gone.
    res.writeHead(200, { 'content-length': 1000 })
    res.write('partial', () => setTimeout(() => res.socket?.destroy(), 50))
    return
  }
  if (url.pathname === '/big') {
    const total = Number(url.searchParams.get('bytes'))
    const chunk = Buffer.alloc(64 * 1024, 7)
    bigWritten = 0
    const pump = () => {
      while (bigWritten < total && !res.destroyed) {
        bigWritten += chunk.length
        if (!res.write(chunk)) return void res.once('drain', pump)
      }
      res.end()
    }
    pump()
    return
  }
  let bodyBytes = 0
  req.on('data', (c: Buffer) => {
    bodyBytes += c.length
  })
  req.on('end', () => {
    seen = { headers: { ...req.headers }, bodyBytes }
    res.writeHead(200, { 'content-type': 'application/json', trailer: 'x-app-trailer' })
    res.write(JSON.stringify({ ok: true }))
    res.addTrailers({ 'x-app-trailer': 'done' })
    res.end()
  })
})
h1app.listen(0, '127.0.0.1')
await once(h1app, 'listening')
t.teardown(() => {
  h1app.closeAllConnections()
  h1app.close()
})

const viaH2c = await startDrainpipe(t, ['--upstream', `127.0.0.1:${h2app.port}`, '--upstream-protocol', 'h2c'])
const viaH1 = await startDrainpipe(t, ['--upstream', `127.0.0.1:${(h1app.address() as AddressInfo).port}`])

const FORGED = {
  'x-forwarded-for': '6.6.6.6',
  forwarded: 'for=6.6.6.6',
  'x-real-ip': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-amzn-vpce-id': 'vpce-forged',
}

for (const [name, dp] of [
  ['h2c', viaH2c],
  ['h1', viaH1],
] as Array<[string, Drainpipe]>) {
  t.test(
    `--upstream-protocol ${name}: an h2c client behind an NLB PROXY v2 header is served, with drainpipe's forwarding headers`,
    async (t) => {
      const { session } = h2Connect(t, dp.port, nlbHeader({ dstPort: 443, vpceId: 'vpce-0123456789abcdef0' }))
      seen = undefined
      const r = await h2Request(session, { ':method': 'POST', ':path': '/echo', 'x-app-field': 'kept', ...FORGED }, 'hello')
      t.equal(r.status, 200, 'answered over HTTP/2')
      t.same(JSON.parse(r.body.toString()), { ok: true })
      t.equal(r.trailers?.['x-app-trailer'], 'done', "the app's response trailer reaches the client")
      const h = seen!.headers
      t.equal(h['x-forwarded-for'], CLIENT.address, 'X-Forwarded-For: the client from the PROXY header, the forged one dropped')
      t.equal(h['x-real-ip'], CLIENT.address)
      t.equal(h.forwarded, `for=${CLIENT.address};proto=https`)
      t.equal(h['x-forwarded-proto'], 'https', 'destination port 443: TLS ended at the LB')
      t.equal(h['x-forwarded-port'], '443')
      t.equal(h['x-amzn-vpce-id'], 'vpce-0123456789abcdef0', 'the VPC endpoint id from the TLV')
      t.equal(h['x-app-field'], 'kept', 'other fields pass untouched')
      t.equal(seen!.bodyBytes, 5, 'the body arrived')
      if (name === 'h1') t.match(String(h.host), /^127\.0\.0\.1:\d+$/, ':authority becomes Host over HTTP/1.1')

      if (name === 'h1') {
        // HTTP/1.1 on the same port is unchanged. (With h2c the app here speaks only HTTP/2.)
        const res = await fetch(`${dp.url}/echo`, { method: 'POST', body: 'x' })
        t.equal(res.status, 200, 'HTTP/1.1 served on the same port')
        await res.arrayBuffer()
      }

      const m = await scrapeMetrics(dp.adminUrl)
      t.ok(m.value('drainpipe_http2_connections_total') >= 1, 'the HTTP/2 connection is counted')
      t.ok(m.value('drainpipe_http2_streams_total') >= 1, 'and its stream')
    },
  )

  t.test(`--upstream-protocol ${name}: a client that stops reading a large response holds the app back (bounded memory)`, async (t) => {
    const { session } = h2Connect(t, dp.port)
    const total = 128 * MB
    const req = session.request({ ':path': `/big?bytes=${total}` })
    const [headers] = (await once(req, 'response')) as [http2.IncomingHttpHeaders]
    t.equal(headers[':status'], 200)
    req.pause()
    // Wait until the app's writes stop progressing: it is blocked by flow control.
    let last = -1
    for (let stable = 0; stable < 5; ) {
      await new Promise((r) => setTimeout(r, 100))
      stable = bigWritten === last ? stable + 1 : 0
      last = bigWritten
    }
    t.ok(bigWritten < 24 * MB, `the app could hand over only ${(bigWritten / MB).toFixed(1)} MiB of ${total / MB} MiB`)
    const rss = (await scrapeMetrics(dp.adminUrl)).value('drainpipe_process_resident_memory_bytes')
    t.ok(rss < 160 * MB, `drainpipe's RSS stays bounded: ${(rss / MB).toFixed(0)} MiB`)
    // Reading again lets the rest through, intact in length.
    let got = 0
    req.on('data', (c: Buffer) => {
      got += c.length
    })
    req.resume()
    await once(req, 'end')
    t.equal(got, total, 'the whole body arrives once the client reads')
  })
}

t.test('trailers both ways over h2c: the request trailers reach the app', async (t) => {
  const { session } = h2Connect(t, viaH2c.port)
  seen = undefined
  const r = await h2Request(session, { ':method': 'POST', ':path': '/echo' }, 'abc', { 'x-client-trailer': 'sent' })
  t.equal(r.status, 200)
  t.equal(seen!.trailers?.['x-client-trailer'], 'sent', "the client's trailer reached the app")
  t.equal(r.trailers?.['x-body-bytes'], '3', "the app's trailers reached the client")
})

t.test('RST_STREAM passes both ways with its code', async (t) => {
  const { session } = h2Connect(t, viaH2c.port)
  const before = await scrapeMetrics(viaH2c.adminUrl)

  // The app refuses a stream before answering: the client gets REFUSED_STREAM (safe to retry).
  const refused = await h2Request(session, { ':path': '/reset?code=7' })
  t.equal(refused.rstCode, 7, "the app's REFUSED_STREAM reaches the client")
  t.equal(refused.status, 0, 'no response was made up')
  // The app resets mid-response: the client sees the same code after the bytes sent.
  const mid = await h2Request(session, { ':path': '/reset-mid?code=11' })
  t.equal(mid.status, 200)
  t.equal(mid.body.toString(), 'partial')
  t.equal(mid.rstCode, 11, "the app's ENHANCE_YOUR_CALM reaches the client mid-response")

  // The client resets a stream the app is holding: the app's stream is reset with the client's code.
  appAborted.length = 0
  const held = session.request({ ':path': '/hold' })
  held.on('error', () => {})
  await new Promise((r) => setTimeout(r, 200))
  held.close(0xb)
  for (let i = 0; i < 50 && appAborted.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  t.same(appAborted, [0xb], "the app's stream was reset with the client's code")

  const after = await scrapeMetrics(viaH2c.adminUrl)
  const d = (labels: Record<string, string>) =>
    after.value('drainpipe_http2_resets_total', labels) - before.value('drainpipe_http2_resets_total', labels)
  t.equal(d({ direction: 'upstream' }), 2, 'two resets from the app')
  t.equal(d({ direction: 'client' }), 1, 'one from the client')
  // The session stays usable after stream resets.
  t.equal((await h2Request(session, { ':method': 'POST', ':path': '/echo' }, 'x')).status, 200, 'the connection still serves')
})

t.test('--upstream-protocol h1: an app connection lost mid-response resets the stream, never a clean truncated end', async (t) => {
  const { session } = h2Connect(t, viaH1.port)
  const r = await h2Request(session, { ':path': '/cut' })
  t.equal(r.status, 200)
  t.equal(r.body.toString(), 'partial')
  t.equal(r.rstCode, 2, 'RST_STREAM INTERNAL_ERROR after the bytes that came')
})

t.test('an app that does not read an upload holds the client back (bounded memory)', async (t) => {
  const { session } = h2Connect(t, viaH2c.port)
  const req = session.request({ ':method': 'POST', ':path': '/upload-stall' })
  req.on('error', () => {})
  const chunk = Buffer.alloc(64 * 1024, 1)
  let accepted = 0
  let blocked = false
  // Write as flow control allows; stop when a write has waited 1 s for 'drain'.
  while (accepted < 128 * MB) {
    accepted += chunk.length
    if (!req.write(chunk)) {
      const drained = await Promise.race([once(req, 'drain').then(() => true), new Promise((r) => setTimeout(r, 1000, false))])
      if (!drained) {
        blocked = true
        break
      }
    }
  }
  t.ok(blocked, 'the client was held back')
  t.ok(accepted < 24 * MB, `the client could send only ${(accepted / MB).toFixed(1)} MiB before being held back`)
  req.close(0x8)
})

t.test('a client that sends no PROXY header (in-cluster) is served over HTTP/2 too', async (t) => {
  const { session } = h2Connect(t, viaH2c.port, null)
  seen = undefined
  const r = await h2Request(session, { ':method': 'POST', ':path': '/echo' }, 'x')
  t.equal(r.status, 200)
  t.equal(seen!.headers['x-forwarded-for'], '127.0.0.1', 'the socket peer as the client')
})

t.test('the preface split over several segments is still recognised', async (t) => {
  const { session } = h2Connect(t, viaH2c.port)
  // The header's first 100 bytes, then the preface in pieces: use a raw socket.
  const net = await import('node:net')
  const socket = net.connect(viaH2c.port, '127.0.0.1')
  await once(socket, 'connect')
  socket.write(nlbHeader())
  const preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
  for (const piece of [preface.subarray(0, 1), preface.subarray(1, 9), preface.subarray(9)]) {
    socket.write(piece)
    await new Promise((r) => setTimeout(r, 30))
  }
  // A SETTINGS frame (empty) follows; the server's own SETTINGS comes back.
  socket.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]))
  const [data] = (await once(socket, 'data')) as [Buffer]
  t.equal(data[3], 4, 'the server answered with an HTTP/2 SETTINGS frame')
  socket.destroy()
  session.destroy()
})

t.test('the app down: a plain request gets 502, a gRPC call UNAVAILABLE; counted as connect errors', async (t) => {
  const { freePort } = await import('../helpers/processes.js')
  const down = await startDrainpipe(t, ['--upstream', `127.0.0.1:${await freePort()}`, '--upstream-protocol', 'h2c'], { waitReady: false })
  const { session } = h2Connect(t, down.port)
  const plain = await h2Request(session, { ':path': '/' })
  t.equal(plain.status, 502)
  t.match(plain.body.toString(), /could not be reached/)
  const call = await h2Request(
    session,
    { ':method': 'POST', ':path': '/pkg.Svc/Call', 'content-type': 'application/grpc' },
    Buffer.alloc(5),
  )
  t.equal(call.status, 200, 'a gRPC trailers-only response')
  t.equal(call.headers['grpc-status'], '14', 'UNAVAILABLE')
  const m = await scrapeMetrics(down.adminUrl)
  t.equal(m.value('drainpipe_upstream_errors_total', { reason: 'connect' }), 2, 'both counted as connect errors')
})
