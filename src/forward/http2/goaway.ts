// The graceful GOAWAY of RFC 9113 §6.8, for one client connection: a GOAWAY whose last stream id
// is 2^31−1 (stop opening streams; every stream sent so far will be processed), then a PING;
// once the PING's ACK is back (every stream the client sent before it has arrived) or after a
// bound, a GOAWAY with the real last stream id, then the session closes as soon as its streams
// have finished. Node's own session.close() sends only the second GOAWAY, so a stream the client
// sent while it was in flight is refused (the client must retry it); the first GOAWAY closes
// that race.
import type { ServerHttp2Session } from 'node:http2'
import { NO_ERROR } from './exchange.js'

/** Largest stream id: "every stream you sent may be processed" (RFC 9113 §6.8). */
export const ANY_STREAM_ID = 2 ** 31 - 1

/** The second GOAWAY goes out this long after the first at the latest, ACK or not. */
export const GOAWAY_PING_BOUND_MS = 2000

/**
 * Start the sequence on `session`; `lastStreamId()` is read when the second GOAWAY is sent.
 * Resolves once that GOAWAY was sent and the session asked to close (or it was gone already).
 */
export function gracefulGoaway(session: ServerHttp2Session, lastStreamId: () => number, boundMs = GOAWAY_PING_BOUND_MS): Promise<void> {
  if (session.closed || session.destroyed) return Promise.resolve()
  session.goaway(NO_ERROR, ANY_STREAM_ID)
  return new Promise((resolve) => {
    let sent = false
    const second = () => {
      if (sent) return
      sent = true
      clearTimeout(timer)
      if (!session.closed && !session.destroyed) {
        session.goaway(NO_ERROR, lastStreamId())
        session.close()
      }
      resolve()
    }
    const timer = setTimeout(second, boundMs)
    timer.unref()
    session.once('close', second)
    // ping() returns false (and never calls back) when too many PINGs are unacknowledged: the bound ends it then.
    session.ping(() => second())
  })
}
