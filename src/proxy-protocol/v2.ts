// PROXY protocol v2: checks on the 16-byte fixed part (done as soon as the bytes are there)
// and the parse of a complete header held in one buffer, in place.
import { formatIPv4, formatIPv6 } from './address.js'
import { crc32cWithZeroedField } from './crc32c.js'
import { ProxyProtocolError } from './errors.js'
import {
  PP2_SUBTYPE_AWS_VPCE_ID,
  PP2_SUBTYPE_SSL_CIPHER,
  PP2_SUBTYPE_SSL_CN,
  PP2_SUBTYPE_SSL_KEY_ALG,
  PP2_SUBTYPE_SSL_SIG_ALG,
  PP2_SUBTYPE_SSL_VERSION,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_AWS,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NETNS,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
  V2_ADDRESS_BYTES,
  V2_FIXED_BYTES,
} from './header.js'
import type { Family, ProxyHeader, SslInfo, Tlv } from './header.js'

const FAMILIES: readonly Family[] = ['UNSPEC', 'TCP4', 'TCP6', 'UNIX']

/** The family byte's meaning, or null when its high nibble is not a known family. */
export function v2Family(fam: number): Family | null {
  return FAMILIES[fam >> 4] ?? null
}

/**
 * Checks bytes 12..15 as far as `have` bytes are present. Returns an error or null.
 * LOCAL ignores the family byte (the spec says to discard the whole block), so a LOCAL
 * header is only held to its version, command and length.
 */
export function checkV2Fixed(b: Uint8Array, have: number, maxHeaderBytes: number): ProxyProtocolError | null {
  if (have > 12) {
    const verCmd = b[12]!
    if (verCmd >> 4 !== 2) return new ProxyProtocolError('bad_version', `v2 header with version ${verCmd >> 4}`)
    const cmd = verCmd & 0x0f
    if (cmd > 1) return new ProxyProtocolError('bad_command', `v2 header with command ${cmd}`)
    if (have > 13 && cmd === 1) {
      const fam = b[13]!
      const family = v2Family(fam)
      if (family === null) return new ProxyProtocolError('bad_family', `v2 header with address family ${fam >> 4}`)
      const transport = fam & 0x0f
      if (transport === 2)
        return new ProxyProtocolError('bad_transport', 'v2 header for a DGRAM (UDP) connection: drainpipe proxies TCP only')
      if (transport > 2) return new ProxyProtocolError('bad_transport', `v2 header with transport ${transport}`)
    }
    if (have >= V2_FIXED_BYTES) {
      const len = (b[14]! << 8) | b[15]!
      if (V2_FIXED_BYTES + len > maxHeaderBytes) {
        return new ProxyProtocolError('too_long', `v2 header of ${V2_FIXED_BYTES + len} bytes is above the ${maxHeaderBytes}-byte limit`)
      }
      if (cmd === 1) {
        const need = V2_ADDRESS_BYTES[v2Family(b[13]!)!]
        if (len < need) return new ProxyProtocolError('bad_length', `v2 length ${len} is shorter than the ${need}-byte address block`)
      }
    }
  }
  return null
}

/** Total v2 header size from its fixed part (b must hold >= 16 bytes). */
export function v2TotalLength(b: Uint8Array): number {
  return V2_FIXED_BYTES + ((b[14]! << 8) | b[15]!)
}

const NO_TLVS: readonly Tlv[] = Object.freeze([])

/**
 * Parses a complete v2 header at b[0, total). The fixed part has passed checkV2Fixed.
 * `b` must be a Buffer: TLV values and the unique id are views into it.
 */
