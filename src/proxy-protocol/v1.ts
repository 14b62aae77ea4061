// PROXY protocol v1: the strict parse of one complete line
//   "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n"  or  "PROXY UNKNOWN[ <anything>]\r\n".
// Single spaces, CRLF, IPv4 dotted quads without leading zeros, IPv6 text for TCP6 only,
// ports 0-65535 in decimal without leading zeros, at most 107 bytes.
import { formatIPv6, parseIPv4, parseIPv6 } from './address.js'
import { ProxyProtocolError } from './errors.js'
import { V1_MAX_BYTES, V1_SIGNATURE } from './header.js'
import type { Endpoint, ProxyHeader } from './header.js'

const NO_TLVS = Object.freeze([]) as readonly never[]

/** Where the line ends: index just past LF within b[0, have), -1 if not yet there. */
export function findV1End(b: Uint8Array, from: number, have: number): number {
  const stop = Math.min(have, V1_MAX_BYTES)
  for (let i = from; i < stop; i++) if (b[i] === 0x0a) return i + 1
  return -1
}

/** Parses the line b[0, n) (n includes CRLF; b starts with "PROXY "). */
export function parseV1(b: Buffer, n: number): ProxyHeader | ProxyProtocolError {
  if (n < 2 || b[n - 2] !== 0x0d) return syntax('v1 line does not end with CRLF')
  // latin1 maps each byte to one char, so offsets and lengths agree with the bytes.
  const line = b.toString('latin1', V1_SIGNATURE.length, n - 2)
  if (line === 'UNKNOWN' || line.startsWith('UNKNOWN ')) {
    return { version: 1, command: 'PROXY', family: 'UNSPEC', source: null, destination: null, tlvs: NO_TLVS, byteLength: n }
  }
  const fields = line.split(' ')
  const proto = fields[0]!
  if (proto !== 'TCP4' && proto !== 'TCP6') {
    if (/^[A-Za-z0-9]+$/.test(proto))
      return new ProxyProtocolError('bad_family', `v1 protocol ${JSON.stringify(proto)} (TCP4, TCP6 or UNKNOWN)`)
    return syntax('v1 line does not have a protocol after "PROXY "')
  }
  if (fields.length !== 5) return syntax(`v1 ${proto} line has ${fields.length - 1} fields separated by single spaces (must be 4)`)
  const src = address(fields[1]!, proto)
  if (src === null) return badAddress(fields[1]!, proto)
  const dst = address(fields[2]!, proto)
  if (dst === null) return badAddress(fields[2]!, proto)
  const sport = port(fields[3]!)
  if (sport < 0) return badPort(fields[3]!)
  const dport = port(fields[4]!)
  if (dport < 0) return badPort(fields[4]!)
  const source: Endpoint = { address: src, port: sport }
  const destination: Endpoint = { address: dst, port: dport }
  return { version: 1, command: 'PROXY', family: proto, source, destination, tlvs: NO_TLVS, byteLength: n }
}

function address(text: string, proto: 'TCP4' | 'TCP6'): string | null {
  if (proto === 'TCP4') return parseIPv4(text) ? text : null
  const b = new Uint8Array(16)
  return parseIPv6(text, b) ? formatIPv6(b, 0) : null
}

/** Decimal 0-65535 without leading zeros, or -1. */
function port(text: string): number {
  if (text.length === 0 || text.length > 5) return -1
  if (text.length > 1 && text.charCodeAt(0) === 0x30) return -1
  let v = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return -1
    v = v * 10 + (c - 0x30)
  }
  return v <= 0xffff ? v : -1
}

function syntax(message: string): ProxyProtocolError {
  return new ProxyProtocolError('bad_syntax', message)
}

function badAddress(text: string, proto: string): ProxyProtocolError {
  return new ProxyProtocolError(
    'bad_address',
    `v1 ${proto} address ${JSON.stringify(text.slice(0, 45))} is not valid ${proto === 'TCP4' ? 'IPv4' : 'IPv6'} text`,
  )
}

function badPort(text: string): ProxyProtocolError {
  return new ProxyProtocolError('bad_port', `v1 port ${JSON.stringify(text.slice(0, 8))} is not a decimal 0-65535 without leading zeros`)
}
