// The header list sent to the app for one request: the client's fields minus hop-by-hop
// and forwarding fields, plus drainpipe's forwarding fields.
import type { IncomingMessage } from 'node:http'
import { connectionTokens, isHopByHop } from './hop-by-hop.js'
import { pushForwarded, takeForwardingField, type ClientForwarding, type ForwardedValues } from './forwarded-headers.js'

export function upstreamHeaders(req: IncomingMessage, fwd: ForwardedValues, appendXff: boolean, upgrade: boolean): string[] {
  const raw = req.rawHeaders
  const listed = connectionTokens(req.headers.connection)
  const out: string[] = []
  const kept: ClientForwarding = {}
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (takeForwardingField(lower, raw[i + 1]!, appendXff, kept)) continue
    if (isHopByHop(lower, listed)) {
      if (upgrade && (lower === 'upgrade' || lower === 'connection')) out.push(name, raw[i + 1]!)
      continue
    }
    out.push(name, raw[i + 1]!)
  }
  pushForwarded(out, fwd, kept.xff, kept.forwarded)
  return out
}
