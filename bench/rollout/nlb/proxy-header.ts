// PROXY v2 headers exactly as an NLB sends them, built with drainpipe's own encoder:
// 100 bytes — 16 fixed, 12 address bytes (TCP4), CRC32C TLV, the AWS VPC endpoint TLV for
// PrivateLink traffic, NOOP padding up to len 84. Health checks get a LOCAL header of the same
// shape (family byte still 0x11, addresses zero, kubernetes/kubernetes#57250).
import { encodeV2, encodeAwsVpceTlv } from '../../../dist/proxy-protocol/index.js'

export const NLB_HEADER_BYTES = 100

export interface Endpoint {
  address: string
  port: number
}

export function clientHeader(source: Endpoint, destination: Endpoint, vpceId?: string): Buffer {
  return Buffer.from(
    encodeV2({
      command: 'PROXY',
      family: 'TCP4',
      source,
      destination,
      tlvs: vpceId === undefined ? [] : [encodeAwsVpceTlv(vpceId)],
      crc32c: true,
      padTo: NLB_HEADER_BYTES,
    }),
  )
}

let local: Buffer | undefined

export function localHeader(): Buffer {
  local ??= Buffer.from(
    encodeV2({
      command: 'LOCAL',
      family: 'TCP4',
      tlvs: [],
      crc32c: true,
      padTo: NLB_HEADER_BYTES,
    }),
  )
  return local
}
