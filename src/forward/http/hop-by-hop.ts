// Hop-by-hop fields (RFC 9110 §7.6.1) are about one connection and are not forwarded, nor
// are fields the Connection header names. Expect is answered by drainpipe's own server.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'expect',
  'http2-settings',
])

/** Field names (lower case) listed in a Connection header value, besides close/keep-alive. */
export function connectionTokens(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null
  // Fast path, taken by nearly every message: a single token ("keep-alive", "close").
  if (typeof value === 'string' && value.indexOf(',') === -1) {
    const t = value.trim().toLowerCase()
    return t === '' || t === 'close' || t === 'keep-alive' || t === 'upgrade' ? null : new Set([t])
  }
  const text = Array.isArray(value) ? value.join(',') : value
  let tokens: Set<string> | null = null
  for (const raw of text.split(',')) {
    const t = raw.trim().toLowerCase()
    if (t === '' || t === 'close' || t === 'keep-alive' || t === 'upgrade') continue
    ;(tokens ??= new Set()).add(t)
  }
  return tokens
}

export function isHopByHop(lowerName: string, listed: Set<string> | null): boolean {
  return HOP_BY_HOP.has(lowerName) || (listed !== null && listed.has(lowerName))
}
