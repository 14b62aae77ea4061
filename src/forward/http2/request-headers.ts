// The request header fields sent to the app for one HTTP/2 stream, from the client's raw list
// (lower-case names, pseudo-header fields first): the client's fields minus the forwarding
// fields drainpipe owns, plus drainpipe's (the same values and rules as HTTP/1.1,
// http/forwarded-headers.ts). Over h2c the pseudo-header fields pass as they are; over
// HTTP/1.1 :authority becomes Host, split Cookie fields are joined (RFC 9113 §8.2.3) and
// hop-by-hop fields (TE) are dropped.
import type { OutgoingHttpHeaders } from 'node:http2'
import { pushForwarded, takeForwardingField, type ClientForwarding, type ForwardedValues } from '../http/forwarded-headers.js'
import { isHopByHop } from '../http/hop-by-hop.js'

/** For a stream forwarded over h2c: a header object for ClientHttp2Session.request(). */
export function h2UpstreamHeaders(raw: readonly string[], fwd: ForwardedValues, appendXff: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  const kept: ClientForwarding = {}
  const add = (name: string, value: string) => {
    const prev = out[name]
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev as string, value]
  }
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    if (takeForwardingField(name, value, appendXff, kept)) continue
    // TE is the one connection-specific field HTTP/2 allows, and only as "trailers" (gRPC sends it).
    if (name === 'te' && value.trim().toLowerCase() !== 'trailers') continue
    add(name, value)
  }
  const list: string[] = []
  pushForwarded(list, fwd, kept.xff, kept.forwarded)
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!
  return out
}

export interface H1Request {
  method: string
  path: string
  /** flat [name, value, ...] for undici */
  headers: string[]
}

/** For a stream forwarded over HTTP/1.1 (the undici pool). */
export function h1UpstreamRequest(raw: readonly string[], fwd: ForwardedValues, appendXff: boolean): H1Request {
  const headers: string[] = []
  const kept: ClientForwarding = {}
  let method = 'GET'
  let path = '/'
  let authority: string | undefined
  let host = false
  let cookie: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const value = raw[i + 1]!
    if (name[0] === ':') {
      if (name === ':method') method = value
      else if (name === ':path') path = value
      else if (name === ':authority') authority = value
      continue
    }
    if (takeForwardingField(name, value, appendXff, kept)) continue
    if (isHopByHop(name, null)) continue
    if (name === 'cookie') {
      cookie = cookie === undefined ? value : `${cookie}; ${value}`
      continue
    }
    if (name === 'host') host = true
    headers.push(name, value)
  }
  if (!host && authority !== undefined) headers.unshift('host', authority)
  if (cookie !== undefined) headers.push('cookie', cookie)
  pushForwarded(headers, fwd, kept.xff, kept.forwarded)
  return { method, path, headers }
}