export function parseV2(b: Buffer, total: number, crcMismatch: 'close' | 'accept'): ProxyHeader | ProxyProtocolError {
  const command = (b[12]! & 0x0f) === 1 ? 'PROXY' : 'LOCAL'
  const family = v2Family(b[13]!) ?? 'UNSPEC'
  if (command === 'LOCAL') {
    return { version: 2, command, family, source: null, destination: null, tlvs: NO_TLVS, byteLength: total }
  }
  const header: ProxyHeader = { version: 2, command, family, source: null, destination: null, tlvs: NO_TLVS, byteLength: total }
  if (family === 'UNSPEC') return header // the spec says to ignore the block: nothing in it is ours to interpret
  let off = V2_FIXED_BYTES
  if (family === 'TCP4') {
    header.source = { address: formatIPv4(b, off), port: (b[off + 8]! << 8) | b[off + 9]! }
    header.destination = { address: formatIPv4(b, off + 4), port: (b[off + 10]! << 8) | b[off + 11]! }
  } else if (family === 'TCP6') {
    header.source = { address: formatIPv6(b, off), port: (b[off + 32]! << 8) | b[off + 33]! }
    header.destination = { address: formatIPv6(b, off + 16), port: (b[off + 34]! << 8) | b[off + 35]! }
  }
  off += V2_ADDRESS_BYTES[family]
  if (off === total) return header

  const tlvs: Tlv[] = []
  let crcAt = -1
  while (off < total) {
    if (off + 3 > total) return badTlv(`a TLV header at offset ${off} runs past the ${total}-byte header`)
    const type = b[off]!
    const len = (b[off + 1]! << 8) | b[off + 2]!
    const start = off + 3
    const end = start + len
    if (end > total) return badTlv(`TLV 0x${hex(type)} of ${len} bytes at offset ${off} runs past the ${total}-byte header`)
    const value = b.subarray(start, end)
    tlvs.push({ type, value })
    switch (type) {
      case PP2_TYPE_ALPN:
        header.alpn = value.toString('latin1')
        break
      case PP2_TYPE_AUTHORITY:
        header.authority = value.toString('utf8')
        break
      case PP2_TYPE_CRC32C:
        if (len !== 4) return badTlv(`CRC32C TLV of ${len} bytes (must be 4)`)
        if (crcAt >= 0) return badTlv('two CRC32C TLVs')
        crcAt = start
        break
      case PP2_TYPE_UNIQUE_ID:
        if (len > 128) return badTlv(`UNIQUE_ID TLV of ${len} bytes (at most 128)`)
        header.uniqueId = value
        break
      case PP2_TYPE_SSL: {
        const ssl = parseSsl(value)
        if (ssl === null) return badTlv('malformed SSL TLV')
        header.ssl = ssl
        break
      }
      case PP2_TYPE_NETNS:
        header.netns = value.toString('latin1')
        break
      case PP2_TYPE_AWS:
        if (len < 1) return badTlv('empty AWS TLV')
        if (value[0] === PP2_SUBTYPE_AWS_VPCE_ID) {
          if (!isPrintableAscii(value, 1)) return badTlv('AWS VPC endpoint id is not printable ASCII')
          header.awsVpceId = value.toString('latin1', 1)
        }
        break
      default: // NOOP and unknown types: kept in tlvs only
    }
    off = end
  }
  header.tlvs = tlvs
  if (crcAt >= 0) {
    const expected = b.readUInt32BE(crcAt)
    const actual = crc32cWithZeroedField(b, 0, total, crcAt)
    if (expected !== actual) {
      if (crcMismatch === 'close') {
        return new ProxyProtocolError(
          'bad_crc',
          `CRC32C mismatch: header says 0x${expected.toString(16)}, bytes give 0x${actual.toString(16)}`,
        )
      }
      header.crc32c = 'mismatch'
    } else {
      header.crc32c = 'valid'
    }
  }
  return header
}

function parseSsl(v: Buffer): SslInfo | null {
  if (v.length < 5) return null
  const ssl: SslInfo = { client: v[0]!, verify: v.readUInt32BE(1) }
  let off = 5
  while (off < v.length) {
    if (off + 3 > v.length) return null
    const type = v[off]!
    const len = (v[off + 1]! << 8) | v[off + 2]!
    const end = off + 3 + len
    if (end > v.length) return null
    const text = (enc: BufferEncoding) => v.toString(enc, off + 3, end)
    switch (type) {
      case PP2_SUBTYPE_SSL_VERSION:
        ssl.version = text('latin1')
        break
      case PP2_SUBTYPE_SSL_CN:
        ssl.cn = text('utf8')
        break
      case PP2_SUBTYPE_SSL_CIPHER:
        ssl.cipher = text('latin1')
        break
      case PP2_SUBTYPE_SSL_SIG_ALG:
        ssl.sigAlg = text('latin1')
        break
      case PP2_SUBTYPE_SSL_KEY_ALG:
        ssl.keyAlg = text('latin1')
        break
      default: // unknown sub-TLVs are skipped
    }
    off = end
  }
  return ssl
}

function isPrintableAscii(v: Uint8Array, from: number): boolean {
  for (let i = from; i < v.length; i++) if (v[i]! < 0x21 || v[i]! > 0x7e) return false
  return true
}

function badTlv(message: string): ProxyProtocolError {
  return new ProxyProtocolError('bad_tlv', message)
}

function hex(n: number): string {
  return n.toString(16).padStart(2, '0')
}
