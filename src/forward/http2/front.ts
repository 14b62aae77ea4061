// The HTTP/2 side of http mode: client connections that began with the HTTP/2 preface
// (preface.ts) are served here, one Node HTTP/2 session each; every stream is forwarded to the
// app (to-h2c.ts or to-h1.ts, by --upstream-protocol) with the same forwarding headers and the
// same activity reports as an HTTP/1.1 request. Closing a connection is always the graceful
// GOAWAY sequence (goaway.ts): at termination start (announceClose), at drain, when a
// connection reaches --http2-max-connection-age, or when it idled --keep-alive-timeout.
// At --drain-timeout (abort) the streams left are cut (gRPC calls get UNAVAILABLE first).
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import type Pool from 'undici/lib/dispatcher/pool.js'
import type { Metrics } from '../../admin/metrics.js'
import type { Logger } from '../../log.js'
import type { ClientInfo } from '../../ingress/client-info.js'
import { ConnectionSet } from '../../ingress/connection-set.js'
import type { ForwardedValues } from '../http/forwarded-headers.js'
import { CUT_TRAILERS_MS, Exchange, type StopBody, type StreamHooks } from './exchange.js'
import { gracefulGoaway } from './goaway.js'
import { loadHttp2 } from '../../builtins.js'
import { forwardOverH1 } from './to-h1.js'
import { forwardOverH2c } from './to-h2c.js'
import { UpstreamSessions } from './upstream-sessions.js'
import type { HostPort } from '../../config.js'
import type { UpstreamProbe } from '../upstream-probe.js'

/** Streams a client may have open on one connection (SETTINGS_MAX_CONCURRENT_STREAMS), as HAProxy and nginx default to. */
export const MAX_CONCURRENT_STREAMS = 100
/** Connection-level receive window of a client connection: every stream's default window fits, so a stream whose body the app does not read never stalls the others. */
export const CLIENT_CONNECTION_WINDOW = (MAX_CONCURRENT_STREAMS + 1) * 65_535

export type GoawayReason = 'terminate' | 'max_age' | 'idle'
export type CutReason = 'drain_timeout' | 'max_age_grace'

export interface Http2FrontOptions {
  upstream: HostPort
  upstreamProtocol: 'h1' | 'h2c'
  connectTimeoutMs: number
  upstreamTimeoutMs: number
  /** An idle connection (no stream open) gets the graceful GOAWAY after this long. */
  keepAliveTimeoutMs: number
  appendXff: boolean
  /** 0: off. Otherwise each connection gets the graceful GOAWAY after this ±10%. */
  maxConnectionAgeMs: number
  /** 0: no bound. Otherwise streams still open this long after a max-age GOAWAY are cut. */
  maxConnectionAgeGraceMs: number
  /** The http forwarder's pool (--upstream-protocol h1). */
  pool: () => Pool
  probe: UpstreamProbe
  metrics: Metrics
  logger: Logger
  /** Told of every stream, as of every HTTP/1.1 request. */
  requestSeen(source: string, now: number): void
}

interface Conn {
  readonly session: ServerHttp2Session
  readonly info: ClientInfo
  readonly fwd: ForwardedValues
  lastStreamId: number
  readonly streams: Map<Exchange, StopBody>
  goingAway: boolean
  ageTimer?: NodeJS.Timeout
}

export class Http2Front {
  readonly #opts: Http2FrontOptions
  readonly #sockets = new ConnectionSet()
  readonly #conns = new Set<Conn>()
  #server: Http2Server | undefined
  #upstream: UpstreamSessions | undefined
  /** The connection being handed to the server (its 'session' event fires within emit('connection')). */
  #incoming: { info: ClientInfo; fwd: ForwardedValues } | undefined
  #closing = false

  readonly #hooks: StreamHooks

