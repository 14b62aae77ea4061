// Closing one HTTP/2 client connection gracefully: two PING round trips, then a GOAWAY with the
// last stream id drainpipe has seen, then the session closes as soon as its streams have finished.
// Every stream the client sent before it answered the second PING is inside that id and served;
// one it sends after is refused with the GOAWAY, and the client retries it (REFUSED_STREAM means
// "not processed"; gRPC retries such calls transparently).
//
// Why not RFC 9113 §6.8's GOAWAY 2^31−1 first: Node submits every GOAWAY through
// nghttp2_submit_goaway, and nghttp2 silently ignores new streams once it has sent one (only its
// shutdown notice, which Node does not expose, keeps accepting them). So streams arriving after a
// 2^31−1 GOAWAY were never processed and then refused by the final GOAWAY: a client reconnecting
// during the wait with a few calls queued got its first call served and the rest refused, and
// their retries refused again (the rollout lab's gRPC regime lost calls as "Stream refused by
// server"). Without it, nothing is ignored: a stream is either served or refused.
//
// Why two PINGs: nghttp2 (Node's HTTP/2, hence grpc-js) sends control frames ahead of queued
// HEADERS, so a request the client had submitted but not yet written when the first PING arrived
// goes out *after* its ACK; the second ACK comes after it (test/http2/goaway-ping-race.test.ts).
import type { ServerHttp2Session } from 'node:http2'
import { NO_ERROR } from './exchange.js'

/** The GOAWAY goes out this long after the first PING at the latest, ACKs or not. */
export const GOAWAY_PING_BOUND_MS = 2000

/**
 * Start the sequence on `session`; `lastStreamId()` is read when the GOAWAY is sent. Resolves
 * once that GOAWAY was sent and the session asked to close (or it was gone already).
 */
export function gracefulGoaway(session: ServerHttp2Session, lastStreamId: () => number, boundMs = GOAWAY_PING_BOUND_MS): Promise<void> {
  if (session.closed || session.destroyed) return Promise.resolve()
  return new Promise((resolve) => {
    let sent = false
    const finish = () => {
      if (sent) return
      sent = true
      clearTimeout(timer)
      if (!session.closed && !session.destroyed) {
        session.goaway(NO_ERROR, lastStreamId())
        session.close()
      }
      resolve()
    }
    const timer = setTimeout(finish, boundMs)
    timer.unref()
    session.once('close', finish)
    // ping() returns false (and never calls back) when too many PINGs are unacknowledged, and
    // throws on a session being destroyed: the bound (or 'close') ends the sequence then.
    const ping = (then: () => void): void => {
      try {
        session.ping(() => then())
      } catch {
        /* closing: 'close' or the bound follows */
      }
    }
    ping(() => {
      if (!sent && !session.closed && !session.destroyed) ping(finish)
      else finish()
    })
  })
}
