// Closing HTTP/2 connections gracefully (RFC 9113 §6.8), over real sockets and a real drainpipe
// process: at termination start each connection gets, after two PING round trips, a GOAWAY with the
// last stream id drainpipe saw (src/forward/http2/goaway.ts says why not 2^31−1 first), and streams in flight complete; a
// connection opened during the wait is served once, then told the same; at --drain-timeout the
// streams a client kept open are cut (gRPC calls with UNAVAILABLE) and counted; connections
// older than --http2-max-connection-age get the same GOAWAY, and their streams the grace.
import t from 'tap'
import { once } from 'node:events'
import { startDrainpipe } from '../helpers/processes.js'
import { shortWait } from '../helpers/lifecycle-flags.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { h2Collect, h2Connect, h2Request, startH2App } from '../helpers/h2.js'

const GRPC = { 'content-type': 'application/grpc', te: 'trailers' }

// /slow?ms=N answers after N ms; /hold never answers; /hold-body answers headers and a first
// chunk, then holds the stream open (a server-streaming call that never ends).
const app = await startH2App(t, (stream, headers) => {
  const url = new URL(headers[':path'] ?? '/', 'http://x')
  stream.resume()
  if (url.pathname === '/slow')
    setTimeout(
      () => {
        if (stream.destroyed) return
        stream.respond({ ':status': 200 })
        stream.end('slow done')
      },
      Number(url.searchParams.get('ms')),
    )
  else if (url.pathname === '/hold-body') {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
    stream.write(Buffer.from([0, 0, 0, 0, 1, 0x2a]))
  } else if (url.pathname !== '/hold') {
    stream.respond({ ':status': 200 })
    stream.end('ok')
  }
})
const upstream = ['--upstream', `127.0.0.1:${app.port}`, '--upstream-protocol', 'h2c']

const goawayIds = (goaways: Array<{ lastStreamId: number }>) => goaways.map((g) => g.lastStreamId)

t.test('SIGTERM: GOAWAY with the real last stream id; the stream in flight completes', async (t) => {
  const dp = await startDrainpipe(t, [...upstream, ...shortWait(3)])
  const client = h2Connect(t, dp.port)
  t.equal((await h2Request(client.session, { ':path': '/' })).status, 200, 'stream 1 served')
  const inFlight = h2Request(client.session, { ':path': '/slow?ms=1500' })
  await new Promise((r) => setTimeout(r, 200))
  dp.proc.kill('SIGTERM')
  await dp.waitForLog((l) => l.to === 'terminating')

  const done = await inFlight
  t.equal(done.status, 200, 'the stream in flight at termination start is answered')
  t.equal(done.body.toString(), 'slow done')
  t.ok(
    client.goaways.length >= 1 && client.goaways.every((g) => g.lastStreamId === 3 && g.code === 0),
    'GOAWAY NO_ERROR with the real last stream id, 3 (never a lower one)',
    {
      goaways: client.goaways,
    },
  )
  await client.closed
  t.pass('drainpipe closed the connection once its streams were done')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_http2_goaways_total', { reason: 'terminate' }), 1, 'one graceful GOAWAY counted')
  const exit = await dp.exited
  t.same(exit, { code: 0, signal: null }, 'drained and exited')
})

t.test('a connection opened during the wait is served its first stream, then told to go', async (t) => {
  const dp = await startDrainpipe(t, [...upstream, ...shortWait(3)])
  dp.proc.kill('SIGTERM')
  await dp.waitForLog((l) => l.to === 'terminating')
  const client = h2Connect(t, dp.port)
  // A stream still open when the PINGs' ACKs come back.
  const r = await h2Request(client.session, { ':path': '/slow?ms=300' })
  t.equal(r.status, 200, 'served while the LB may still route here')
  await client.closed
  t.same(goawayIds(client.goaways).slice(0, 1), [1], 'then the graceful GOAWAY, ending at stream 1')
})

