// --upstream-proxy-protocol: the PROXY header drainpipe sends to an app that reads one,
// carrying the client's addresses (from the load balancer's header or the socket).
import { isIP } from 'node:net'
import { encodeV1, encodeV2 } from '../../proxy-protocol/encode.js'
import type { ClientInfo } from '../../ingress/client-info.js'

export function upstreamProxyHeader(version: 'v1' | 'v2', info: ClientInfo): Buffer {
  const srcFamily = isIP(info.address)
  const dstFamily = isIP(info.destAddress)
  if (srcFamily === 0 || srcFamily !== dstFamily) {
    return version === 'v1' ? encodeV1({ family: 'UNSPEC' }) : encodeV2({ command: 'LOCAL' })
  }
  const family = srcFamily === 4 ? 'TCP4' : 'TCP6'
  const source = { address: info.address, port: info.port }
  const destination = { address: info.destAddress, port: info.destPort }
  if (version === 'v1') return encodeV1({ family, source, destination })
  const tlvs = info.header?.version === 2 ? info.header.tlvs.filter((t) => t.type !== 0x03 && t.type !== 0x04) : []
  return encodeV2({ command: 'PROXY', family, source, destination, tlvs })
}
