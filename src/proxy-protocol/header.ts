// The parsed PROXY header and the wire constants both versions share
// (haproxy doc/proxy-protocol.txt; AWS TLV from the NLB documentation).

export type Command = 'PROXY' | 'LOCAL'
/** v1 `UNKNOWN` is reported as 'UNSPEC'. */
export type Family = 'TCP4' | 'TCP6' | 'UNIX' | 'UNSPEC'

/** `address` is in Node's canonical text form: what `socket.remoteAddress` would show. */
export interface Endpoint {
  address: string
  port: number
}

/** `value` is a view into the bytes the header was read from (no copy). */
export interface Tlv {
  type: number
  value: Buffer
}

export interface SslInfo {
  client: number
  verify: number
  version?: string
  cn?: string
  cipher?: string
  sigAlg?: string
  keyAlg?: string
}

export interface ProxyHeader {
  version: 1 | 2
  command: Command
  family: Family
  /** null for LOCAL, v1 UNKNOWN, UNSPEC and UNIX: the receiver then uses the socket's own endpoints. */
  source: Endpoint | null
  destination: Endpoint | null
  /** v2 PROXY only, every TLV (known, unknown, NOOP) in wire order; [] otherwise. */
  tlvs: readonly Tlv[]
  alpn?: string
  authority?: string
  uniqueId?: Buffer
  ssl?: SslInfo
  netns?: string
  /** PP2_TYPE_AWS (0xEA) subtype 0x01: the PrivateLink VPC endpoint id. */
  awsVpceId?: string
  /** Present when a CRC32C TLV was present; 'mismatch' only with crcMismatch 'accept'. */
  crc32c?: 'valid' | 'mismatch'
  /** Bytes the header occupied on the wire. */
  byteLength: number
}

/** The 12-byte v2 signature. */
export const V2_SIGNATURE: Buffer = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a])
/** The v1 signature, "PROXY " including the space. */
export const V1_SIGNATURE: Buffer = Buffer.from('PROXY ', 'latin1')
/** A v1 line may not exceed 107 bytes including CRLF. */
export const V1_MAX_BYTES = 107
/** Signature, ver_cmd, fam, len. */
export const V2_FIXED_BYTES = 16
/** 16 + 65535: the largest length field. */
export const V2_MAX_BYTES = 16 + 0xffff

export const PP2_TYPE_ALPN = 0x01
export const PP2_TYPE_AUTHORITY = 0x02
export const PP2_TYPE_CRC32C = 0x03
export const PP2_TYPE_NOOP = 0x04
export const PP2_TYPE_UNIQUE_ID = 0x05
export const PP2_TYPE_SSL = 0x20
export const PP2_SUBTYPE_SSL_VERSION = 0x21
export const PP2_SUBTYPE_SSL_CN = 0x22
export const PP2_SUBTYPE_SSL_CIPHER = 0x23
export const PP2_SUBTYPE_SSL_SIG_ALG = 0x24
export const PP2_SUBTYPE_SSL_KEY_ALG = 0x25
export const PP2_TYPE_NETNS = 0x30
export const PP2_TYPE_AWS = 0xea
export const PP2_SUBTYPE_AWS_VPCE_ID = 0x01

/** Address block sizes per v2 family. */
export const V2_ADDRESS_BYTES: Readonly<Record<Family, number>> = { UNSPEC: 0, TCP4: 12, TCP6: 36, UNIX: 216 }
/** High nibble of the v2 family byte. */
export const V2_FAMILY_NIBBLE: Readonly<Record<Family, number>> = { UNSPEC: 0x0, TCP4: 0x1, TCP6: 0x2, UNIX: 0x3 }
