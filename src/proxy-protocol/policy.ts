// Who may send a PROXY header (go-proxyproto's policy function): decided per connection from
// the socket's remote address, against CIDRs parsed once at startup.
import { BlockList } from 'node:net'
import { canonicalIP, unmapped } from './address.js'
import { ProxyProtocolConfigError } from './errors.js'

/** required: every trusted connection must start with a header. optional: use one if present. off: never read one. */
export type ProxyProtocolMode = 'required' | 'optional' | 'off'

export type SourcePolicy =
  | 'skip' // mode off: don't read, all bytes are payload
  | 'require' // trusted source, required mode: a valid header must come first
  | 'use' // trusted source, optional mode: use a header if present
  | 'refuse-header' // untrusted source, optional mode: a header is a reason to close; served headerless
  | 'reject' // untrusted source in required mode: close at once

export interface Cidr {
  address: string
  prefix: number
  family: 4 | 6
}

/**
 * One CIDR ("10.0.0.0/8", "fc00::/7") or bare address (a /32 or /128). IPv4-mapped IPv6
 * ranges (::ffff:10.0.0.0/104) are stored as the IPv4 range they denote. Throws a
 * ProxyProtocolConfigError ERR_PP_BAD_CIDR with a message naming the item.
 */
export function parseCidr(item: string): Cidr {
  const slash = item.indexOf('/')
  const addrText = slash < 0 ? item : item.slice(0, slash)
  const ip = canonicalIP(addrText)
  if (ip === null) throw badCidr(item, 'not an IPv4 or IPv6 address')
  const max = ip.family === 4 ? 32 : 128
  let prefix = max
  if (slash >= 0) {
    const p = item.slice(slash + 1)
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > max) throw badCidr(item, `prefix length must be 0-${max} for IPv${ip.family}`)
    prefix = Number(p)
  }
  const v4 = unmapped(ip.address)
  if (v4 !== ip.address && prefix >= 96) return { address: v4, prefix: prefix - 96, family: 4 }
  return { address: ip.address, prefix, family: ip.family }
}

/**
 * A comma- and/or whitespace-separated list of CIDRs, returned normalised ("addr/prefix").
 * An empty list is allowed (trust nobody). Throws naming the first bad item.
 */
export function parseCidrList(text: string): string[] {
  const items = text.split(/[\s,]+/).filter((s) => s !== '')
  return items.map((item) => {
    const c = parseCidr(item)
    return `${c.address}/${c.prefix}`
  })
}

function badCidr(item: string, why: string): ProxyProtocolConfigError {
  return new ProxyProtocolConfigError('ERR_PP_BAD_CIDR', `invalid CIDR ${JSON.stringify(item)}: ${why}`)
}

/** Builds the per-connection decision. `trusted` items are parsed here, once. */
export function createSourcePolicy(opts: { mode: ProxyProtocolMode; trusted: readonly string[] }): (remoteAddress: string) => SourcePolicy {
  const { mode } = opts
  if (mode !== 'required' && mode !== 'optional' && mode !== 'off') {
    throw new ProxyProtocolConfigError('ERR_PP_BAD_OPTION', `mode must be required, optional or off, got ${JSON.stringify(mode)}`)
  }
  const list = new BlockList()
  for (const item of opts.trusted) {
    const c = parseCidr(item)
    list.addSubnet(c.address, c.prefix, c.family === 4 ? 'ipv4' : 'ipv6')
  }
  const isTrusted = (remote: string): boolean => {
    if (typeof remote !== 'string' || remote === '') return false
    const address = unmapped(remote)
    try {
      return list.check(address, address.includes(':') ? 'ipv6' : 'ipv4')
    } catch {
      return false // not an address (e.g. a zone-scoped one Node cannot check)
    }
  }
  if (mode === 'off') return () => 'skip'
  if (mode === 'required') return (remote) => (isTrusted(remote) ? 'require' : 'reject')
  return (remote) => (isTrusted(remote) ? 'use' : 'refuse-header')
}
