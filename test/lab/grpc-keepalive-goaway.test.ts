// Why the lab's gRPC channels run without keepalive PINGs: @grpc/grpc-js (1.14) keeps its
// keepalive timer running after a graceful GOAWAY, but Node's HTTP/2 client session closes
// itself on a NO_ERROR GOAWAY, so the next PING cannot be sent ("Ping returned false", "HTTP2
// ping cancelled") and grpc-js drops the connection with every call still in flight on it:
// UNAVAILABLE "Connection dropped" for calls the server had accepted and was about to answer
// (grpc/grpc-node#3068). That is what made the grpc regime lose calls through drainpipe now and
// then: all 12 channels' keepalive timers run in phase, so a run lost none or dozens.
// Here: a real HTTP/2 server that answers the calls slowly and sends drainpipe's graceful GOAWAY
// (goaway.ts) once they have all arrived; the lab's channel settings must see every call end OK.
import t from 'tap'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import grpc from '@grpc/grpc-js'
import { channelOptions, EchoClient, GRPC_METHOD, type Echo } from '../../bench/rollout/load/grpc.js'
import { gracefulGoaway } from '../../src/forward/http2/goaway.js'

const CALLS = 5
/** The lab's clock in these tests: 60 simulated s of keepalive would be 300 ms wall. */
const TIME_SCALE = 0.005
/** Answers come this long after the GOAWAY: several keepalive periods. */
const HOLD_MS = 1200

/** A server that holds every call HOLD_MS and sends the graceful GOAWAY once CALLS streams have arrived. */
async function slowServer(t: Tap.Test): Promise<number> {
  const server = http2.createServer()
  let last = 0
  let seen = 0
  server.on('stream', (stream) => {
    last = Math.max(last, stream.id ?? 0)
    stream.on('error', () => {})
    stream.resume()
    stream.on('end', () => {
      setTimeout(() => {
        if (stream.destroyed) return
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
        stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }))
        stream.end(Buffer.from([0, 0, 0, 0, 0]))
      }, HOLD_MS)
    })
    if (++seen === CALLS) void gracefulGoaway(stream.session!, () => last)
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return (server.address() as AddressInfo).port
}

/** Send CALLS calls at once on one connected channel; the status name and details of each. */
async function callsAcrossGoaway(t: Tap.Test, options: grpc.ChannelOptions): Promise<string[]> {
  const port = await slowServer(t)
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options) as unknown as Echo
  t.teardown(() => client.close())
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5000, (err) => (err ? reject(err) : resolve())))
  const ends = Array.from(
    { length: CALLS },
    () =>
      new Promise<string>((resolve) =>
        client.Call(Buffer.from('x'), new grpc.Metadata(), { deadline: Date.now() + 10 * HOLD_MS }, (err) =>
          resolve(err === null ? 'OK' : `${grpc.status[err.code]}: ${err.details}`),
        ),
      ),
  )
  return Promise.all(ends)
}

t.test("the lab's channels: calls in flight at a graceful GOAWAY all end OK", async (t) => {
  const ends = await callsAcrossGoaway(t, channelOptions({ timeScale: TIME_SCALE }))
  t.same(ends, Array(CALLS).fill('OK'), 'no call lost across the GOAWAY')
})

t.test('grpc-js keepalive PINGs during the drain drop the calls (grpc/grpc-node#3068)', async (t) => {
  const ends = await callsAcrossGoaway(t, {
    ...channelOptions({ timeScale: TIME_SCALE }),
    'grpc.keepalive_time_ms': HOLD_MS / 4,
    'grpc.keepalive_timeout_ms': 5000,
    'grpc.keepalive_permit_without_calls': 1,
  })
  // When this fails, grpc-js keeps calls across a GOAWAY with keepalive on: the lab may turn it back on.
  t.same(ends, Array(CALLS).fill('UNAVAILABLE: Connection dropped'), 'every call in flight dropped by the client itself')
})
