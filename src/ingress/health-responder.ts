// Answers load-balancer health checks that arrive behind a PROXY v2 LOCAL header (the NLB's
// HTTP health check) without touching the app: 200 while drainpipe is serving and the app
// is reachable (from the background probe, never a request to the app), 503 otherwise.
import type { Server as HttpServer } from 'node:http'
import { http } from '../builtins.js'
import type { Socket } from 'node:net'

export class HealthResponder {
  readonly #server: HttpServer

  constructor(healthy: () => boolean) {
    this.#server = http.createServer({ keepAlive: false }, (req, res) => {
      const ok = healthy()
      const body = ok ? 'ok\n' : 'unavailable\n'
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain', 'content-length': body.length, connection: 'close' })
      res.end(body)
      req.resume()
    })
    this.#server.keepAliveTimeout = 1
    this.#server.headersTimeout = 5000
    this.#server.requestTimeout = 5000
  }

  /** Serve a LOCAL connection; `head` is what followed the header. */
  accept(socket: Socket, head: Buffer): void {
    if (head.length > 0) socket.unshift(head)
    this.#server.emit('connection', socket)
    socket.resume()
  }

  close(): void {
    this.#server.closeAllConnections()
  }
}
