// The headers that tell the app who the client is. Computed once per connection (the
// client cannot change within one), applied per request.
//
// Behind an L4 load balancer a client can send any X-Forwarded-For it likes, so by default
// (--xff replace) every client-sent forwarding header is dropped and drainpipe's values,
// taken from the PROXY header, are the only ones the app sees. --xff append keeps the
// client's X-Forwarded-For and Forwarded values in front, for chains of trusted proxies.
import { isIP } from 'node:net'
import type { ClientInfo } from '../../ingress/client-info.js'

/** Client-sent fields drainpipe owns; dropped from every request (append mode merges XFF and Forwarded). */
export const FORWARDING_FIELDS = new Set([
  'x-forwarded-for',
  'forwarded',
  'x-real-ip',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-amzn-vpce-id',
])

export interface ForwardedValues {
  readonly xff: string
  readonly forwardedFor: string
  readonly proto: 'http' | 'https'
  readonly port: string
  readonly realIp: string
  readonly vpceId: string | undefined
}

export type ForwardedProto = 'auto' | 'http' | 'https'

/**
 * `proto` (--forwarded-proto): auto says https when TLS was terminated before drainpipe, as
 * far as it can tell (an SSL TLV with the client bit, or the client connected to port 443:
 * an NLB TLS listener); http or https state it for listeners auto cannot recognise.
 */
export function forwardedValues(info: ClientInfo, protoSetting: ForwardedProto = 'auto'): ForwardedValues {
  const tls = (info.header?.ssl !== undefined && (info.header.ssl.client & 0x01) === 1) || info.destPort === 443
  const proto = protoSetting === 'auto' ? (tls ? 'https' : 'http') : protoSetting
  const node = isIP(info.address) === 6 ? `"[${info.address}]"` : info.address
  return {
    xff: info.address,
    forwardedFor: `for=${node};proto=${proto}`,
    proto,
    port: String(info.destPort),
    realIp: info.address,
    vpceId: info.header?.awsVpceId,
  }
}

/** What a client sent in the forwarding fields that --xff append keeps in front of drainpipe's values. */
export interface ClientForwarding {
  xff?: string
  forwarded?: string
}

/**
 * A client-sent field: false when it is not a forwarding field (forward it); true when it is
 * (drop it), after keeping its value in `kept` when `append` (X-Forwarded-For and Forwarded).
 */
export function takeForwardingField(lowerName: string, value: string, append: boolean, kept: ClientForwarding): boolean {
  if (!FORWARDING_FIELDS.has(lowerName)) return false
  if (append) {
    if (lowerName === 'x-forwarded-for') kept.xff = kept.xff ? `${kept.xff}, ${value}` : value
    else if (lowerName === 'forwarded') kept.forwarded = kept.forwarded ? `${kept.forwarded}, ${value}` : value
  }
  return true
}

/** Append drainpipe's fields to `out` (a flat [name, value, ...] list). */
export function pushForwarded(out: string[], v: ForwardedValues, clientXff: string | undefined, clientForwarded: string | undefined): void {
  out.push('x-forwarded-for', clientXff ? `${clientXff}, ${v.xff}` : v.xff)
  out.push('forwarded', clientForwarded ? `${clientForwarded}, ${v.forwardedFor}` : v.forwardedFor)
  out.push('x-forwarded-proto', v.proto, 'x-forwarded-port', v.port, 'x-real-ip', v.realIp)
  if (v.vpceId !== undefined) out.push('x-amzn-vpce-id', v.vpceId)
}
