// The admin port: probes for the kubelet, metrics for Prometheus, status for humans, and
// /prestop for the app container's preStop hook to block on.
//   GET  /readyz    200 while ready and the app is reachable; 503 otherwise
//   GET  /livez     200 while the process is healthy; termination does not fail it
//   GET  /metrics   Prometheus text
//   GET  /status    JSON: state, since when, observers, connections
//   GET|POST /prestop   start termination (token or loopback), answer once drained
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import { http } from '../builtins.js'
import type { AddressInfo } from 'node:net'
import type { HostPort } from '../config.js'
import type { Metrics } from './metrics.js'
import type { AuthResult } from './auth.js'

export interface AdminHandlers {
  ready(): { ok: boolean; reason: string }
  status(): Record<string, unknown>
  /** Resolves with the drain report once drained. */
  prestop(): Promise<Record<string, unknown>>
}

export class AdminServer {
  readonly #server: HttpServer
  /** Errors of the listening socket after start-up (logged by the owner). */
  onError: ((err: NodeJS.ErrnoException) => void) | undefined

  constructor(
    private readonly address: HostPort,
    private readonly metrics: Metrics,
    private readonly auth: (req: IncomingMessage) => AuthResult,
    private readonly handlers: AdminHandlers,
  ) {
    this.#server = http.createServer((req, res) => {
      this.#route(req, res).catch((err: Error) => {
        if (!res.headersSent) send(res, 500, `${err.message}\n`)
        else res.destroy()
      })
    })
    this.#server.requestTimeout = 0 // /prestop may legitimately take minutes
    this.#server.headersTimeout = 10_000
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject)
      this.#server.listen(this.address.port, this.address.host, () => {
        this.#server.removeListener('error', reject)
        // After start-up an accept() failure (out of descriptors) must not crash the process:
        // the pod port's traffic and the drain go on; the kubelet's next probe retries.
        this.#server.on('error', (err: NodeJS.ErrnoException) => this.onError?.(err))
        resolve(this.#server.address() as AddressInfo)
      })
    })
  }

  /** Stop listening and wait (at most `capMs`) for answers in flight, such as /prestop's. */
  close(capMs = 1000): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#server.closeAllConnections()
        resolve()
      }, capMs)
      timer.unref()
      this.#server.close(() => {
        clearTimeout(timer)
        resolve()
      })
      this.#server.closeIdleConnections()
    })
  }

  async #route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]
    const method = req.method ?? 'GET'
    switch (path) {
      case '/readyz': {
        if (!isRead(method)) return notAllowed(res, 'GET')
        const r = this.handlers.ready()
        return send(res, r.ok ? 200 : 503, `${r.reason}\n`)
      }
      case '/livez':
        if (!isRead(method)) return notAllowed(res, 'GET')
        return send(res, 200, 'ok\n')
      case '/metrics': {
        if (!isRead(method)) return notAllowed(res, 'GET')
        const text = await this.metrics.registry.metrics()
        return send(res, 200, text, this.metrics.registry.contentType)
      }
      case '/status':
        if (!isRead(method)) return notAllowed(res, 'GET')
        return send(res, 200, `${JSON.stringify(this.handlers.status(), null, 2)}\n`, 'application/json')
      case '/prestop': {
        if (method !== 'GET' && method !== 'POST') return notAllowed(res, 'GET, POST')
        const auth = this.auth(req)
        if (!auth.ok) return send(res, auth.status, auth.message)
        req.resume()
        const report = await this.handlers.prestop()
        return send(res, 200, `${JSON.stringify(report)}\n`, 'application/json')
      }
      default:
        return send(res, 404, 'not found: try /readyz /livez /metrics /status /prestop\n')
    }
  }
}

const isRead = (method: string) => method === 'GET' || method === 'HEAD'

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('allow', allow)
  send(res, 405, 'method not allowed\n')
}

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' })
  res.end(body)
}