t.test('a client that ignores GOAWAY is cut at --drain-timeout: gRPC calls get UNAVAILABLE, the rest RST_STREAM; counted', async (t) => {
  const dp = await startDrainpipe(t, [...upstream, ...shortWait(1), '--drain-timeout', '1'])
  const client = h2Connect(t, dp.port)
  const grpcWaiting = h2Request(client.session, { ':method': 'POST', ':path': '/hold', ...GRPC }, undefined)
  const grpcStreaming = client.session.request({ ':method': 'POST', ':path': '/hold-body', ...GRPC })
  const streaming = h2Collect(grpcStreaming)
  const plain = h2Request(client.session, { ':path': '/hold' })
  await once(grpcStreaming, 'response')

  // /prestop: drainpipe stays up once drained (until a signal), so its metrics can be read.
  const prestop = await fetch(`${dp.adminUrl}/prestop`, { signal: AbortSignal.timeout(30_000) })
  t.equal(prestop.status, 200)
  const report = (await prestop.json()) as { cut: number }

  const [w, s, p] = await Promise.all([grpcWaiting, streaming, plain])
  t.equal(w.status, 200, 'the unanswered gRPC call gets a trailers-only response')
  t.equal(w.headers['grpc-status'], '14', 'UNAVAILABLE: the client may retry it on another pod')
  t.equal(s.status, 200, 'the streaming call had its headers')
  t.equal(s.body.length, 6, 'and the message sent before the cut')
  t.equal(s.trailers?.['grpc-status'], '14', 'then UNAVAILABLE in trailers')
  t.equal(p.status, 0, 'the plain request never had an answer')
  t.equal(p.rstCode, 8, 'and is reset with CANCEL')
  t.ok(report.cut >= 1, 'the connection counted as cut in the report')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_http2_streams_cut_total', { reason: 'drain_timeout' }), 3, 'three streams cut, counted')
  t.ok(m.value('drainpipe_drain_connections_cut_total') >= 1, 'the connection counted among those cut')
})

t.test('--http2-max-connection-age: the graceful GOAWAY in normal operation, then the grace for what stays open', async (t) => {
  const dp = await startDrainpipe(t, [...upstream, '--http2-max-connection-age', '1', '--http2-max-connection-age-grace', '1'])
  const openedAt = Date.now()
  const client = h2Connect(t, dp.port)
  let firstGoawayAt = 0
  client.session.once('goaway', () => {
    firstGoawayAt = Date.now()
  })
  const held = h2Request(client.session, { ':method': 'POST', ':path': '/hold', ...GRPC })
  t.equal((await h2Request(client.session, { ':path': '/' })).status, 200)
  const r = await held
  t.ok(firstGoawayAt - openedAt >= 900, `the GOAWAY came at the age (less 10% jitter at most): ${firstGoawayAt - openedAt} ms`)
  t.same(goawayIds(client.goaways).slice(0, 1), [3], 'GOAWAY with the last stream id')
  t.equal(r.headers['grpc-status'], '14', 'the call held past the grace ends with UNAVAILABLE')
  await client.closed

  // A new connection is served as usual.
  const next = h2Connect(t, dp.port)
  t.equal((await h2Request(next.session, { ':path': '/' })).status, 200, 'a new connection is served')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_http2_goaways_total', { reason: 'max_age' }), 1)
  t.equal(m.value('drainpipe_http2_streams_cut_total', { reason: 'max_age_grace' }), 1)
  t.equal(dp.logs.filter((l) => l.to === 'terminating').length, 0, 'in normal operation: no termination involved')
})

t.test('--connection-close-on-terminate off: HTTP/2 connections keep serving through the wait, GOAWAY comes at drain', async (t) => {
  const dp = await startDrainpipe(t, [...upstream, ...shortWait(2), '--connection-close-on-terminate', 'off'])
  const client = h2Connect(t, dp.port)
  t.equal((await h2Request(client.session, { ':path': '/' })).status, 200)
  dp.proc.kill('SIGTERM')
  await dp.waitForLog((l) => l.to === 'terminating')
  t.equal((await h2Request(client.session, { ':path': '/' })).status, 200, 'served on the same connection during the wait')
  t.same(client.goaways, [], 'no GOAWAY during the wait')
  await dp.waitForLog((l) => l.to === 'draining', 15_000)
  await client.closed
  t.equal(client.goaways[0]?.lastStreamId, 3, 'the graceful GOAWAY at drain (last stream 3), and the client went')
  t.same(await dp.exited, { code: 0, signal: null })
})

t.test('an HTTP/2 connection idle for --keep-alive-timeout gets the graceful GOAWAY', async (t) => {
  const dp = await startDrainpipe(t, [...upstream, '--keep-alive-timeout', '1'])
  const client = h2Connect(t, dp.port)
  t.equal((await h2Request(client.session, { ':path': '/' })).status, 200)
  await client.closed
  t.equal(client.goaways[0]?.lastStreamId, 1, 'GOAWAY (last stream 1), and the idle client went')
  const m = await scrapeMetrics(dp.adminUrl)
  t.equal(m.value('drainpipe_http2_goaways_total', { reason: 'idle' }), 1, 'counted as idle')
})

t.test('bad values for the new flags exit 2 naming the flag', async (t) => {
  const { runCli } = await import('../helpers/processes.js')
  const bad = await runCli(['--upstream-protocol', 'h3'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--upstream-protocol "h3": expected one of h1, h2c/)
  const tcp = await runCli(['--mode', 'tcp', '--upstream-protocol', 'h2c'])
  t.equal(tcp.code, 2)
  t.match(tcp.stderr, /--upstream-protocol h2c works in --mode http only/)
  const age = await runCli(['--http2-max-connection-age', 'soon'])
  t.equal(age.code, 2)
  t.match(age.stderr, /--http2-max-connection-age/)
})
