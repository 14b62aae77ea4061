// HTTP/2 for tests over real sockets: a client that sends an NLB-shaped PROXY v2 header before
// its preface, a relay that does the same for clients that cannot (gRPC), and h2c apps.
import http2 from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import { once } from 'node:events'
import { encodeAwsVpceTlv, encodeV2 } from '../../src/proxy-protocol/encode.js'

interface Teardown {
  teardown(fn: () => unknown): void
}

export const CLIENT = { address: '203.0.113.7', port: 51234 }

/** A PROXY v2 header as an NLB sends it (CRC32C TLV, padded to 100 bytes). */
export function nlbHeader(opts: { source?: { address: string; port: number }; dstPort?: number; vpceId?: string } = {}): Buffer {
  return encodeV2({
    command: 'PROXY',
    source: opts.source ?? CLIENT,
    destination: { address: '10.0.0.5', port: opts.dstPort ?? 80 },
    tlvs: opts.vpceId ? [encodeAwsVpceTlv(opts.vpceId)] : [],
    crc32c: true,
    padTo: 100,
  })
}

/** GOAWAY frames a client session received, in order. */
export interface Goaway {
  code: number
  lastStreamId: number
}

export interface H2Client {
  readonly session: http2.ClientHttp2Session
  readonly goaways: Goaway[]
  /** Resolves when the session has closed (the server closed the connection, or close()). */
  readonly closed: Promise<void>
}

/** An HTTP/2 (prior knowledge) client session to `port` whose connection begins with `header` (null: none). */
export function h2Connect(t: Teardown, port: number, header: Buffer | null = nlbHeader(), opts: http2.ClientSessionOptions = {}): H2Client {
  const session = http2.connect(`http://127.0.0.1:${port}`, {
    ...opts,
    createConnection: () => {
      const socket = net.connect(port, '127.0.0.1')
      if (header) socket.write(header)
      return socket
    },
  })
  const goaways: Goaway[] = []
  session.on('goaway', (code, lastStreamId) => goaways.push({ code, lastStreamId }))
  session.on('error', () => {})
  const closed = once(session, 'close').then(() => undefined)
  t.teardown(() => session.destroy())
  return { session, goaways, closed }
}

export interface H2Response {
  status: number
  headers: http2.IncomingHttpHeaders
  body: Buffer
  trailers: http2.IncomingHttpHeaders | undefined
  rstCode: number
}

/** One request; resolves when the stream has closed (whatever way: see rstCode). */
export function h2Request(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string | Buffer,
  trailers?: http2.OutgoingHttpHeaders,
): Promise<H2Response> {
  const req = session.request(headers, { endStream: body === undefined && !trailers, waitForTrailers: trailers !== undefined })
  if (trailers) req.on('wantTrailers', () => req.sendTrailers(trailers))
  if (body !== undefined || trailers) req.end(body)
  return h2Collect(req)
}

export function h2Collect(req: http2.ClientHttp2Stream): Promise<H2Response> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    const out: H2Response = { status: 0, headers: {}, body: Buffer.alloc(0), trailers: undefined, rstCode: 0 }
    req.on('response', (h) => {
      out.status = Number(h[':status'])
      out.headers = h
    })
    req.on('trailers', (tr) => {
      out.trailers = tr
    })
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    req.on('close', () => {
      out.body = Buffer.concat(chunks)
      out.rstCode = req.rstCode ?? 0
      resolve(out)
    })
  })
}

export interface H2App {
  readonly server: http2.Http2Server
  readonly port: number
}

/** An h2c app on 127.0.0.1 serving `onStream`; closed in teardown. */
export async function startH2App(
  t: Teardown,
  onStream: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void,
): Promise<H2App> {
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    onStream(stream, headers)
  })
  server.on('sessionError', () => {})
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const sessions = new Set<http2.ServerHttp2Session>()
  server.on('session', (s) => {
    sessions.add(s)
    s.once('close', () => sessions.delete(s))
  })
  t.teardown(() => {
    for (const s of sessions) s.destroy()
    server.close()
  })
  return { server, port: (server.address() as AddressInfo).port }
}

export interface Relay {
  readonly port: number
  /** Connections from now on go to `port` (as an LB that deregistered one target for another). */
  retarget(port: number): void
  /** Client connections relayed so far. */
  readonly connections: number
}

/**
 * A loopback "load balancer" for clients that cannot write a PROXY header themselves (gRPC):
 * each connection is relayed to the current target from 127.0.0.2 (the LB node), behind an
 * NLB-shaped PROXY v2 header carrying the client's own address (127.0.0.1) and port.
 */
export async function startRelay(t: Teardown, targetPort: number): Promise<Relay> {
  let target = targetPort
  let connections = 0
  const open = new Set<net.Socket>()
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    connections++
    // From 127.0.0.2: drainpipe's peer (the "LB node") differs from the client in the header.
    const upstream = net.connect({ port: target, host: '127.0.0.1', localAddress: '127.0.0.2', allowHalfOpen: true })
    upstream.write(nlbHeader({ source: { address: '127.0.0.1', port: client.remotePort! } }))
    client.pipe(upstream)
    upstream.pipe(client)
    for (const s of [client, upstream]) {
      open.add(s)
      s.on('close', () => open.delete(s))
    }
    client.on('error', () => upstream.destroy())
    upstream.on('error', () => client.destroy())
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => {
    for (const s of open) s.destroy()
    server.close()
  })
  return {
    port: (server.address() as AddressInfo).port,
    retarget(port) {
      target = port
    },
    get connections() {
      return connections
    },
  }
}
