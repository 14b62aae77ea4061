// Public API of the PROXY protocol module: the header type, the streaming reader, the
// encoder, CRC32C and the source policy.
export type { Command, Endpoint, Family, ProxyHeader, SslInfo, Tlv } from './header.js'
export {
  PP2_SUBTYPE_AWS_VPCE_ID,
  PP2_TYPE_ALPN,
  PP2_TYPE_AUTHORITY,
  PP2_TYPE_AWS,
  PP2_TYPE_CRC32C,
  PP2_TYPE_NETNS,
  PP2_TYPE_NOOP,
  PP2_TYPE_SSL,
  PP2_TYPE_UNIQUE_ID,
  V1_MAX_BYTES,
  V1_SIGNATURE,
  V2_MAX_BYTES,
  V2_SIGNATURE,
} from './header.js'
export { PROXY_ERROR_REASONS, ProxyProtocolConfigError, ProxyProtocolError } from './errors.js'
export type { ProxyErrorReason, ProxyProtocolConfigErrorCode } from './errors.js'
export { DEFAULT_MAX_HEADER_BYTES, HeaderReader, MIN_MAX_HEADER_BYTES, StackedHeaderGuard } from './reader.js'
export type { GuardResult, ReaderOptions, ReadResult } from './reader.js'
export { encodeAwsVpceTlv, encodeV1, encodeV2 } from './encode.js'
export type { V1Input, V2Input } from './encode.js'
export { crc32c } from './crc32c.js'
export { canonicalIP } from './address.js'
export { createSourcePolicy, parseCidr, parseCidrList } from './policy.js'
export type { Cidr, ProxyProtocolMode, SourcePolicy } from './policy.js'
