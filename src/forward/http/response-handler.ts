// Streams the app's response into the client's ServerResponse, with backpressure both
// ways, as an undici dispatch handler. Errors before the response started become 502/504;
// after it started, the client connection is cut (the only honest signal left).
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http'
import type { Dispatcher } from 'undici'
import { connectionTokens, isHopByHop } from './hop-by-hop.js'

export interface ResponseHooks {
  /** The app answered (reachable) or could not be reached. */
  upstream(reachable: boolean): void
  failed(kind: 'connect' | 'timeout' | 'reset', status: number | 0, err: Error, req: IncomingMessage): void
  /** Whether the client connection must close after this response to `req` (draining). */
  closing(req: IncomingMessage): boolean
}

const CONNECT_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'EPIPE',
])

/** What went wrong with the app, from an undici error (or a connection error): the metric label and the answer. */
export function appFailureKind(err: Error & { code?: string }): 'connect' | 'timeout' | 'reset' {
  if (err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout'
  return CONNECT_ERRORS.has(err.code ?? '') ? 'connect' : 'reset'
}

/** Bodies of drainpipe's own answers when the app failed before its response started. */
export const APP_TIMEOUT_TEXT = 'drainpipe: the app did not answer in time (--upstream-timeout)\n'
export const APP_UNREACHABLE_TEXT = 'drainpipe: the app could not be reached\n'

export class ResponseHandler implements Dispatcher.DispatchHandler {
  #controller: Dispatcher.DispatchController | null = null
  #started = false
  /** The client left first and we aborted the app's side: not an app failure. */
  #clientGone = false

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly hooks: ResponseHooks,
  ) {
    res.once('close', () => {
      // The client went away before the response ended: stop the app's side too.
      if (!res.writableFinished) {
        this.#clientGone = true
        this.#controller?.abort(new Error('client closed the connection'))
      }
    })
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    statusCode: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    if (statusCode < 200) return
    this.#started = true
    this.hooks.upstream(true)
    const res = this.res
    if (res.destroyed) {
      this.#clientGone = true
      controller.abort(new Error('client gone'))
      return
    }
    const listed = connectionTokens(headers.connection)
    const out: OutgoingHttpHeaders = {}
    for (const name in headers) {
      if (isHopByHop(name, listed)) continue
      out[name] = headers[name]
    }
    if (this.hooks.closing(this.req)) out.connection = 'close'
    res.writeHead(statusCode, statusMessage || undefined, out)
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) {
      controller.pause()
      this.res.once('drain', () => controller.resume())
    }
  }

  onResponseEnd(): void {
    this.res.end()
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error & { code?: string }): void {
    const res = this.res
    // Our own abort after the client left (say, a download cut short) is not an app error.
    if (this.#clientGone) return
    if (res.destroyed && !this.#started) return
    if (this.#started || res.headersSent) {
      this.hooks.failed('reset', 0, err, this.req)
      res.destroy(err)
      return
    }
    const kind = appFailureKind(err)
    const timeout = kind === 'timeout'
    if (kind === 'connect' && err.code !== 'UND_ERR_SOCKET') this.hooks.upstream(false)
    const status = timeout ? 504 : 502
    this.hooks.failed(kind, status, err, this.req)
    const body = timeout ? APP_TIMEOUT_TEXT : APP_UNREACHABLE_TEXT
    const headers: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }
    if (this.hooks.closing(this.req)) headers.connection = 'close'
    res.writeHead(status, headers)
    res.end(body)
  }
}
