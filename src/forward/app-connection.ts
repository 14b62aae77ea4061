// A new connection to the app, bounded by --upstream-connect-timeout: one that is not connected
// within it is destroyed with an AppConnectTimeoutError, as a refused one errors with ECONNREFUSED.
import net, { type Socket } from 'node:net'
import type { HostPort } from '../config.js'
import { AppConnectTimeoutError } from '../errors.js'

export function connectToApp(upstream: HostPort, connectTimeoutMs: number, opts: { allowHalfOpen?: boolean } = {}): Socket {
  const app = net.connect({ host: upstream.host, port: upstream.port, noDelay: true, ...opts })
  app.setTimeout(connectTimeoutMs)
  app.once('connect', () => app.setTimeout(0))
  app.once('timeout', () => app.destroy(new AppConnectTimeoutError(connectTimeoutMs)))
  return app
}