  constructor(opts: Http2FrontOptions) {
    this.#opts = opts
    const { probe, metrics, logger } = opts
    this.#hooks = {
      upstream: (reachable) => probe.report(reachable),
      failed: (kind, status, err, ex) => {
        metrics.upstreamErrors[kind].inc()
        const e = { code: (err as NodeJS.ErrnoException).code, message: err.message }
        logger.warn(
          { client: ex.client, method: ex.method, url: ex.url, http2: true, status: status || undefined, err: e },
          status === 504 ? 'app timed out' : status ? 'app unreachable' : 'app connection failed mid-response; client stream reset',
        )
      },
      upstreamReset: () => metrics.http2Resets.upstream.inc(),
    }
  }

  /** Open HTTP/2 client connections. */
  get active(): number {
    return this.#sockets.size
  }

  /** Serve a client connection whose payload begins with the preface (`head`: the bytes read so far). */
  accept(socket: Socket, info: ClientInfo, fwd: ForwardedValues, head: Buffer): void {
    this.#sockets.add(socket)
    this.#opts.metrics.http2Connections.inc()
    socket.unshift(head)
    this.#incoming = { info, fwd }
    // Not resumed: the session reads what is buffered (the preface) itself, then the socket.
    this.#serverOnce().emit('connection', socket)
    this.#incoming = undefined
  }

  #serverOnce(): Http2Server {
    if (this.#server) return this.#server
    const server = loadHttp2().createServer({ settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS } })
    server.on('session', (session: ServerHttp2Session) => this.#onSession(session))
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]) =>
      this.#onStream(stream, headers, flags, raw),
    )
    this.#server = server
    return server
  }

  #onSession(session: ServerHttp2Session): void {
    const incoming = this.#incoming
    if (!incoming) {
      session.destroy()
      return
    }
    const conn: Conn = { session, ...incoming, lastStreamId: 0, streams: new Map(), goingAway: false }
    this.#conns.add(conn)
    ;(session as SessionWithConn)[kConn] = conn
    session.setLocalWindowSize(CLIENT_CONNECTION_WINDOW)
    session.on('error', (err: NodeJS.ErrnoException) =>
      this.#opts.logger.debug({ client: conn.info.address, code: err.code }, 'HTTP/2 client connection error'),
    )
    session.setTimeout(this.#opts.keepAliveTimeoutMs, () => {
      if (conn.streams.size === 0) this.#goAway(conn, 'idle')
    })
    const { maxConnectionAgeMs } = this.#opts
    if (maxConnectionAgeMs > 0) {
      // ±10% so that connections opened together (a client's pool, a reconnect storm) do not all go at once.
      conn.ageTimer = setTimeout(() => this.#goAway(conn, 'max_age'), maxConnectionAgeMs * (0.9 + 0.2 * Math.random()))
      conn.ageTimer.unref()
    }
    session.once('close', () => {
      clearTimeout(conn.ageTimer)
      this.#conns.delete(conn)
    })
  }

  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, raw: string[]): void {
    const conn = (stream.session as SessionWithConn | undefined)?.[kConn]
    if (!conn) {
      stream.close(0x8)
      return
    }
    const { metrics, logger } = this.#opts
    const started = performance.now()
    const id = stream.id ?? 0
    if (id > conn.lastStreamId) conn.lastStreamId = id
    metrics.http2Streams.inc()
    metrics.httpRequests.inc()
    this.#opts.requestSeen(conn.info.peerAddress, started)
    const ex = new Exchange(stream, headers, conn.info.address)
    stream.on('error', (err: NodeJS.ErrnoException) => logger.debug({ client: conn.info.address, code: err.code }, 'HTTP/2 stream error'))
    stream.once('close', () => {
      conn.streams.delete(ex)
      if (ex.resetByClient) metrics.http2Resets.client.inc()
      if (ex.status > 0) metrics.httpResponses[`${(ex.status / 100) | 0}xx` as '2xx']?.inc()
      if (logger.isLevelEnabled('debug'))
        logger.debug(
          {
            client: ex.client,
            lb: conn.info.peerAddress,
            method: ex.method,
            url: ex.url,
            status: ex.status,
            stream: stream.id,
            rstCode: stream.rstCode,
            ms: Math.round(performance.now() - started),
          },
          'request',
        )
    })
    const endStream = (flags & 0x1) !== 0
    const opts = this.#opts
    const stop =
      opts.upstreamProtocol === 'h2c'
        ? forwardOverH2c(ex, raw, endStream, conn.fwd, {
            sessions: this.#upstreamSessions(),
            appendXff: opts.appendXff,
            upstreamTimeoutMs: opts.upstreamTimeoutMs,
            hooks: this.#hooks,
          })
        : forwardOverH1(ex, raw, endStream, conn.fwd, { pool: opts.pool(), appendXff: opts.appendXff, hooks: this.#hooks })
    if (ex.open) conn.streams.set(ex, stop)
    // Termination started: this connection's first stream is served, then the client is asked
    // to go (as HTTP/1.1 answers with Connection: close), so it reconnects through the LB.
    if (this.#closing) this.#goAway(conn, 'terminate')
  }

  #upstreamSessions(): UpstreamSessions {
    this.#upstream ??= new UpstreamSessions(this.#opts.upstream, this.#opts.connectTimeoutMs)
    return this.#upstream
  }

  #goAway(conn: Conn, reason: GoawayReason): void {
    if (conn.goingAway || conn.session.closed || conn.session.destroyed) return
    conn.goingAway = true
    clearTimeout(conn.ageTimer)
    this.#opts.metrics.http2Goaways[reason].inc()
    this.#opts.logger.debug({ client: conn.info.address, reason, streams: conn.streams.size }, 'HTTP/2 connection: graceful GOAWAY')
    void gracefulGoaway(conn.session, () => conn.lastStreamId).then(() => {
      const grace = this.#opts.maxConnectionAgeGraceMs
      if (reason !== 'max_age' || grace === 0 || conn.session.destroyed) return
      setTimeout(() => this.#cut(conn, 'max_age_grace'), grace).unref()
    })
  }

  /** Termination started: every connection gets the graceful GOAWAY, and so does each new one after its first stream. */
  announceClose(): void {
    this.#closing = true
    for (const conn of this.#conns) this.#goAway(conn, 'terminate')
  }

  /** As announceClose; resolves when every HTTP/2 connection has closed. */
  drain(): Promise<void> {
    this.announceClose()
    return this.#sockets.whenEmpty()
  }

  resume(): void {
    this.#closing = false
  }

  /** Cut every stream left (gRPC: UNAVAILABLE where it can be sent), then close the connections; returns how many were open. */
  abort(): number {
    const n = this.#sockets.size
    for (const conn of this.#conns) this.#cut(conn, 'drain_timeout')
    return n
  }

  #cut(conn: Conn, reason: CutReason): void {
    const message = reason === 'drain_timeout' ? 'drainpipe: the pod is shutting down (--drain-timeout)' : 'drainpipe: connection age limit'
    for (const [ex, stop] of conn.streams) {
      if (!ex.open || ex.cutShort) continue
      this.#opts.metrics.http2StreamsCut[reason].inc()
      ex.cut(stop, message)
    }
    const { session } = conn
    if (!session.closed) session.close()
    // What could not be flushed by then (a client not reading) is dropped with the connection.
    setTimeout(() => session.destroy(), CUT_TRAILERS_MS + 50).unref()
  }

  /**
   * Cut what remains and close the sessions to the app; resolves once the client connections
   * are closed (each is destroyed CUT_TRAILERS_MS + 50 ms after its cut at the latest).
   */
  async close(): Promise<void> {
    this.abort()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#sockets.whenEmpty(), new Promise((r) => (timer = setTimeout(r, CUT_TRAILERS_MS + 500)))])
    clearTimeout(timer)
    this.#upstream?.close()
  }
}

const kConn = Symbol('drainpipe.h2conn')
type SessionWithConn = ServerHttp2Session & { [kConn]?: Conn }
