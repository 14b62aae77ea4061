// --upstream-protocol h2c: one client stream forwarded as one stream on a session to the app
// (upstream-sessions.ts). Headers, body and trailers pass both ways; bodies are piped, so each
// side's flow-control window is only reopened as the other side reads (a slow reader on either
// side holds at most a stream window here). A reset passes both ways with its code: the client's
// RST_STREAM cancels the app's stream, the app's becomes the client's.
import type { ClientHttp2Stream, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { ForwardedValues } from '../http/forwarded-headers.js'
import { APP_TIMEOUT_TEXT, APP_UNREACHABLE_TEXT, appFailureKind } from '../http/response-handler.js'
import { CANCEL, INTERNAL_ERROR, NO_ERROR, type Exchange, type StopBody, type StreamHooks } from './exchange.js'
import { h2UpstreamHeaders } from './request-headers.js'
import type { UpstreamSessions } from './upstream-sessions.js'

const END_STREAM = 0x1

export interface H2cOptions {
  sessions: UpstreamSessions
  appendXff: boolean
  /** Time for the app to start its response before a 504. */
  upstreamTimeoutMs: number
  hooks: StreamHooks
}

/** Forward the client stream behind `ex` (its raw header list; `endStream`: the request has no body). */
export function forwardOverH2c(ex: Exchange, raw: readonly string[], endStream: boolean, fwd: ForwardedValues, opts: H2cOptions): StopBody {
  const { hooks } = opts
  const client = ex.stream
  let up: ClientHttp2Stream
  try {
    up = opts.sessions.request(h2UpstreamHeaders(raw, fwd, opts.appendXff), endStream)
  } catch (err) {
    // A session that went away between the choice and the request (older Node lines throw).
    hooks.failed('connect', 502, err as Error, ex)
    ex.fail(502, APP_UNREACHABLE_TEXT)
    return () => {}
  }
  let responded = false
  let upError: (Error & { code?: string }) | undefined

  if (!endStream) {
    let trailers: OutgoingHttpHeaders | undefined
    client.once('trailers', (t: IncomingHttpHeaders) => {
      trailers = t as OutgoingHttpHeaders
    })
    up.on('wantTrailers', () => up.sendTrailers(trailers ?? {}))
    client.pipe(up)
  }

  const timer = setTimeout(() => {
    if (responded || !ex.open) return
    const err = Object.assign(new Error(`no response headers within ${opts.upstreamTimeoutMs} ms`), { code: 'UND_ERR_HEADERS_TIMEOUT' })
    hooks.failed('timeout', 504, err, ex)
    ex.fail(504, APP_TIMEOUT_TEXT)
    up.close(CANCEL)
  }, opts.upstreamTimeoutMs)

  up.on('response', (headers: IncomingHttpHeaders, flags: number) => {
    responded = true
    clearTimeout(timer)
    hooks.upstream(true)
    const end = (flags & END_STREAM) !== 0
    if (!ex.respond(headers as OutgoingHttpHeaders, end)) {
      up.close(CANCEL)
      return
    }
    if (!end) up.pipe(client)
  })
  up.on('trailers', (t: IncomingHttpHeaders) => ex.setTrailers(t as OutgoingHttpHeaders))
  up.on('error', (err: Error) => {
    upError = err
  })
  up.once('close', () => {
    clearTimeout(timer)
    if (!ex.open || ex.cutShort) return
    const code = up.rstCode ?? NO_ERROR
    // The app's own RST_STREAM (Node reports it as ERR_HTTP2_STREAM_ERROR, or no error for
    // CANCEL): the client's stream gets the same code, answered or not.
    const appReset = code !== NO_ERROR && (upError === undefined || upError.code === 'ERR_HTTP2_STREAM_ERROR')
    if (appReset) {
      hooks.upstreamReset(code)
      ex.reset(code)
    } else if (upError !== undefined) {
      // The session failed (the app unreachable, or its connection lost). A stream waiting for
      // a session that could not connect is cancelled with the connect error as its cause.
      const cause = (upError as { cause?: Error & { code?: string } }).cause
      const kind = responded ? 'reset' : appFailureKind(cause?.code ? cause : upError)
      if (kind === 'connect') hooks.upstream(false)
      hooks.failed(kind, responded ? 0 : 502, upError, ex)
      if (responded || !ex.fail(502, APP_UNREACHABLE_TEXT)) ex.reset(INTERNAL_ERROR)
    } else if (!responded) {
      const err = Object.assign(new Error('the app closed the stream without a response'), { code: 'ERR_HTTP2_STREAM_CLOSED' })
      hooks.failed('reset', 502, err, ex)
      ex.fail(502, APP_UNREACHABLE_TEXT)
    }
  })

  // The client reset its stream or went away: cancel the app's stream (with the client's code).
  client.once('close', () => {
    clearTimeout(timer)
    if (up.closed || up.destroyed) return
    up.close(client.rstCode && client.rstCode !== NO_ERROR ? client.rstCode : CANCEL)
  })

  return () => {
    up.unpipe(client)
    if (!up.closed && !up.destroyed) up.close(CANCEL)
  }
}
