// tcp mode: a byte pipe between the client and the app, with backpressure (relay.ts) and
// half-close (allowHalfOpen on both sides: a client's FIN reaches the app as a FIN and the
// app can still answer). Optionally re-emits a PROXY header to apps that read one.
import { performance } from 'node:perf_hooks'
import type { HostPort } from '../../config.js'
import type { Forwarder } from '../forwarder.js'
import type { ClientConnection } from '../../ingress/client-info.js'
import type { Metrics } from '../../admin/metrics.js'
import type { Logger } from '../../log.js'
import type { UpstreamProbe } from '../upstream-probe.js'
import { upstreamProxyHeader } from './upstream-header.js'
import { ConnectionSet } from '../../ingress/connection-set.js'
import { connectToApp } from '../app-connection.js'
import { relay } from './relay.js'

export interface TcpForwarderOptions {
  upstream: HostPort
  connectTimeoutMs: number
  upstreamProxyProtocol: 'off' | 'v1' | 'v2'
  probe: UpstreamProbe
  metrics: Metrics
  logger: Logger
}

export class TcpForwarder implements Forwarder {
  readonly #opts: TcpForwarderOptions
  readonly #clients = new ConnectionSet()

  constructor(opts: TcpForwarderOptions) {
    this.#opts = opts
  }

  get active(): number {
    return this.#clients.size
  }
  get requests(): number {
    return 0
  }

  accept({ socket: client, client: info, head }: ClientConnection): void {
    const { upstream, metrics, logger, probe } = this.#opts
    const started = performance.now()
    this.#clients.add(client)
    const app = connectToApp(upstream, this.#opts.connectTimeoutMs, { allowHalfOpen: true })
    let connected = false
    if (this.#opts.upstreamProxyProtocol !== 'off') app.write(upstreamProxyHeader(this.#opts.upstreamProxyProtocol, info))
    if (head.length > 0) app.write(head)

    app.once('connect', () => {
      connected = true
      probe.report(true)
      relay(app, client)
      relay(client, app)
      client.resume()
    })
    app.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) {
        metrics.upstreamErrors.connect.inc()
        if (err.code === 'ECONNREFUSED') probe.report(false)
        logger.warn(
          { client: info.address, err: { code: err.code, message: err.message } },
          'app connection failed; closing client connection',
        )
      } else {
        metrics.upstreamErrors.reset.inc()
        logger.debug({ client: info.address, err: { code: err.code, message: err.message } }, 'app connection error')
      }
      client.destroy()
    })
    client.on('error', () => app.destroy())
    client.once('close', () => {
      app.destroy()
      if (logger.isLevelEnabled('debug')) {
        logger.debug(
          {
            client: info.address,
            port: info.port,
            lb: info.peerAddress,
            bytesIn: client.bytesRead,
            bytesOut: client.bytesWritten,
            ms: Math.round(performance.now() - started),
          },
          'tcp connection closed',
        )
      }
    })
    app.once('close', () => {
      // The app closed both ways; relay() already ended the client side if the app sent FIN.
      if (!client.destroyed && client.writableEnded === false && !connected) client.destroy()
    })
  }

  /** A byte stream cannot be asked to reconnect: tcp connections end when their clients end them. */
  announceClose(): void {}

  drain(): Promise<void> {
    return this.#clients.whenEmpty()
  }

  resume(): void {
    // Nothing to reset: tcp connections are never closed by a drain, only left to end.
  }

  abort(): number {
    return this.#clients.destroyAll()
  }

  async close(): Promise<void> {
    this.abort()
  }
}
