// The closed-loop load (the lab's `--load closed` and bench:cluster): every request is counted
// once and only a real failure counts as one. A server that answers with `Connection: close` (as
// drainpipe does from termination start) loses nothing; one that closes connections under
// requests is counted request by request; connections are renewed every requestsPerConnection.
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { startLoad } from '../../bench/rollout/load/load.js'
import { Timeline } from '../../bench/rollout/load/timeline.js'

async function serve(t: Tap.Test, handler: http.RequestListener): Promise<{ url: string; connections: () => number }> {
  const server = http.createServer(handler)
  let connections = 0
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    return new Promise<void>((resolve) => server.close(() => resolve()))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections }
}

const run = async (url: string, requests: number) => {
  const load = startLoad({ url, timeline: new Timeline(), parallel: 2, connections: 2, requestsPerConnection: 5, timeoutSeconds: 5 })
  while (load.snapshot().requests < requests) await new Promise((r) => setTimeout(r, 10))
  return load.stop()
}

t.test('a server answering Connection: close loses nothing', async (t) => {
  const s = await serve(t, (_req, res) => {
    res.setHeader('connection', 'close')
    res.end('ok')
  })
  const r = await run(s.url, 400)
  t.equal(r.failed, 0, `no request counted failed (${JSON.stringify(r.errorsByCode)})`)
  t.equal(r.ok, r.requests)
  t.equal(s.connections(), r.requests, 'one connection per request: the next request never rode a closing connection')
})

t.test('a server closing connections under requests: each such request is one reset', async (t) => {
  let seen = 0
  let dropped = 0
  const s = await serve(t, (req, res) => {
    if (++seen % 3 === 0) {
      dropped++
      req.socket.destroy()
      return
    }
    res.end('ok')
  })
  const r = await run(s.url, 300)
  t.equal(r.resets, dropped, `resets (${r.resets}) are the requests the server dropped (${dropped})`)
  t.equal(r.ok, seen - dropped, 'the rest answered')
  t.equal(r.requests, seen, 'every request the server saw is counted once')
})

t.test('keep-alive: requestsPerConnection requests per connection, then new connections', async (t) => {
  const s = await serve(t, (_req, res) => res.end('ok'))
  const r = await run(s.url, 400)
  t.equal(r.failed, 0)
  t.ok(s.connections() * 5 >= r.requests, `at most 5 requests per connection (${r.requests} on ${s.connections()})`)
  t.ok(s.connections() * 5 <= r.requests + 4 * 5, `and connections reused up to 5 times (${r.requests} on ${s.connections()})`)
})
