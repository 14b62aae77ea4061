// The header list sent to the app for one request: the client's fields minus hop-by-hop
// and forwarding fields, plus drainpipe's forwarding fields.
import type { IncomingMessage } from 'node:http'
import { connectionTokens, isHopByHop } from './hop-by-hop.js'
import { FORWARDING_FIELDS, pushForwarded, type ForwardedValues } from './forwarded-headers.js'

export function upstreamHeaders(req: IncomingMessage, fwd: ForwardedValues, appendXff: boolean, upgrade: boolean): string[] {
  const raw = req.rawHeaders
  const listed = connectionTokens(req.headers.connection)
  const out: string[] = []
  let clientXff: string | undefined
  let clientForwarded: string | undefined
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!
    const lower = name.toLowerCase()
    if (FORWARDING_FIELDS.has(lower)) {
      if (appendXff) {
        if (lower === 'x-forwarded-for') clientXff = clientXff ? `${clientXff}, ${raw[i + 1]}` : raw[i + 1]
        else if (lower === 'forwarded') clientForwarded = clientForwarded ? `${clientForwarded}, ${raw[i + 1]}` : raw[i + 1]
      }
      continue
    }
    if (isHopByHop(lower, listed)) {
      if (upgrade && (lower === 'upgrade' || lower === 'connection')) out.push(name, raw[i + 1]!)
      continue
    }
    out.push(name, raw[i + 1]!)
  }
  pushForwarded(out, fwd, clientXff, clientForwarded)
  return out
}
