// The little of gRPC drainpipe needs to know (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
// which streams are gRPC calls, and how to end one with a status the client retries.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2'

/** application/grpc, application/grpc+proto, …; not gRPC-Web (its status travels in the body). */
export function isGrpc(headers: IncomingHttpHeaders): boolean {
  const ct = headers['content-type']
  if (typeof ct !== 'string' || !ct.startsWith('application/grpc')) return false
  const next = ct.charCodeAt(16)
  return Number.isNaN(next) || next === 0x2b /* + */ || next === 0x3b /* ; */
}

/** grpc-status 14: the call did not complete here, and a client may retry it elsewhere. */
export const GRPC_UNAVAILABLE = 14

/** The trailer fields ending a call with UNAVAILABLE and `message` (percent-encoded as the protocol asks). */
export function unavailableTrailers(message: string): OutgoingHttpHeaders {
  return { 'grpc-status': String(GRPC_UNAVAILABLE), 'grpc-message': encodeURIComponent(message) }
}

/** A trailers-only response (headers with END_STREAM) ending a call that was never answered with UNAVAILABLE. */
export function unavailableResponse(message: string): OutgoingHttpHeaders {
  return { ':status': 200, 'content-type': 'application/grpc', ...unavailableTrailers(message) }
}
