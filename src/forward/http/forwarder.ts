// http mode: an HTTP/1.1 server on the accepted sockets (fed the payload that came with
// the PROXY header), forwarding through a keep-alive pool to the app, bodies streamed both
// ways. Drain (see docs/lifecycle.md): a connection closes after the last
// response it owes; idle keep-alives are closed only where no byte of a next request has
// arrived (one whose bytes started arriving is answered, with `Connection: close`); pipelined
// requests already received are all answered; new upgrades are refused with 503.
// A connection that begins with the HTTP/2 preface is served by the HTTP/2 side instead
// (../http2/front.ts), which shares this forwarder's pool, hooks and drain.
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { http } from '../../builtins.js'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { createRequire } from 'node:module'
import type Pool from 'undici/lib/dispatcher/pool.js'
import type { HostPort } from '../../config.js'
import type { Forwarder } from '../forwarder.js'
import type { ClientConnection, ClientInfo } from '../../ingress/client-info.js'
import type { Metrics } from '../../admin/metrics.js'
import type { Logger } from '../../log.js'
import type { UpstreamProbe } from '../upstream-probe.js'
import { ConnectionSet } from '../../ingress/connection-set.js'
import { forwardedValues, type ForwardedValues, type ForwardedProto } from './forwarded-headers.js'
import { upstreamHeaders } from './request-headers.js'
import { ResponseHandler, type ResponseHooks } from './response-handler.js'
import { connectToApp } from '../app-connection.js'
import { detectProtocol } from '../../ingress/http2-preface.js'
import { Http2Front } from '../http2/front.js'

// undici's Pool alone, not undici's index: the index also loads fetch, WebSocket, caches and
// mocks, ~40 ms of start-up for nothing drainpipe uses (undici is pinned to an exact version).
// Loaded when the first http forwarder is built, not when this module is imported: sidecar.ts
// imports both forwarders, and a tcp-mode pod never needs undici (docs/performance.md, "Memory").
let pool: typeof Pool | undefined
function loadPool(): typeof Pool {
  pool ??= createRequire(import.meta.url)('undici/lib/dispatcher/pool.js') as typeof Pool
  return pool
}

export interface HttpForwarderOptions {
  upstream: HostPort
  connectTimeoutMs: number
  upstreamTimeoutMs: number
  keepAliveTimeoutMs: number
  xff: 'replace' | 'append'
  forwardedProto: ForwardedProto
  probe: UpstreamProbe
  metrics: Metrics
  logger: Logger
  /** Told of every request (by the LB node it came through): activity for the traffic observer. */
  activity?: { requestSeen(source: string, now: number): void }
  /** How HTTP/2 clients' streams reach the app: HTTP/1.1 through the pool (default), or h2c. */
  upstreamProtocol?: 'h1' | 'h2c'
  /** HTTP/2 client connections get a graceful GOAWAY after this long (±10%); 0 (default): never. */
  http2MaxConnectionAgeMs?: number
  /** Streams still open this long after a max-age GOAWAY are cut; 0 (default): never. */
  http2MaxConnectionAgeGraceMs?: number
}

/** A client connection idle for less than this when draining starts gets this long to send one more request (answered with Connection: close) before it is closed. */
export const IDLE_CLOSE_GRACE_MS = 1000

/** Per-connection state, kept on the socket. */
interface Conn {
  readonly info: ClientInfo
  readonly fwd: ForwardedValues
  inFlight: number
  idleSince: number
  /** Bytes of a request have arrived that the parser has not yet made a request of. */
  receiving: boolean
  /** Pipelined requests waiting for the one before them to be answered. */
  waiting: Array<() => void>
  /** A malformed request followed the ones in flight: run once they are answered. */
  afterLast?: () => void
  lastRequest?: IncomingMessage
}
const kConn = Symbol('drainpipe.conn')
type ConnSocket = Socket & { [kConn]?: Conn }

export class HttpForwarder implements Forwarder {
  readonly #opts: HttpForwarderOptions
  readonly #server: HttpServer
  readonly #pool: Pool
  readonly #clients = new ConnectionSet()
  readonly #h2: Http2Front
  #requests = 0
  #draining = false
  /** Responses carry Connection: close (termination started, or draining). */
  #closing = false

