// One HTTP/2 stream from a client, as the forwarders (to-h2c.ts, to-h1.ts) answer it: the
// app's response headers, body and trailers, drainpipe's own answers when the app fails, a
// reset passed on, and the cut at --drain-timeout. It owns every write of response headers and
// trailers on the client's stream, so each happens once and in order.
import type { IncomingHttpHeaders, OutgoingHttpHeaders, ServerHttp2Stream, ServerStreamResponseOptions } from 'node:http2'
import { isGrpc, unavailableResponse, unavailableTrailers } from './grpc.js'

// RFC 9113 §7 error codes used here.
export const NO_ERROR = 0x0
export const INTERNAL_ERROR = 0x2
export const CANCEL = 0x8

/** A cut gRPC stream whose UNAVAILABLE trailers cannot be sent within this (a client not reading) is reset without them. */
export const CUT_TRAILERS_MS = 200

export class Exchange {
  readonly stream: ServerHttp2Stream
  readonly grpc: boolean
  /** For logs: the client (from the PROXY header), the method and path. */
  readonly client: string
  readonly method: string
  readonly url: string
  /** The :status sent to the client (0: none yet). */
  status = 0
  #trailers: OutgoingHttpHeaders | undefined
  /** Response headers were sent with waitForTrailers: the end of the body asks for trailers. */
  #trailersAsked = false
  #closeAfterTrailers = false
  #cut = false
  #resetSent = false

  constructor(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, client: string) {
    this.stream = stream
    this.grpc = isGrpc(headers)
    this.client = client
    this.method = headers[':method'] ?? ''
    this.url = headers[':path'] ?? ''
    stream.on('wantTrailers', () => {
      if (stream.closed || stream.destroyed) return
      stream.sendTrailers(this.#trailers ?? {})
      // Node submits trailers on the next turn (setImmediate): the RST_STREAM goes after them.
      if (this.#closeAfterTrailers) setImmediate(() => this.stream.close(NO_ERROR))
    })
  }

  /** Cut by drainpipe (cut()): what the app does from now on is no longer passed on. */
  get cutShort(): boolean {
    return this.#cut
  }

  /** The stream's RST_STREAM (if any) came from the client, or its connection was lost: not sent by drainpipe. */
  get resetByClient(): boolean {
    return !this.#resetSent && (this.stream.rstCode ?? NO_ERROR) !== NO_ERROR
  }

  get open(): boolean {
    return !this.stream.destroyed && !this.stream.closed
  }

  /**
   * The app's response headers (`:status` included). `endStream`: nothing follows (a response
   * without body, or gRPC's trailers-only). Otherwise the body's end always waits for trailers
   * (the app's, or none: an empty DATA frame with END_STREAM), so that a reset passed on later
   * (reset(), cut()) reaches the client as a reset: Node ends a stream's open writable side
   * before its RST_STREAM, which would make a truncated body look complete.
   */
  respond(headers: OutgoingHttpHeaders, endStream: boolean): boolean {
    if (!this.open || this.stream.headersSent) return false
    this.status = Number(headers[':status'])
    this.#trailersAsked = !endStream
    // sendDate: false (a Node option its types omit): the app's Date, or none, as over HTTP/1.1.
    this.stream.respond(headers, { endStream, waitForTrailers: !endStream, sendDate: false } as ServerStreamResponseOptions)
    return true
  }

  /** The app's trailers, sent when the body ends (empty trailers end the stream with an empty DATA frame). */
  setTrailers(trailers: OutgoingHttpHeaders): void {
    this.#trailers = trailers
  }

  /**
   * drainpipe's own answer when the app could not give one (502, 504): plain text, or for a
   * gRPC call a trailers-only UNAVAILABLE, which gRPC clients may retry. False when the
   * response had started (the caller resets the stream instead).
   */
  fail(status: 502 | 504, text: string): boolean {
    if (!this.open || this.stream.headersSent) return false
    if (this.grpc) {
      this.respond(unavailableResponse(text.trim()), true)
      return true
    }
    this.respond({ ':status': status, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) }, false)
    this.stream.end(text)
    return true
  }

  /** Pass a reset on: RST_STREAM with `code` (the app reset its stream, or failed mid-response). */
  reset(code: number): void {
    if (!this.open) return
    this.#resetSent = true
    this.stream.close(code)
  }

  /**
   * End the stream now (--drain-timeout, or a connection past its age and grace): a gRPC call
   * gets UNAVAILABLE where it can still be sent (a trailers-only response, or trailers after
   * the data sent so far), then RST_STREAM NO_ERROR so the client stops sending; anything else
   * gets RST_STREAM CANCEL. `stopBody` detaches the app's body (no more DATA after the cut).
   */
  cut(stopBody: () => void, reason: string): void {
    if (!this.open || this.#cut) return
    const stream = this.stream
    this.#cut = true
    this.#resetSent = true
    stopBody()
    if (this.grpc && !stream.headersSent) {
      this.respond(unavailableResponse(reason), true)
      stream.close(NO_ERROR)
      return
    }
    if (this.grpc && this.#trailersAsked && !stream.writableEnded) {
      this.#trailers = unavailableTrailers(reason)
      this.#closeAfterTrailers = true
      stream.end()
      setTimeout(() => this.reset(CANCEL), CUT_TRAILERS_MS).unref()
      return
    }
    stream.close(stream.writableEnded ? NO_ERROR : CANCEL)
  }
}

/** What a forwarder reports about the app while forwarding one stream (metrics, logs, the probe). */
export interface StreamHooks {
  /** The app answered (reachable) or could not be reached. */
  upstream(reachable: boolean): void
  failed(kind: 'connect' | 'timeout' | 'reset', status: 502 | 504 | 0, err: Error, ex: Exchange): void
  /** The app reset its stream; the client's is reset with the same code. */
  upstreamReset(code: number): void
}

/** Detaches the app's side of a stream being cut: no more of its body reaches the client, and its stream is cancelled. */
export type StopBody = () => void
