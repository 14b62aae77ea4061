// Answers load-balancer health checks that arrive behind a PROXY v2 LOCAL header (the NLB's
// HTTP health check) without touching the app: 200 while drainpipe is serving and the app
// is reachable (from the background probe, never a request to the app), 503 otherwise.
// The NLB checks over HTTP/1.1; a check that speaks HTTP/2 (prior knowledge) gets the same
// answer over HTTP/2.
import type { Server as HttpServer } from 'node:http'
import type { Http2Server, ServerHttp2Session } from 'node:http2'
import { http, loadHttp2 } from '../builtins.js'
import type { Socket } from 'node:net'
import { detectProtocol } from './http2-preface.js'

export class HealthResponder {
  readonly #healthy: () => boolean
  readonly #server: HttpServer
  #h2: Http2Server | undefined
  readonly #h2Sessions = new Set<ServerHttp2Session>()

  constructor(healthy: () => boolean) {
    this.#healthy = healthy
    this.#server = http.createServer({ keepAlive: false }, (req, res) => {
      const { status, body } = this.#answer()
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length, connection: 'close' })
      res.end(body)
      req.resume()
    })
    this.#server.keepAliveTimeout = 1
    this.#server.headersTimeout = 5000
    this.#server.requestTimeout = 5000
  }

  #answer(): { status: 200 | 503; body: string } {
    return this.#healthy() ? { status: 200, body: 'ok\n' } : { status: 503, body: 'unavailable\n' }
  }

  /** Serve a LOCAL connection; `head` is what followed the header. */
  accept(socket: Socket, head: Buffer): void {
    detectProtocol(socket, head, (protocol, bytes) => {
      if (bytes.length > 0) socket.unshift(bytes)
      if (protocol === 'h2') {
        this.#h2Server().emit('connection', socket)
        return
      }
      this.#server.emit('connection', socket)
      socket.resume()
    })
  }

  /** One answer per stream, then the connection closes (as the HTTP/1.1 answer says Connection: close). */
  #h2Server(): Http2Server {
    if (this.#h2) return this.#h2
    const server = loadHttp2().createServer()
    server.on('session', (session: ServerHttp2Session) => {
      this.#h2Sessions.add(session)
      session.on('error', () => {})
      session.setTimeout(5000, () => session.destroy())
      session.once('close', () => this.#h2Sessions.delete(session))
    })
    server.on('stream', (stream) => {
      const { status, body } = this.#answer()
      stream.on('error', () => {})
      stream.respond({ ':status': status, 'content-type': 'text/plain', 'content-length': body.length })
      stream.end(body)
      stream.session?.close()
    })
    this.#h2 = server
    return server
  }

  close(): void {
    this.#server.closeAllConnections()
    for (const s of this.#h2Sessions) s.destroy()
  }
}
