// --upstream-protocol h1 (the default): one client stream forwarded as one HTTP/1.1 request
// through the http forwarder's undici pool, the request body streamed from the client's
// stream and the response streamed back with backpressure. HTTP/1.1 cannot carry request
// trailers (they are dropped); response trailers the app announces (Trailer) are passed on.
// A client's RST_STREAM aborts the request (undici closes that app connection); the app
// failing mid-response resets the client's stream with INTERNAL_ERROR.
import type { OutgoingHttpHeaders } from 'node:http2'
import type { Readable } from 'node:stream'
import type { Dispatcher } from 'undici'
import type Pool from 'undici/lib/dispatcher/pool.js'
import type { ForwardedValues } from '../http/forwarded-headers.js'
import { connectionTokens, isHopByHop } from '../http/hop-by-hop.js'
import { APP_TIMEOUT_TEXT, APP_UNREACHABLE_TEXT, appFailureKind } from '../http/response-handler.js'
import { INTERNAL_ERROR, type Exchange, type StopBody, type StreamHooks } from './exchange.js'
import { h1UpstreamRequest } from './request-headers.js'

export interface H1Options {
  pool: Pool
  appendXff: boolean
  hooks: StreamHooks
}

export function forwardOverH1(ex: Exchange, raw: readonly string[], endStream: boolean, fwd: ForwardedValues, opts: H1Options): StopBody {
  const { method, path, headers } = h1UpstreamRequest(raw, fwd, opts.appendXff)
  if (path[0] !== '/') {
    // As over HTTP/1.1: the pool sends origin-form targets only (OPTIONS * cannot be sent).
    const text =
      path === '*' ? 'drainpipe: OPTIONS * is not forwarded to the app\n' : 'drainpipe: only origin-form request targets are forwarded\n'
    ex.respond({ ':status': path === '*' ? 501 : 400, 'content-type': 'text/plain' }, false)
    ex.stream.end(text)
    return () => {}
  }
  const handler = new H2ResponseHandler(ex, opts.hooks)
  // The body as an iterator that leaves the stream alone when done: undici destroys a stream
  // body once sent, which would end the client's whole stream, response side included. (undici
  // takes async iterables as bodies; its types list only Readable.)
  const body = endStream ? null : (ex.stream.iterator({ destroyOnReturn: false }) as unknown as Readable)
  opts.pool.dispatch({ path, method: method as 'GET', headers, body }, handler)
  return () => handler.stop()
}

class H2ResponseHandler implements Dispatcher.DispatchHandler {
  readonly #ex: Exchange
  readonly #hooks: StreamHooks
  #controller: Dispatcher.DispatchController | null = null
  #started = false
  /** The client's stream closed first, or the stream was cut, and the app's side was aborted: not an app failure. */
  #detached = false

  constructor(ex: Exchange, hooks: StreamHooks) {
    this.#ex = ex
    this.#hooks = hooks
    ex.stream.once('close', () => {
      if (!ex.stream.writableFinished) this.stop()
    })
  }

  stop(): void {
    if (this.#detached) return
    this.#detached = true
    this.#controller?.abort(new Error('client stream closed'))
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#detached) controller.abort(new Error('client stream closed'))
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    if (statusCode < 200 || this.#detached) return
    this.#started = true
    this.#hooks.upstream(true)
    const listed = connectionTokens(headers.connection)
    const out: OutgoingHttpHeaders = { ':status': statusCode }
    for (const name in headers) if (!isHopByHop(name, listed)) out[name] = headers[name]
    if (!this.#ex.respond(out, false)) {
      this.#detached = true
      controller.abort(new Error('client stream gone'))
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#detached) return
    const stream = this.#ex.stream
    if (!stream.write(chunk)) {
      controller.pause()
      stream.once('drain', () => controller.resume())
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: Record<string, string | string[] | undefined>): void {
    if (this.#detached) return
    if (Object.keys(trailers).length > 0) this.#ex.setTrailers(trailers as OutgoingHttpHeaders)
    this.#ex.stream.end()
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    if (this.#detached || !this.#ex.open) return
    if (this.#started) {
      this.#hooks.failed('reset', 0, err, this.#ex)
      this.#ex.reset(INTERNAL_ERROR)
      return
    }
    const kind = appFailureKind(err)
    if (kind === 'connect' && err.code !== 'UND_ERR_SOCKET') this.#hooks.upstream(false)
    const status = kind === 'timeout' ? 504 : 502
    this.#hooks.failed(kind, status, err, this.#ex)
    this.#ex.fail(status, kind === 'timeout' ? APP_TIMEOUT_TEXT : APP_UNREACHABLE_TEXT)
  }
}
