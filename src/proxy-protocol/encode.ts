// Building PROXY headers: for drainpipe's upstream header (--upstream-proxy-protocol), the
// NLB simulator and the tests. Inputs are validated; addresses are written in canonical form so
// that reading an encoded header gives back exactly the same fields.
import { canonicalIP, parseIPv4, parseIPv6 } from './address.js'
import { crc32c } from './crc32c.js'
import { ProxyProtocolConfigError } from './errors.js'
import {
  PP2_SUBTYPE_AWS_VPCE_ID,
  PP2_TYPE_AWS,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NOOP,
  V2_ADDRESS_BYTES,
  V2_FAMILY_NIBBLE,
  V2_FIXED_BYTES,
  V2_MAX_BYTES,
  V2_SIGNATURE,
} from './header.js'
import type { Command, Endpoint, Family, Tlv } from './header.js'

export interface V1Input {
  family: 'TCP4' | 'TCP6' | 'UNSPEC'
  source?: Endpoint
  destination?: Endpoint
}

export interface V2Input {
  command: Command
  /** Default: from the source address (TCP4/TCP6), UNSPEC without one. */
  family?: Family
  /** Required for PROXY with TCP4/TCP6. For UNIX, `address` is the socket path (<= 108 bytes). */
  source?: Endpoint
  destination?: Endpoint
  tlvs?: readonly Tlv[]
  /** Add a CRC32C TLV (first after the addresses, as the NLB does) holding the header's checksum. */
  crc32c?: boolean
  /** Total header bytes including the 16-byte preamble, filled with one NOOP TLV (the NLB sends 100). */
  padTo?: number
}

function bad(message: string): ProxyProtocolConfigError {
  return new ProxyProtocolConfigError('ERR_PP_BAD_ENCODE_INPUT', message)
}

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw bad(`port ${port} is not an integer 0-65535`)
}

export function encodeV1(h: V1Input): Buffer {
  if (h.family === 'UNSPEC') return Buffer.from('PROXY UNKNOWN\r\n', 'latin1')
  const { source, destination } = h
  if (!source || !destination) throw bad(`a v1 ${h.family} header needs a source and a destination`)
  const want = h.family === 'TCP4' ? 4 : 6
  const src = canonicalIP(source.address)
  const dst = canonicalIP(destination.address)
  if (src?.family !== want) throw bad(`source ${JSON.stringify(source.address)} is not an IPv${want} address`)
  if (dst?.family !== want) throw bad(`destination ${JSON.stringify(destination.address)} is not an IPv${want} address`)
  checkPort(source.port)
  checkPort(destination.port)
  return Buffer.from(`PROXY ${h.family} ${src.address} ${dst.address} ${source.port} ${destination.port}\r\n`, 'latin1')
}

export function encodeV2(h: V2Input): Buffer {
  const family: Family = h.family ?? inferFamily(h.source)
  const addrLen = V2_ADDRESS_BYTES[family]
  const tlvs = h.tlvs ?? []
  let len = addrLen + (h.crc32c ? 7 : 0)
  for (const t of tlvs) {
    if (!Number.isInteger(t.type) || t.type < 0 || t.type > 0xff) throw bad(`TLV type ${t.type} is not a byte`)
    if (t.value.length > 0xffff) throw bad(`TLV 0x${t.type.toString(16)} value of ${t.value.length} bytes (at most 65535)`)
    len += 3 + t.value.length
  }
  let pad = 0
  if (h.padTo !== undefined) {
    pad = h.padTo - V2_FIXED_BYTES - len
    if (pad !== 0 && pad < 3) throw bad(`padTo ${h.padTo} leaves ${pad} bytes: a NOOP TLV needs at least 3`)
    len += pad
  }
  if (V2_FIXED_BYTES + len > V2_MAX_BYTES) throw bad(`v2 header of ${V2_FIXED_BYTES + len} bytes (at most ${V2_MAX_BYTES})`)

  const b = Buffer.alloc(V2_FIXED_BYTES + len)
  V2_SIGNATURE.copy(b, 0)
  b[12] = 0x20 | (h.command === 'PROXY' ? 1 : 0)
  b[13] = (V2_FAMILY_NIBBLE[family] << 4) | (family === 'UNSPEC' ? 0 : 1)
  b.writeUInt16BE(len, 14)
  writeAddresses(b, V2_FIXED_BYTES, family, h)
  let off = V2_FIXED_BYTES + addrLen
  let crcAt = -1
  if (h.crc32c) {
    b[off] = PP2_TYPE_CRC32C
    b.writeUInt16BE(4, off + 1)
    crcAt = off + 3
    off += 7
  }
  for (const t of tlvs) {
    b[off] = t.type
    b.writeUInt16BE(t.value.length, off + 1)
    b.set(t.value, off + 3)
    off += 3 + t.value.length
  }
  if (pad > 0) {
    b[off] = PP2_TYPE_NOOP
    b.writeUInt16BE(pad - 3, off + 1) // value bytes stay zero
  }
  if (crcAt >= 0) b.writeUInt32BE(crc32c(b), crcAt)
  return b
}

function inferFamily(source: Endpoint | undefined): Family {
  if (!source) return 'UNSPEC'
  const ip = canonicalIP(source.address)
  if (ip === null) throw bad(`cannot infer the family of source ${JSON.stringify(source.address)}: give family`)
  return ip.family === 4 ? 'TCP4' : 'TCP6'
}

function writeAddresses(b: Buffer, off: number, family: Family, h: V2Input): void {
  if (family === 'UNSPEC') return
  const { source, destination } = h
  if (family === 'UNIX') {
    for (const [ep, at] of [
      [source, off],
      [destination, off + 108],
    ] as const) {
      if (!ep) continue
      const path = Buffer.from(ep.address, 'utf8')
      if (path.length > 108) throw bad(`UNIX path of ${path.length} bytes (at most 108)`)
      path.copy(b, at)
    }
    return
  }
  if (!source || !destination) {
    if (h.command === 'PROXY') throw bad(`a v2 PROXY ${family} header needs a source and a destination`)
    return // LOCAL: the address block is left zero, like the NLB's health-check header
  }
  const v4 = family === 'TCP4'
  const size = v4 ? 4 : 16
  for (const [ep, at] of [
    [source, off],
    [destination, off + size],
  ] as const) {
    const ok = v4 ? parseIPv4(ep.address, b, at) : parseIPv6(ep.address, b, at)
    if (!ok) throw bad(`${JSON.stringify(ep.address)} is not an IPv${v4 ? 4 : 6} address for family ${family}`)
    checkPort(ep.port)
  }
  b.writeUInt16BE(source.port, off + 2 * size)
  b.writeUInt16BE(destination.port, off + 2 * size + 2)
}

/** The PP2_TYPE_AWS TLV carrying a VPC endpoint id (printable ASCII, e.g. vpce-0123456789abcdef0). */
export function encodeAwsVpceTlv(vpceId: string): Tlv {
  if (!/^[\x21-\x7e]*$/.test(vpceId)) throw bad(`VPC endpoint id ${JSON.stringify(vpceId)} is not printable ASCII`)
  const value = Buffer.alloc(1 + vpceId.length)
  value[0] = PP2_SUBTYPE_AWS_VPCE_ID
  value.write(vpceId, 1, 'latin1')
  return { type: PP2_TYPE_AWS, value }
}
