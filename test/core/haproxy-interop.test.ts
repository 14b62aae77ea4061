// Interop with a real PROXY protocol sender: HAProxy in front of drainpipe, like the NLB.
// The client is curl (or a Node socket) bound to 127.0.0.7; HAProxy connects to drainpipe
// from 127.0.0.9. The app must see 127.0.0.7 although its socket peer is drainpipe and
// drainpipe's socket peer is HAProxy.
import t from 'tap'
import net from 'node:net'
import { once } from 'node:events'
import { needs, startApp, startHaproxy } from '../helpers/processes.js'
import { startInProcess } from '../helpers/sidecar.js'
import { curl } from '../helpers/http.js'
import { scrapeMetrics } from '../helpers/metrics.js'
import { startTcpServer } from '../helpers/servers.js'
import { within } from '../helpers/wait.js'
import { HeaderReader } from '../../src/proxy-protocol/reader.js'
import type { ProxyHeader } from '../../src/proxy-protocol/header.js'

const CLIENT = '127.0.0.7'
const HAPROXY_SOURCE = '127.0.0.9'

interface Seen {
  socket: string
  xForwardedFor: string | null
  xRealIp: string | null
  forwarded: string | null
  proto: string | null
}

for (const [label, serverOptions] of [
  ['v2 (send-proxy-v2, CRC32C TLV)', 'send-proxy-v2 proxy-v2-options crc32c'],
  ['v1 (send-proxy)', 'send-proxy'],
] as const) {
  t.test(`http mode behind HAProxy ${label}: the app sees the client, not HAProxy`, { skip: needs('haproxy', 'curl') }, async (t) => {
    const app = await startApp(t)
    const dp = await startInProcess(t, ['--upstream', `127.0.0.1:${app.port}`, '--proxy-protocol', 'required', '--log-level', 'debug'])
    const haproxy = await startHaproxy(
      t,
      { host: '127.0.0.1', port: dp.port },
      { serverOptions: `${serverOptions} source ${HAPROXY_SOURCE}` },
    )

    const r = await curl(`http://127.0.0.1:${haproxy.port}/`, { interface: CLIENT, args: ['-H', 'X-Forwarded-For: 6.6.6.6'] })
    t.equal(r.code, 0, `curl succeeded ${r.stderr}`)
    t.equal(r.status, 200)
    const seen = JSON.parse(r.body) as Seen
    t.equal(seen.socket, '127.0.0.1', "the app's socket peer is drainpipe")
    t.equal(seen.xForwardedFor, CLIENT, 'X-Forwarded-For is the client behind HAProxy (the forged value dropped)')
    t.equal(seen.xRealIp, CLIENT)
    t.equal(seen.forwarded, `for=${CLIENT};proto=http`)

    const line = await dp.waitForLog((l) => l.msg === 'request')
    t.equal(line.client, CLIENT, 'drainpipe logs the client from the header')
    t.equal(line.lb, HAPROXY_SOURCE, 'and the socket peer (HAProxy) as the LB')
    const m = await scrapeMetrics(dp.adminUrl)
    t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'client' }), 1, 'one client connection with a header')
    t.equal(m.value('drainpipe_connections_accepted_total', { kind: 'direct' }), 0)
    t.same(
      m.samples.filter((x) => x.name === 'drainpipe_proxy_header_errors_total' && x.value > 0).map((x) => x.labels),
      [],
      "HAProxy's header (and its CRC32C) accepted",
    )
  })
}

/** A tcp app that reads a PROXY header with the project's reader, then reports it and what followed. */
async function headerReportingApp(t: Parameters<Parameters<typeof t.test>[1]>[0]) {
  return startTcpServer(t, (socket) => {
    const reader = new HeaderReader()
    let header: ProxyHeader | null = null
    let payload = Buffer.alloc(0)
    let error: string | null = null
    socket.on('data', (chunk: Buffer) => {
      if (header === null && error === null) {
        const r = reader.push(chunk)
        if (r.kind === 'more') return
        if (r.kind === 'header') {
          header = r.header
          payload = Buffer.from(r.rest)
        } else if (r.kind === 'error') error = r.error.code
        else error = 'no header'
      } else payload = Buffer.concat([payload, chunk])
      if (payload.includes(0x0a) || error !== null) {
        socket.end(
          `${JSON.stringify({
            version: header?.version,
            command: header?.command,
            source: header?.source,
            destination: header?.destination,
            payload: payload.toString('latin1'),
            error,
            peer: socket.remoteAddress,
          })}\n`,
        )
      }
    })
  })
}

for (const upstreamPp of ['v2', 'v1'] as const) {
  t.test(
    `tcp mode behind HAProxy with --upstream-proxy-protocol ${upstreamPp}: the app reads the client from drainpipe's header`,
    { skip: needs('haproxy') },
    async (t) => {
      const app = await headerReportingApp(t)
      const dp = await startInProcess(t, [
        '--mode',
        'tcp',
        '--upstream',
        `127.0.0.1:${app.port}`,
        '--proxy-protocol',
        'required',
        '--upstream-proxy-protocol',
        upstreamPp,
      ])
      const haproxy = await startHaproxy(
        t,
        { host: '127.0.0.1', port: dp.port },
        { serverOptions: `send-proxy-v2 source ${HAPROXY_SOURCE}` },
      )

      const client = net.connect({ host: '127.0.0.1', port: haproxy.port, localAddress: CLIENT })
      await once(client, 'connect')
      const clientPort = client.localPort
      client.write('hello through three hops\n')
      let answer = ''
      client.setEncoding('utf8').on('data', (d: string) => {
        answer += d
      })
      t.not(await within(once(client, 'end'), 10_000), 'timeout', `the app answered and closed (got ${JSON.stringify(answer)})`)
      client.destroy()
      const seen = JSON.parse(answer) as {
        version: number
        command: string
        source: { address: string; port: number }
        destination: { address: string; port: number }
        payload: string
        error: string | null
        peer: string
      }
      t.equal(seen.error, null)
      t.equal(seen.version, upstreamPp === 'v2' ? 2 : 1)
      t.equal(seen.command, 'PROXY')
      t.same(seen.source, { address: CLIENT, port: clientPort }, 'source: the client as HAProxy saw it')
      t.same(
        seen.destination,
        { address: '127.0.0.1', port: haproxy.port },
        "destination: the address the client connected to (HAProxy's frontend)",
      )
      t.equal(seen.payload, 'hello through three hops\n', 'payload after the header, byte for byte')
      t.equal(seen.peer, '127.0.0.1', "the app's socket peer is drainpipe")
    },
  )
}