  constructor(opts: HttpForwarderOptions) {
    this.#opts = opts
    this.#server = http.createServer({ keepAliveTimeout: opts.keepAliveTimeoutMs }, (req, res) => this.#onRequest(req, res))
    // A client that half-closes after its request still gets the response.
    ;(this.#server as unknown as { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.#onUpgrade(req, socket, head))
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      // Malformed requests (smuggling attempts, oversized headers, bare LF): Node's strict
      // parser rejects them; answer 400/431 and close, never forward.
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request'
      const reject = () => {
        if (socket.writable && !socket.destroyed) socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`)
        socket.destroy()
      }
      const gone = err.code === 'ECONNRESET' || err.code === 'EPIPE'
      opts.logger.debug(
        { client: (socket as ConnSocket)[kConn]?.info.address, code: err.code },
        gone ? 'client connection reset' : 'malformed HTTP request rejected',
      )
      // Pipelined requests before the bad one are answered first: a 400 written now would
      // be read by the client as the answer to the earliest of them.
      // (A body that fails to parse belongs to the last request, which cannot be answered.)
      const conn = (socket as ConnSocket)[kConn]
      if (conn && conn.inFlight > 0 && conn.lastRequest?.complete && !socket.destroyed) {
        socket.pause()
        conn.afterLast = reject
      } else reject()
    })
    this.#pool = new (loadPool())(
      `http://${opts.upstream.host.includes(':') ? `[${opts.upstream.host}]` : opts.upstream.host}:${opts.upstream.port}`,
      {
        connections: 256,
        pipelining: 1,
        connect: { timeout: opts.connectTimeoutMs },
        headersTimeout: opts.upstreamTimeoutMs,
        bodyTimeout: opts.upstreamTimeoutMs,
        keepAliveTimeout: 4000,
      },
    )
    this.#h2 = new Http2Front({
      upstream: opts.upstream,
      upstreamProtocol: opts.upstreamProtocol ?? 'h1',
      connectTimeoutMs: opts.connectTimeoutMs,
      upstreamTimeoutMs: opts.upstreamTimeoutMs,
      keepAliveTimeoutMs: opts.keepAliveTimeoutMs,
      appendXff: opts.xff === 'append',
      maxConnectionAgeMs: opts.http2MaxConnectionAgeMs ?? 0,
      maxConnectionAgeGraceMs: opts.http2MaxConnectionAgeGraceMs ?? 0,
      pool: () => this.#pool,
      probe: opts.probe,
      metrics: opts.metrics,
      logger: opts.logger,
      requestSeen: (source, now) => {
        this.#requests++
        opts.activity?.requestSeen(source, now)
      },
    })
  }

  get active(): number {
    return this.#clients.size + this.#h2.active
  }
  get requests(): number {
    return this.#requests
  }

  accept({ socket, client: info, head }: ClientConnection): void {
    this.#clients.add(socket)
    detectProtocol(socket, head, (protocol, bytes) => {
      const fwd = forwardedValues(info, this.#opts.forwardedProto)
      if (protocol === 'h2') {
        this.#clients.delete(socket)
        this.#h2.accept(socket, info, fwd, bytes)
      } else this.#acceptH1(socket, info, fwd, bytes)
    })
  }

  #acceptH1(socket: Socket, info: ClientInfo, fwd: ForwardedValues, head: Buffer): void {
    ;(socket as ConnSocket)[kConn] = {
      info,
      fwd,
      inFlight: 0,
      idleSince: performance.now(),
      receiving: head.length > 0,
      waiting: [],
    }
    if (head.length > 0) socket.unshift(head)
    this.#server.emit('connection', socket)
    watchMessageStarts(socket as ConnSocket)
    socket.resume()
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as ConnSocket
    const conn = socket[kConn]!
    const started = performance.now()
    this.#requests++
    conn.inFlight++
    conn.receiving = false
    conn.lastRequest = req
    const { metrics, logger } = this.#opts
    metrics.httpRequests.inc()
    this.#opts.activity?.requestSeen(conn.info.peerAddress, started)
    res.once('close', () => {
      conn.inFlight--
      conn.idleSince = performance.now()
      const cls = `${(res.statusCode / 100) | 0}xx` as '2xx'
      metrics.httpResponses[cls]?.inc()
      if (logger.isLevelEnabled('debug')) {
        logger.debug(
          {
            client: conn.info.address,
            lb: conn.info.peerAddress,
            method: req.method,
            url: req.url,
            status: res.statusCode,
            bytes: res.getHeader('content-length'),
            ms: Math.round(performance.now() - started),
            finished: res.writableFinished,
          },
          'request',
        )
      }
      if (conn.inFlight === 0 && conn.afterLast) return conn.afterLast()
      if (this.#draining && conn.inFlight === 0) this.#closeWhenIdle(socket)
      conn.waiting.shift()?.()
    })

    // Pipelined requests reach the app one at a time, in order, as a client that pipelines
    // expects (RFC 9112 §9.3.2): never in parallel, which could reorder a POST and a GET and
    // would let one connection fan out to the whole upstream pool.
    if (conn.inFlight > 1) conn.waiting.push(() => this.#forward(req, res, conn))
    else this.#forward(req, res, conn)
  }

  #forward(req: IncomingMessage, res: ServerResponse, conn: Conn): void {
    if (res.destroyed) return
    const url = req.url ?? '/'
    if (url[0] !== '/') {
      // The pool sends origin-form targets only: absolute-form is for forward proxies, and
      // asterisk-form (OPTIONS *) is valid HTTP that undici cannot send (it failed as a 502).
      const asterisk = url === '*'
      res.writeHead(asterisk ? 501 : 400, { 'content-type': 'text/plain', connection: 'close' })
      res.end(
        asterisk ? 'drainpipe: OPTIONS * is not forwarded to the app\n' : 'drainpipe: only origin-form request targets are forwarded\n',
      )
      return
    }
    const hasBody =
      req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
    this.#pool.dispatch(
      {
        path: url,
        method: req.method as 'GET',
        headers: upstreamHeaders(req, conn.fwd, this.#opts.xff === 'append', false),
        body: hasBody ? req : null,
      },
      new ResponseHandler(req, res, this.#hooks),
    )
  }

  readonly #hooks: ResponseHooks = {
    upstream: (reachable) => this.#opts.probe.report(reachable),
    failed: (kind, status, err, req) => {
      this.#opts.metrics.upstreamErrors[kind].inc()
      // req.socket is null once the client connection is gone (undici destroys a request body it could not send, and with it the socket).
      const client = (req.socket as ConnSocket | null)?.[kConn]?.info.address
      const e = { code: (err as NodeJS.ErrnoException).code, message: err.message }
      if (status)
        this.#opts.logger.warn(
          { client, method: req.method, url: req.url, status, err: e },
          status === 504 ? 'app timed out' : 'app unreachable',
        )
      else
        this.#opts.logger.warn(
          { client, method: req.method, url: req.url, err: e },
          'app connection failed mid-response; client connection cut',
        )
    },
    closing: (req) => this.#closesAfter(req),
  }

  /**
   * Whether the response to `req` is the connection's last: closing (termination started, or
   * draining), and nothing received behind it (no pipelined request waiting, no bytes of a next
   * one). Otherwise the requests behind it are answered first and the last of them carries the
   * `Connection: close`.
   */
  #closesAfter(req: IncomingMessage): boolean {
    if (!this.#closing) return false
    const conn = (req.socket as ConnSocket)[kConn]
    return !conn || (conn.inFlight <= 1 && !conn.receiving)
  }

  /** Upgrade (WebSocket): a raw tunnel to the app; the app's own answer (101 or not) goes back verbatim. */
  #onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const conn = (socket as ConnSocket)[kConn]!
    const { upstream, metrics, logger, probe } = this.#opts
    this.#requests++
    metrics.httpRequests.inc()
    conn.receiving = false
    if (this.#draining) {
      // A new long-lived tunnel cannot finish within the drain: refuse it before it starts, so
      // the client reconnects (through the load balancer, to a pod that stays). Upgrades made
      // before draining began keep running until --drain-timeout.
      metrics.httpResponses['5xx'].inc()
      logger.info({ client: conn.info.address, url: req.url, upgrade: req.headers.upgrade }, 'upgrade refused: draining')
      const body = 'drainpipe: this pod is shutting down; upgrades are refused while draining, reconnect\n'
      socket.end(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nretry-after: 0\r\nconnection: close\r\n\r\n${body}`,
      )
      return
    }
    // An upgraded connection is never idle: draining waits for it to end.
    conn.inFlight++
    const app = connectToApp(upstream, this.#opts.connectTimeoutMs)
    const headers = upstreamHeaders(req, conn.fwd, this.#opts.xff === 'append', true)
    let text = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`
    for (let i = 0; i < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`
    app.write(`${text}\r\n`)
    if (head.length > 0) app.write(head)
    app.once('connect', () => {
      probe.report(true)
      socket.pipe(app)
      app.pipe(socket)
    })
    app.on('error', (err: NodeJS.ErrnoException) => {
      if (app.bytesRead === 0 && !socket.destroyed && socket.writable) {
        metrics.upstreamErrors.connect.inc()
        metrics.httpResponses['5xx'].inc()
        logger.warn(
          { client: conn.info.address, url: req.url, err: { code: err.code, message: err.message } },
          'app unreachable for upgrade',
        )
        socket.end(
          'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain\r\ncontent-length: 40\r\nconnection: close\r\n\r\ndrainpipe: the app could not be reached\n',
        )
      } else socket.destroy()
    })
    socket.on('error', () => app.destroy())
    socket.once('close', () => app.destroy())
    app.once('close', () => {
      if (!socket.destroyed) socket.end()
    })
  }

  /**
   * Close a draining connection that owes nothing: no request in flight and no byte of a next
   * one received. One whose request bytes started arriving is left to finish that request,
   * which is answered with `Connection: close`. The decision waits for the next I/O poll, so
   * bytes already in the kernel's buffer are read first (and keep the connection open).
   */
  #closeWhenIdle(socket: ConnSocket): void {
    const conn = socket[kConn]
    if (!conn || socket.destroyed || conn.inFlight > 0 || conn.receiving) return
    const idleFor = performance.now() - conn.idleSince
    if (idleFor < IDLE_CLOSE_GRACE_MS) {
      setTimeout(() => this.#closeWhenIdle(socket), IDLE_CLOSE_GRACE_MS - idleFor).unref()
      return
    }
    setImmediate(() => {
      if (!socket.destroyed && conn.inFlight === 0 && !conn.receiving) socket.destroySoon()
    })
  }

  announceClose(): void {
    this.#closing = true
    this.#h2.announceClose()
  }

  async drain(): Promise<void> {
    this.#draining = true
    this.#closing = true
    for (const socket of this.#clients) this.#closeWhenIdle(socket as ConnSocket)
    await Promise.all([this.#clients.whenEmpty(), this.#h2.drain()])
  }

  /** Serve again after a drain (the app restarted, the pod port reopened). */
  resume(): void {
    this.#draining = false
    this.#closing = false
    this.#h2.resume()
  }

  abort(): number {
    return this.#h2.abort() + this.#clients.destroyAll()
  }

  async close(): Promise<void> {
    this.abort()
    await this.#h2.close()
    await this.#pool.close().catch(() => {})
  }
}

/**
 * Mark the connection `receiving` from the first byte of each request until the parser has
 * made a request of it: Node's HTTP parser calls its kOnMessageBegin slot (index 0, the
 * same slot _http_common leaves empty) when a message starts. Parsers are pooled and shared
 * between servers, so the callback checks that the parser still belongs to this socket.
 */
function watchMessageStarts(socket: ConnSocket): void {
  const parser = (socket as unknown as { parser?: Record<number, unknown> & { socket?: Socket } }).parser
  if (!parser) return
  parser[0] = () => {
    const conn = socket[kConn]
    if (conn && parser.socket === socket) conn.receiving = true
  }
}
