// Why a PROXY header is refused. A ProxyProtocolError (../errors.ts) is about one connection's
// bytes: its `reason` is a short label from this fixed set (safe as a metrics label), its `code`
// is `ERR_PP_` + the reason in upper case. Configuration mistakes (a bad CIDR, an option out of
// range) are ProxyProtocolConfigError instead: they are not about a connection.

/** Every reason a connection can be refused for. Bounded: metrics use it as a label. */
export const PROXY_ERROR_REASONS = [
  'bad_signature', // not produced by the reader: for callers that require a header and got none
  'untrusted_header', // not produced by the reader: a header from a source the policy does not trust
  'bad_version', // v2: version nibble is not 2
  'bad_command', // v2: command nibble is not LOCAL (0) or PROXY (1)
  'bad_family', // v2: address family nibble unknown; v1: protocol keyword not TCP4/TCP6/UNKNOWN
  'bad_transport', // v2: transport is DGRAM or unknown (drainpipe proxies TCP only)
  'bad_length', // v2: length smaller than the family's address block
  'too_long', // v2: 16 + length above maxHeaderBytes; v1: no CRLF within 107 bytes
  'truncated', // the stream ended inside a header
  'bad_syntax', // v1: spacing, CRLF or field count wrong
  'bad_address', // v1: address text invalid or not of the announced family
  'bad_port', // v1: port not a decimal 0-65535 without leading zeros
  'bad_tlv', // v2: a TLV runs past the header, or a known TLV has an invalid value
  'bad_crc', // v2: CRC32C TLV does not match the header
  'stacked_header', // a second PROXY header follows the first one
] as const

export type ProxyErrorReason = (typeof PROXY_ERROR_REASONS)[number]

export { ProxyProtocolConfigError, ProxyProtocolError, type ProxyProtocolConfigErrorCode } from '../errors.js'
